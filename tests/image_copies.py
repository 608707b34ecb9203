"""Deep copies of 8-bit radiographs, as hospitals and DICOM-derived datasets store them: a 16-bit PNG (v x 257, the
full 16-bit range), a 12-bit PNG (16 v + 8 in a 16-bit file, detector data that never reached 16 bits) and DICOM
(12 bits stored, with a rescale and a window, MONOCHROME2 or the inverted MONOCHROME1, uncompressed or in a
compressed transfer syntax), each built so that the reading rule of chexpertnet.data.images maps it back onto the
original's 0-255 levels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# DICOM copies: stored s = 16 v + 8 (12 bits); modality value 0.5 s - 1024 = 8 v - 1020 (so -1020 .. 1020);
# the LINEAR window of centre 0.5 and width 2041 maps that range onto [0, 1] as v / 255.
RESCALE_SLOPE, RESCALE_INTERCEPT = 0.5, -1024.0
WINDOW_CENTER, WINDOW_WIDTH = 0.5, 2041.0


def read_8bit(file: Path) -> np.ndarray:
    with Image.open(file) as img:
        return np.asarray(img.convert("L"))


def png16(pixels: np.ndarray, file: Path) -> Path:
    """v -> v x 257: 0 -> 0, 255 -> 65535, stored as a 16-bit grayscale PNG (Pillow mode I;16)."""
    Image.fromarray(pixels.astype(np.uint16) * 257).save(file, format="PNG")
    return file


def png12(pixels: np.ndarray, file: Path) -> Path:
    """v -> 16 v + 8 (12-bit data, at most 4088) in a 16-bit grayscale PNG."""
    Image.fromarray(pixels.astype(np.uint16) * 16 + 8).save(file, format="PNG")
    return file


def dicom(pixels: np.ndarray, file: Path, monochrome1: bool = False, transfer_syntax: str | None = None,
          window: bool = True) -> Path:  # fmt: skip
    """A DX DICOM of ``pixels``: 12 bits stored, Rescale Slope/Intercept, a LINEAR window (unless ``window`` is
    False); MONOCHROME1 stores the inverted image (white is low); ``transfer_syntax``: compress with pydicom's
    encoders (RLE Lossless, JPEG 2000 Lossless), else Explicit VR Little Endian."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian, generate_uid

    values = pixels.astype(np.uint16)
    stored = (255 - values if monochrome1 else values) * 16 + 8
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = DigitalXRayImageStorageForPresentation
    ds.Modality, ds.PatientID = "DX", "phantom"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.set_pixel_data(stored, "MONOCHROME1" if monochrome1 else "MONOCHROME2", bits_stored=12)
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = RESCALE_SLOPE, RESCALE_INTERCEPT, "US"
    if window:
        ds.WindowCenter, ds.WindowWidth = WINDOW_CENTER, WINDOW_WIDTH
    if transfer_syntax is not None:
        ds.compress(transfer_syntax)
    ds.save_as(file, enforce_file_format=True)
    return file
