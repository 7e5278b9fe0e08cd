"""dicom-decode: decode a DICOM cine loop (compressed, big endian, palette) to raw samples."""

import argparse

HELP = (
    "decode a DICOM file of any transfer syntax to raw display samples; prints one JSON line "
    "with the header (used by `stillmotion dataset import dicom`)"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="the DICOM file")
    p.add_argument("--out", required=True, help="where to write the raw samples (a file)")


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.data.dicom_decode import (
        DicomDecodeError,
        decode_dicom,
        write_samples,
    )

    try:
        cine = decode_dicom(args.file)
        write_samples(cine, args.out)
    except DicomDecodeError as e:
        # The TS side reads the reason back from the trailing [reason] of `error`.
        print(json.dumps({"ok": False, "error": f"{e.message} [{e.reason}]", "path": e.path}))
        return 1
    print(
        json.dumps(
            {
                "ok": True,
                "samples": str(args.out),
                "header": cine.header(),
                "transferSyntax": cine.transfer_syntax,
                "sourcePhotometric": cine.source_photometric,
                "decoder": cine.decoder,
            }
        )
    )
    return 0
