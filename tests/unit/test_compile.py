"""`train.compile`: a compiled training step gives the eager step's loss and gradients, and a compiled training
the eager training's weights, checkpoint keys and outputs.

On the CPU the graphs are compiled with the aot_eager backend (CHEXPERTNET_COMPILE_BACKEND): TorchDynamo captures the
same forward graph and AOTAutograd derives the same backward graph as on a GPU, with ATen kernels instead of
generated ones (Inductor needs minutes on 2 cores for DenseNet-121). Inductor's own numerics on the GPU are compared
with eager by benchmarks/gpu_check.py (docs/benchmarks.md).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from test_train import WEIGHTS, tiny_config, tiny_split

from chexpertnet.train.augment import crop_flip_gather, draw_crops
from chexpertnet.train.checkpoint import load_model, save_checkpoint
from chexpertnet.train.loop import COMPILE_BACKEND_ENV, TrainConfig, build_model, train, training_step
from chexpertnet.train.loss import weighted_cross_entropy


@pytest.fixture(autouse=True)
def aot_eager(monkeypatch):
    monkeypatch.setenv(COMPILE_BACKEND_ENV, "aot_eager")
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def loss_and_grads(step, model, *inputs) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = step(*inputs)
    loss.backward()
    return float(loss.detach()), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


# channels_last, as train.fast runs (the whole training below runs NCHW); on the CPU reduce-overhead is default
# without CUDA graphs. The whole step is compiled: whole cached images in, the crop/flip gather (the GPU path),
# uint8 -> float, normalization, forward and loss inside the graph.
@pytest.mark.parametrize(("channels_last", "mode"), [(True, "reduce-overhead")], ids=["channels_last"])
def test_a_compiled_step_gives_the_eager_loss_and_gradients(channels_last, mode):
    config = TrainConfig(experiment="compile", seed=3, init="scratch", crop_size=32, fast=False)
    eager = build_model(config, None)
    if channels_last:
        eager.to_channels_last()
    eager.train()
    twin, reference = copy.deepcopy(eager), copy.deepcopy(eager)
    weights = torch.rand(14, 3, generator=torch.Generator().manual_seed(1)) + 0.5
    eager_step = training_step(eager, config, weights)
    compiled = training_step(twin, TrainConfig(**(config.__dict__ | {"compile": mode})), weights)
    assert compiled is not eager_step
    split = tiny_split(8, 5, size=40)
    images = torch.from_numpy(split.array)  # whole 40 px images; the step crops them to 32
    crops = draw_crops(8, 40, 40, 32, True, torch.Generator().manual_seed(2))
    assert crops[2].any() and not crops[2].all()  # some flipped, some not
    targets, mask = torch.from_numpy(split.classes), torch.from_numpy(split.mask)

    loss_e, grads_e = loss_and_grads(eager_step, eager, images, crops, targets, mask)
    loss_c, grads_c = loss_and_grads(compiled, twin, images, crops, targets, mask)
    # the eager step is the loss computed by hand from its parts
    by_hand = weighted_cross_entropy(reference(crop_flip_gather(images, *crops, 32)).float(), targets, mask, weights)
    assert float(by_hand) == pytest.approx(loss_e, rel=1e-6)
    assert loss_c == pytest.approx(loss_e, rel=1e-5)
    assert grads_c.keys() == grads_e.keys() and len(grads_e) == len(list(eager.parameters()))
    flat_e = torch.cat([g.flatten() for g in grads_e.values()])
    flat_c = torch.cat([grads_c[n].flatten() for n in grads_e])
    assert float((flat_c - flat_e).norm() / flat_e.norm()) < 1e-4
    for name in ("densenet.features.conv0.weight", "densenet.classifier.weight", "densenet.classifier.bias"):
        torch.testing.assert_close(grads_c[name], grads_e[name], rtol=1e-3, atol=1e-6)
    # batch-norm running statistics advanced the same way in both
    torch.testing.assert_close(twin.densenet.features.norm5.running_mean, eager.densenet.features.norm5.running_mean)


def test_a_compiled_training_gives_the_eager_weights_and_plain_checkpoints(tmp_path):
    config = tiny_config(fast=False, epochs=1)
    logs = {"off": [], "default": []}
    runs = {}
    for mode, records in logs.items():
        runs[mode] = train(
            TrainConfig(**(config.__dict__ | {"compile": mode})),
            tiny_split(12, 0),
            tiny_split(8, 1),
            WEIGHTS,
            tmp_path / mode,
            log=records.append,
        )
    assert [r for r in logs["default"] if r["event"] == "compile"] == [
        {"event": "compile", "mode": "default", "cuda_graphs": False}
    ]
    eager, compiled = runs["off"]["model"].state_dict(), runs["default"]["model"].state_dict()
    assert compiled.keys() == eager.keys()  # the model itself, not the compiled wrapper (no '_orig_mod.')
    assert not any(k.startswith("_orig_mod") for k in compiled)
    # three Adam steps of lr 1e-4 move a weight by at most ~3e-4: agreeing within 1e-5 means the same steps
    worst = max(float((compiled[k].double() - eager[k].double()).abs().max()) for k in eager)
    assert worst < 1e-5
    initial = build_model(config, None).state_dict()
    moved = max(float((compiled[k].double() - initial[k].double()).abs().max()) for k in eager if k.endswith("weight"))
    assert moved > 1e-5  # the comparison above is not trivially met by untrained weights
    loss = {m: [r["loss"] for r in logs[m] if r["event"] == "train"] for m in logs}
    assert len(loss["off"]) == 1 and loss["default"] == pytest.approx(loss["off"], rel=1e-5)
    valid = {m: runs[m]["epoch_probabilities"][-1] for m in runs}
    np.testing.assert_allclose(valid["default"], valid["off"], rtol=1e-4, atol=1e-6)

    file = tmp_path / "compiled.pt"
    save_checkpoint(file, runs["default"]["model"], runs["default"]["optimizer"], config, 1, 3)
    reloaded, _ = load_model(file)
    assert all(torch.equal(reloaded.state_dict()[k], compiled[k]) for k in compiled)


def test_an_unknown_compile_mode_is_refused_naming_the_choices():
    model = build_model(TrainConfig(experiment="x", seed=0, init="scratch"), None)
    with pytest.raises(ValueError, match=r"train.compile is 'max'; use one of off, default, reduce-overhead"):
        training_step(model, TrainConfig(experiment="x", seed=0, compile="max"), torch.ones(14, 3))
