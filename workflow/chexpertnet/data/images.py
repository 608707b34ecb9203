"""Image files -> 8-bit grayscale, the intensity range the model is trained on, at any bit depth.

The kinds read are JPEG and PNG (through Pillow) and DICOM (``.dcm``, through pydicom and the pixel-data decoders of
its compressed transfer syntaxes). Every image is brought to 8-bit grayscale at its full resolution first, then
resized, so an 8-bit image takes exactly the path it always took and a deeper one is mapped without clipping:

- 8-bit images (grayscale, palette, RGB): as stored (colour through Pillow's ``convert("L")``, ITU-R 601-2 luma).
- Integer images deeper than 8 bits (16-bit PNG: Pillow mode ``I;16``; ``I``): value v -> round(255 v / (2^b - 1)),
  where b, the bits the image stores, is the fewest of 8, 10, 12, 14 and 16 that hold its largest value (more bits
  only above 16). A 16-bit copy of an 8-bit image made as v x 257 therefore reads back exactly as the original, and
  12-bit detector data stored in a 16-bit PNG (largest value at most 4095) fills the range as it did on the
  detector. An image whose brightest pixel lies far below its format's top (a 16-bit image below 16384) is read as
  the shallower depth, that is brightened; radiographs hold bright pixels (bone, collimator edges, markers), so this
  is rare. Negative or floating-point pixels are refused.
- DICOM: the stored values through the Modality LUT (Rescale Slope and Intercept, or the Modality LUT Sequence),
  then the first VOI transform the file carries: its VOI LUT Sequence (mapped from the LUT's lowest to its highest
  entry) or else its first Window Center/Width (with the VOI LUT Function: LINEAR, LINEAR_EXACT or SIGMOID, as
  DICOM PS3.3 C.11.2 defines them), mapped to [0, 1]; without either, the full range that Bits Stored allows,
  through the Modality LUT, is mapped to [0, 1]. MONOCHROME1 (white is low) is then inverted, so bone is bright as
  in CheXpert's JPEGs, and [0, 1] becomes 0-255. 8-bit RGB or YBR DICOM goes to luma as above; multi-frame files
  and palette colour are refused.

A file that cannot be read raises :class:`UnreadableImage` (a ValueError) or Pillow's own OSError/ValueError.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

#: The file kinds read, by suffix (lower case); a DICOM file is recognized by its suffix.
SUFFIXES = (".jpg", ".jpeg", ".png", ".dcm")
DICOM_SUFFIXES = (".dcm",)
#: Bit depths an integer image deeper than 8 bits is taken to store (the fewest that hold its largest value).
DEPTHS = (8, 10, 12, 14, 16)


class UnreadableImage(ValueError):
    """A file that is not an image this module reads, or whose pixels it refuses; the message says why."""


def is_dicom(file: str | os.PathLike) -> bool:
    return Path(file).suffix.lower() in DICOM_SUFFIXES


def is_deep(mode: str) -> bool:
    """Pillow modes of more than 8 bits per sample: I;16 (16-bit PNG, TIFF), its byte orders, I (32-bit), F."""
    return mode in ("I", "F") or mode.startswith("I;")


def to_uint8(unit: np.ndarray) -> np.ndarray:
    """Intensities in [0, 1] (clipped) -> 0-255, rounded to the nearest level."""
    return np.rint(np.clip(unit, 0.0, 1.0) * 255.0).astype(np.uint8)


def stored_bits(largest: int) -> int:
    """The bits an integer image stores: the fewest of DEPTHS that hold ``largest`` (more only above 16)."""
    return next((bits for bits in DEPTHS if largest < 1 << bits), max(DEPTHS[-1], int(largest).bit_length()))


def deep_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """An integer image deeper than 8 bits -> 0-255 over the range of the bits it stores (module docstring)."""
    if not np.issubdtype(pixels.dtype, np.integer):
        raise UnreadableImage(f"{pixels.dtype} pixels: only integer images are read; save it as an 8- or 16-bit "
                              f"PNG or as DICOM")  # fmt: skip
    if pixels.size == 0:
        raise UnreadableImage("the image has no pixels")
    if pixels.min() < 0:
        raise UnreadableImage(f"negative pixel values (down to {pixels.min()}): save it as an unsigned 8- or "
                              f"16-bit PNG, or as DICOM with its rescale")  # fmt: skip
    top = (1 << stored_bits(int(pixels.max()))) - 1
    return to_uint8(pixels.astype(np.float64) / top)


# --- DICOM ---------------------------------------------------------------------------------------------------------


def first_value(value) -> float:
    """The first of a multi-valued DICOM element (Window Center/Width may carry several views), as a float."""
    if isinstance(value, str | bytes) or not hasattr(value, "__len__"):
        return float(value)
    return float(value[0])


def window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2-3 windowing onto [0, 1] (the standard's output range, divided by its top)."""
    function = function.upper()
    if function == "SIGMOID":
        if width <= 0:
            raise UnreadableImage(f"Window Width {width} must be above 0 for SIGMOID")
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR":
        if width < 1:
            raise UnreadableImage(f"Window Width {width} must be at least 1 for LINEAR")
        center, width = center - 0.5, width - 1.0
    elif function != "LINEAR_EXACT":
        raise UnreadableImage(f"VOI LUT Function {function!r} is not LINEAR, LINEAR_EXACT or SIGMOID")
    elif width <= 0:
        raise UnreadableImage(f"Window Width {width} must be above 0 for LINEAR_EXACT")
    if width == 0:  # LINEAR with width 1: a threshold
        return (values > center).astype(np.float64)
    return np.clip((values - center) / width + 0.5, 0.0, 1.0)


