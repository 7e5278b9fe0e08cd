"""`evaluate` end to end on a tiny synthetic dataset with an untrained tiny checkpoint."""

import json
import shutil

import numpy as np
import pytest
from eval_helpers import save_tiny_checkpoint

from stillmotion_trainer.cli import main
from stillmotion_trainer.data.manifest import load_manifest, split_by_video
from stillmotion_trainer.data.synthetic import generate_dataset
from stillmotion_trainer.evaluation.evaluate import (
    IMAGE_METHODS,
    MASK_METHODS,
    EvalOptions,
    EvaluationError,
    batched_ssim,
    evaluate,
)
from stillmotion_trainer.metrics import ssim
from stillmotion_trainer.training.checkpoint import Checkpoint


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    generate_dataset(root / "ds", "endoscopy", num_videos=3, num_frames=6, size=(20, 20), seed=2)
    ckpt = save_tiny_checkpoint(str(root / "tiny.pt"), size=16)
    return root, str(root / "ds"), ckpt


def edited_dataset(work, name, edit):
    """A copy of the dataset whose manifest `edit(manifest_dict)` changed."""
    root, ds, _ = work
    out = root / name
    if not out.exists():
        shutil.copytree(ds, out)
        manifest = json.loads((out / "manifest.json").read_text())
        edit(manifest)
        (out / "manifest.json").write_text(json.dumps(manifest))
    return str(out)


def test_every_field_is_present_and_in_range(work):
    _, ds, ckpt = work
    report = evaluate(ckpt, ds)
    assert report["format"] == "stillmotion-eval" and report["version"] == 1
    assert report["size"] == [16, 16]  # the run's data.size, from the checkpoint
    assert report["step"] == 0 and report["preset"] == "tiny" and report["split"] == "all"
    assert report["generator"]["next_frame_input"] is False
    assert len(report["videos"]) == 3 and report["skipped"] == []
    for video in report["videos"]:
        assert video["key_source"] == "manifest" and len(video["key_frames"]) == 1
        assert video["scored_frames"] == 5 and video["transitions"] == 5
        assert [f["frame"] for f in video["per_frame"]] == [
            t for t in range(6) if t not in video["key_frames"]
        ]
        for method in MASK_METHODS:
            for metric, value in video["masks"][method].items():
                assert 0.0 <= value <= 1.0, (method, metric, value)
        for method in IMAGE_METHODS:
            assert 0.0 < video["next_frame"][method]["psnr"] <= 100.0
            assert -1.0 <= video["next_frame"][method]["ssim"] <= 1.0
        stats = video["mask_stats"]
        assert 0.0 <= stats["mean"] <= 1.0 and 0.0 <= stats["fraction_above_half"] <= 1.0
        assert 0.0 < stats["gt_fraction"] < 1.0
        assert 0.0 <= video["gt_temporal_stability"] <= 1.0
        assert video["generator_steps"] == 5  # one per non-key frame, one key frame
    # the lesion moves slowly in the easy synthetic videos: warping beats copying a little,
    # copying already overlaps well, and an untrained generator is far from both
    overall = report["overall"]["mean_over_videos"]["masks"]
    assert overall["flow"]["dice"] > 0.5 and overall["copy_key"]["dice"] > 0.5
    assert set(report["overall"]) >= {"videos", "scored_frames", "transitions", "frame_weighted"}


def test_frame_weighted_and_video_means_differ_when_videos_differ_in_length(work):
    def drop_frames(m):
        m["videos"][0]["frames"] = m["videos"][0]["frames"][:3]
        if not any("keyMask" in f for f in m["videos"][0]["frames"]):
            m["videos"][0]["frames"][0]["keyMask"] = m["videos"][0]["frames"][0]["gtMask"]

    ds = edited_dataset(work, "short", drop_frames)
    report = evaluate(work[2], ds)
    videos = report["videos"]
    frames = [v["scored_frames"] for v in videos]
    assert frames[0] == 2 and frames[1:] == [5, 5]
    for method in MASK_METHODS:
        values = [v["masks"][method]["dice"] for v in videos]
        by_video = report["overall"]["mean_over_videos"]["masks"][method]["dice"]
        weighted = report["overall"]["frame_weighted"]["masks"][method]["dice"]
        assert by_video == pytest.approx(sum(values) / 3, abs=1e-5)
        expected = sum(f * v for f, v in zip(frames, values)) / sum(frames)
        assert weighted == pytest.approx(expected, abs=1e-5)


def test_missing_key_masks_fall_back_to_frame_0_gt_and_videos_without_gt_are_skipped(work):
    def edit(m):
        for f in m["videos"][0]["frames"]:
            f.pop("keyMask", None)
            f.pop("keySource", None)
        for f in m["videos"][1]["frames"]:
            f.pop("gtMask", None)

    report = evaluate(work[2], edited_dataset(work, "nokey", edit))
    ids = [v["id"] for v in report["videos"]]
    first = report["videos"][0]
    assert ids == ["video-000", "video-002"]
    assert first["key_source"] == "gt_fallback" and first["key_frames"] == [0]
    assert any("video-000: no keyMask" in w and "frame 0" in w for w in report["warnings"])
    assert report["skipped"] == [{"id": "video-001", "reason": "no frame has a gtMask"}]


def test_val_split_is_the_runs_validation_videos(work):
    _, ds, ckpt = work
    report = evaluate(ckpt, ds, EvalOptions(split="val", size=(12, 12)))
    _, val_ids = split_by_video(load_manifest(ds), 0.34, 1)  # the checkpoint's run config
    assert [v["id"] for v in report["videos"]] == val_ids
    assert report["val_fraction"] == 0.34 and report["seed"] == 1 and report["size"] == [12, 12]


