"""Head layout, input handling and pretrained-backbone loading of the model."""

from __future__ import annotations

import torch
from torchvision.models import densenet121

from chexpertnet.train.loss import positive_probability
from chexpertnet.train.model import CheXpertNet, backbone_state, load_backbone


def test_head_layout_is_observation_by_class():
    torch.manual_seed(0)
    model = CheXpertNet().eval()
    images = torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        logits = model(images)
        features = model.feature_maps(images).mean(dim=(2, 3))
    assert logits.shape == (2, 14, 3)
    flat = model.densenet.classifier(features)
    # observation j's (negative, positive, uncertain) logits are outputs 3j, 3j+1, 3j+2 of the linear layer
    torch.testing.assert_close(logits[:, 5], flat[:, 15:18])
    assert positive_probability(logits).shape == (2, 14)


def test_grayscale_is_repeated_and_normalized_per_channel():
    model = CheXpertNet(mean=(0.1, 0.2, 0.3), std=(0.5, 0.25, 0.125))
    x = model.prepare(torch.full((1, 4, 4), 255, dtype=torch.uint8))
    torch.testing.assert_close(x[0, :, 0, 0], torch.tensor([1.8, 3.2, 5.6]))


def test_channels_last_gives_the_same_logits():
    torch.manual_seed(0)
    model = CheXpertNet().eval()
    images = torch.randint(0, 256, (2, 64, 64), dtype=torch.uint8)
    with torch.no_grad():
        a = model(images)
        b = model.to_channels_last()(images)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_backbone_from_torchvision_state_dict_old_and_new_keys():
    torch.manual_seed(1)
    source = densenet121(weights=None).state_dict()
    old = {}
    for key, value in source.items():  # rename to the old 'norm.1' style that torchvision's files use
        for part in ("norm", "relu", "conv"):
            for i in ("1", "2"):
                key = key.replace(f".{part}{i}.", f".{part}.{i}.") if "denselayer" in key else key
        old[key] = value
    assert any(".norm.1." in k for k in old)
    for state in (source, old):
        model = CheXpertNet()
        head = model.densenet.classifier.weight.clone()
        load_backbone(model, state, "test")
        loaded = model.densenet.features.state_dict()["conv0.weight"]
        torch.testing.assert_close(loaded, source["features.conv0.weight"])
        torch.testing.assert_close(model.densenet.classifier.weight, head)
    assert set(backbone_state(source)) == set(CheXpertNet().densenet.features.state_dict())


def test_logits_are_fp32_under_bf16_autocast():
    """The backbone may run in bf16, the head does not: the logits equal the fp32 classifier applied to the pooled
    features (so probabilities are not rounded to bf16's 8 bits, which would tie patients' scores)."""
    torch.manual_seed(0)
    model = CheXpertNet().eval()
    images = torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(images)
        pooled = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(model.feature_maps(images), 1), 1)
    assert pooled.dtype == torch.bfloat16 and logits.dtype == torch.float32
    expected = pooled.float() @ model.densenet.classifier.weight.T + model.densenet.classifier.bias
    torch.testing.assert_close(logits.reshape(3, -1), expected, rtol=0, atol=1e-6)
    assert len(torch.unique(logits)) == logits.numel()  # no ties from rounding
