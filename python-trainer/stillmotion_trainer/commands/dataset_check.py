"""dataset-check: read every frame and mask of a dataset and report each problem by file."""

import argparse

HELP = "validate a dataset: manifest, every image readable, sizes match, masks binary"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="dataset folder or its manifest.json")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    import json

    from stillmotion_trainer.data.check import check_dataset

    report = check_dataset(args.dataset)
    if args.json:
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "videos": report.videos,
                    "frames": report.frames,
                    "keyMasks": report.key_masks,
                    "gtMasks": report.gt_masks,
                    "errors": [
                        {"code": e.code, "reason": e.reason, "path": e.path, "message": e.message}
                        for e in report.errors
                    ],
                }
            )
        )
    else:
        for e in report.errors:
            print(f"error: {e}")
        summary = (
            f"{report.videos} video(s), {report.frames} frame(s), {report.key_masks} key mask(s), "
            f"{report.gt_masks} evaluation mask(s)"
        )
        print(f"{'ok' if report.ok else 'FAILED'}: {summary}; {len(report.errors)} error(s)")
    return 0 if report.ok else 1
