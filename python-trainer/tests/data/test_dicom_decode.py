"""dicom_decode on real public DICOM files: each transfer syntax gives the reference pixels.

References are independent of the decoder under test (GDCM through ImageChangeTransferSyntax):
an uncompressed twin, Pillow's libjpeg-turbo/OpenJPEG, pydicom's pure-numpy RLE decoder, and
checksums or values published by GDCM and pydicom. Fixtures: tests/data/dicom/README.md.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pydicom = pytest.importorskip("pydicom")
pytest.importorskip("gdcm")

from pydicom.encaps import generate_pixel_data_frame  # noqa: E402
from pydicom.pixel_data_handlers import pillow_handler, rle_handler  # noqa: E402
from pydicom.pixel_data_handlers.util import convert_color_space  # noqa: E402

from stillmotion_trainer.data.dicom_decode import (  # noqa: E402
    DicomDecodeError,
    decode_dicom,
    write_samples,
)

FIXTURES = Path(__file__).resolve().parent / "dicom"
PYTHON_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _quiet_pydicom():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def twin() -> np.ndarray:
    """SC_rgb.dcm, the uncompressed Explicit VR Little Endian original of the SC_rgb_* files."""
    return pydicom.dcmread(FIXTURES / "SC_rgb.dcm").pixel_array[None]


def pillow_rgb(name: str) -> np.ndarray:
    """Pillow's decode (system libjpeg-turbo / OpenJPEG, not GDCM's copies), YBR made RGB."""
    ds = pydicom.dcmread(FIXTURES / name)
    arr = pillow_handler.get_pixeldata(ds).reshape(1, ds.Rows, ds.Columns, 3)
    if ds.PhotometricInterpretation in ("YBR_FULL", "YBR_FULL_422"):
        arr = convert_color_space(arr, "YBR_FULL", "RGB")
    return arr


@pytest.mark.parametrize(
    "name", ["SC_rgb_rle.dcm", "SC_rgb_expb.dcm"], ids=["rle-lossless", "explicit-big-endian"]
)
def test_lossless_syntaxes_give_the_uncompressed_twin_exactly(name):
    cine = decode_dicom(FIXTURES / name)
    assert (cine.photometric, cine.pixels.dtype) == ("RGB", np.uint8)
    np.testing.assert_array_equal(cine.pixels, twin())


def test_big_endian_planar_ultrasound_is_interleaved():
    # ExplVR_BigEnd.dcm: a real US RGB frame, Explicit VR Big Endian, PlanarConfiguration 1
    cine = decode_dicom(FIXTURES / "ExplVR_BigEnd.dcm")
    ds = pydicom.dcmread(FIXTURES / "ExplVR_BigEnd.dcm")
    assert ds.PlanarConfiguration == 1 and cine.pixels.shape == (1, 60, 80, 3)
    np.testing.assert_array_equal(cine.pixels[0], ds.pixel_array)


@pytest.mark.parametrize("name", ["SC_rgb_jpeg_dcmtk.dcm", "SC_rgb_dcmtk_+eb+cy+s2.dcm"])
def test_jpeg_baseline_ybr_is_converted_to_rgb(name):
    cine = decode_dicom(FIXTURES / name)
    assert cine.source_photometric in ("YBR_FULL", "YBR_FULL_422") and cine.photometric == "RGB"
    np.testing.assert_array_equal(cine.pixels, pillow_rgb(name))
    # lossy: close to the original, and far from it had YBR been left unconverted
    diff = np.abs(cine.pixels.astype(int) - twin().astype(int))
    assert diff.mean() < 1.0 and diff.max() <= 8


def test_jpeg_ls_lossless_matches_pydicom_reference_values():
    cine = decode_dicom(FIXTURES / "JLSL_08_07_0_1F.dcm")
    assert (cine.pixels.shape, cine.bits_stored) == ((1, 128, 128, 1), 7)
    # pydicom's own reference for this file (tests/pixels/pixels_reference.py, JLSL_08_07_1_0_1F)
    assert cine.pixels[0, 59:69, 58, 0].tolist() == [55, 53, 58, 85, 109, 123, 116, 102, 98, 89]


def test_jpeg2000_lossless_ybr_rct_matches_gdcm_published_checksum():
    cine = decode_dicom(FIXTURES / "GDCMJ2K_TextGBR.dcm")
    assert (cine.source_photometric, cine.photometric) == ("YBR_RCT", "RGB")
    # GDCM Testing/Source/Data/gdcmMD5DataImages.h, decoded buffer of GDCMJ2K_TextGBR.dcm
    assert hashlib.md5(cine.pixels.tobytes()).hexdigest() == "56238d3665ebdb0251d1161fb7f4edc6"


def test_jpeg2000_lossy_ultrasound_matches_openjpeg_through_pillow():
    cine = decode_dicom(FIXTURES / "US1_J2KI.dcm")
    assert (cine.source_photometric, cine.photometric) == ("YBR_ICT", "RGB")
    np.testing.assert_array_equal(cine.pixels, pillow_rgb("US1_J2KI.dcm"))


def test_rle_palette_colour_cine_is_every_frame_through_the_lut():
    path = FIXTURES / "US-PAL-8-10x-echo.dcm"
    cine = decode_dicom(path)
    assert cine.pixels.shape == (10, 430, 600, 3) and cine.photometric == "RGB"
    assert cine.frame_time_ms == 76.0
    ds = pydicom.dcmread(path)
    indices = rle_handler.get_pixeldata(ds)  # pydicom's numpy RLE decoder, not GDCM
    # GDCM's published checksum of the decoded indices (gdcmMD5DataImages.h)
    assert hashlib.md5(indices.tobytes()).hexdigest() == "1785f4d8af4717c17bfb78ba74c18ea5"
    # the palette applied by hand: entry = LUT[index - first mapped], 16-bit entries -> high byte
    first = ds.RedPaletteColorLookupTableDescriptor[1]
    luts = [
        np.frombuffer(getattr(ds, f"{c}PaletteColorLookupTableData"), "<u2")
        for c in ("Red", "Green", "Blue")
    ]
    idx = np.clip(indices.astype(int) - first, 0, len(luts[0]) - 1).reshape(10, 430, 600)
    expected = np.stack([(lut[idx] >> 8).astype(np.uint8) for lut in luts], axis=-1)
    np.testing.assert_array_equal(cine.pixels, expected)


def corrupt(tmp_path: Path, name: str, how: str) -> Path:
    """A copy of a fixture with its first compressed fragment garbled or the file cut short."""
    raw = bytearray((FIXTURES / name).read_bytes())
    fragment = next(generate_pixel_data_frame(pydicom.dcmread(FIXTURES / name).PixelData))
    at = raw.find(fragment[:64])
    if how == "garbled":
        n = len(fragment) - 32
        raw[at + 16 : at + 16 + n] = bytes((7 * i + 3) % 256 for i in range(n))
    else:
        raw = raw[: at + len(fragment) // 2]
    out = tmp_path / f"{how}-{name}"
    out.write_bytes(bytes(raw))
    return out


@pytest.mark.parametrize(
    "name", ["SC_rgb_jpeg_dcmtk.dcm", "JLSL_08_07_0_1F.dcm", "US1_J2KI.dcm", "SC_rgb_rle.dcm"]
)
@pytest.mark.parametrize("how", ["garbled", "truncated"])
def test_corrupt_compressed_file_is_a_typed_error_naming_it(tmp_path, name, how):
    bad = corrupt(tmp_path, name, how)
    with pytest.raises(DicomDecodeError) as caught:
        decode_dicom(bad)
    assert (caught.value.reason, caught.value.path) == ("unreadable_image", str(bad))


def test_refusals_name_the_problem(tmp_path):
    with pytest.raises(DicomDecodeError, match="not found") as e:
        decode_dicom(tmp_path / "absent.dcm")
    assert e.value.reason == "missing_file"
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(b"\0" * 300)
    with pytest.raises(DicomDecodeError, match="not a readable DICOM") as e:
        decode_dicom(junk)
    assert e.value.reason == "unreadable_image"


def test_command_writes_raw_samples_and_one_json_line(tmp_path):
    out = tmp_path / "pixels.raw"
    done = subprocess.run(
        [sys.executable, "-m", "stillmotion_trainer", "dicom-decode"]
        + [str(FIXTURES / "US-PAL-8-10x-echo.dcm"), "--out", str(out)],
        cwd=PYTHON_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["transferSyntax"] == "1.2.840.10008.1.2.5"
    header = report["header"]
    assert (header["NumberOfFrames"], header["Rows"], header["Columns"]) == (10, 430, 600)
    assert (header["PhotometricInterpretation"], header["FrameTime"]) == ("RGB", 76.0)
    assert out.stat().st_size == 10 * 430 * 600 * 3
    bad = corrupt(tmp_path, "US1_J2KI.dcm", "garbled")
    failed = subprocess.run(
        [sys.executable, "-m", "stillmotion_trainer", "dicom-decode", str(bad), "--out", str(out)],
        cwd=PYTHON_ROOT,
        capture_output=True,
        text=True,
    )
    report = json.loads(failed.stdout.strip().splitlines()[-1])
    assert failed.returncode == 1 and report["ok"] is False
    assert report["error"].endswith("[unreadable_image]") and report["path"] == str(bad)


def test_sixteen_bit_samples_are_written_little_endian(tmp_path):
    cine = decode_dicom(FIXTURES / "SC_rgb_expb.dcm")
    wide = type(cine)(**{**cine.__dict__, "pixels": cine.pixels.astype(">u2") * 257})
    raw = write_samples(wide, tmp_path / "wide.raw").read_bytes()
    np.testing.assert_array_equal(np.frombuffer(raw, "<u2"), wide.pixels.ravel())
