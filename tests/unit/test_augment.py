"""Vectorised crop and flip equal the per-image definition."""

from __future__ import annotations

import pytest
import torch

from chexpertnet.train.augment import center_crop, random_crop_flip


def test_random_crop_flip_equals_per_image_crop_and_flip():
    batch = torch.randint(0, 256, (64, 20, 17), dtype=torch.uint8)
    out = random_crop_flip(batch, 9, True, torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    ys, xs = torch.randint(0, 12, (64,), generator=g), torch.randint(0, 9, (64,), generator=g)
    flips = torch.rand(64, generator=g) < 0.5
    assert 0 < int(flips.sum()) < 64
    for i in range(64):
        expected = batch[i, ys[i] : ys[i] + 9, xs[i] : xs[i] + 9]
        if flips[i]:
            expected = expected.flip(-1)
        assert torch.equal(out[i], expected)


def test_no_flip_and_seeding():
    batch = torch.randint(0, 256, (8, 12, 12), dtype=torch.uint8)
    a = random_crop_flip(batch, 12, False, torch.Generator().manual_seed(1))
    assert torch.equal(a, batch)
    b1 = random_crop_flip(batch, 6, True, torch.Generator().manual_seed(2))
    b2 = random_crop_flip(batch, 6, True, torch.Generator().manual_seed(2))
    assert torch.equal(b1, b2)
    with pytest.raises(ValueError, match="larger than the cached images"):
        random_crop_flip(batch, 13, True, torch.Generator())


def test_center_crop():
    batch = torch.arange(2 * 6 * 6).reshape(2, 6, 6)
    assert torch.equal(center_crop(batch, 4), batch[:, 1:5, 1:5])


def test_gather_and_numpy_paths_agree():
    from chexpertnet.train.augment import crop_flip_gather, crop_flip_numpy, draw_crops

    array = torch.randint(0, 256, (30, 15, 13), dtype=torch.uint8).numpy()
    rows = [3, 7, 7, 29, 0]
    ys, xs, flips = draw_crops(len(rows), 15, 13, 10, True, torch.Generator().manual_seed(9))
    a = crop_flip_gather(torch.from_numpy(array[rows]), ys, xs, flips, 10)
    b = crop_flip_numpy(array, rows, ys, xs, flips, 10)
    assert torch.equal(a, b)
