"""A training step compiled by Inductor in a fresh process, its cache pointed at ``sys.argv[1]`` as the training
command does; prints the cache counters and the compile time as JSON."""

import json
import sys
import time

from chexpertnet.train.compilecache import use_compile_cache

use_compile_cache(sys.argv[1])
import torch  # noqa: E402  (after the cache folder is set, as in `chexpertnet train`)
from torch._dynamo.utils import counters  # noqa: E402

torch.manual_seed(0)
torch.set_num_threads(1)
model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))


def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cross_entropy(model(x), y)


start = time.perf_counter()
loss = torch.compile(step, fullgraph=True)(torch.randn(4, 16), torch.tensor([0, 1, 2, 3]))
loss.backward()
print(json.dumps({"seconds": time.perf_counter() - start, "inductor": dict(counters["inductor"]),
                  "aot_autograd": dict(counters["aot_autograd"])}))  # fmt: skip
