"""Class activation maps for the 14 three-way heads, and how well they localize a finding.

For observation j the reported probability is P(positive) = sigmoid(d_j), d_j = z_pos - z_neg (the masked two-way
softmax), and z = W · GAP(F) + b. GAP is linear, so with F the final features after ReLU (K, h, w):

    CAM_j(x, y) = sum_k (W[j,pos,k] - W[j,neg,k]) F_k(x, y),      mean_xy CAM_j + (b[j,pos] - b[j,neg]) = d_j

exactly: the map explains the very number the model reports. Pure functions over tensors and arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from chexpertnet.observations import CLASS_NAMES, NEGATIVE, POSITIVE


def head_difference(
    weight: torch.Tensor, bias: torch.Tensor, num_observations: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's (J*3, K) weight and (J*3,) bias -> (J, K) W_pos - W_neg and (J,) b_pos - b_neg."""
    w = weight.view(num_observations, len(CLASS_NAMES), -1)
    b = bias.view(num_observations, len(CLASS_NAMES))
    return w[:, POSITIVE] - w[:, NEGATIVE], b[:, POSITIVE] - b[:, NEGATIVE]


def class_activation_maps(features: torch.Tensor, weight_diff: torch.Tensor) -> torch.Tensor:
    """(N, K, h, w) features and (J, K) weight differences -> (N, J, h, w) CAMs (logit-difference units)."""
    features = features if features.is_floating_point() else features.float()
    return torch.einsum("nkhw,jk->njhw", features, weight_diff.to(features.dtype))