def test_video_ids_narrow_the_evaluation_and_an_unknown_id_is_named(work, capsys):
    _, ds, ckpt = work
    report = evaluate(ckpt, ds, EvalOptions(videos=("video-002", "video-000"), size=(12, 12)))
    assert [v["id"] for v in report["videos"]] == ["video-000", "video-002"]  # manifest order
    args = ["evaluate", "--checkpoint", ckpt, "--dataset", ds, "--size", "12"]
    assert main([*args, "--video", "video-001"]) == 0
    assert [v["id"] for v in json.loads(capsys.readouterr().out)["videos"]] == ["video-001"]
    assert main([*args, "--video", "video-001", "--video", "seq9"]) == 2
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["code"] == "NOT_FOUND" and "no video 'seq9'" in printed["error"]
    assert printed["error"].startswith(str(load_manifest(ds).root))


def test_a_generator_that_outputs_all_ones_is_flagged_as_collapsed(work):
    root, ds, _ = work
    path = str(root / "ones.pt")
    save_tiny_checkpoint(path)
    ckpt = Checkpoint.load(path)
    ckpt.model["mask_head.0.bias"].fill_(30.0)  # sigmoid(30 + anything small) = 1
    ckpt.save(path)
    report = evaluate(path, ds, EvalOptions(native_size=True))
    assert report["size"] == "native"
    assert all(v["mask_stats"]["collapsed"] == "ones" for v in report["videos"])
    assert report["overall"]["collapsed_videos"] == 3
    assert report["overall"]["frame_weighted"]["mask_stats"]["fraction_above_half"] == 1.0
    assert any("collapsed on 3 of 3" in w for w in report["warnings"])


def test_cli_prints_one_json_line_and_writes_the_report_atomically(work, capsys):
    root, ds, ckpt = work
    out = root / "reports" / "eval.json"
    code = main(["evaluate", "--checkpoint", ckpt, "--dataset", ds, "--out", str(out),
                 "--fusion", "nearest", "--boundary-tolerance", "1"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1
    printed = json.loads(lines[0])
    assert printed["ok"] is True and printed["out"] == str(out.resolve())
    written = json.loads(out.read_text())
    assert written["fusion"] == "nearest" and written["boundary_tolerance_px"] == 1.0
    assert written["overall"] == printed["overall"]
    assert "eval video-000 |" in captured.err
    assert not [p for p in out.parent.iterdir() if p.name != "eval.json"]  # no temp file left


@pytest.mark.parametrize(
    "case, code",
    [
        ("channels", "FAILED_PRECONDITION"),
        ("missing", "NOT_FOUND"),
        ("no_gt", "FAILED_PRECONDITION"),
    ],
)
def test_cli_errors_are_one_json_line_with_a_grpc_code(work, capsys, case, code):
    root, ds, ckpt = work
    if case == "channels":
        ckpt = save_tiny_checkpoint(str(root / "grey.pt"), channels=1)
    elif case == "missing":
        ckpt = str(root / "nope.pt")
    else:
        ds = edited_dataset(
            work, "nogt", lambda m: [f.pop("gtMask") for v in m["videos"] for f in v["frames"]]
        )
    assert main(["evaluate", "--checkpoint", ckpt, "--dataset", ds]) == 2
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["ok"] is False and printed["code"] == code
    assert {"channels": "channels=3", "missing": "nope.pt", "no_gt": "gtMask"}[case] in printed[
        "error"
    ]


def test_bad_options_are_refused_before_any_work(work):
    with pytest.raises(EvaluationError, match="split: unsupported value 'test'"):
        evaluate(work[2], work[1], EvalOptions(split="test"))
    with pytest.raises(EvaluationError, match=r"val_fraction: expected a number in \[0, 1\)"):
        evaluate(work[2], work[1], EvalOptions(val_fraction=1.5))


def test_adapt_steps_fit_the_correction_per_video_and_are_reported(work):
    root, ds, plain = work
    refine = save_tiny_checkpoint(
        str(root / "refine.pt"),
        next_frame_input=True,
        mask_head="warp",
        mask_refine=True,
        refine_width=4,
    )
    report = evaluate(refine, ds, EvalOptions(reference="key", adapt_steps=2))
    assert report["adapt_steps"] == 2 and report["reference"] == "key"
    assert report["adapt_seed"] == 0
    reseeded = evaluate(refine, ds, EvalOptions(reference="key", adapt_steps=2, adapt_seed=5))
    assert reseeded["adapt_seed"] == 5
    again = evaluate(refine, ds, EvalOptions(reference="key", adapt_steps=2, adapt_seed=5))
    assert again["overall"] == reseeded["overall"]  # a seed reproduces its scores
    assert all(v["adapt_seconds"] > 0 for v in report["videos"])
    assert evaluate(refine, ds, EvalOptions(reference="key"))["videos"][0]["adapt_seconds"] == 0
    with pytest.raises(EvaluationError, match="--adapt-steps fits the learned correction"):
        evaluate(plain, ds, EvalOptions(adapt_steps=2))
    with pytest.raises(EvaluationError, match="adapt_steps: expected an integer >= 0"):
        evaluate(refine, ds, EvalOptions(adapt_steps=-1))


def test_batched_ssim_equals_the_metric_pair_by_pair():
    rng = np.random.default_rng(0)
    a = rng.random((3, 3, 9, 12))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    assert batched_ssim(a, b) == pytest.approx([ssim(x, y) for x, y in zip(a, b)], abs=1e-12)
