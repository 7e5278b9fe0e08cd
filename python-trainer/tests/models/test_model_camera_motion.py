"""Camera motion for still -> video (models/camera_motion.py): the view's field against its
formula computed independently (complex numbers), the AR(1) walk's statistics, the profile's
validation, a roll-out seen through the camera, and automatic exposure."""

import cmath
import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from stillmotion_trainer.evaluation.generation_quality import roll_out_composed
from stillmotion_trainer.models import build_generator, generator_config
from stillmotion_trainer.models import camera_motion as cam
from stillmotion_trainer.models import still_to_video as s2v
from stillmotion_trainer.models.detail_sampling import sample_detailed, split_detail
from stillmotion_trainer.models.warp import warp

# shared with packages/inference/src/camera-motion.test.ts: camera_field(pose, 3, 4)
SHARED_POSE = [0.5, -0.25, 0.1, 0.2]
SHARED_FIELD = [
    [[0.849562, 0.736363, 0.623164, -0.509965], [0.669799, 0.5566, 0.4434, -0.330201],
     [0.490035, 0.376836, 0.263637, -0.150438]],
    [[0.406446, 0.226683, 0.046919, 0.132844], [-0.519645, -0.339882, -0.160118, 0.019645],
     [-0.632844, -0.453081, -0.273317, -0.093554]],
]  # fmt: skip


# shared with camera-motion.test.ts: auto_exposure of a 2-channel 2 x 3 frame, the still, the
# view (1 = inside); the gain is sum_view still / sum_view frame = 2.7 / 1.8 = 1.5
SHARED_FRAME = [[[0.2, 0.4, 0.9], [0.1, 0.0, 0.5]], [[0.3, 0.2, 0.8], [0.6, 0.7, 0.05]]]
SHARED_STILL = [[[0.5, 0.6, 0.1], [0.4, 0.1, 0.2]], [[0.4, 0.3, 0.3], [0.5, 0.2, 0.1]]]
SHARED_VIEW = [[1, 1, 0], [1, 0, 0]]
SHARED_EXPOSED = [[[0.3, 0.6, 1.0], [0.15, 0.0, 0.75]], [[0.45, 0.3, 1.0], [0.9, 1.0, 0.075]]]


# shared with camera-motion.test.ts: keep_lesion_in_view with A(pose) = max(0, 100 - 8 |(dx, dy)|
# + 40 s) (rest 0, keep 0.75: accepted in [75, 133.3]) -> the pose the walk takes
SHARED_KEEP = [
    ([1.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]),  # A = 92: kept
    ([4.0, 3.0, 0.1, 0.2], [2.0, 1.5, 0.05, 0.1]),  # A = 64, then 82: halved once
    ([20.0, 0.0, 0.0, 0.0], [2.5, 0.0, 0.0, 0.0]),  # A = 0, 20, 60, then 80: halved three times
    ([0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.5, 0.0]),  # A = 140 (magnified), then 120
    ([400.0, 0.0, 0.0, 0.3], [0.0, 0.0, 0.0, 0.0]),  # 25 px after four halvings still hides it
]


def shared_area(pose):
    return max(0.0, 100 - 8 * math.hypot(pose[0], pose[1]) + 40 * pose[2])


def test_shared_vectors():
    f = cam.camera_field(SHARED_POSE, 3, 4)[0].numpy()
    assert np.abs(f - np.array(SHARED_FIELD)).max() < 1e-5
    frame, still = torch.tensor([SHARED_FRAME]), torch.tensor([SHARED_STILL])
    view = torch.tensor(SHARED_VIEW, dtype=torch.bool)
    exposed = cam.auto_exposure(frame, still, view)[0].numpy()
    assert np.abs(exposed - np.array(SHARED_EXPOSED)).max() < 1e-6


