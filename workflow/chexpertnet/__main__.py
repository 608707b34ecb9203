from chexpertnet.cli import main

raise SystemExit(main())
