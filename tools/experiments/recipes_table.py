"""Markdown rows of docs/recipes.md's table from run_recipe.py outputs (R/recipe.json).

Usage: /usr/bin/python3 tools/experiments/recipes_table.py NAME=RUN_DIR=VARIANT=DATA ...
"""

import json
import sys
from pathlib import Path


def main() -> None:
    for item in sys.argv[1:]:
        name, run_dir, variant, data = item.split("=")
        r = json.loads((Path(run_dir) / "recipe.json").read_text())
        budget = f"{data} ({r['train_seconds']:.0f} s, {r['steps']} steps)"
        for split, e in r["eval"].items():
            print(
                f"| {name} | {variant} | {budget} | {split} | {e['dice_model']:.3f} | "
                f"{e['dice_copy_key']:.3f} | {e['dice_flow']:.3f} | {e['psnr_model']:.2f} | "
                f"{e['psnr_copy_last']:.2f} | {e['mask_mean']:.3f} ({e['gt_fraction']:.3f}) |"
            )


if __name__ == "__main__":
    main()