def test_auto_exposure_against_a_direct_computation():
    rng = np.random.default_rng(4)
    frame = rng.random((2, 3, 5, 6)).astype(np.float32) * 0.5
    still = rng.random((2, 3, 5, 6)).astype(np.float32) * 0.5
    view = rng.random((5, 6)) > 0.3
    got = cam.auto_exposure(
        torch.from_numpy(frame), torch.from_numpy(still), torch.from_numpy(view)
    )
    for b in range(2):
        gain = still[b][:, view].sum(dtype=np.float64) / frame[b][:, view].sum(dtype=np.float64)
        np.testing.assert_allclose(got[b].numpy(), np.clip(gain * frame[b], 0, 1), atol=1e-6)
        # no pixel clipped here: the view's mean brightness is now the still's
        assert got[b].numpy()[:, view].mean() == pytest.approx(still[b][:, view].mean(), abs=1e-6)
    whole = cam.auto_exposure(torch.from_numpy(frame), torch.from_numpy(still))
    assert whole[0].sum().item() == pytest.approx(float(still[0].sum()), rel=1e-5)
    black = torch.zeros(1, 3, 4, 4)  # nothing lit: gain 1, the frame unchanged
    assert torch.equal(cam.auto_exposure(black, torch.rand(1, 3, 4, 4)), black)


def _fold(x: float, n: int) -> float:
    """Reflect x about 0 and n - 1 until it lies in [0, n - 1] (the definition, step by step)."""
    while x < 0 or x > n - 1:
        x = -x if x < 0 else 2 * (n - 1) - x
    return x


def test_mirror_folds_like_reflecting_step_by_step():
    xs = torch.linspace(-20, 25, 181, dtype=torch.float64)
    folded = cam.mirror(xs, 6)
    assert torch.allclose(
        folded, torch.tensor([_fold(float(x), 6) for x in xs], dtype=torch.float64)
    )
    assert torch.equal(cam.mirror(xs, 1), torch.zeros_like(xs))


def test_field_is_the_similarity_map_mirrored_into_the_frame():
    h, w = 9, 13
    dx, dy, s, a = 1.25, -0.5, -0.3, -0.15  # zoomed out: a border of mirrored pixels
    f = cam.camera_field([dx, dy, s, a], h, w)[0].numpy()
    c = complex((w - 1) / 2, (h - 1) / 2)
    for y in range(h):
        for x in range(w):
            q = c + complex(dx, dy) + math.exp(-s) * cmath.exp(1j * a) * (complex(x, y) - c)
            qx, qy = _fold(q.real, w), _fold(q.imag, h)
            assert f[0, y, x] == pytest.approx(qx - x, abs=1e-5)
            assert f[1, y, x] == pytest.approx(qy - y, abs=1e-5)


def test_the_rest_pose_is_the_identity():
    assert torch.equal(cam.camera_field([0, 0, 0, 0], 5, 6), torch.zeros(1, 2, 5, 6))


def test_the_walk_has_the_profiles_per_frame_spread_and_returns_to_rest():
    profile = cam.CameraProfile(0.05, 0.06, 0.04, revert=0.8, rest_zoom=1.1)
    poses = cam.sample_poses(profile, 40000, 100, np.random.default_rng(0))
    assert np.array_equal(poses[0], np.zeros(4))
    steps = np.diff(poses[1000:], axis=0)
    assert steps.std(axis=0) == pytest.approx([5.0, 5.0, 0.06, 0.04], rel=0.03)
    assert poses[1000:, 2].mean() == pytest.approx(math.log(1.1), abs=0.01)
    # strength 0: no noise, the view glides from the still to rest: rest (1 - rho^t)
    still = cam.sample_poses(profile, 5, 100, np.random.default_rng(0), strength=0.0)
    t = np.arange(5)
    assert np.allclose(still[:, 2], math.log(1.1) * (1 - 0.8**t))
    assert np.allclose(still[:, [0, 1, 3]], 0)


