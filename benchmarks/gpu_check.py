"""GPU check: one prepared, self-contained measurement run for a lent GPU machine (a short lease).

Measures, in this order (most important first), each part in its own child process with a hard timeout, inside
an overall time budget (parts that no longer fit are skipped, and the summary says so):

  env        torch / CUDA / cuDNN versions, GPU name, compute capability, driver (nvidia-smi), CPU count
  eager      the project's training step (CheXpertNet, weighted_cross_entropy, Adam lr 1e-4) on a uint8 batch
             already on the GPU, batch 16 at 320 px: fp32 NCHW; bf16 autocast + channels_last; the same with the
             training loop's extras (pinned H2D copy of whole 364 px images, crop/flip gather, isfinite + .item()
             host syncs every step, as chexpertnet.train.loop does); bf16 NCHW; fused Adam; batch 64
  train      the real `python -m chexpertnet train` end to end on the GPU, on a phantom made with the project's
             own CLI (phantom -> validate -> cache 364 -> manifest), the paper's GPU settings
             (config/chexpert.yaml: crop 320, batch 16, --fast --no-deterministic, threads 8); its throughput.json
  train_compiled  the same with --compile reduce-overhead (train.compile: torch.compile + CUDA graphs)
  compile    torch.compile (default mode) of the model, optimizer eager; eager vs compiled loss/gradient check
  cudagraphs torch.compile mode="reduce-overhead" (CUDA graphs) of the model, optimizer eager
  mmap       read rate of a cold memory-mapped uint8 cache (N, 364, 364): random batches of 16 rows (as training
             reads it) and sequential, after dropping the page cache
  fullstep   model compiled "reduce-overhead" + optimizer.step() compiled too (the whole step compiled)
  train_det  the train command again with --deterministic (the default config's setting)

Writes gpu_check.json (everything), gpu_check.md (tables) and the train logs to --out (default $OUT, else
results/gpu_check) and prints the summary.

    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check.py --out $OUT          # on the GPU machine
    .venv/bin/python benchmarks/gpu_check.py --smoke                        # CPU, tiny sizes: checks the script

The package is imported from .gpusnap/workflow when that snapshot exists (a frozen copy of the committed code),
else from workflow/; --package overrides.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CROP, CACHE, BATCH, BIG_BATCH = 320, 364, 16, 64


# --------------------------------------------------------------------------------------------------------------
# helpers shared by parent and children


def now() -> float:
    return time.perf_counter()


def record(path: Path, item: dict) -> None:
    """Append one result (a JSON line): partial results survive a child that is killed later."""
    with open(path, "a") as f:
        f.write(json.dumps(item, default=str) + "\n")
        f.flush()


def guarded(results: Path, name: str, fn, *args, **kwargs) -> dict | None:
    start = now()
    try:
        item = fn(*args, **kwargs)
        item = {"name": name, "ok": True, **item, "part_seconds": round(now() - start, 2)}
    except Exception as exc:
        item = {"name": name, "ok": False, "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()[-3000:], "part_seconds": round(now() - start, 2)}  # fmt: skip
        print(f"  {name}: FAILED {item['error'][:300]}", flush=True)
    record(results, item)
    return item


def package_path(args) -> Path:
    if args.package:
        return Path(args.package).resolve()
    snap = ROOT / ".gpusnap" / "workflow"
    return snap if snap.is_dir() else ROOT / "workflow"


# --------------------------------------------------------------------------------------------------------------
# child parts (run as `gpu_check.py --part NAME --results FILE`)


def sizes(args) -> dict:
    if args.smoke:
        return {"crop": 32, "cache": 40, "batch": 4, "big_batch": 8, "steps": 2, "repeats": 1, "warmup": 1}
    return {"crop": CROP, "cache": CACHE, "batch": BATCH, "big_batch": BIG_BATCH, "steps": args.steps,
            "repeats": args.repeats, "warmup": args.warmup}  # fmt: skip


def part_env(args, results: Path) -> None:
    def env() -> dict:
        import numpy as np
        import torch
        import torchvision

        info = {
            "python": sys.version.split()[0], "platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "cpu_affinity": len(os.sched_getaffinity(0)),
            "torch": torch.__version__, "torchvision": torchvision.__version__, "numpy": np.__version__,
            "cuda_runtime": torch.version.cuda, "cudnn": torch.backends.cudnn.version(),
            "cuda_available": torch.cuda.is_available(),
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
        }  # fmt: skip
        try:
            import triton

            info["triton"] = triton.__version__
        except Exception as exc:
            info["triton"] = f"unavailable ({exc})"
        if torch.cuda.is_available():
            p = torch.cuda.get_device_properties(0)
            info.update(gpu=p.name, capability=f"{p.major}.{p.minor}", sm_count=p.multi_processor_count,
                        gpu_memory_gib=round(p.total_memory / 2**30, 1))  # fmt: skip
        try:
            q = "name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit"
            out = subprocess.run(["nvidia-smi", f"--query-gpu={q}", "--format=csv,noheader"], capture_output=True,
                                 text=True, timeout=20)  # fmt: skip
            info["nvidia_smi"] = out.stdout.strip() or out.stderr.strip()
        except Exception as exc:
            info["nvidia_smi"] = f"unavailable ({exc})"
        try:
            mem = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
            info["host_memory"] = mem["MemTotal"].strip()
        except Exception:
            pass
        info["scratch_fs"] = filesystem_of(Path(args.scratch))
        info["drop_caches_writable"] = os.access("/proc/sys/vm/drop_caches", os.W_OK)
        return info

    guarded(results, "env", env)


def filesystem_of(path: Path) -> str:
    """Mount point and type of the filesystem holding ``path`` (from /proc/mounts)."""
    path = path.resolve()
    best = ("?", "?")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            mount, fstype = fields[1], fields[2]
            inside = str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount
            if inside and (best[0] == "?" or len(mount) >= len(best[0])):
                best = (mount, fstype)
    except OSError:
        pass
    return f"{best[0]} ({best[1]})"


class Bench:
    """The project's model, loss and optimizer on one synthetic batch, on the chosen device."""

    def __init__(self, args, batch: int, fast: bool, channels_last: bool, fused: bool = False, seed: int = 0):
        import torch

        from chexpertnet.train.loss import weighted_cross_entropy
        from chexpertnet.train.model import CheXpertNet

        self.torch, self.loss_fn = torch, weighted_cross_entropy
        self.device = torch.device(args.device)
        self.fast = fast
        s = sizes(args)
        torch.manual_seed(seed)
        model = CheXpertNet()
        if channels_last:
            model.to_channels_last()
        self.model = model.to(self.device).train()
        self.forward = self.model
        opt_kwargs = {"fused": True} if fused else {}
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-4, **opt_kwargs)
        g = torch.Generator().manual_seed(seed + 1)
        self.images = torch.randint(0, 256, (batch, s["crop"], s["crop"]), dtype=torch.uint8, generator=g)
        self.images = self.images.to(self.device)
        self.targets = torch.randint(0, 3, (batch, 14), generator=g).to(self.device)
        self.mask = (torch.rand(batch, 14, generator=g) < 0.9).float().to(self.device)
        self.weights = (torch.rand(14, 3, generator=g) + 0.5).to(self.device)
        self.batch = batch
        self.opt_step = self.optimizer.step
        self.mark_step = False  # torch.compiler.cudagraph_mark_step_begin() before each step (CUDA graphs)

    def autocast(self):
        return self.torch.autocast(device_type=self.device.type, dtype=self.torch.bfloat16, enabled=self.fast)

    def loss(self, images=None, targets=None, mask=None):
        with self.autocast():
            logits = self.forward(self.images if images is None else images)
        return self.loss_fn(logits.float(), self.targets if targets is None else targets,
                            self.mask if mask is None else mask, self.weights)  # fmt: skip

    def step(self):
        if self.mark_step:
            self.torch.compiler.cudagraph_mark_step_begin()
        loss = self.loss()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_step()
        return loss

    def sync(self):
        if self.device.type == "cuda":
            self.torch.cuda.synchronize()

    def measure(self, args, step=None, warmup: int | None = None) -> dict:
        """Warm-up steps (compilation, cuDNN autotuning, graph capture), then timed loops of `steps` steps."""
        torch = self.torch
        s = sizes(args)
        step = step or self.step
        warmup = s["warmup"] if warmup is None else warmup
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        self.sync()
        t0 = now()
        step()
        self.sync()
        first = now() - t0
        for _ in range(max(0, warmup - 1)):
            step()
        self.sync()
        warm = now() - t0
        rates = []
        for _ in range(s["repeats"]):
            self.sync()
            t = now()
            for _ in range(s["steps"]):
                loss = step()
            self.sync()
            rates.append(s["steps"] * self.batch / (now() - t))
        rates.sort()
        out = {
            "batch": self.batch, "first_step_s": round(first, 3), "warmup_steps": warmup,
            "warmup_s": round(warm, 3), "timed_steps": s["steps"], "repeats": s["repeats"],
            "images_per_s": round(rates[len(rates) // 2], 1), "images_per_s_best": round(rates[-1], 1),
            "images_per_s_all": [round(x, 1) for x in rates],
            "ms_per_step": round(1000 * self.batch / rates[len(rates) // 2], 2),
            "final_loss": float(loss.detach().float().cpu()) if loss is not None else None,
        }  # fmt: skip
        if self.device.type == "cuda":
            out["peak_mem_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            out["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / 2**30, 2)
        return out

    def free(self):
        del self.model, self.forward, self.optimizer, self.opt_step
        if self.device.type == "cuda":
            self.torch.cuda.empty_cache()


def setup_torch(args):
    import torch

    torch.backends.cudnn.benchmark = True
    if args.device == "cpu":
        torch.set_num_threads(max(1, (os.cpu_count() or 1)))
    return torch


def deadline_left(args) -> float:
    return args.deadline - time.time()


def part_eager(args, results: Path) -> None:
    setup_torch(args)
    s = sizes(args)

    def variant(batch, fast, cl, fused=False):
        b = Bench(args, batch, fast=fast, channels_last=cl, fused=fused)
        try:
            out = b.measure(args, warmup=max(s["warmup"], 1 if args.smoke else 3))
            return {"fast": fast, "channels_last": cl, "fused_adam": fused, **out}
        finally:
            b.free()

    def train_loop_step() -> dict:
        """bf16 + channels_last step with what chexpertnet.train.loop adds per step on a GPU: a pinned (N, 364, 364)
        uint8 batch copied non-blocking, crop + flip by one gather, targets/mask copied from unpinned memory,
        `torch.isfinite(loss)` in an `if` and `loss.item()` (two host syncs per step)."""
        import torch

        from chexpertnet.train.augment import crop_flip_gather, draw_crops

        b = Bench(args, s["batch"], fast=True, channels_last=True)
        g = torch.Generator().manual_seed(7)
        whole = torch.randint(0, 256, (s["batch"], s["cache"], s["cache"]), dtype=torch.uint8, generator=g)
        if b.device.type == "cuda":
            whole = whole.pin_memory()
        crops = draw_crops(s["batch"], s["cache"], s["cache"], s["crop"], True, g)
        targets_cpu, mask_cpu = b.targets.cpu(), b.mask.cpu()

        def step():
            images = whole.to(b.device, non_blocking=True)
            images = crop_flip_gather(images, *crops, s["crop"])
            targets, mask = targets_cpu.to(b.device, non_blocking=True), mask_cpu.to(b.device, non_blocking=True)
            loss = b.loss(images, targets, mask)
            if not torch.isfinite(loss):
                raise RuntimeError("loss not finite")
            b.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            b.optimizer.step()
            loss.item()
            return loss

        try:
            out = b.measure(args, step=step, warmup=max(s["warmup"], 1 if args.smoke else 3))
            return {"fast": True, "channels_last": True, **out}
        finally:
            b.free()

    plan = [
        ("eager_fp32_nchw_b16", lambda: variant(s["batch"], False, False)),
        ("eager_bf16_cl_b16", lambda: variant(s["batch"], True, True)),
        ("eager_bf16_cl_b16_trainloop_extras", train_loop_step),
        ("eager_bf16_nchw_b16", lambda: variant(s["batch"], True, False)),
        ("eager_bf16_cl_b16_fused_adam", lambda: variant(s["batch"], True, True, fused=args.device == "cuda")),
        ("eager_bf16_cl_b64", lambda: variant(s["big_batch"], True, True)),
    ]
    for name, fn in plan:
        if deadline_left(args) < 8:
            record(results, {"name": name, "ok": False, "skipped": "part deadline"})
            continue
        print(f"  {name} ...", flush=True)
        item = guarded(results, name, fn)
        if item and item.get("ok"):
            print(f"  {name}: {item['images_per_s']} img/s, first step {item['first_step_s']} s", flush=True)


def compile_counters() -> dict:
    try:
        from torch._dynamo.utils import counters

        return {"graph_breaks": sum(counters["graph_break"].values()),
                "unique_graphs": counters["stats"].get("unique_graphs"),
                "graph_break_reasons": list(counters["graph_break"].keys())[:5],
                "cudagraph_counters": {k: v for k, v in counters["inductor"].items() if "cudagraph" in k}}  # fmt: skip
    except Exception as exc:
        return {"counters_error": str(exc)}


def grads_of(model) -> dict:
    names = ("densenet.features.conv0.weight", "densenet.features.denseblock3.denselayer12.conv2.weight",
             "densenet.features.norm5.weight", "densenet.classifier.weight")  # fmt: skip
    params = dict(model.named_parameters())
    return {n: params[n].grad.detach().float().clone() for n in names if params[n].grad is not None}


def part_compile(args, results: Path, mode: str, full_step: bool = False) -> None:
    """torch.compile of the model (bf16 autocast + channels_last); optimizer eager, or compiled too (full_step)."""
    torch = setup_torch(args)
    s = sizes(args)
    backend = args.compile_backend
    label = {"default": "compiled_default", "reduce-overhead": "compiled_reduce_overhead"}.get(mode, f"compiled_{mode}")
    if full_step:
        label += "_plus_compiled_adam"

    def check() -> dict:
        """Eager vs compiled on the same weights and batch (no optimizer step): loss and gradients. For scale, the
        eager bf16 step run twice (run-to-run noise of the kernels) and the eager fp32 step (what bf16 itself moves):
        the compiled step agrees if it is no farther from fp32 than eager bf16 is."""
        import copy

        b = Bench(args, s["batch"], fast=True, channels_last=True)
        fp32 = copy.deepcopy(b.model).to(memory_format=torch.contiguous_format)
        fp32.channels_last = False
        runs = {"eager_bf16": (b.model, True), "eager_bf16_rerun": (copy.deepcopy(b.model), True),
                "eager_fp32": (fp32, False), "compiled_bf16": (copy.deepcopy(b.model), True)}  # fmt: skip
        losses, flat, named, first = {}, {}, {}, None
        for key, (model, fast) in runs.items():
            b.fast = fast
            b.forward = torch.compile(model, mode=mode, backend=backend) if key.startswith("compiled") else model
            if key.startswith("compiled") and mode == "reduce-overhead":
                torch.compiler.cudagraph_mark_step_begin()
            t = now()
            loss = b.loss()
            loss.backward()
            b.sync()
            if key.startswith("compiled"):
                first = now() - t
            losses[key] = float(loss.detach())
            flat[key] = torch.cat([p.grad.detach().double().flatten() for p in model.parameters()])
            named[key] = grads_of(model)

        def rel(a, c) -> float:
            return float((a - c).norm() / c.norm().clamp_min(1e-30))

        def cos(a, c) -> float:
            return float(torch.nn.functional.cosine_similarity(a, c, dim=0))

        out = {"compile_first_fwd_bwd_s": round(first, 2), "losses": losses,
               "loss_abs_diff_compiled_vs_eager": abs(losses["compiled_bf16"] - losses["eager_bf16"]),
               "loss_abs_diff_rerun": abs(losses["eager_bf16_rerun"] - losses["eager_bf16"]),
               "loss_abs_diff_bf16_vs_fp32": abs(losses["eager_fp32"] - losses["eager_bf16"]),
               "grad_rel_l2": {}, "grad_cosine": {}, "grads": {}}  # fmt: skip
        pairs = {"compiled_vs_eager_bf16": ("compiled_bf16", "eager_bf16"),
                 "eager_rerun_vs_eager_bf16": ("eager_bf16_rerun", "eager_bf16"),
                 "eager_bf16_vs_fp32": ("eager_bf16", "eager_fp32"),
                 "compiled_bf16_vs_fp32": ("compiled_bf16", "eager_fp32")}  # fmt: skip
        for label_, (x, y) in pairs.items():
            out["grad_rel_l2"][label_] = rel(flat[x], flat[y])
            out["grad_cosine"][label_] = cos(flat[x], flat[y])
        for n in named["eager_bf16"]:
            out["grads"][n.removeprefix("densenet.")] = {
                label_: rel(named[x][n], named[y][n]) for label_, (x, y) in pairs.items()
            }
        r = out["grad_rel_l2"]
        out["agree"] = bool(r["compiled_bf16_vs_fp32"] <= 1.5 * r["eager_bf16_vs_fp32"] + 1e-3
                            and out["loss_abs_diff_compiled_vs_eager"] <= 3 * out["loss_abs_diff_bf16_vs_fp32"] + 1e-3)
        b.free()
        del runs, fp32, flat
        return out

    def timing() -> dict:
        b = Bench(args, s["batch"], fast=True, channels_last=True)
        b.forward = torch.compile(b.model, mode=mode, backend=backend)
        b.mark_step = mode == "reduce-overhead"
        if full_step:
            optimizer = b.optimizer

            @torch.compile(fullgraph=False, backend=backend)
            def opt_step() -> None:
                optimizer.step()

            b.opt_step = opt_step
        try:
            out = b.measure(args, warmup=max(s["warmup"], 5 if not args.smoke else 2))
            return {"mode": mode, "backend": backend, "compiled_adam": full_step, **out, **compile_counters()}
        finally:
            b.free()

    if not full_step and mode == "default":
        print(f"  {label}_check ...", flush=True)
        item = guarded(results, f"{label}_check", check)
        if item and item.get("ok"):
            print(f"  {label}_check: compile {item['compile_first_fwd_bwd_s']} s, agree {item['agree']}, "
                  f"grad rel L2 {json.dumps(item['grad_rel_l2'])}, losses {json.dumps(item['losses'])}", flush=True)
    print(f"  {label} ...", flush=True)
    item = guarded(results, label, timing)
    if item and item.get("ok"):
        print(f"  {label}: {item['images_per_s']} img/s, first step {item['first_step_s']} s", flush=True)


def drop_page_cache(path: Path | None = None) -> dict:
    """sync + echo 3 > drop_caches (root), and posix_fadvise(DONTNEED) on the file; report what worked."""
    out = {}

    def cached_kib() -> int:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("Cached:"):
                return int(line.split()[1])
        return -1

    before = cached_kib()
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        out["drop_caches"] = "ok"
    except OSError as exc:
        out["drop_caches"] = f"failed ({exc.strerror})"
    if path is not None:
        try:
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
            out["fadvise_dontneed"] = "ok"
        except OSError as exc:
            out["fadvise_dontneed"] = f"failed ({exc})"
    out["page_cache_gib_before"] = round(before / 2**20, 2)
    out["page_cache_gib_after"] = round(cached_kib() / 2**20, 2)
    return out


def part_mmap(args, results: Path) -> None:
    import numpy as np

    side = 64 if args.smoke else CACHE
    gb = 0.05 if args.smoke else args.mmap_gb
    batch = 4 if args.smoke else BATCH
    cap = 3.0 if args.smoke else args.mmap_seconds
    folder = Path(args.scratch)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mmap_bench.npy"
    row_bytes = side * side
    n = int(gb * 1e9) // row_bytes
    state: dict = {"rows": n, "row_bytes": row_bytes, "file_gb": round(n * row_bytes / 1e9, 2),
                   "filesystem": filesystem_of(folder)}  # fmt: skip

    def write() -> dict:
        chunk_rows = max(1, (32 << 20) // row_bytes)
        rng = np.random.default_rng(0)
        block = rng.integers(0, 256, (chunk_rows, side, side), dtype=np.uint8)
        t = now()
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (n, side, side)})
            for start in range(0, n, chunk_rows):
                k = min(chunk_rows, n - start)
                block[0, 0, :8] = np.frombuffer(np.int64(start).tobytes(), np.uint8)  # no two chunks alike
                f.write(block[:k].tobytes())
            f.flush()
            written = now() - t
            os.fsync(f.fileno())
        total = now() - t
        return {**state, "write_s": round(written, 2), "write_plus_fsync_s": round(total, 2),
                "write_mb_s": round(n * row_bytes / 1e6 / total, 1)}  # fmt: skip

    def random_read(cold: bool, limit_batches: int | None = None) -> dict:
        drop = drop_page_cache(path) if cold else {}
        array = np.load(path, mmap_mode="r")
        order = np.random.default_rng(1).permutation(len(array))
        t, batches, nbytes = now(), 0, 0
        first_batch_ms = None
        while (batches + 1) * batch <= len(order):
            rows = np.sort(order[batches * batch : (batches + 1) * batch])
            x = array[rows]  # fancy indexing copies: reads the rows, as chexpertnet.train.loop does on a GPU
            nbytes += x.nbytes
            batches += 1
            if first_batch_ms is None:
                first_batch_ms = round(1000 * (now() - t), 2)
            if now() - t > cap or (limit_batches and batches >= limit_batches):
                break
        seconds = now() - t
        return {"cold": cold, **drop, "batch": batch, "batches": batches, "mb": round(nbytes / 1e6, 1),
                "seconds": round(seconds, 3), "mb_s": round(nbytes / 1e6 / seconds, 1),
                "images_per_s": round(batches * batch / seconds, 1),
                "ms_per_batch": round(1000 * seconds / batches, 3), "first_batch_ms": first_batch_ms}  # fmt: skip

    def sequential_read() -> dict:
        drop = drop_page_cache(path)
        array = np.load(path, mmap_mode="r")
        chunk = 256
        t, rows, nbytes = now(), 0, 0
        while rows < len(array):
            x = np.array(array[rows : rows + chunk])
            nbytes += x.nbytes
            rows += len(x)
            if now() - t > cap:
                break
        seconds = now() - t
        return {"cold": True, **drop, "chunk_rows": chunk, "rows_read": rows, "mb": round(nbytes / 1e6, 1),
                "seconds": round(seconds, 3), "mb_s": round(nbytes / 1e6 / seconds, 1),
                "images_per_s": round(rows / seconds, 1)}  # fmt: skip

    try:
        item = guarded(results, "mmap_write", write)
        if item and item.get("ok"):
            print(f"  mmap_write: {item['file_gb']} GB at {item['write_mb_s']} MB/s", flush=True)
            cold = guarded(results, "mmap_random_cold", random_read, True)
            if cold and cold.get("ok"):
                print(f"  mmap_random_cold: {cold['mb_s']} MB/s, {cold['images_per_s']} img/s "
                      f"(drop_caches {cold.get('drop_caches')})", flush=True)  # fmt: skip
                # the same rows again, now in the page cache (every epoch after the first, when RAM holds it)
                warm = guarded(results, "mmap_random_warm", random_read, False, cold["batches"])
                if warm and warm.get("ok"):
                    print(f"  mmap_random_warm: {warm['mb_s']} MB/s, {warm['images_per_s']} img/s", flush=True)
            seq = guarded(results, "mmap_sequential_cold", sequential_read)
            if seq and seq.get("ok"):
                print(f"  mmap_sequential_cold: {seq['mb_s']} MB/s, {seq['images_per_s']} img/s", flush=True)
    finally:
        path.unlink(missing_ok=True)


def run_part(args) -> None:
    results = Path(args.results)
    sys.path.insert(0, str(package_path(args)))
    if args.part == "env":
        part_env(args, results)
    elif args.part == "eager":
        part_eager(args, results)
    elif args.part == "compile":
        part_compile(args, results, "default")
    elif args.part == "cudagraphs":
        part_compile(args, results, "reduce-overhead")
    elif args.part == "fullstep":
        part_compile(args, results, "reduce-overhead", full_step=True)
    elif args.part == "mmap":
        part_mmap(args, results)
    else:
        raise SystemExit(f"unknown part {args.part}")


# --------------------------------------------------------------------------------------------------------------
# parent: the plan, the budget, the CLI steps, the summary


class Runner:
    def __init__(self, args):
        self.args = args
        self.start_wall = time.time()
        self.deadline = self.start_wall + args.budget
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.scratch = Path(args.scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, dict] = {}
        self.parts: list[dict] = []
        self.pkg = package_path(args)
        self.mmap_ran_beside = False

    def left(self) -> float:
        return self.deadline - time.time()

    def elapsed(self) -> float:
        return time.time() - self.start_wall

    def log(self, msg: str) -> None:
        print(f"[{self.elapsed():6.1f} s | {self.left():6.1f} s left] {msg}", flush=True)

    def env(self) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.pkg) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["PYTHONUNBUFFERED"] = "1"
        if self.args.compile_backend and self.args.compile_backend != "inductor":  # the train command's compiler too
            env["CHEXPERTNET_COMPILE_BACKEND"] = self.args.compile_backend
        return env

    def run_cmd(self, cmd: list[str], timeout: float, log_file: Path | None = None) -> dict:
        """A subprocess in its own process group (killed whole on timeout); stdout+stderr kept (tail) and logged."""
        t = now()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env(),
                                cwd=ROOT, start_new_session=True)  # fmt: skip
        try:
            output, _ = proc.communicate(timeout=max(1.0, timeout))
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
            timed_out = True
        seconds = now() - t
        if log_file is not None:
            with open(log_file, "a") as f:
                f.write(f"$ {' '.join(cmd)}\n{output}\n[rc {proc.returncode}, {seconds:.1f} s"
                        f"{', TIMED OUT' if timed_out else ''}]\n\n")  # fmt: skip
        return {"rc": proc.returncode, "seconds": round(seconds, 2), "timed_out": timed_out,
                "tail": output[-2500:]}  # fmt: skip

    def child(self, part: str, need: float, cap: float, beside: tuple | None = None) -> None:
        """Run one part in a child process if at least `need` seconds are left; never longer than `cap`.
        `beside` = (part, need, cap): another part started first and run at the same time (its own process)."""
        extra = self.start_child(*beside) if beside else None
        if extra is not None:
            self.mmap_ran_beside = True
        handle = self.start_child(part, need, cap)
        for h in (handle, extra):
            if h is not None:
                self.finish_child(h)

    def start_child(self, part: str, need: float, cap: float) -> dict | None:
        if self.left() < need:
            self.parts.append({"part": part, "skipped": f"budget: {self.left():.0f} s left, needs ~{need:.0f} s"})
            self.log(f"SKIP {part} (budget: needs ~{need:.0f} s)")
            return None
        results = self.scratch / f"part_{part}.jsonl"
        results.unlink(missing_ok=True)
        timeout = min(cap, self.left() - 3)
        deadline = time.time() + timeout - 5
        cmd = [sys.executable, str(Path(__file__).resolve()), "--part", part, "--results", str(results),
               "--device", self.args.device, "--scratch", str(self.scratch), "--deadline", str(deadline),
               "--steps", str(self.args.steps), "--repeats", str(self.args.repeats), "--warmup",
               str(self.args.warmup), "--mmap-gb", str(self.args.mmap_gb), "--mmap-seconds",
               str(self.args.mmap_seconds), "--compile-backend", self.args.compile_backend,
               "--package", str(self.pkg), *(["--smoke"] if self.args.smoke else [])]  # fmt: skip
        self.log(f"part {part} (timeout {timeout:.0f} s)")
        proc = subprocess.Popen(cmd, env=self.env(), cwd=ROOT, start_new_session=True)
        return {"part": part, "proc": proc, "t": now(), "end": now() + timeout, "timeout": timeout,
                "results": results}  # fmt: skip

    def finish_child(self, h: dict) -> None:
        proc = h["proc"]
        try:
            rc = proc.wait(timeout=max(1.0, h["end"] - now()))
            status = "ok" if rc == 0 else f"exit {rc}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            status = f"killed at its {h['timeout']:.0f} s timeout"
        got = []
        if h["results"].exists():
            for line in h["results"].read_text().splitlines():
                item = json.loads(line)
                self.results[item["name"]] = item
                got.append(item["name"])
        seconds = round(now() - h["t"], 1)
        self.parts.append({"part": h["part"], "status": status, "seconds": seconds, "results": got})
        self.log(f"part {h['part']}: {status} in {seconds} s")

    def data_prep(self) -> dict:
        """phantom -> validate -> cache (train, valid) -> manifests, with the project's CLI (as data.smk calls it)."""
        a = self.args
        d = self.scratch / "data"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        log = self.out / "data_prep.log"
        log.unlink(missing_ok=True)
        threads = str(min(16, os.cpu_count() or 1))
        py = [sys.executable, "-m", "chexpertnet"]
        small = d / "CheXpert-v1.0-small"
        size = ["--size", str(sizes(a)["cache"])]
        frontal = ["--height", "48" if a.smoke else "320"]
        validated = str(d / "validation.json")
        steps = [
            ("phantom", [*py, "phantom", "--out", str(d), "--train-patients", str(a.train_patients),
                         "--valid-patients", str(a.valid_patients), "--seed", "0", *frontal, "--workers", threads]),
            ("validate", [*py, "validate", "--train-csv", str(small / "train.csv"), "--valid-csv",
                          str(small / "valid.csv"), "--threads", threads, "--out", validated]),
        ]  # fmt: skip
        for split in ("train", "valid"):
            csv = str(small / f"{split}.csv")
            steps.append((f"cache_{split}", [*py, "cache", "--csv", csv, "--validated", validated, *size,
                                              "--threads", threads, "--out-array", str(d / f"cache_{split}.npy"),
                                              "--out-index", str(d / f"cache_{split}.index.csv")]))  # fmt: skip
            m = str(d / f"manifest_{split}")
            steps.append((f"manifest_{split}", [*py, "manifest", "--csv", csv, "--views", "both", "--uncertainty",
                                                "multiclass", "--blank", "negative", "--seed", "0", "--validated",
                                                validated, "--out", m + ".csv", "--summary", m + ".summary.json",
                                                "--weights", m + ".weights.csv"]))  # fmt: skip
        out = {"steps": {}}
        for name, cmd in steps:
            r = self.run_cmd(cmd, timeout=min(150, self.left() - 60), log_file=log)
            out["steps"][name] = {"rc": r["rc"], "seconds": r["seconds"]}
            if r["rc"] != 0:
                raise RuntimeError(f"{name} failed (rc {r['rc']}): {r['tail'][-1500:]}")
        try:
            import numpy as np

            out["train_images"] = int(np.load(d / "cache_train.npy", mmap_mode="r").shape[0])
            out["valid_images"] = int(np.load(d / "cache_valid.npy", mmap_mode="r").shape[0])
            out["cache_train_gb"] = round((d / "cache_train.npy").stat().st_size / 1e9, 2)
            with open(d / "manifest_train.csv") as f:
                out["train_manifest_rows"] = sum(1 for _ in f) - 1
        except Exception as exc:
            out["count_error"] = str(exc)
        return out

    def train_cmd(self, deterministic: bool, compile_mode: str = "off") -> dict:
        a = self.args
        d = self.scratch / "data"
        name = "train_det" if deterministic else "train" if compile_mode == "off" else f"train_{compile_mode}"
        run_dir = self.scratch / name
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        s = sizes(a)
        cmd = [sys.executable, "-m", "chexpertnet", "train", "--experiment", self.args.train_init, "--seed", "0",
               "--train-manifest", str(d / "manifest_train.csv"), "--train-weights",
               str(d / "manifest_train.weights.csv"), "--valid-manifest", str(d / "manifest_valid.csv"),
               "--train-cache", str(d / "cache_train.npy"), str(d / "cache_train.index.csv"),
               "--valid-cache", str(d / "cache_valid.npy"), str(d / "cache_valid.index.csv"),
               *self.init_args(), "--normalization", "imagenet",
               "--batch-size", str(s["batch"]), "--lr", "0.0001", "--betas", "0.9", "0.999",
               "--crop-size", str(s["crop"]), "--hflip", "--device", a.device, "--fast",
               "--deterministic" if deterministic else "--no-deterministic", "--compile", compile_mode,
               "--epochs", str(a.train_epochs), "--threads", str(a.train_threads), "--log-every", "100",
               "--checkpoint-every", "1000",
               "--state-dir", str(run_dir / "state"), "--out-model", str(run_dir / "model.pt"),
               "--out-history", str(run_dir / "history.jsonl"), "--out-config", str(run_dir / "config.json"),
               "--out-throughput", str(run_dir / "throughput.json")]  # fmt: skip
        log = self.out / f"{name}.log"
        log.unlink(missing_ok=True)
        cap = a.train_timeout + (a.compile_timeout if compile_mode != "off" else 0)
        r = self.run_cmd(cmd, timeout=min(cap, self.left() - 3), log_file=log)
        out = {"command": "python -m chexpertnet " + " ".join(cmd[3:]).replace(str(ROOT) + "/", ""),
               "rc": r["rc"], "wall_s": r["seconds"], "timed_out": r["timed_out"]}  # fmt: skip
        tp = run_dir / "throughput.json"
        if tp.exists():
            out["throughput"] = json.loads(tp.read_text())
        hist = run_dir / "history.jsonl"
        if hist.exists():
            recs = [json.loads(x) for x in hist.read_text().splitlines() if x.strip()]
            epochs = [x for x in recs if x.get("event") == "epoch"]
            if epochs:
                out["valid_loss"] = epochs[-1].get("valid_loss")
        if r["rc"] != 0:
            raise RuntimeError(f"train exited {r['rc']}{' (timed out)' if r['timed_out'] else ''}: {r['tail'][-2000:]}")
        return out

    def init_args(self) -> list[str]:
        """--init for the train commands; pretrained or frozen get a torchvision DenseNet-121 state dict of random
        weights (no download): the code path of config/chexpert.yaml's pretrained and frozen experiments."""
        if self.args.train_init == "scratch":
            return ["--init", "scratch"]
        file = self.scratch / "densenet121_random.pth"
        if not file.exists():
            import torch
            from torchvision.models import densenet121

            torch.manual_seed(0)
            torch.save(densenet121(weights=None).state_dict(), file)
        return ["--init", self.args.train_init, "--pretrained", str(file)]

    def inline(self, name: str, need: float, fn, *fn_args) -> None:
        if self.left() < need:
            self.parts.append({"part": name, "skipped": f"budget: {self.left():.0f} s left, needs ~{need:.0f} s"})
            self.log(f"SKIP {name} (budget: needs ~{need:.0f} s)")
            return
        self.log(f"part {name}")
        t = now()
        item = guarded(self.scratch / "parent.jsonl", name, fn, *fn_args)
        self.results[name] = item
        self.parts.append({"part": name, "status": "ok" if item["ok"] else "failed", "seconds": round(now() - t, 1)})
        if item["ok"] and "throughput" in item:
            self.log(f"{name}: {json.dumps(item['throughput'])}, wall {item['wall_s']} s")
        else:
            self.log(f"part {name}: {'ok' if item['ok'] else 'FAILED'} in {now() - t:.1f} s")

    def go(self) -> None:
        a = self.args
        self.log(f"gpu_check: device {a.device}, budget {a.budget} s, package {self.pkg}, out {self.out}")
        only = set(a.only.split(",")) if a.only else None
        plan = [
            ("env", lambda: self.child("env", 5, 60)),
            ("eager", lambda: self.child("eager", 30, 150)),
            ("data", lambda: self.inline("data_prep", 60, self.data_prep)),
            ("train", lambda: self.inline("train_cmd", 45, self.train_cmd, False)
                if self.results.get("data_prep", {}).get("ok") else self.skip("train_cmd", "no data")),
            # the mmap part (disk, one core) runs beside the compile part's first minute (compilation); the compile
            # part's timed steps come after that
            ("train_compiled", lambda: self.inline("train_cmd_reduce_overhead", 150, self.train_cmd, False,
                                                   "reduce-overhead")
                if self.results.get("data_prep", {}).get("ok") else self.skip("train_cmd_reduce_overhead", "no data")),
            ("compile", lambda: self.child("compile", 90, 240,
                                           beside=("mmap", 35, 90) if self.mmap_beside() else None)),
            ("cudagraphs", lambda: self.child("cudagraphs", 75, 200)),
            ("mmap", lambda: None if any(p["part"] == "mmap" for p in self.parts) else self.child("mmap", 35, 90)),
            ("fullstep", lambda: self.child("fullstep", 90, 200)),
            ("train_det", lambda: self.inline("train_cmd_deterministic", 45, self.train_cmd, True)
                if self.results.get("data_prep", {}).get("ok") else self.skip("train_cmd_deterministic", "no data")),
        ]  # fmt: skip
        for key, fn in plan:
            if only and key not in only and not (key == "data" and only & {"train", "train_compiled", "train_det"}):
                continue
            try:
                fn()
            except Exception as exc:
                self.parts.append({"part": key, "status": f"error {type(exc).__name__}: {exc}"})
                self.log(f"part {key}: error {exc}")
            self.save()
        shutil.rmtree(self.scratch / "data", ignore_errors=True)
        self.save()
        print(self.summary(), flush=True)

    def mmap_beside(self) -> bool:
        only = set(self.args.only.split(",")) if self.args.only else None
        return not self.args.mmap_alone and (only is None or "mmap" in only)

    def skip(self, name: str, why: str) -> None:
        self.parts.append({"part": name, "skipped": why})
        self.log(f"SKIP {name} ({why})")

    def save(self) -> None:
        doc = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "args": vars(self.args), "package": str(self.pkg),
               "elapsed_s": round(self.elapsed(), 1), "parts": self.parts, "results": self.results}  # fmt: skip
        (self.out / "gpu_check.json").write_text(json.dumps(doc, indent=1, default=str))
        (self.out / "gpu_check.md").write_text(self.summary())

    def summary(self) -> str:
        r = self.results
        lines = ["# gpu_check summary", ""]
        env = r.get("env", {})
        if env.get("ok"):
            lines.append(f"Device: {env.get('gpu', 'no GPU')} (capability {env.get('capability')}, "
                         f"{env.get('sm_count')} SMs, {env.get('gpu_memory_gib')} GiB); nvidia-smi: "
                         f"{env.get('nvidia_smi')}; torch {env.get('torch')}, CUDA {env.get('cuda_runtime')}, "
                         f"cuDNN {env.get('cudnn')}, torchvision {env.get('torchvision')}, triton "
                         f"{env.get('triton')}, Python {env.get('python')}; {env.get('cpu_count')} CPUs, "
                         f"{env.get('host_memory')}; scratch fs {env.get('scratch_fs')}; cudnn TF32 "
                         f"{env.get('cudnn_allow_tf32')}, matmul TF32 {env.get('matmul_allow_tf32')}.")  # fmt: skip
            lines.append("")
        rows = [k for k in r if k.startswith(("eager_", "compiled_")) and not k.endswith("_check")]
        if rows:
            base = r.get("eager_fp32_nchw_b16", {}).get("images_per_s")
            lines += ["| variant | batch | images/s | ms/step | vs fp32 eager b16 | first step s | warm-up s "
                      "| peak GiB |", "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
            for k in rows:
                v = r[k]
                if not v.get("ok"):
                    why = "skipped" if v.get("skipped") else "FAILED: " + v.get("error", "")[:120]
                    lines.append(f"| {k} | | {why} | | | | | |")
                    continue
                ratio = f"{v['images_per_s'] / base:.2f}x" if base and v["batch"] == 16 else ""
                lines.append(f"| {k} | {v['batch']} | {v['images_per_s']} | {v['ms_per_step']} | {ratio} | "
                             f"{v['first_step_s']} | {v['warmup_s']} | {v.get('peak_mem_gib', '')} |")  # fmt: skip
            lines.append("")
        chk = r.get("compiled_default_check", {})
        if chk:
            if chk.get("ok"):
                lo, rl, cs = chk["losses"], chk["grad_rel_l2"], chk["grad_cosine"]
                lines.append("Compiled (default) vs eager, bf16 + channels_last, same weights and batch, one "
                             "forward+backward: losses " + ", ".join(f"{k} {v:.6f}" for k, v in lo.items()) +
                             f"; agree: {chk['agree']}; first compiled fwd+bwd {chk['compile_first_fwd_bwd_s']} s.")
                lines += ["", "| gradients (all parameters, flattened) | relative L2 diff | cosine |",
                          "|---|---:|---:|"]
                lines += [f"| {k} | {rl[k]:.2e} | {cs[k]:.6f} |" for k in rl]
                lines.append("")
                lines.append("Per tensor (relative L2): " + "; ".join(
                    f"{n}: " + ", ".join(f"{k} {v:.1e}" for k, v in g.items()) for n, g in chk["grads"].items()))
            else:
                lines.append(f"Compiled vs eager check FAILED: {chk.get('error')}")
            lines.append("")
        dp = r.get("data_prep", {})
        if dp:
            if dp.get("ok"):
                lines.append(f"Data prep (project CLI): {dp.get('train_images')} train / {dp.get('valid_images')} "
                             f"valid images cached at {sizes(self.args)['cache']} px; seconds: " +
                             ", ".join(f"{k} {v['seconds']}" for k, v in dp["steps"].items()) + ".")  # fmt: skip
            else:
                lines.append(f"Data prep FAILED: {dp.get('error')}")
            lines.append("")
        for key in ("train_cmd", "train_cmd_reduce_overhead", "train_cmd_deterministic"):
            t = r.get(key)
            if not t:
                continue
            if t.get("ok"):
                tp = t.get("throughput", {})
                lines.append(f"{key}: {tp.get('images')} images, images_per_s {tp.get('images_per_s', 0):.1f}, "
                             f"data_wait_fraction {tp.get('data_wait_fraction', 0):.4f}, loop seconds "
                             f"{tp.get('seconds')}; after the first {tp.get('warmup_steps')} steps "
                             f"({tp.get('warmup_seconds')} s): images_per_s {tp.get('images_per_s_after_warmup')}, "
                             f"data_wait_fraction {tp.get('data_wait_fraction_after_warmup')}; "
                             f"wall {t['wall_s']} s (process start to exit, incl. "
                             f"validation and checkpoint), valid loss {t.get('valid_loss')}.")  # fmt: skip
                lines.append(f"  `{t['command']}`")
            else:
                lines.append(f"{key} FAILED: {t.get('error', '')[:1500]}")
            lines.append("")
        mm = [k for k in r if k.startswith("mmap_")]
        if mm:
            lines.append("mmap part: " + ("run beside the compile part's compilation (one core of its own, disk)"
                                          if self.mmap_ran_beside else "run on its own") + ".")
            lines.append("")
            lines += ["| mmap read | MB/s | images/s | MB read | seconds | page cache dropped |",
                      "|---|---:|---:|---:|---:|---|"]
            for k in mm:
                v = r[k]
                if not v.get("ok"):
                    lines.append(f"| {k} | FAILED: {v.get('error', '')[:120]} | | | | |")
                elif k == "mmap_write":
                    lines.append(f"| write {v['file_gb']} GB ({v['rows']} rows) on {v['filesystem']} | "
                                 f"{v['write_mb_s']} | | | {v['write_plus_fsync_s']} | |")  # fmt: skip
                else:
                    dropped = (f"drop_caches {v.get('drop_caches')}, fadvise {v.get('fadvise_dontneed')}, page cache "
                               f"{v.get('page_cache_gib_before')} -> {v.get('page_cache_gib_after')} GiB"
                               if v.get("cold") else "warm (same rows again)")  # fmt: skip
                    lines.append(f"| {k} | {v['mb_s']} | {v['images_per_s']} | {v['mb']} | {v['seconds']} | "
                                 f"{dropped} |")
            lines.append("")
        lines.append("Parts: " + "; ".join(
            f"{p['part']} {p.get('status') or 'SKIPPED (' + p.get('skipped', '') + ')'}"
            + (f" {p['seconds']} s" if "seconds" in p else "") for p in self.parts))  # fmt: skip
        lines.append(f"Total {self.elapsed():.0f} s.")
        return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "results" / "gpu_check"))
    p.add_argument("--smoke", action="store_true", help="CPU, tiny sizes, few steps: checks the script itself")
    p.add_argument("--device", default=None, help="default cuda (cpu with --smoke)")
    p.add_argument("--budget", type=float, default=400.0, help="seconds for the whole run (parts that no longer "
                   "fit are skipped)")  # fmt: skip
    p.add_argument("--steps", type=int, default=50, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=2, help="timed loops per variant (the upper median is reported)")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--train-patients", type=int, default=None, help="phantom train patients (default 2000)")
    p.add_argument("--valid-patients", type=int, default=None)
    p.add_argument("--train-threads", type=int, default=8, help="train --threads (config/chexpert.yaml: 8)")
    p.add_argument("--train-timeout", type=float, default=150.0)
    p.add_argument("--compile-timeout", type=float, default=240.0, help="added to --train-timeout when compiling")
    p.add_argument("--train-epochs", type=int, default=1)
    p.add_argument("--train-init", choices=("scratch", "pretrained", "frozen"), default="scratch",
                   help="the train commands' --init (pretrained/frozen: random torchvision weights as the backbone)")
    p.add_argument("--mmap-gb", type=float, default=3.0)
    p.add_argument("--mmap-seconds", type=float, default=8.0, help="cap on each mmap read pass")
    p.add_argument("--mmap-alone", action="store_true", help="run the mmap part on its own, not beside compile")
    p.add_argument("--compile-backend", default=None, help="default inductor (aot_eager with --smoke)")
    p.add_argument("--only", default=None, help="comma-separated parts: env,eager,data,train,compile,cudagraphs,"
                   "mmap,fullstep,train_det,train_compiled")  # fmt: skip
    p.add_argument("--package", default=None, help="folder holding the chexpertnet package")
    p.add_argument("--scratch", default=str(ROOT / ".gpucheck_scratch"))
    # child-process arguments
    p.add_argument("--part", default=None, help=argparse.SUPPRESS)
    p.add_argument("--results", default=None, help=argparse.SUPPRESS)
    p.add_argument("--deadline", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.device = args.device or ("cpu" if args.smoke else "cuda")
    args.compile_backend = args.compile_backend or ("aot_eager" if args.smoke else "inductor")
    if args.train_patients is None:
        args.train_patients = 12 if args.smoke else 2000
    if args.valid_patients is None:
        args.valid_patients = 6 if args.smoke else 150
    if args.smoke:
        args.steps, args.repeats, args.mmap_seconds, args.train_threads = 2, 1, 3.0, 1
    if args.part:
        args.deadline = args.deadline or time.time() + 600
        run_part(args)
        return
    Runner(args).go()


if __name__ == "__main__":
    main()
