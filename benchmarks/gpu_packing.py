"""GPU packing: how many trainings one GPU should run at once, the whole compiled step, and compiling once.

One prepared run for a lent GPU machine (one GPU), each measurement the real `python -m chexpertnet train` on a
phantom made with the project's CLI (gpu_check.py's data preparation: 364 px cache, 320 px crops, batch 16, bf16 +
channels_last, the paper's GPU settings), in this order:

  compiled   k = 1 training with --compile reduce-overhead and an empty shared Inductor cache (--compile-cache):
             its warm-up (compilation) and its images/s after warm-up: the whole step in the graph (goal >= 1,500)
  second     the same training again on the now warm cache: its warm-up (compile once per configuration)
  pack k     k = 2, 3, 4 concurrent trainings on the one GPU, started together through the GPU slots
             (CUDA_VISIBLE_DEVICES=0, CHEXPERTNET_JOBS_PER_GPU=k): the sum of their images/s after warm-up
             against k = 1's (goal >= 2.5x); eager (--compile off) as well when the budget allows

Prints a Markdown table (and writes gpu_packing.json / .md to --out): per k the total and per-training images/s
after warm-up, the ratio to k = 1 (the baseline measured in the same run), warm-ups, the GPU each job got.

    PYTHONUNBUFFERED=1 python3 benchmarks/gpu_packing.py --out $OUT            # on the GPU machine
    .venv/bin/python benchmarks/gpu_packing.py --smoke                          # CPU, tiny sizes: checks the script
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_check  # the data preparation and the train command line

ROOT = gpu_check.ROOT


def train_command(runner: gpu_check.Runner, name: str, compile_mode: str, cache: Path) -> tuple[list[str], Path]:
    """The train command gpu_check runs, in its own folder, with the shared compile cache."""
    a, d, s = runner.args, runner.scratch / "data", gpu_check.sizes(runner.args)
    run_dir = runner.scratch / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cmd = [sys.executable, "-m", "chexpertnet", "train", "--experiment", name, "--seed", "0",
           "--train-manifest", str(d / "manifest_train.csv"), "--train-weights", str(d / "manifest_train.weights.csv"),
           "--valid-manifest", str(d / "manifest_valid.csv"),
           "--train-cache", str(d / "cache_train.npy"), str(d / "cache_train.index.csv"),
           "--valid-cache", str(d / "cache_valid.npy"), str(d / "cache_valid.index.csv"),
           "--init", "scratch", "--normalization", "imagenet", "--batch-size", str(s["batch"]),
           "--crop-size", str(s["crop"]), "--device", a.device, "--fast", "--no-deterministic",
           "--compile", compile_mode, "--compile-cache", str(cache), "--epochs", str(a.train_epochs),
           "--threads", str(a.train_threads), "--log-every", "100", "--checkpoint-every", "100000",
           "--state-dir", str(run_dir / "state"), "--out-model", str(run_dir / "model.pt"),
           "--out-history", str(run_dir / "history.jsonl"), "--out-config", str(run_dir / "config.json"),
           "--out-throughput", str(run_dir / "throughput.json")]  # fmt: skip
    return cmd, run_dir


def run_together(runner: gpu_check.Runner, k: int, compile_mode: str, cache: Path, label: str) -> dict:
    """k trainings started at once, each claiming a slot of GPU 0 (k slots); their throughput.json."""
    env = runner.env()
    if runner.args.device == "cuda":
        first_gpu = env.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0]
        env.update({"CUDA_VISIBLE_DEVICES": first_gpu, "CHEXPERTNET_JOBS_PER_GPU": str(k),
                    "CHEXPERTNET_GPU_SLOTS": str(runner.scratch / "slots")})  # fmt: skip
    timeout = runner.args.train_timeout + (runner.args.compile_timeout if compile_mode != "off" else 0)
    jobs = []
    for i in range(k):
        cmd, run_dir = train_command(runner, f"{label}_{i}", compile_mode, cache)
        log = open(runner.out / f"{label}_{i}.log", "w")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        jobs.append((proc, run_dir, log))
    start, results = time.perf_counter(), []
    for proc, run_dir, log in jobs:
        try:
            rc = proc.wait(timeout=max(1.0, timeout - (time.perf_counter() - start)))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            rc = "timeout"
        log.close()
        file = run_dir / "throughput.json"
        results.append({"rc": rc, **(json.loads(file.read_text()) if file.exists() else {})})
    rates = [r.get("images_per_s_after_warmup") for r in results]
    return {"k": k, "compile": compile_mode, "label": label, "wall_s": round(time.perf_counter() - start, 1),
            "rcs": [r["rc"] for r in results], "jobs": results,
            "total_images_per_s": sum(rates) if all(rates) else None}  # fmt: skip


def warmup_seconds(job: dict) -> float | None:
    """Seconds before the rate after warm-up starts (compilation, for a compiled run): from throughput.json."""
    return job.get("warmup_seconds")


def markdown(rows: list[dict], device: str) -> str:
    base = {r["compile"]: r["total_images_per_s"] for r in rows if r["k"] == 1 and r["label"].startswith("k1")}
    lines = [f"GPU packing on {device}: `chexpertnet train` at 364/320 px, batch 16, bf16 + channels_last", "",
             "| run | compile | k | total img/s after warm-up | per training | vs k = 1 | warm-up s | GPUs seen |",
             "|---|---|---:|---:|---|---:|---|---|"]  # fmt: skip
    for r in rows:
        per = ", ".join(f"{j.get('images_per_s_after_warmup') or 0:.0f}" for j in r["jobs"])
        baseline = base.get(r["compile"])
        ratio = r["total_images_per_s"] / baseline if r["total_images_per_s"] and baseline else None
        warm = ", ".join(f"{w:.0f}" if (w := warmup_seconds(j)) is not None else "n/a" for j in r["jobs"])
        gpus = ", ".join(str((j.get("gpu") or {}).get("gpu")) for j in r["jobs"])
        total = f"{r['total_images_per_s']:.0f}" if r["total_images_per_s"] else "n/a"
        lines.append(f"| {r['label']} | {r['compile']} | {r['k']} | {total} | {per} | "
                     f"{f'{ratio:.2f}x' if ratio else 'n/a'} | {warm} | {gpus} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "results" / "gpu_packing"))
    p.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: checks the script itself")
    p.add_argument("--budget", type=float, default=540.0, help="seconds for the whole run")
    p.add_argument("--ks", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--eager", action="store_true", help="also pack eager (--compile off) trainings")
    p.add_argument("--train-epochs", type=int, default=1)
    p.add_argument("--train-patients", type=int, default=None, help="phantom train patients (default 1500)")
    p.add_argument("--train-threads", type=int, default=4, help="train --threads per job")
    p.add_argument("--train-timeout", type=float, default=150.0)
    p.add_argument("--compile-timeout", type=float, default=240.0)
    p.add_argument("--scratch", default=str(ROOT / ".gpucheck_scratch"))
    a = p.parse_args()
    # the fields gpu_check's Runner reads
    a.device = "cpu" if a.smoke else "cuda"
    a.compile_backend = "aot_eager" if a.smoke else "inductor"
    a.train_patients = a.train_patients or (12 if a.smoke else 1500)
    a.valid_patients = 6 if a.smoke else 100
    a.package, a.steps, a.repeats, a.warmup, a.mmap_gb, a.mmap_seconds = None, 2, 1, 1, 0.1, 1.0
    if a.smoke:
        a.train_threads, a.ks, a.train_epochs = 1, [2], 3
    runner = gpu_check.Runner(a)
    runner.log("data: phantom -> validate -> cache -> manifests")
    data = runner.data_prep()
    cache = runner.scratch / "compile-cache"
    shutil.rmtree(cache, ignore_errors=True)
    rows = [run_together(runner, 1, "reduce-overhead", cache, "k1_cold_cache")]
    runner.log(f"k=1 cold: {rows[-1]['total_images_per_s']} img/s")
    rows.append(run_together(runner, 1, "reduce-overhead", cache, "k1_warm_cache"))
    runner.log(f"k=1 warm cache: {rows[-1]['total_images_per_s']} img/s")
    for k in a.ks:
        if runner.left() < a.train_timeout:
            runner.log(f"SKIP k={k}: {runner.left():.0f} s left")
            continue
        rows.append(run_together(runner, k, "reduce-overhead", cache, f"k{k}"))
        runner.log(f"k={k}: {rows[-1]['total_images_per_s']} img/s")
    if a.eager:
        for k in (1, *a.ks):
            if runner.left() < a.train_timeout:
                break
            rows.append(run_together(runner, k, "off", cache, f"k{k}_eager" if k > 1 else "k1_eager"))
    device = (rows[0]["jobs"][0].get("gpu") or {}).get("name") or a.device
    text = markdown(rows, device)
    runner.out.mkdir(parents=True, exist_ok=True)
    (runner.out / "gpu_packing.json").write_text(json.dumps({"data": data, "rows": rows}, indent=2, default=str))
    (runner.out / "gpu_packing.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
