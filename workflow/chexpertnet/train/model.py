"""DenseNet-121 with 14 three-way heads; normalization inside the model so a checkpoint is self-contained.

The model takes uint8 images (N, H, W), scales them to [0, 1], repeats the grayscale channel 3 times (so ImageNet
weights apply unchanged), normalizes with per-channel mean and std held as buffers, and returns logits (N, 14, 3)
in the order (negative, positive, uncertain).
"""

from __future__ import annotations

import re

import torch
from torch import nn
from torchvision.models import densenet121

from chexpertnet.observations import CLASS_NAMES, OBSERVATIONS

ARCH = "densenet121"
FEATURES = 1024
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Old torchvision DenseNet checkpoints name layers 'norm.1', 'conv.2', ...; current modules are 'norm1', 'conv2'.
_OLD_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


class CheXpertNet(nn.Module):
    def __init__(
        self,
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
        num_observations: int = len(OBSERVATIONS),
    ) -> None:
        super().__init__()
        self.num_observations = num_observations
        self.channels_last = False
        self.densenet = densenet121(weights=None)
        self.densenet.classifier = nn.Linear(FEATURES, num_observations * len(CLASS_NAMES))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W) -> normalized float (N, 3, H, W), channels_last when the model is."""
        x = images[:, None].float().div_(255.0).expand(-1, 3, -1, -1)
        x = (x - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def to_channels_last(self) -> CheXpertNet:
        """Convolutions in NHWC layout (faster with bf16 on CPUs with AMX/AVX-512 bf16 and on GPUs)."""
        self.channels_last = True
        return self.to(memory_format=torch.channels_last)

    def feature_maps(self, images: torch.Tensor) -> torch.Tensor:
        """Final DenseNet features after ReLU, before global average pooling: (N, 1024, h, w)."""
        return torch.relu(self.densenet.features(self.prepare(images)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits (N, 14, 3), always fp32: under bf16 autocast the backbone runs in bf16 but the head does not, so
        probabilities are not rounded to bf16's 8 bits (which would tie many patients' scores)."""
        pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(self.feature_maps(images), 1), 1)
        with torch.autocast(device_type=pooled.device.type, enabled=False):
            logits = self.densenet.classifier(pooled.float())
        return logits.view(-1, self.num_observations, len(CLASS_NAMES))


def backbone_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A torchvision DenseNet-121 state dict (any era) -> its feature extractor's tensors, current key names."""
    features = {}
    for key, value in state.items():
        m = _OLD_KEY.match(key)
        key = m.group(1) + m.group(2) if m else key
        key = key.removeprefix("densenet.")
        if key.startswith("features."):
            features[key.removeprefix("features.")] = value
    if not features:
        raise ValueError("the state dict holds no DenseNet-121 'features.*' tensors")
    return features


def load_backbone(model: CheXpertNet, state: dict[str, torch.Tensor], source: str) -> None:
    """Load pretrained feature-extractor weights; the 42-way classifier keeps its (seeded) initialization."""
    try:
        model.densenet.features.load_state_dict(backbone_state(state), strict=True)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"{source} is not a DenseNet-121 state dict: {exc}") from exc
