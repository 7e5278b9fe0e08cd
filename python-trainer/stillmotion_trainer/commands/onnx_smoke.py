"""onnx-smoke: export a tiny conv net plus a sample, for the Node-side ONNX parity smoke test."""

HELP = "export a tiny conv net and a sample for parity checks"


def add_arguments(p):
    p.add_argument("--out", required=True, help="output folder")


def run(args) -> int:
    import json

    from stillmotion_trainer.export.smoke import export_smoke

    print(json.dumps(export_smoke(args.out)))
    return 0
