"""Every shipped recipe trains under torchrun with 2 CPU processes (gloo) and matches one process.

Same seed, same global batch of 4 clips (2 per rank), 32 px, 3 steps: the 2-process run must
log the same training and validation losses as the 1-process run, compute the same gradients,
and keep identical weights on both ranks. One test per shipped recipe file, which covers each
recipe family:

    literal-default, literal-keyframe-residual   literal generator G(I_t, M_t)
    next-frame-conv                               next-frame input, conv mask head
    next-frame-warp, next-frame-warp-calibrated   warp head (several forwards per backward)
    next-frame-warp-cycle                         warp head + mask_refine, cycle walks
    next-frame-warp-cycle-reseed, quickstart      the above + reseeding (rank-consistent draws)
    quickstart + GAN                              a second DDP network (the discriminator)

torchrun is launched once for all of them (ddp_recipe_runner.py), so the test pays the start of
three Python processes once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_train_ddp import GAN_KEYS, LOSS_KEYS, torchrun_workaround
from train_helpers import quiet

from stillmotion_trainer.data.synthetic import generate_dataset
from stillmotion_trainer.training.checkpoint import load_checkpoint
from stillmotion_trainer.training.config import config_from_dict
from stillmotion_trainer.training.loop import train
from stillmotion_trainer.training.metrics_log import read_metrics

PYTHON_TRAINER = Path(__file__).resolve().parents[2]
CONFIGS = PYTHON_TRAINER.parent / "configs"
RECIPES = {p.stem: p for p in sorted((CONFIGS / "recipes").glob("*.yaml"))}
RECIPES["quickstart"] = CONFIGS / "quickstart.yaml"
STEPS = 3
CASES = [*RECIPES, "quickstart+gan"]


def tiny_recipe(case: str, dataset: str) -> dict[str, Any]:
    """The recipe's model, walks and losses on a tiny run: tiny preset, 32 px, clip_len 3."""
    recipe_name, _, extra = case.partition("+")
    raw = yaml.safe_load(RECIPES[recipe_name].read_text())
    raw["data"].update(
        dataset=dataset, size=32, clip_len=3, batch_size=4, clips_per_video=2, val_fraction=0.2,
        num_workers=0,
    )  # fmt: skip
    raw["model"]["preset"] = "tiny"
    raw.setdefault("train", {}).update(device="cpu", seed=7)
    if extra == "gan":
        raw["train"]["gan"] = {"enabled": True, "discriminator": {"base_width": 4, "depth": 2}}
        raw.setdefault("loss", {})["lambda_adv"] = 0.1
    raw["stop"] = {"max_steps": STEPS}
    raw["val"] = {"every_n_steps": STEPS}
    raw["checkpoint"] = {"every_n_steps": 1, "keep_last": STEPS}
    raw["log"] = {"every_n_steps": 1, "preview_every_n_steps": 0}
    return raw


def failure_lines(stderr: str) -> str:
    """torchrun's stderr without the per-rank C++ warnings: the traceback is what matters."""
    lines = [
        line for line in stderr.splitlines() if "]:[W" not in line and "reducer.cpp" not in line
    ]
    return "\n".join(lines[-60:])


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory) -> tuple[Path, str, subprocess.CompletedProcess]:
    """All cases trained by one 2-process torchrun launch: (root, dataset, the launch)."""
    root = tmp_path_factory.mktemp("ddp-recipes")
    generate_dataset(
        root / "ds", "endoscopy", num_videos=5, num_frames=6, size=(32, 32), seed=3,
        keyframes_per_video=2,
    )  # fmt: skip
    dataset = str(root / "ds")
    plan = []
    for case in CASES:
        config = root / f"{case}.yaml"
        config.write_text(yaml.safe_dump(tiny_recipe(case, dataset)))
        plan.append({"config": str(config), "run_dir": str(root / "ddp" / case)})
    (root / "plan.json").write_text(json.dumps(plan))
    runner = Path(__file__).with_name("ddp_recipe_runner.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           *torchrun_workaround(), "--log_dir", str(root / "torchrun-logs"),
           str(runner), str(root / "plan.json")]  # fmt: skip
    env = os.environ | {
        "STILLMOTION_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(PYTHON_TRAINER), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.run(
        cmd, cwd=PYTHON_TRAINER, env=env, capture_output=True, text=True, timeout=600
    )
    return root, dataset, proc


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_recipe_trains_under_torchrun_like_one_process(ddp_runs, case, tmp_path):
    root, dataset, proc = ddp_runs
    ddp_dir, one_dir = root / "ddp" / case, tmp_path / "single"
    # the launch stops at the first case that fails; the cases before it still get judged
    assert (ddp_dir / "checkpoints" / f"step-{STEPS:08d}.pt").exists(), failure_lines(proc.stderr)
    raw = tiny_recipe(case, dataset)
    train(config_from_dict(raw), run_dir=one_dir, log=quiet)

    ddp_rows = read_metrics(ddp_dir / "metrics.jsonl")
    one_rows = read_metrics(one_dir / "metrics.jsonl")
    assert [(r["kind"], r["step"]) for r in ddp_rows] == [(r["kind"], r["step"]) for r in one_rows]
    assert ("val", STEPS) in [(r["kind"], r["step"]) for r in one_rows]
    gan = "gan" in raw["train"]
    for ddp, one in zip(ddp_rows, one_rows):
        for k in LOSS_KEYS + (GAN_KEYS if gan and ddp["kind"] == "train" else ()):
            # the same sums in another order (per-rank means, gloo all-reduce): float32 rounding
            assert ddp[k] == pytest.approx(one[k], rel=1e-5, abs=1e-6), (
                ddp["kind"],
                ddp["step"],
                k,
            )
    for step in range(1, STEPS + 1):
        digests = load_checkpoint(ddp_dir / "checkpoints" / f"step-{step:08d}.pt")[
            "replica_digests"
        ]
        assert len(digests) == 2 and digests[0] == digests[1], step  # identical replicas
    # The step-1 gradients, read from AdamW's first moment m_1 = (1 - beta1) g (weight decay
    # leaves it alone), are the DDP all-reduce's result. Equal up to float32 summation order:
    # 1e-4 of each tensor's largest entry (one process that only reorders the 4 clips of the
    # same batch moves a mask-head bias gradient by 3.7e-5), plus 1e-6 of the network's largest
    # entry for parameters whose gradient is zero in math (a bias right before warp.normalise
    # or GroupNorm, which subtract it again) and so pure rounding noise.
    # Later weights are not compared bit-close: Adam scales that noise to steps of ~lr, so the
    # runs drift apart by ~1e-4 there without any error; the losses of all steps bound the drift.
    single = load_checkpoint(one_dir / "checkpoints" / "step-00000001.pt")
    ddp_ckpt = load_checkpoint(ddp_dir / "checkpoints" / "step-00000001.pt")
    for part in ("optimizer", "d_optimizer") if gan else ("optimizer",):
        one_state, ddp_state = single[part]["state"], ddp_ckpt[part]["state"]
        assert one_state.keys() == ddp_state.keys()
        largest = max(float(m["exp_avg"].abs().max()) for m in one_state.values())
        for index, moments in one_state.items():
            g_one, g_ddp = moments["exp_avg"], ddp_state[index]["exp_avg"]
            tolerance = 1e-4 * float(g_one.abs().max()) + 1e-6 * largest
            assert float((g_ddp - g_one).abs().max()) <= tolerance, (part, index)