def stored_range(ds) -> tuple[int, int]:
    """The lowest and highest value Bits Stored and Pixel Representation allow."""
    bits = int(ds.BitsStored)
    if int(ds.get("PixelRepresentation", 0)) == 1:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def modality_range(ds) -> tuple[float, float]:
    """The range of the Modality LUT's output over every value the file can store (each one up to 16 bits; the two
    ends beyond, where the output is a line)."""
    from pydicom.pixels import apply_modality_lut

    low, high = stored_range(ds)
    stored = np.arange(low, high + 1, dtype=np.int64) if high - low < 1 << 16 else np.array([low, high])
    output = apply_modality_lut(stored, ds).astype(np.float64)
    return float(output.min()), float(output.max())


def present(ds, keyword: str) -> bool:
    """The element is in the dataset with a value (an empty Window Center counts as absent)."""
    value = ds.get(keyword)
    return value is not None and value != ""


def voi_to_unit(values: np.ndarray, ds) -> np.ndarray:
    """The modality values through the file's first VOI transform (or its full range) onto [0, 1]."""
    from pydicom.pixels import apply_voi

    lut = ds.get("VOILUTSequence")
    if lut and "LUTDescriptor" in lut[0] and "LUTData" in lut[0]:
        entries, first = int(lut[0].LUTDescriptor[0]) or 1 << 16, int(lut[0].LUTDescriptor[1])
        table = apply_voi(np.arange(first, first + entries, dtype=np.int64), ds).astype(np.float64)
        low, high = float(table.min()), float(table.max())
        mapped = apply_voi(np.rint(values).astype(np.int64), ds).astype(np.float64)
        return (mapped - low) / (high - low) if high > low else np.zeros_like(mapped)
    if present(ds, "WindowCenter") and present(ds, "WindowWidth"):
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR")
        return window(values, first_value(ds.WindowCenter), first_value(ds.WindowWidth), function)
    low, high = modality_range(ds)
    return np.clip((values - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(values)


def dicom_to_uint8(pixels: np.ndarray, ds) -> np.ndarray:
    """One frame of a DICOM dataset's pixel array -> 0-255 (module docstring: Modality LUT, VOI, MONOCHROME1)."""
    from pydicom.pixels import apply_modality_lut

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric in ("RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT"):
        if pixels.dtype != np.uint8 or pixels.ndim != 3:
            raise UnreadableImage(f"{photometric} pixels of {pixels.dtype}: only 8-bit colour DICOM is read")
        return np.asarray(Image.fromarray(pixels).convert("L"))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise UnreadableImage(f"Photometric Interpretation {photometric}: only MONOCHROME1, MONOCHROME2 and 8-bit "
                              f"RGB are read")  # fmt: skip
    values = apply_modality_lut(pixels, ds).astype(np.float64)
    unit = voi_to_unit(values, ds)
    return to_uint8(1.0 - unit if photometric == "MONOCHROME1" else unit)


def read_dicom(file: str | os.PathLike) -> np.ndarray:
    """A single-frame DICOM file -> (rows, columns) uint8."""
    import pydicom

    try:
        ds = pydicom.dcmread(file)
        if "PixelData" not in ds:
            raise UnreadableImage("a DICOM file without an image (no Pixel Data)")
        frames = int(ds.get("NumberOfFrames", 1) or 1)
        if frames > 1:
            raise UnreadableImage(f"a DICOM file of {frames} frames: one radiograph per file is read")
        pixels = ds.pixel_array
        return dicom_to_uint8(pixels, ds)
    except (UnreadableImage, OSError):  # said already; a file system error as it is
        raise
    except Exception as exc:  # pydicom and its decoders raise many kinds (InvalidDicomError, RuntimeError, ...)
        raise UnreadableImage(f"not a DICOM image pydicom can decode ({type(exc).__name__}: {exc})") from None


# --- any file ------------------------------------------------------------------------------------------------------


def open_gray(file: str | os.PathLike, draft: tuple[int, int] | None = None) -> Image.Image:
    """``file`` as an 8-bit grayscale Pillow image (mode L) at full resolution, by the module's rule. ``draft``: let
    an 8-bit JPEG decode at the smallest of 1/2, 1/4 or 1/8 scale still at least that size (libjpeg's draft mode);
    other kinds ignore it."""
    if is_dicom(file):
        return Image.fromarray(read_dicom(file))
    with Image.open(file) as img:
        if is_deep(img.mode):
            return Image.fromarray(deep_to_uint8(np.asarray(img)))
        if draft is not None:
            img.draft("L", draft)
        return img.convert("L")


def read_gray(file: str | os.PathLike) -> np.ndarray:
    """``file`` as (height, width) uint8 grayscale by the module's rule."""
    return np.asarray(open_gray(file), dtype=np.uint8)


def check_decodes(file: str | os.PathLike) -> None:
    """Decode ``file`` entirely (an 8-bit JPEG at 1/8 scale, which still reads every coded block); raises as
    :func:`open_gray` does when it cannot be read."""
    if is_dicom(file):
        read_dicom(file)
        return
    with Image.open(file) as img:
        if is_deep(img.mode):
            deep_to_uint8(np.asarray(img))
            return
        img.draft("L", (max(1, img.width // 8), max(1, img.height // 8)))
        img.load()


def image_size(file: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of an image file, read from its header."""
    if is_dicom(file):
        import pydicom

        try:
            ds = pydicom.dcmread(file, stop_before_pixels=True)
            return int(ds.Columns), int(ds.Rows)
        except Exception as exc:  # as read_dicom
            raise UnreadableImage(f"not a DICOM image pydicom can read ({type(exc).__name__}: {exc})") from None
    with Image.open(file) as img:
        return img.size
