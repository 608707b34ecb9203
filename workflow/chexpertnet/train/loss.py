"""The paper's loss and the evaluation-time probabilities (sections 4.2 and 4.3). Pure tensor functions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weighted_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """L = -(1/N) sum_i (1/J) sum_j m_ij w[j, y_ij] log softmax(z_ij)[y_ij].

    logits (N, J, 3), targets (N, J) class indices, mask (N, J) 1 = counted / 0 = ignored, weights (J, 3).
    Masked entries contribute 0 but still count in N and J, exactly as the paper's formula. This is not
    ``F.cross_entropy(weight=..., reduction="mean")``, which divides by the sum of the weights instead.
    """
    n, j, _ = logits.shape
    log_p = F.log_softmax(logits.float(), dim=-1).gather(-1, targets[..., None]).squeeze(-1)
    w = weights.to(log_p.dtype)[torch.arange(j, device=logits.device), targets]
    return -(w * mask.to(log_p.dtype) * log_p).sum() / (n * j)


def positive_probability(logits: torch.Tensor) -> torch.Tensor:
    """P(positive) with the uncertain logit masked out: softmax over (negative, positive), i.e. sigmoid(z1 - z0)."""
    return torch.sigmoid(logits[..., 1].float() - logits[..., 0].float())


def binary_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Validation loss: cross-entropy of the masked 2-way softmax against 0/1 labels, averaged over entries."""
    two_way = logits[..., :2].float()
    return F.cross_entropy(two_way.reshape(-1, 2), labels.reshape(-1).long())
