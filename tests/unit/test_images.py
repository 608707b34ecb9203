"""Reading images at their own bit depth (chexpertnet.data.images): 8-bit files exactly as before, deeper PNGs and
DICOM (rescale, window, VOI LUT, MONOCHROME1, compressed transfer syntaxes) mapped onto 0-255 without clipping, and
the files that cannot be read refused with the reason."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from chexpertnet.data import images
from chexpertnet.data.cache import RESAMPLE, load_resized
from image_copies import dicom, png12, png16


def radiograph(shape=(96, 80), seed=0) -> np.ndarray:
    """An 8-bit image that uses both ends of the range."""
    pixels = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    pixels[0, :2] = (0, 255)
    return pixels


def old_load_resized(file, size: int) -> np.ndarray:
    """The cache's decoding before images of more than 8 bits were read at their depth."""
    with Image.open(file) as img:
        img.draft("L", (size, size))
        img = img.convert("L")
        if img.size != (size, size):
            img = img.resize((size, size), RESAMPLE)
        return np.asarray(img, dtype=np.uint8)


@pytest.mark.parametrize("kind", ["L.jpg", "RGB.jpg", "L.png", "P.png", "RGBA.png", "LA.png", "1.png", "RGB.png"])
def test_an_8bit_file_is_decoded_exactly_as_before(tmp_path, kind):
    mode, suffix = kind.split(".")
    colour = Image.fromarray(np.stack([radiograph((700, 520), seed) for seed in range(3)], axis=-1))
    image = colour if mode == "RGB" else colour.convert(mode)
    file = tmp_path / f"x.{suffix}"
    image.save(file, quality=90) if suffix == "jpg" else image.save(file)
    for size in (64, 300, 700):  # JPEG draft mode decodes at 1/8 and 1/2 scale, then none
        np.testing.assert_array_equal(load_resized(file, size), old_load_resized(file, size))


def test_a_16bit_png_reads_as_its_8bit_original(tmp_path):
    original = radiograph()
    wide = png16(original, tmp_path / "x16.png")
    with Image.open(wide) as img:
        assert img.mode == "I;16"
        clipped = np.asarray(img.convert("L"))
    assert (clipped == 255).mean() > 0.9  # what Pillow's conversion makes of it: nearly every pixel white
    np.testing.assert_array_equal(images.read_gray(wide), original)  # v x 257 / 65535 x 255 = v
    np.testing.assert_array_equal(load_resized(wide, 40), load_resized(save_png(original, tmp_path), 40))


def save_png(pixels, tmp_path):
    Image.fromarray(pixels).save(tmp_path / "x8.png")
    return tmp_path / "x8.png"


def test_12bit_data_in_a_16bit_png_fills_the_range(tmp_path):
    original = radiograph()
    decoded = images.read_gray(png12(original, tmp_path / "x12.png"))
    assert np.abs(decoded.astype(int) - original).max() <= 1


def test_the_bits_an_image_stores_are_the_fewest_usual_depths_that_hold_its_largest_value():
    assert [images.stored_bits(v) for v in (0, 255, 256, 1023, 1024, 4095, 4096, 16383, 16384, 65535, 65536)] == [
        8, 8, 10, 10, 12, 12, 14, 14, 16, 16, 17]  # fmt: skip
    # an 8-bit image saved in a 16-bit file without scaling reads as it is
    np.testing.assert_array_equal(images.deep_to_uint8(np.array([[0, 7, 255]], dtype=np.uint16)), [[0, 7, 255]])
    np.testing.assert_array_equal(images.deep_to_uint8(np.array([[0, 2048, 4095]], dtype=np.int32)), [[0, 128, 255]])


def test_negative_or_floating_point_pixels_are_refused():
    with pytest.raises(images.UnreadableImage, match=r"negative pixel values \(down to -3\)"):
        images.deep_to_uint8(np.array([[-3, 4]], dtype=np.int32))
    with pytest.raises(images.UnreadableImage, match="float32 pixels: only integer images are read"):
        images.deep_to_uint8(np.zeros((2, 2), dtype=np.float32))


