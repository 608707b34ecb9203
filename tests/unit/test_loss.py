"""The paper's loss against a hand-computed example; the masked 2-way softmax."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from chexpertnet.train.loss import positive_probability, weighted_cross_entropy


def test_hand_computed_example():
    # N = 2 images, J = 2 observations.
    logits = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 2.0, 0.0]], [[2.0, 0.0, 0.0], [0.0, 0.0, math.log(2.0)]]])
    targets = torch.tensor([[1, 0], [0, 2]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    weights = torch.tensor([[2.0, 4.0, 8.0], [1.5, 3.0, 6.0]])
    # log softmax of each picked class, by hand:
    l00 = math.log(1 / 3)  # uniform, class 1
    l01 = 1 - math.log(math.e + math.e**2 + 1)  # class 0 of (1, 2, 0)
    l10 = 2 - math.log(math.e**2 + 2)  # class 0 of (2, 0, 0)
    # entry (1, 1) is masked: contributes 0 but still counts in N * J = 4
    expected = -(4.0 * l00 + 1.5 * l01 + 2.0 * l10) / 4
    got = weighted_cross_entropy(logits, targets, mask, weights)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_not_pytorchs_weighted_mean():
    torch.manual_seed(0)
    logits, targets = torch.randn(5, 1, 3), torch.randint(0, 3, (5, 1))
    weights = torch.tensor([[1.0, 5.0, 10.0]])
    ours = weighted_cross_entropy(logits, targets, torch.ones(5, 1), weights)
    pytorch_mean = F.cross_entropy(logits[:, 0], targets[:, 0], weight=weights[0])
    pytorch_sum = F.cross_entropy(logits[:, 0], targets[:, 0], weight=weights[0], reduction="sum")
    assert ours.item() == pytest.approx(pytorch_sum.item() / 5, rel=1e-6)
    assert ours.item() != pytest.approx(pytorch_mean.item(), rel=1e-3)


def test_positive_probability_masks_the_uncertain_logit():
    logits = torch.tensor([[[0.3, 1.1, 50.0], [2.0, -1.0, -50.0]]])
    p = positive_probability(logits)
    expected = torch.softmax(logits[..., :2], dim=-1)[..., 1]
    torch.testing.assert_close(p, expected)
