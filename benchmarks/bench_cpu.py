"""What this CPU can do for the workflow, before you run it: its instruction sets, the DenseNet-121 training-step
microbenchmark, and the expected time of the built-in default run (`snakemake --cores all`).

The microbenchmark is the reference one (a train step of the project's model: forward, the paper's loss, backward,
Adam; batch 16 of random images; fp32), at 96 and 64 px, on 1 and 2 threads, NCHW and channels_last; then the
numeric path the workflow would use here (bf16 autocast + channels_last where the CPU has native bf16). Each figure
is printed beside the reference machine's (a 2-core AMD EPYC Zen 3, AVX2 only) as a ratio.

    .venv/bin/python benchmarks/bench_cpu.py [--steps 8] [--config config/config.yaml] [--skip-estimate]

Run under ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 to see what an AVX-512 machine does with PyTorch's AVX2
kernels (the workflow then takes the fp32 path, as on an AVX2-only machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from chexpertnet.train.loss import weighted_cross_entropy  # noqa: E402
from chexpertnet.train.model import CheXpertNet  # noqa: E402
from chexpertnet.train.numerics import cpu_supports_bf16, numeric_path  # noqa: E402

BATCH = 16
# The figures of the reference machine (2-core AMD EPYC Zen 3, AVX2, no AVX-512), fp32, img/s
REFERENCE = {(96, 1, "nchw"): 10.1, (96, 1, "channels_last"): 12.8, (96, 2, "nchw"): 14.3,
             (96, 2, "channels_last"): 17.7, (64, 1, "nchw"): 20.3, (64, 1, "channels_last"): 20.7,
             (64, 2, "nchw"): 25.2, (64, 2, "channels_last"): 32.7}  # fmt: skip


def cpu_capabilities() -> dict:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    flags = set(next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), []))
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor())  # fmt: skip
    return {
        "model": model,
        "cores": os.cpu_count(),
        "avx2": "avx2" in flags,
        "avx512": "avx512f" in flags,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx": "amx_tile" in flags,
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "native_bf16_used": cpu_supports_bf16(),
        "workflow_numeric_path": numeric_path("cpu", True),
    }


def train_step_rate(size: int, threads: int, layout: str, bf16: bool, steps: int) -> float:
    """img/s of the training step (best of two timed loops after two warm-up steps)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = CheXpertNet()
    if layout == "channels_last":
        model.to_channels_last()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    images = torch.randint(0, 256, (BATCH, size, size), dtype=torch.uint8)
    targets, mask, weights = torch.randint(0, 3, (BATCH, 14)), torch.ones(BATCH, 14), torch.ones(14, 3)

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(images)
        loss = weighted_cross_entropy(logits.float(), targets, mask, weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(2):
        step()
    best = 0.0
    for _ in range(2):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, steps * BATCH / (time.perf_counter() - start))
    return best