@pytest.mark.parametrize("monochrome1", [False, True], ids=["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize("syntax", [None, "RLELossless", "JPEG2000Lossless"])
def test_a_dicom_copy_with_rescale_and_window_reads_as_its_original(tmp_path, monochrome1, syntax):
    import pydicom
    import pydicom.uid

    original = radiograph()
    uid = getattr(pydicom.uid, syntax) if syntax else None
    file = dicom(original, tmp_path / "x.dcm", monochrome1=monochrome1, transfer_syntax=uid)
    ds = pydicom.dcmread(file)
    assert ds.file_meta.TransferSyntaxUID == (uid or pydicom.uid.ExplicitVRLittleEndian)
    assert ds.PhotometricInterpretation == ("MONOCHROME1" if monochrome1 else "MONOCHROME2")
    assert ds.pixel_array.max() > 255  # 12 bits stored
    decoded = images.read_gray(file)
    assert np.abs(decoded.astype(int) - original).max() <= 1
    assert images.image_size(file) == (original.shape[1], original.shape[0])
    images.check_decodes(file)
    assert load_resized(file, 40).shape == (40, 40)


def test_a_dicom_without_a_window_maps_the_range_its_bits_allow(tmp_path):
    original = radiograph()
    decoded = images.read_gray(dicom(original, tmp_path / "x.dcm", window=False))
    assert np.abs(decoded.astype(int) - original).max() <= 1


def test_an_empty_window_counts_as_none(tmp_path):
    import pydicom

    original = radiograph()
    file = dicom(original, tmp_path / "x.dcm")
    ds = pydicom.dcmread(file)
    ds.WindowCenter, ds.WindowWidth = None, None
    ds.save_as(file)
    assert np.abs(images.read_gray(file).astype(int) - original).max() <= 1  # the range Bits Stored allows


def test_a_voi_lut_is_preferred_to_the_window_and_mapped_from_its_lowest_to_its_highest_entry(tmp_path):
    import pydicom
    from pydicom.dataset import Dataset

    original = radiograph()
    file = dicom(original, tmp_path / "x.dcm")
    ds = pydicom.dcmread(file)
    del ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType  # the LUT reads the stored values, 16 v + 8
    ds.WindowCenter, ds.WindowWidth = 100, 10  # would make nearly everything white
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new("LUTData", "US", [min(4000, i) * 16 + 1000 for i in range(4096)])  # entries 1000 .. 65000
    ds.VOILUTSequence = [item]
    ds.save_as(file)
    decoded = images.read_gray(file)
    expected = np.rint(np.minimum(4000, original.astype(int) * 16 + 8) / 4000 * 255)
    assert np.abs(decoded.astype(int) - expected).max() == 0


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_the_window_is_dicoms_onto_0_1(function):
    from pydicom.dataset import Dataset
    from pydicom.pixels import apply_windowing

    ds = Dataset()
    ds.PhotometricInterpretation, ds.BitsStored, ds.PixelRepresentation = "MONOCHROME2", 12, 0
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = 1500.0, 801.0, function
    values = np.arange(0, 4096, dtype=np.float64)
    np.testing.assert_allclose(images.window(values, 1500.0, 801.0, function), apply_windowing(values, ds) / 4095,
                               atol=1e-12)  # fmt: skip
    threshold = images.window(np.array([9.0, 10.0, 11.0]), 10.5, 1.0)  # LINEAR of width 1
    assert threshold.tolist() == [0.0, 0.0, 1.0]


def test_files_that_are_not_dicom_images_are_refused_with_the_reason(tmp_path):
    import pydicom

    text = tmp_path / "notes.dcm"
    text.write_text("not a DICOM file")
    with pytest.raises(images.UnreadableImage, match=r"not a DICOM image pydicom can decode \(InvalidDicomError"):
        images.read_gray(text)
    with pytest.raises(images.UnreadableImage, match="not a DICOM image pydicom can read"):
        images.image_size(text)
    file = dicom(radiograph(), tmp_path / "x.dcm")
    ds = pydicom.dcmread(file)
    ds.set_pixel_data(np.stack([ds.pixel_array] * 2), "MONOCHROME2", bits_stored=12)
    ds.save_as(tmp_path / "frames.dcm")
    with pytest.raises(images.UnreadableImage, match="a DICOM file of 2 frames: one radiograph per file is read"):
        images.read_gray(tmp_path / "frames.dcm")
    del ds.PixelData
    ds.save_as(tmp_path / "nopixels.dcm")
    with pytest.raises(images.UnreadableImage, match=r"without an image \(no Pixel Data\)"):
        images.check_decodes(tmp_path / "nopixels.dcm")
