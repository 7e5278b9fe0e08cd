"""onnx-smoke: export a tiny conv net plus a sample, for the Node-side ONNX parity smoke test."""

import argparse

HELP = "export a tiny conv net and a sample for parity checks"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--output-name",
        default="output",
        help='output tensor name ("mask" makes it a lesion detector per docs/datasets.md)',
    )


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.export.smoke import export_smoke

    print(json.dumps(export_smoke(args.out, output_name=args.output_name)))
    return 0
