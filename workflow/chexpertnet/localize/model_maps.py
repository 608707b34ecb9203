"""A model and the cached images it is shown: the model as it trained (its crop, its memory layout; the maps in
fp32), the rows of a manifest's images in the image cache, and the class activation maps of any of those images,
in chunks. What the CAM step (Figure 1, the pointing game, CheXlocalize's metrics) and the CheXlocalize-maps step
have in common."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class CachedModel:
    model: torch.nn.Module
    crop: int
    array: np.ndarray
    rows: dict[str, int]
    paths: list[str]

    @classmethod
    def load(cls, model_file: str | os.PathLike, manifest: str | os.PathLike, cache: str | os.PathLike,
             index: str | os.PathLike) -> CachedModel:  # fmt: skip
        """The checkpoint's model and the cache rows of the manifest's images (checked as the cache step wrote them)."""
        import pandas as pd

        from chexpertnet.data.cache import open_cache, rows_for
        from chexpertnet.train.checkpoint import load_model
        from chexpertnet.train.numerics import use_channels_last

        model, checkpoint = load_model(model_file)
        if use_channels_last("cpu", checkpoint["config"].get("fast", True)):  # the layout it trained in
            model.to_channels_last()
        paths = pd.read_csv(manifest, dtype={"Path": str}, keep_default_na=False)["Path"].tolist()
        array, lookup, check = open_cache(cache, index)
        rows = dict(zip(paths, rows_for(paths, lookup, str(manifest)), strict=True))
        check(np.fromiter(rows.values(), dtype=np.int64))
        return cls(model, checkpoint["config"]["crop_size"], array, rows, paths)

    def images(self, paths: Sequence[str], crop: bool = True) -> torch.Tensor:
        """The cached images of ``paths`` (uint8, N x S x S): centre-cropped as the model saw them, or whole."""
        from chexpertnet.train.augment import center_crop

        images = torch.from_numpy(np.stack([self.array[self.rows[p]] for p in paths]))
        return center_crop(images, self.crop) if crop else images

    def cams(self, paths: Sequence[str], crop: bool = True, chunk: int = 32
             ) -> Iterator[tuple[list[str], torch.Tensor, torch.Tensor]]:  # fmt: skip
        """(paths, images, maps) per chunk of ``paths``: each image's 14 class activation maps (N x 14 x h x w)."""
        from chexpertnet.localize.cam import model_cams

        for start in range(0, len(paths), chunk):
            part = list(paths[start : start + chunk])
            images = self.images(part, crop)
            maps, _ = model_cams(self.model, images)
            yield part, images, maps