def eval_rate(size: int, layout: str, bf16: bool, steps: int) -> float:
    """img/s of evaluation (no gradient), one thread, batch 64."""
    torch.set_num_threads(1)
    model = CheXpertNet().eval()
    if layout == "channels_last":
        model.to_channels_last()
    images = torch.randint(0, 256, (64, size, size), dtype=torch.uint8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        model(images)
        start = time.perf_counter()
        for _ in range(max(1, steps // 4)):
            model(images)
    return max(1, steps // 4) * 64 / (time.perf_counter() - start)


def default_run_images(config: dict) -> dict:
    """Images of the default phantom run (planned, not rendered)."""
    from chexpertnet.phantom import PhantomConfig, plan_patient

    p = config["phantom"]
    phantom = PhantomConfig(train_patients=p["train_patients"], valid_patients=p["valid_patients"], seed=p["seed"],
                            height=p.get("height", 320))  # fmt: skip
    count = {}
    for split, n in (("train", phantom.train_patients), ("valid", phantom.valid_patients)):
        count[split] = sum(len(s.views) for i in range(1, n + 1) for s in plan_patient(phantom, split, i).studies)
    return count


#: Fixed costs of the default run in seconds, measured (docs/benchmarks.md): the phantom and the data steps before
#: the first training, each training job's start (imports, loading the cache), and the steps after the last training
#: (scores, tables, figures, CAMs, the report). They scale with the CPU much less than the training does.
DATA_S, JOB_START_S, TAIL_S = 25, 6, 25


def estimate_default_run(config: dict, train_rate: float, eval_img_s: float, pretrain_rate: float) -> dict:
    """Expected wall time of `snakemake --cores all` on 2 cores: the data steps, then the synthetic pretraining beside
    the training from scratch, then the other trainings two at a time, then the evaluation steps.

    A training costs its epochs of full batches at ``train_rate`` plus a pass over the validation images at
    ``eval_img_s`` after each epoch; a frozen backbone (``init: frozen``) trains only the head, so its epochs cost
    about a forward pass (``eval_img_s``)."""
    images = default_run_images(config)
    t = config["train"]
    steps = images["train"] // t["batch_size"]  # the frontal manifest keeps the image count

    def training(e: dict) -> float:
        rate = eval_img_s if e["init"] == "frozen" else train_rate
        epochs = e.get("epochs", t["epochs"])
        return epochs * (steps * t["batch_size"] / rate + images["valid"] / eval_img_s) + JOB_START_S

    s = config["synthetic"]
    pretrain = s["steps"] * s["batch_size"] / pretrain_rate + JOB_START_S
    # Two cores, one thread per job, as Snakemake schedules them: the pretraining (its priority) beside the trainings
    # from scratch, those that need the pretrained weights once it is done, longest first.
    jobs = sorted((e["init"] != "scratch", -training(e)) for e in config["experiments"].values()
                   for _ in e["seeds"])  # fmt: skip
    slots = [pretrain, 0.0]
    for needs_pretraining, minus_seconds in jobs:
        i = slots.index(min(slots))
        slots[i] = max(slots[i], pretrain if needs_pretraining else 0.0) - minus_seconds
    total = DATA_S + max(slots) + TAIL_S
    baseline = training({"init": "pretrained"})
    return {"train_images": images["train"], "valid_images": images["valid"], "training_s": round(baseline),
            "pretraining_s": round(pretrain), "total_s": round(total)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--config", default=str(ROOT / "config/config.yaml"))
    parser.add_argument("--skip-estimate", action="store_true")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()

    caps = cpu_capabilities()
    print(f"CPU: {caps['model']}, {caps['cores']} cores; AVX2 {caps['avx2']}, AVX-512 {caps['avx512']}, "
          f"AVX-512 bf16 {caps['avx512_bf16']}, AMX {caps['amx']}; PyTorch kernels: {caps['torch_capability']}"
          f"{', ONEDNN_MAX_CPU_ISA=' + caps['onednn_max_cpu_isa'] if caps['onednn_max_cpu_isa'] else ''}")
    print(f"The workflow's numeric path here (train.fast: true): {caps['workflow_numeric_path']}; "
          f"torch {torch.__version__}")
    rows = []
    print("\nDenseNet-121 train step, batch 16, fp32 (img/s; reference: 2-core AMD EPYC Zen 3, AVX2)")
    print("| size | threads | layout | img/s | reference | ratio |\n|---:|---:|---|---:|---:|---:|")
    for size in (96, 64):
        for threads in (1, 2):
            for layout in ("nchw", "channels_last"):
                rate = train_step_rate(size, threads, layout, False, args.steps)
                ref = REFERENCE[(size, threads, layout)]
                rows.append({"size": size, "threads": threads, "layout": layout, "bf16": False, "img_s": rate,
                             "reference": ref})  # fmt: skip
                print(f"| {size} | {threads} | {layout} | {rate:.1f} | {ref} | {rate / ref:.2f}x |", flush=True)
    bf16 = caps["native_bf16_used"]
    if bf16:
        print("\nbf16 autocast + channels_last (this CPU's native bf16)")
        for size in (96, 64):
            for threads in (1, 2):
                rate = train_step_rate(size, threads, "channels_last", True, args.steps)
                rows.append({"size": size, "threads": threads, "layout": "channels_last", "bf16": True,
                             "img_s": rate})  # fmt: skip
                print(f"| {size} | {threads} | channels_last bf16 | {rate:.1f} |", flush=True)
    results = {"cpu": caps, "microbenchmark": rows}
    if not args.skip_estimate:
        config = yaml.safe_load(Path(args.config).read_text())
        size = config["image"]["crop_size"]
        fast = config["train"]["fast"]
        bf16 = bf16 and fast
        layout = "channels_last" if fast else "nchw"
        train_rate = train_step_rate(size, config["train"]["threads"], layout, bf16, args.steps)
        evaluation = eval_rate(size, layout, bf16, args.steps)
        pretrain = train_step_rate(config["synthetic"]["size"], config["train"]["threads"], layout, bf16, args.steps)
        estimate = estimate_default_run(config, train_rate, evaluation, pretrain)
        results["estimate"] = {"train_img_s": train_rate, "eval_img_s": evaluation, "pretrain_img_s": pretrain,
                               **estimate}  # fmt: skip
        print(f"\nThe default run ({args.config}) on this machine: {estimate['train_images']} training and "
              f"{estimate['valid_images']} validation images; one training about {estimate['training_s']} s at "
              f"{train_rate:.1f} img/s ({size} px, {config['train']['threads']} thread, {layout}"
              f"{', bf16' if bf16 else ', fp32'}); expected `snakemake --cores all` on 2 cores: about "
              f"{estimate['total_s'] / 60:.1f} min")
        if not bf16:  # the same run on the reference machine: this CPU's rates scaled by the microbenchmark ratios
            threads = config["train"]["threads"]
            measured = {(r["size"], r["threads"], r["layout"]): r["img_s"] for r in rows if not r["bf16"]}
            ratio = {px: REFERENCE[(px, threads, layout)] / measured[(px, threads, layout)] for px in (96, 64)}
            ref = estimate_default_run(config, train_rate * ratio[96], evaluation * ratio[96],
                                       pretrain * ratio[64])  # fmt: skip
            results["reference_estimate"] = {"ratio_96": ratio[96], "ratio_64": ratio[64], **ref}
            print(f"On the reference machine (2-core AMD EPYC Zen 3, AVX2; this CPU's rates x{ratio[96]:.2f} at 96 px, "
                  f"x{ratio[64]:.2f} at 64 px): one training about {ref['training_s']} s, the run about "
                  f"{ref['total_s'] / 60:.1f} min (fixed costs not scaled)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
