"""Decode a DICOM cine loop (any transfer syntax) into display samples for the TS importer.

`stillmotion dataset import dicom` parses uncompressed little-endian files with dcmjs; every other
file comes here (`python -m stillmotion_trainer dicom-decode`): real ultrasound loops are mostly
RLE Lossless (often PALETTE COLOR), JPEG Baseline, JPEG-LS or JPEG 2000, a few Explicit VR Big
Endian. Decoding is done by maintained decoders only:

1. pydicom reads the data set (any byte order, deflate included).
2. Encapsulated pixel data is decompressed by GDCM (`gdcm.ImageChangeTransferSyntax` to Explicit
   VR Little Endian, what `gdcmconv --raw` does) — GDCM bundles libjpeg, CharLS and OpenJPEG and,
   unlike pydicom's GDCM handler, this call reports a failed decode instead of returning garbage.
   Native (uncompressed) pixel data is read by pydicom's numpy handler.
3. Colour is made displayable: PALETTE COLOR through its lookup tables, YBR_FULL/YBR_FULL_422 to
   RGB (YBR_RCT/YBR_ICT are already RGB once GDCM has decoded them).

The result keeps the header fields the TS side checks (`readCineHeader`) so both paths share one
validation and one 8-bit scaling (`2^BitsStored - 1`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Reason codes, the same strings as the TS DatasetError reasons (dataset/errors.ts).
REASONS = ("missing_file", "unreadable_image", "unsupported_input", "tool_failed")

# Photometric interpretations this module can turn into MONOCHROME1/2 or RGB.
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
YBR_TO_CONVERT = ("YBR_FULL", "YBR_FULL_422")
DISPLAYABLE = (*MONOCHROME, "RGB", "PALETTE COLOR", *YBR_TO_CONVERT, "YBR_RCT", "YBR_ICT")


class DicomDecodeError(ValueError):
    """A DICOM file that cannot be decoded; `reason` is one of REASONS, `path` the file."""

    def __init__(self, reason: str, path: str | Path, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown DicomDecodeError reason {reason!r}; allowed: {REASONS}")
        self.reason = reason
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message} [{reason}]")


@dataclass(frozen=True)
class DecodedCine:
    """Display-ready samples of every frame, (frames, rows, columns, samples), uint8 or uint16."""

    pixels: np.ndarray
    photometric: str  # MONOCHROME1, MONOCHROME2 or RGB
    bits_stored: int
    source_photometric: str
    transfer_syntax: str
    decoder: str
    frame_time_ms: float | None
    cine_rate: float | None
    recommended_display_frame_rate: float | None

    def header(self) -> dict[str, Any]:
        """The fields of the TS `readCineHeader` input, named as in the DICOM dictionary."""
        frames, rows, columns, samples = self.pixels.shape
        return {
            "Rows": rows,
            "Columns": columns,
            "NumberOfFrames": frames,
            "SamplesPerPixel": samples,
            "PhotometricInterpretation": self.photometric,
            "BitsAllocated": self.pixels.dtype.itemsize * 8,
            "BitsStored": self.bits_stored,
            "PixelRepresentation": 0,
            "PlanarConfiguration": 0,
            "FrameTime": self.frame_time_ms,
            "CineRate": self.cine_rate,
            "RecommendedDisplayFrameRate": self.recommended_display_frame_rate,
        }


def _libraries() -> tuple[Any, Any]:
    """pydicom and GDCM, or a tool_failed error saying how to install them."""
    try:
        import gdcm  # type: ignore[import-not-found]
        import pydicom
    except ImportError as e:
        raise DicomDecodeError(
            "tool_failed",
            "-",
            f"{e}; DICOM decoding needs pydicom and GDCM "
            "(Debian: apt-get install python3-pydicom python3-gdcm)",
        ) from e
    return pydicom, gdcm


def _number(ds: Any, keyword: str) -> float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value[0] if isinstance(value, (list, tuple)) else value)
    except (TypeError, ValueError):
        return None


def _gdcm_to_native(gdcm: Any, ds: Any, path: Path) -> str:
    """Replace ds's encapsulated pixel data by GDCM's decompressed native pixel data.

    Returns the decoder's name. The photometric interpretation and planar configuration are
    taken from GDCM's output (JPEG 2000's YBR_RCT/YBR_ICT come back as RGB, YBR_FULL_422 JPEG
    as full-resolution YBR_FULL).
    """
    import pydicom.uid

    reader = gdcm.ImageReader()
    reader.SetFileName(str(path))
    if not reader.Read():
        raise DicomDecodeError("unreadable_image", path, "GDCM cannot read the file")
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.ExplicitVRLittleEndian))
    change.SetInput(reader.GetImage())
    if not change.Change():
        syntax = ds.file_meta.TransferSyntaxUID
        raise DicomDecodeError(
            "unreadable_image",
            path,
            f"the compressed pixel data ({syntax.name}) is corrupt: GDCM could not decode it",
        )
    image = change.GetOutput()
    # The decoded bytes are read from the output's Pixel Data element: `image.GetBuffer()` runs
    # them through GDCM's raw codec again, which aborts the process (a C assert) when
    # BitsStored < BitsAllocated. The SWIG binding hands raw bytes over as a surrogate-escaped str.
    value = image.GetDataElement().GetByteValue()
    if value is None:
        raise DicomDecodeError("unreadable_image", path, "GDCM decoded no pixel data")
    ds.PixelData = value.GetBuffer().encode("utf-8", "surrogateescape")
    ds["PixelData"].VR = "OB" if ds.BitsAllocated <= 8 else "OW"
    ds["PixelData"].is_undefined_length = False
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.is_little_endian, ds.is_implicit_VR = True, False
    ds.PhotometricInterpretation = str(image.GetPhotometricInterpretation()).strip()
    if ds.PhotometricInterpretation == "YBR_FULL_422":
        ds.PhotometricInterpretation = "YBR_FULL"  # decoded data is not subsampled any more
    if ds.SamplesPerPixel > 1:
        ds.PlanarConfiguration = image.GetPlanarConfiguration()
    return f"GDCM {gdcm.Version.GetVersion()}"


def palette_to_rgb8(indices: np.ndarray, ds: Any) -> np.ndarray:
    """PALETTE COLOR indices -> 8-bit RGB through the file's (possibly segmented) LUTs.

    pydicom's `apply_color_lut` gives the LUT entries at their stored depth. 16-bit entries are
    reduced to 8 bits by their high byte, rgb8 = floor(entry / 256), as GDCM does
    (`gdcm::LookupTable` 8-bit decode): 8-bit palettes are commonly stored as value << 8
    (0xFF00 for full scale), which scaling by 255 / 65535 would turn into 254.
    """
    from pydicom.pixel_data_handlers.util import apply_color_lut

    rgb = apply_color_lut(indices, ds)
    return rgb if rgb.dtype == np.uint8 else (rgb >> 8).astype(np.uint8)


def _display_samples(arr: np.ndarray, ds: Any, path: Path) -> tuple[np.ndarray, str, int]:
    """(frames, rows, columns, samples) display samples, their photometric and bits stored."""
    from pydicom.pixel_data_handlers.util import convert_color_space

    photometric = str(ds.PhotometricInterpretation).strip()
    frames = int(_number(ds, "NumberOfFrames") or 1)
    samples = int(ds.SamplesPerPixel)
    # pixel_array drops the frame axis of single-frame data and the sample axis of grey data
    arr = arr.reshape(frames, int(ds.Rows), int(ds.Columns), samples)
    bits_stored = int(ds.get("BitsStored", ds.BitsAllocated))
    if photometric == "PALETTE COLOR":
        try:
            return palette_to_rgb8(arr[..., 0], ds), "RGB", 8
        except (AttributeError, ValueError) as e:  # LUT descriptor or data missing or damaged
            raise DicomDecodeError(
                "unreadable_image", path, f"PALETTE COLOR lookup tables unusable: {e}"
            ) from e
    if photometric in YBR_TO_CONVERT:
        if arr.dtype != np.uint8:
            raise DicomDecodeError(
                "unsupported_input", path, f"{photometric} with {ds.BitsAllocated}-bit samples"
            )
        return convert_color_space(arr, "YBR_FULL", "RGB"), "RGB", 8
    if photometric in (*MONOCHROME, "RGB"):
        return arr, photometric, bits_stored
    raise DicomDecodeError(
        "unsupported_input",
        path,
        f"PhotometricInterpretation '{photometric}' after decoding is not displayable",
    )


def decode_dicom(path: str | Path) -> DecodedCine:
    """Every frame of a DICOM file as display samples; raises DicomDecodeError naming the file."""
    path = Path(path)
    pydicom, gdcm = _libraries()
    if not path.is_file():
        raise DicomDecodeError("missing_file", path, "DICOM file not found")
    try:
        ds = pydicom.dcmread(str(path))
    except Exception as e:  # pydicom raises several types for a damaged header
        raise DicomDecodeError("unreadable_image", path, f"not a readable DICOM file: {e}") from e
    syntax = ds.file_meta.get("TransferSyntaxUID")
    if syntax is None:
        raise DicomDecodeError("unreadable_image", path, "no TransferSyntaxUID in the file meta")
    if "PixelData" not in ds:
        # pydicom stops quietly at an element cut short, so a truncated file lands here
        raise DicomDecodeError("unreadable_image", path, "no Pixel Data element (truncated?)")
    source_photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if source_photometric not in DISPLAYABLE:
        raise DicomDecodeError(
            "unsupported_input",
            path,
            f"PhotometricInterpretation '{source_photometric}' not supported; "
            f"allowed: {', '.join(DISPLAYABLE)}",
        )
    if int(ds.get("PixelRepresentation", 0)) != 0:
        raise DicomDecodeError(
            "unsupported_input", path, "signed pixel data (PixelRepresentation 1) not supported"
        )
    if syntax.is_encapsulated:
        decoder = _gdcm_to_native(gdcm, ds, path)
    else:
        decoder = f"pydicom {pydicom.__version__} (native)"
    try:
        arr = ds.pixel_array
    except Exception as e:  # length mismatch, unsupported bit depth, ...
        raise DicomDecodeError("unreadable_image", path, f"pixel data: {e}") from e
    pixels, photometric, bits_stored = _display_samples(arr, ds, path)
    return DecodedCine(
        pixels=np.ascontiguousarray(pixels),
        photometric=photometric,
        bits_stored=bits_stored,
        source_photometric=source_photometric,
        transfer_syntax=str(syntax),
        decoder=decoder,
        frame_time_ms=_number(ds, "FrameTime"),
        cine_rate=_number(ds, "CineRate"),
        recommended_display_frame_rate=_number(ds, "RecommendedDisplayFrameRate"),
    )


def write_samples(cine: DecodedCine, out: str | Path) -> Path:
    """Write the samples as raw little-endian bytes, frame after frame, interleaved (RGBRGB...)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(cine.pixels.astype(cine.pixels.dtype.newbyteorder("<"), copy=False).tobytes())
    return out