def test_max_zoom_caps_the_magnification_and_leaves_the_rest_of_the_walk_alone():
    """Each step is the uncapped walk's update from the capped previous pose, its log zoom then
    min(s, log max_zoom); zoom-out and the other parameters are untouched."""
    base = cam.CameraProfile(0.05, 0.06, 0.04, revert=0.8)
    capped = dataclasses.replace(base, max_zoom=1.05)
    poses = cam.sample_poses(capped, 4000, 100, np.random.default_rng(2))
    free = cam.sample_poses(base, 4000, 100, np.random.default_rng(2))
    cap = math.log(1.05)
    assert poses[:, 2].max() == pytest.approx(cap) and free[:, 2].max() > 2 * cap
    assert poses[:, 2].min() < -2 * cap  # zooming out is not limited
    np.testing.assert_array_equal(poses[:, [0, 1, 3]], free[:, [0, 1, 3]])
    rng = np.random.default_rng(2)  # an independent replay of the walk with the cap
    sigma = np.array([5.0, 5.0, 0.06, 0.04]) * math.sqrt(0.9)
    pose = np.zeros(4)
    for t in range(1, 4000):
        pose = 0.8 * pose + sigma * rng.standard_normal(4)
        pose[2] = min(pose[2], cap)
        np.testing.assert_allclose(poses[t], pose, rtol=0, atol=1e-12)


def test_bad_profiles_are_named(tmp_path):
    with pytest.raises(cam.CameraProfileError, match="revert"):
        cam.CameraProfile(0.05, 0.06, 0.04, revert=1.0).validate()
    with pytest.raises(cam.CameraProfileError, match="rest_zoom"):
        cam.CameraProfile(0.05, 0.06, 0.04, rest_zoom=0.9).validate()
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"shift_std": 0.05, "log_zoom_std": 0.06, "spin": 1}))
    with pytest.raises(cam.CameraProfileError, match=r"p\.json.*\['spin'\].*\['rotation_std'\]"):
        cam.load_profile(bad)
    bad.write_text("{")
    with pytest.raises(cam.CameraProfileError, match="p.json: cannot read"):
        cam.load_profile(bad)
    with pytest.raises(cam.CameraProfileError, match="auto_exposure: expected true or false"):
        cam.CameraProfile(0.05, 0.06, 0.04, auto_exposure=1).validate()  # type: ignore[arg-type]
    with pytest.raises(cam.CameraProfileError, match=r"max_zoom: expected null or a number in"):
        cam.CameraProfile(0.05, 0.06, 0.04, rest_zoom=1.1, max_zoom=1.05).validate()
    with pytest.raises(cam.CameraProfileError, match="max_zoom"):
        cam.CameraProfile(0.05, 0.06, 0.04, max_zoom=True).validate()  # type: ignore[arg-type]
    for bad_keep in (0, 1.5, True):
        with pytest.raises(cam.CameraProfileError, match=r"keep_lesion: expected null or a number"):
            cam.CameraProfile(0.05, 0.06, 0.04, keep_lesion=bad_keep).validate()
    good = cam.CameraProfile(
        0.05, 0.06, 0.04, auto_exposure=True, max_zoom=1.05, keep_lesion=0.8, source={"folder": "x"}
    )
    cam.save_profile(good, tmp_path / "good.json")
    assert cam.load_profile(tmp_path / "good.json") == good


def test_an_untrained_scene_seen_through_the_camera_is_the_still_moved_by_the_view():
    # the warp image head starts at u = 0, r = 0: the scene stands still, only the camera moves
    warp_head = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")
    model = build_generator(generator_config("tiny", **warp_head)).eval()
    h, w = 24, 32
    rng = np.random.default_rng(1)
    still = rng.random((3, h, w)).astype(np.float32)
    mask = np.zeros((1, h, w), np.float32)
    mask[:, 8:16, 10:20] = 1
    profile = cam.CameraProfile(0.05, 0.05, 0.05, revert=0.5, rest_zoom=1.05)
    clip = roll_out_composed(model, still, mask, 3, s2v.ComposedRollout(camera=profile), seed=7)
    exposed = dataclasses.replace(profile, auto_exposure=True)
    lit = roll_out_composed(model, still, mask, 3, s2v.ComposedRollout(camera=exposed), seed=7)
    poses = cam.sample_poses(profile, 4, h, np.random.default_rng(7))
    assert clip.fields is None and np.array_equal(clip.frames[0], still)
    for t in range(1, 4):
        field = cam.camera_field(poses[t], h, w)
        scene = torch.from_numpy(still)[None]
        moved = sample_detailed(scene, split_detail(scene, 1.0), field)
        expected = moved.clamp(0, 1)[0].numpy()
        assert np.abs(clip.frames[t] - expected).max() < 1e-5
        # the same frame with the scope's automatic exposure (no fixed border: the whole frame)
        want = cam.auto_exposure(moved.clamp(0, 1), scene)[0].numpy()
        assert np.abs(lit.frames[t] - want).max() < 1e-5
        np.testing.assert_array_equal(lit.masks[t], clip.masks[t])
        carried = warp(torch.from_numpy(mask)[None], field).clamp(0, 1)[0].numpy()
        assert np.abs(clip.masks[t] - carried).max() < 1e-5


