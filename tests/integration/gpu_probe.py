"""A stand-in for a GPU job: claims a slot as `chexpertnet train --device cuda` does, records the GPU it was given
(CUDA_VISIBLE_DEVICES) and when it held it, and holds it until ``concurrency`` jobs are running at once (or every job
has started), so that the jobs of one wave overlap for certain.

    python gpu_probe.py RECORDS TOTAL CONCURRENCY NAME
"""

import json
import os
import sys
import time
from pathlib import Path

from chexpertnet.train.gpuslots import claim_for_job

records, total, concurrency, name = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
records.mkdir(parents=True, exist_ok=True)
assigned = claim_for_job("cuda")
start = time.time()
(records / f"{name}.start").write_text(os.environ["CUDA_VISIBLE_DEVICES"])
deadline = time.monotonic() + 120
while True:
    started, finished = len(list(records.glob("*.start"))), len(list(records.glob("*.end")))
    if started - finished >= concurrency or started >= total:
        break
    if time.monotonic() > deadline:
        sys.exit(f"{name}: {concurrency} jobs never ran at once ({started} started, {finished} ended)")
    time.sleep(0.02)
(records / f"{name}.json").write_text(json.dumps({"gpu": os.environ["CUDA_VISIBLE_DEVICES"], "start": start,
                                                  "end": time.time(), "slot": assigned["slot"]}))  # fmt: skip
(records / f"{name}.end").touch()
