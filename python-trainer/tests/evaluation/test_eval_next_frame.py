"""`evaluate` on a real G(I_t, M_t, I_{t+1}) checkpoint (warp mask head), untrained."""

import dataclasses

import torch

from stillmotion_trainer.data.synthetic import generate_dataset
from stillmotion_trainer.evaluation.evaluate import evaluate
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.training.checkpoint import Checkpoint


def test_warp_generator_evaluates_end_to_end_and_beats_copy_key(tmp_path):
    generate_dataset(
        tmp_path / "ds", "endoscopy", num_videos=2, num_frames=8, size=(32, 32), seed=4
    )
    torch.manual_seed(0)
    cfg = generator_config(
        "realtime", channels=3, next_frame_input=True, mask_head="warp", image_residual=True
    )
    ckpt = tmp_path / "g.pt"
    Checkpoint(
        model=build_generator(cfg).state_dict(),
        generator_config=dataclasses.asdict(cfg),
        config={"data": {"size": 32}, "model": {"preset": "realtime"}, "train": {}},
        step=0,
    ).save(ckpt)
    report = evaluate(str(ckpt), str(tmp_path / "ds"))
    assert report["generator"]["next_frame_input"] is True
    masks = report["overall"]["mean_over_videos"]["masks"]
    # an untrained warp head already follows the motion better than copying the key mask
    assert masks["model"]["dice"] > masks["copy_key"]["dice"]
    assert report["overall"]["collapsed_videos"] == 0