def test_view_without_camera_motion_is_the_state():
    h, w = 8, 10
    state = s2v.start(torch.rand(1, 3, h, w), torch.rand(1, 1, h, w))
    seen = s2v.view(state, torch.zeros(1, 2, h, w))
    assert torch.allclose(seen.image, state.image, atol=1e-6)
    assert torch.allclose(seen.mask, state.mask, atol=1e-6)


def test_keep_lesion_in_view_shared_vectors():
    rest = np.zeros(4)
    for pose, want in SHARED_KEEP:
        got = cam.keep_lesion_in_view(np.array(pose), rest, shared_area, 0.75)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_keep_lesion_in_view_counts_its_tries_and_leaves_a_lesionless_view_alone():
    calls = []

    def hidden(pose):  # the lesion is seen at rest only
        calls.append(pose.copy())
        return 10.0 if not pose.any() else 0.0

    rest = np.zeros(4)
    got = cam.keep_lesion_in_view(np.array([3.0, 0, 0, 0]), rest, hidden, 0.9)
    assert not got.any() and got is not rest
    assert len(calls) == 1 + 1 + cam.KEEP_TRIES  # rest, the pose, its halvings
    assert [c[0] for c in calls[1:]] == [3.0 / 2**i for i in range(cam.KEEP_TRIES + 1)]
    pose = np.array([50.0, 0, 0, 0])
    assert cam.keep_lesion_in_view(pose, rest, lambda p: 0.0, 0.9) is pose  # nothing to keep


def test_the_walk_step_by_step_is_sample_poses():
    profile = cam.CameraProfile(0.05, 0.06, 0.04, revert=0.7, rest_zoom=1.1, max_zoom=1.2)
    walk = cam.CameraWalk(profile, 64, np.random.default_rng(3), strength=0.8)
    steps = [walk.accept(walk.propose()).copy() for _ in range(20)]
    poses = cam.sample_poses(profile, 21, 64, np.random.default_rng(3), strength=0.8)
    np.testing.assert_array_equal(np.array(steps), poses[1:])


def test_a_camera_that_keeps_the_lesion_in_view():
    """A lesion at the frame's edge, a strong camera: without keep_lesion frames show 0.3-1.9 of
    its area; with keep_lesion 0.8 every frame shows 0.8-1.25 of it (the scene stands still, so
    the rest pose shows all of it), and the frames are the view of the poses the walk took."""
    warp_head = dict(next_frame_input=True, mask_head="warp", mask_refine=True, image_head="warp")
    model = build_generator(generator_config("tiny", **warp_head)).eval()
    h, w, steps = 24, 32, 12
    still = np.random.default_rng(1).random((3, h, w)).astype(np.float32)
    mask = np.zeros((1, h, w), np.float32)
    mask[:, 6:14, 0:6] = 1
    free = cam.CameraProfile(0.08, 0.08, 0.05, revert=0.5)
    kept = dataclasses.replace(free, keep_lesion=0.8)

    def areas(profile):
        clip = roll_out_composed(
            model, still, mask, steps, s2v.ComposedRollout(camera=profile, detail=0), seed=5
        )
        return clip, (clip.masks >= 0.5).sum(axis=(1, 2, 3)) / (mask >= 0.5).sum()

    _, loose = areas(free)
    assert loose.min() < 0.7 or loose.max() > 1.3
    clip, ratios = areas(kept)
    assert ratios.min() >= 0.8 and ratios.max() <= 1.25
    assert (clip.frames[1:] != still).any(axis=(1, 2, 3)).sum() >= steps // 2  # it still moves