def model_cams(model, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """CAMs (N, J, h, w) and the logit differences d (N, J) of a CheXpertNet for uint8 images (N, H, W)."""
    classifier = model.densenet.classifier
    w, b = head_difference(classifier.weight, classifier.bias, model.num_observations)
    with torch.no_grad():
        cams = class_activation_maps(model.feature_maps(images), w)
    return cams, cams.mean(dim=(2, 3)) + b


def upsample(cam: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """One (h, w) map -> (H, W) float64, bilinear (align_corners=False, as the image grid)."""
    up = F.interpolate(cam[None, None].float(), size=size, mode="bilinear", align_corners=False)
    return up[0, 0].double().numpy()


# --- localization against a known box --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Localization:
    hit: bool  # the CAM's maximum (centre of its highest cell) lies in the box
    tolerant_hit: bool  # ... or within `tolerance` pixels of it
    reachable: bool  # some cell centre lies in the box: the most a map of this resolution can achieve
    iou: float  # of the thresholded, upsampled CAM with the box
    chance: float  # the share of the map's cells whose centre lies in the box: the hit rate of an image-blind
    # pointer scored like the CAM (a random cell's centre), the pointing game's chance level
    pixel_share: float  # the box's share of the image's pixels (the hit rate of a random point anywhere)


def cell_centres(h: int, w: int, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Image coordinates (x, y arrays) of the centres of an (h, w) map's cells over an image of ``size`` (H, W)."""
    return (np.arange(w) + 0.5) * size[1] / w, (np.arange(h) + 0.5) * size[0] / h


def box_distance(x: float, y: float, box: tuple[float, float, float, float]) -> float:
    """Euclidean distance from a point to a box (x0, y0, x1, y1); 0 inside."""
    x0, y0, x1, y1 = box
    return math.hypot(max(x0 - x, 0.0, x - x1), max(y0 - y, 0.0, y - y1))


def localize(cam: np.ndarray, box: tuple[float, float, float, float], size: tuple[int, int], tolerance: float,
             threshold: float = 0.5) -> Localization:  # fmt: skip
    """Score one (h, w) CAM against a box (x0, y0, x1, y1) in the pixel coordinates of the (H, W) image it covers.

    The maximum is the centre of the highest cell (with bilinear upsampling the map's maximum sits there). IoU: the
    upsampled CAM, min-max scaled, above ``threshold``, against the box clipped to the image.
    """
    h, w = cam.shape
    xs, ys = cell_centres(h, w, size)
    i, j = np.unravel_index(int(np.argmax(cam)), cam.shape)
    distance = box_distance(xs[j], ys[i], box)
    x0, y0, x1, y1 = box
    reachable = bool(((xs >= x0) & (xs <= x1)).any() and ((ys >= y0) & (ys <= y1)).any())
    yy, xx = np.mgrid[0 : size[0], 0 : size[1]] + 0.5  # pixel centres
    inside = (xx >= x0) & (xx <= x1) & (yy >= y0) & (yy <= y1)
    cells = ((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]  # the hit rule, per cell
    return Localization(distance == 0, distance <= tolerance, reachable, _iou(cam, inside, threshold),
                        float(cells.mean()), float(inside.mean()))  # fmt: skip


def localize_mask(cam: np.ndarray, region: np.ndarray, tolerance: float, threshold: float = 0.5) -> Localization:
    """As :func:`localize`, against a true mask: ``region`` (H, W) bool over the image the CAM covers. A point is in
    the mask when the pixel it falls in is; its distance to the mask is to the nearest mask pixel's centre."""
    size = region.shape
    h, w = cam.shape
    xs, ys = cell_centres(h, w, size)
    i, j = np.unravel_index(int(np.argmax(cam)), cam.shape)
    py, px = np.nonzero(region)
    if len(py):
        distance = float(np.hypot(px + 0.5 - xs[j], py + 0.5 - ys[i]).min())
        hit = bool(region[min(int(ys[i]), size[0] - 1), min(int(xs[j]), size[1] - 1)])
    else:
        distance, hit = math.inf, False
    cells = region[np.minimum(ys.astype(int), size[0] - 1)][:, np.minimum(xs.astype(int), size[1] - 1)]
    return Localization(hit, hit or distance <= tolerance, bool(cells.any()), _iou(cam, region, threshold),
                        float(cells.mean()), float(region.mean()))  # fmt: skip


def _iou(cam: np.ndarray, inside: np.ndarray, threshold: float) -> float:
    """IoU of the upsampled CAM, min-max scaled, above ``threshold`` with the true region ``inside`` (H, W)."""
    up = upsample(torch.from_numpy(np.ascontiguousarray(cam)), inside.shape)
    span = up.max() - up.min()
    mask = (up - up.min()) >= threshold * span if span > 0 else np.ones(inside.shape, dtype=bool)
    union = (mask | inside).sum()
    return float((mask & inside).sum() / union) if union else 0.0


def map_mask(mask: np.ndarray, resized: int, crop: int) -> np.ndarray:
    """A true mask over the original image (H, W) -> the model's input: resized to (resized, resized) (nearest),
    centre-cropped to ``crop``, as the cache and the evaluation do."""
    from PIL import Image

    image = Image.fromarray(np.asarray(mask, dtype=np.uint8) * 255).resize((resized, resized), Image.NEAREST)
    offset = round((resized - crop) / 2.0)
    return np.asarray(image)[offset : offset + crop, offset : offset + crop] > 127


def map_box(box: tuple[float, float, float, float], original: tuple[int, int], resized: int, crop: int):
    """A box in an original (W, H) image -> the model's input: resized to (resized, resized), centre-cropped to
    ``crop`` (as the cache and the evaluation do), clipped to the crop. None if nothing of it is left."""
    w, h = original
    offset = round((resized - crop) / 2.0)
    x0, y0, x1, y1 = box
    sx, sy = resized / w, resized / h
    out = (
        min(max(x0 * sx - offset, 0.0), crop), min(max(y0 * sy - offset, 0.0), crop),
        min(max(x1 * sx - offset, 0.0), crop), min(max(y1 * sy - offset, 0.0), crop),
    )  # fmt: skip
    return out if out[2] > out[0] and out[3] > out[1] else None


def select_examples(frame, observations, seed: int, per_observation: int = 1):
    """Seeded random choice among correctly classified positives: for each observation, ``per_observation`` rows of
    ``frame`` (columns Path, observation, label, probability) with label 1 and probability >= 0.5. Returns the
    chosen rows in the order of ``observations``; an observation without a correct positive is skipped."""
    rng = np.random.default_rng(seed)
    chosen = []
    for observation in observations:
        correct = frame[(frame["observation"] == observation) & (frame["label"] == 1) & (frame["probability"] >= 0.5)]
        correct = correct.sort_values("Path", kind="mergesort")
        if len(correct):
            take = rng.choice(len(correct), size=min(per_observation, len(correct)), replace=False)
            chosen.append(correct.iloc[np.sort(take)])
    return chosen


def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """A grayscale uint8 image (H, W) with a CAM (any (h, w)) upsampled onto it: (H, W, 3) float RGB in [0, 1].

    The CAM is min-max scaled over the image before colouring (the colour bar shows its logit units)."""
    from matplotlib import colormaps

    up = upsample(torch.as_tensor(np.asarray(cam, dtype=np.float32)), image.shape[:2])
    span = up.max() - up.min()
    scaled = (up - up.min()) / span if span > 0 else np.zeros_like(up)
    colour = colormaps[cmap](scaled)[..., :3]
    gray = np.repeat((image.astype(np.float64) / 255.0)[..., None], 3, axis=2)
    return (1 - alpha) * gray + alpha * colour
