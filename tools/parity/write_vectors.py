#!/usr/bin/python3
"""Write the loss/metric parity vectors: inputs plus the outputs of the trainer's OWN functions.

    /usr/bin/python3 tools/parity/write_vectors.py --out <dir>   # -> <dir>/loss-vectors.json

The TypeScript package (packages/losses/src/parity.test.ts) runs this script at test time and
requires |Δ| <= 1e-5 absolute or 1e-4 relative on every case, so parity is always proved
against today's Python. Inputs are rounded to 6 decimals before Python sees them (JSON stays
small and both sides read the very same numbers); cases run in float64 unless marked float32.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python-trainer"))

import torch  # noqa: E402

from stillmotion_trainer import losses, metrics  # noqa: E402
from stillmotion_trainer.losses import LossInputError  # noqa: E402
from stillmotion_trainer.runtime import configure_threads  # noqa: E402

FORMAT = "stillmotion-loss-vectors"
VERSION = 1
SEED = 20240611


class Vectors:
    """Collects cases; each input tensor is encoded as {"shape", "data"} (+ "dtype": "bool")."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.cases: List[Dict[str, Any]] = []

    def rand(self, *shape: int, low: float = 0.0, high: float = 1.0) -> np.ndarray:
        return np.round(self.rng.uniform(low, high, shape), 6)

    def near(self, x: np.ndarray, noise: float) -> np.ndarray:
        """x plus Gaussian noise, clipped: a frame that moved a little."""
        return np.round(np.clip(x + self.rng.normal(0, noise, x.shape), 0, 1), 6)

    def binary(self, *shape: int, p: float = 0.5) -> np.ndarray:
        return (self.rng.random(shape) < p).astype(np.float64)

    def add(
        self,
        fn: str,
        name: str,
        args: Dict[str, Any],
        call: Callable[..., Any],
        dtype: str = "float64",
    ) -> None:
        """Run `call` on torch/numpy versions of `args` and store its result (or its error)."""
        case: Dict[str, Any] = {
            "id": f"{fn}/{name}",
            "fn": fn,
            "dtype": dtype,
            "args": {},
        }
        native: Dict[str, Any] = {}
        for key, value in args.items():
            case["args"][key] = encode(value)
            native[key] = value
        try:
            case["expected"] = encode(call(**native))
        except LossInputError as err:  # error cases: TS must reject the same argument
            if not name.startswith("error-"):
                raise
            case["error"] = {"code": err.code, "argument": err.argument}
        if name.startswith("error-") and "error" not in case:
            raise AssertionError(f"{case['id']}: expected a LossInputError, got a result")
        self.cases.append(case)


def encode(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:  # scalars (training_loss terms) are plain numbers in TS
            return value.item()
        if value.dtype == np.bool_:
            return {
                "shape": list(value.shape),
                "dtype": "bool",
                "data": value.astype(int).ravel().tolist(),
            }
        return {
            "shape": list(value.shape),
            "data": value.astype(np.float64).ravel().tolist(),
        }
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def torch_args(dtype: str, *names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a loss so the named numpy arguments reach it as torch tensors of `dtype`."""
    tdtype = torch.float32 if dtype == "float32" else torch.float64

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(**kw: Any) -> Any:
            for n in names:
                a = kw[n]
                kw[n] = (
                    torch.from_numpy(a) if a.dtype == np.bool_ else torch.from_numpy(a).to(tdtype)
                )
            return fn(**kw)

        return call

    return wrap


# --- φ, d, θ -----------------------------------------------------------------------------------


def add_pairwise(v: Vectors) -> None:
    pair_fns = {
        "phi_l1": losses.phi_l1,
        "phi_l2": losses.phi_l2,
        "phi_dice": losses.phi_dice,
        "d_ssim": losses.d_ssim,
        "d_one_minus_l1": losses.d_one_minus_l1,
        "d_ncc": losses.d_ncc,
    }
    shapes = [
        (2, 1, 3, 5),
        (2, 3, 7, 9),
        (1, 1, 1, 1),
        (1, 3, 2, 13),
        (2, 3, 16, 16),
        (1, 1, 11, 4),
    ]
    for fn, impl in pair_fns.items():
        call = torch_args("float64", "a", "b")(impl)
        for shape in shapes:
            a = v.rand(*shape)
            tag = f"c{shape[1]}-{shape[2]}x{shape[3]}"
            v.add(fn, f"random-{tag}", {"a": a, "b": v.rand(*shape)}, call)
            v.add(fn, f"near-{tag}", {"a": a, "b": v.near(a, 0.1)}, call)
        x = v.rand(2, 3, 5, 6)
        v.add(fn, "identical", {"a": x, "b": x.copy()}, call)
        zeros, ones = np.zeros((2, 1, 3, 5)), np.ones((2, 1, 3, 5))
        v.add(fn, "empty-empty", {"a": zeros, "b": zeros}, call)
        v.add(fn, "full-full", {"a": ones, "b": ones}, call)
        v.add(fn, "empty-full", {"a": zeros, "b": ones}, call)
        v.add(
            fn,
            "binary-c1-8x8",
            {"a": v.binary(2, 1, 8, 8), "b": v.binary(2, 1, 8, 8, p=0.2)},
            call,
        )
        v.add(
            fn,
            "grey-levels",
            {"a": np.zeros((1, 3, 3, 5)), "b": np.full((1, 3, 3, 5), 0.25)},
            call,
        )
        f32 = torch_args("float32", "a", "b")(impl)
        v.add(
            fn,
            "float32-c3-16x16",
            {"a": v.rand(2, 3, 16, 16), "b": v.rand(2, 3, 16, 16)},
            f32,
            "float32",
        )
        # errors: the argument named must match in TS
        v.add(fn, "error-shape", {"a": v.rand(1, 1, 3, 3), "b": v.rand(1, 1, 3, 4)}, call)
        v.add(
            fn,
            "error-range",
            {"a": v.rand(1, 1, 3, 3) + 1.5, "b": v.rand(1, 1, 3, 3)},
            call,
        )
        v.add(fn, "error-rank", {"a": v.rand(3, 3), "b": v.rand(3, 3)}, call)


def add_theta(v: Vectors) -> None:
    call = torch_args("float64", "phi_value", "d_value")(losses.theta)
    phi_v, d_v = v.rand(16), v.rand(16)
    for g1, g2 in [(0.8, 0.5), (0.0, 0.3), (1.0, 1.0), (0.5, 0.0)]:
        v.add(
            "theta",
            f"random-g{g1}-{g2}",
            {"phi_value": phi_v, "d_value": d_v, "gamma1": g1, "gamma2": g2},
            call,
        )
    d_at = np.array([0.75, 0.75, 0.25, 1.0])
    v.add(
        "theta",
        "d-exactly-at-gamma1",
        {
            "phi_value": np.array([0.1, 0.9, 0.1, 0.0]),
            "d_value": d_at,
            "gamma1": 0.75,
            "gamma2": 0.5,
        },
        call,
    )
    args = {"phi_value": phi_v, "d_value": d_v, "gamma1": 1.5, "gamma2": 0.5}
    v.add("theta", "error-gamma1", args, call)


# --- L_I, L_M1, L_M2, total --------------------------------------------------------------------


def add_method_losses(v: Vectors) -> None:
    img = torch_args("float64", "target_next", "pred_next")(losses.image_loss)
    first = torch_args("float64", "mask_in", "mask_out", "image_in", "image_next")(
        losses.first_mask_loss
    )
    second = torch_args(
        "float64", "key_masks", "key_images", "key_valid", "mask_out", "image_next"
    )(losses.second_mask_loss)
    for phi_name in ("l1", "l2", "dice"):
        for c, h, w in [(1, 3, 5), (3, 7, 9)]:
            t = v.rand(3, c, h, w)
            v.add(
                "image_loss",
                f"{phi_name}-c{c}-{h}x{w}",
                {"target_next": t, "pred_next": v.near(t, 0.2), "phi_name": phi_name},
                img,
            )
    bad = {"target_next": v.rand(2, 3, 4, 4), "pred_next": v.rand(2, 1, 4, 4), "phi_name": "l1"}
    v.add("image_loss", "error-shape", bad, img)
    v.add(
        "image_loss",
        "error-phi-name",
        {**bad, "pred_next": bad["target_next"], "phi_name": "l3"},
        img,
    )
    for d_name in ("ssim", "1-l1", "ncc"):
        for phi_name, c, (h, w), g1 in [
            ("dice", 3, (6, 7), 0.8),
            ("l1", 1, (3, 5), 0.5),
            ("l2", 3, (1, 1), 0.2),
        ]:
            i_in = v.rand(4, c, h, w)
            args = {
                "mask_in": v.rand(4, 1, h, w),
                "mask_out": v.rand(4, 1, h, w),
                "image_in": i_in,
                "image_next": v.near(i_in, 0.15),
                "phi_name": phi_name,
                "d_name": d_name,
                "gamma1": g1,
                "gamma2": 0.6,
            }
            v.add("first_mask_loss", f"{d_name}-{phi_name}-c{c}-{h}x{w}", args, first)
    # d exactly at γ1: identical frames give d = 1 for every d; black vs 0.25 grey gives 1-l1 = 0.75
    m_in, m_out = v.binary(2, 1, 4, 5), v.binary(2, 1, 4, 5)
    frames = v.rand(2, 3, 4, 5)
    for d_name in ("ssim", "1-l1", "ncc"):
        args = {"mask_in": m_in, "mask_out": m_out, "image_in": frames, "image_next": frames.copy(),
                "phi_name": "dice", "d_name": d_name, "gamma1": 1.0, "gamma2": 0.5}  # fmt: skip
        v.add("first_mask_loss", f"identical-frames-d-at-gamma1-{d_name}", args, first)
    args = {"mask_in": np.zeros((1, 1, 3, 5)), "mask_out": np.ones((1, 1, 3, 5)),
            "image_in": np.zeros((1, 3, 3, 5)), "image_next": np.full((1, 3, 3, 5), 0.25),
            "phi_name": "l1", "d_name": "1-l1", "gamma1": 0.75, "gamma2": 0.5}  # fmt: skip
    v.add("first_mask_loss", "grey-d-exactly-at-gamma1", args, first)
    args = {**args, "mask_in": np.ones((1, 1, 3, 4)), "mask_out": np.ones((1, 1, 3, 5))}
    v.add("first_mask_loss", "error-mask-shape", args, first)

    for c, k, valid in [
        (3, 3, [[1, 0, 1], [0, 0, 0], [1, 1, 1]]),
        (1, 1, [[1], [1], [0]]),
        (3, 0, [[], [], []]),
    ]:
        h, w = 5, 6
        nxt = v.rand(3, c, h, w)
        for d_name in ("ssim", "1-l1", "ncc"):
            args = {
                "key_masks": v.binary(3, k, 1, h, w),
                "key_images": v.near(np.repeat(nxt[:, None], k, axis=1), 0.2)
                if k
                else np.zeros((3, 0, c, h, w)),
                "key_valid": np.array(valid, dtype=bool).reshape(3, k),
                "mask_out": v.rand(3, 1, h, w),
                "image_next": nxt,
                "phi_name": "dice",
                "d_name": d_name,
                "gamma1": 0.6,
                "gamma2": 0.5,
            }
            v.add("second_mask_loss", f"{d_name}-c{c}-k{k}", args, second)
    bad = {**args, "key_images": np.zeros((3, 0, 1, 5, 6))}  # C = 1 against image_next C = 3
    v.add("second_mask_loss", "error-key-images-shape", bad, second)
    bad = {**args, "key_valid": np.zeros((3, 1), dtype=bool)}
    v.add("second_mask_loss", "error-key-valid-shape", bad, second)


def add_training_loss(v: Vectors) -> None:
    names = ("frames_in", "frames_next", "pred_images", "mask_in", "pred_masks", "mask_in_inferred",
             "key_images", "key_masks", "key_valid", "adv")  # fmt: skip

    def call_for(dtype: str) -> Callable[..., Any]:
        def run(cfg: Dict[str, Any], **kw: Any) -> Dict[str, torch.Tensor]:
            if kw.get("adv") is not None:
                kw["adv"] = np.asarray(kw["adv"], dtype=np.float64)
            else:
                kw.pop("adv", None)
            present = [n for n in names if n in kw]
            return torch_args(dtype, *present)(losses.training_loss)(
                cfg=losses.LossConfig(**cfg), **kw
            )

        return run

    configs: List[Dict[str, Any]] = [
        {},
        {
            "phi": "l1",
            "image_phi": "l2",
            "d": "ncc",
            "gamma1": 0.3,
            "gamma2": 0.7,
            "lambda_m2": 0.5,
        },
        {
            "phi": "l2",
            "image_phi": "dice",
            "d": "1-l1",
            "gamma1": 0.9,
            "lambda_image": 2.0,
            "lambda_m1": 0.0,
        },
        {"gamma1": 0.0, "lambda_adv": 0.1},
    ]
    shapes = [
        (2, 3, 3, 5, 7, 2),
        (1, 2, 1, 3, 5, 1),
        (3, 1, 3, 8, 8, 1),
        (2, 2, 1, 1, 1, 0),
    ]
    for ci, cfg in enumerate(configs):
        # the default config on every shape, the others on two shapes each (keeps the file small)
        for b, t, c, h, w, k in shapes if ci == 0 else [shapes[ci % 4], shapes[(ci + 1) % 4]]:
            frames = v.rand(b, t + 1, c, h, w)
            frames[:, 1:] = v.near(frames[:, :-1], 0.15)
            inferred = np.ones((b, t), dtype=bool)
            inferred[:, 0] = False
            args: Dict[str, Any] = {
                "frames_in": frames[:, :-1].copy(),
                "frames_next": frames[:, 1:].copy(),
                "pred_images": v.rand(b, t, c, h, w),
                "mask_in": v.rand(b, t, 1, h, w),
                "pred_masks": v.rand(b, t, 1, h, w),
                "mask_in_inferred": inferred,
                "key_images": v.rand(b, k, c, h, w),
                "key_masks": v.binary(b, k, 1, h, w),
                "key_valid": v.rng.random((b, k)) < 0.7,
                "cfg": cfg,
                "adv": 0.75 if cfg.get("lambda_adv") else None,
            }
            v.add(
                "training_loss",
                f"cfg{ci}-b{b}t{t}c{c}-{h}x{w}-k{k}",
                args,
                call_for("float64"),
            )
    # empty/full masks and identical frames, so every θ branch and the d = γ1 edge are hit
    frames = v.rand(2, 3, 3, 4, 6)
    args = {
        "frames_in": frames[:, :2].copy(),
        "frames_next": np.stack([frames[:, 0], frames[:, 0]], axis=1),
        "pred_images": v.rand(2, 2, 3, 4, 6),
        "mask_in": np.zeros((2, 2, 1, 4, 6)),
        "pred_masks": np.ones((2, 2, 1, 4, 6)),
        "mask_in_inferred": np.array([[False, True], [False, True]]),
        "key_images": frames[:, :1].copy(),
        "key_masks": np.zeros((2, 1, 1, 4, 6)),
        "key_valid": np.array([[True], [False]]),
        "cfg": {"gamma1": 1.0},
        "adv": None,
    }
    v.add("training_loss", "empty-full-identical-d-at-gamma1", args, call_for("float64"))
    big = v.rand(2, 1, 3, 24, 24)
    args = {**args, "frames_in": big, "frames_next": v.near(big, 0.1),
            "pred_images": v.rand(2, 1, 3, 24, 24),
            "mask_in": v.rand(2, 1, 1, 24, 24), "pred_masks": v.rand(2, 1, 1, 24, 24),
            "mask_in_inferred": np.array([[True], [True]]), "key_images": v.near(big, 0.2),
            "key_masks": v.binary(2, 1, 1, 24, 24), "key_valid": np.array([[True], [True]]),
            "cfg": {"gamma1": 0.5}}  # fmt: skip
    v.add("training_loss", "float32-24x24", args, call_for("float32"), "float32")
    args = {**args, "mask_in_inferred": np.array([True, True])}
    v.add("training_loss", "error-inferred-shape", args, call_for("float64"))


# --- metrics -----------------------------------------------------------------------------------


def add_metrics(v: Vectors) -> None:
    yy, xx = np.mgrid[0:20, 0:20]

    def blob(cy: float, cx: float, r: float) -> np.ndarray:
        return (((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r).astype(np.float64)

    mask_pairs = {
        "random-soft-3x5": (v.rand(3, 5), v.rand(3, 5)),
        "random-1x7x9": (v.rand(1, 7, 9), v.rand(1, 7, 9)),
        "blobs-20x20": (blob(10, 10, 5), blob(11, 9, 6)),
        "empty-empty": (np.zeros((4, 6)), np.zeros((4, 6))),
        "full-full": (np.ones((4, 6)), np.ones((4, 6))),
        "empty-full": (np.zeros((4, 6)), np.ones((4, 6))),
        "half-threshold": (np.full((2, 3), 0.5), np.ones((2, 3))),
        "tiny-1x1": (np.ones((1, 1)), np.ones((1, 1))),
    }
    for fn, impl in {"dice": metrics.dice, "iou": metrics.iou}.items():
        for name, (p, t) in mask_pairs.items():
            v.add(fn, name, {"pred": p, "target": t}, impl)
        v.add(
            fn,
            "error-shape",
            {"pred": np.zeros((3, 5)), "target": np.zeros((3, 4))},
            impl,
        )
    for tol in (0, 1, 1.5, 2, 3):
        for name, (p, t) in mask_pairs.items():
            v.add(
                "boundary_f",
                f"{name}-tol{tol}",
                {"pred": p, "target": t, "tolerance": tol},
                metrics.boundary_f,
            )
        noise = (v.rand(13, 11), v.rand(13, 11))
        v.add(
            "boundary_f",
            f"noise-13x11-tol{tol}",
            {"pred": noise[0], "target": noise[1], "tolerance": tol},
            metrics.boundary_f,
        )
    v.add(
        "boundary_f",
        "error-tolerance",
        {"pred": np.zeros((3, 3)), "target": np.zeros((3, 3)), "tolerance": -1},
        metrics.boundary_f,
    )
    image_metrics: Dict[str, Callable[..., float]] = {"psnr": metrics.psnr, "ssim": metrics.ssim}
    for fn, impl in image_metrics.items():
        for shape in [(3, 5), (3, 7, 9), (1, 12, 10), (1, 1), (2, 13)]:
            a = v.rand(*shape)
            v.add(
                fn,
                f"near-{'x'.join(map(str, shape))}",
                {"a": a, "b": v.near(a, 0.2)},
                impl,
            )
            v.add(
                fn,
                f"random-{'x'.join(map(str, shape))}",
                {"a": a, "b": v.rand(*shape)},
                impl,
            )
        x = v.rand(3, 6, 6)
        v.add(fn, "identical", {"a": x, "b": x.copy()}, impl)
        v.add(fn, "error-range", {"a": x, "b": x * 3}, impl)
    seq = np.stack([blob(10, 8 + i, 5) for i in range(5)])
    v.add("temporal_stability", "moving-blob", {"masks": seq}, metrics.temporal_stability)
    v.add(
        "temporal_stability",
        "soft-1ch",
        {"masks": v.rand(4, 1, 5, 7)},
        metrics.temporal_stability,
    )
    v.add(
        "temporal_stability",
        "steady-empty",
        {"masks": np.zeros((3, 4, 4))},
        metrics.temporal_stability,
    )
    v.add(
        "temporal_stability",
        "error-one-frame",
        {"masks": np.zeros((1, 4, 4))},
        metrics.temporal_stability,
    )
    for n, step in [(10, 3), (0, 2), (3, 5), (7, 1)]:
        v.add(
            "select_fixed_step",
            f"n{n}-step{step}",
            {"n": n, "step": step},
            metrics.select_fixed_step,
        )
    v.add(
        "select_fixed_step",
        "error-step",
        {"n": 4, "step": 0},
        metrics.select_fixed_step,
    )
    base = v.rand(3, 6, 5)
    frames = np.stack([np.clip(base + 0.04 * i, 0, 1) for i in range(8)])
    frames[3] = v.rand(3, 6, 5)
    frames[6] = 1 - frames[6]
    frames = np.round(frames, 6)
    for d_name in ("ssim", "1-l1", "ncc"):
        for mode in ("keep-dissimilar", "keep-similar"):
            for thr in (0.5, 0.9):
                args = {
                    "frames": frames,
                    "mode": mode,
                    "threshold": thr,
                    "d_name": d_name,
                }
                v.add(
                    "select_by_similarity",
                    f"{d_name}-{mode}-{thr}",
                    args,
                    metrics.select_by_similarity,
                )
    same = np.repeat(v.rand(1, 5, 5), 4, axis=0)
    for mode in ("keep-dissimilar", "keep-similar"):
        args = {"frames": same, "mode": mode, "threshold": 1.0, "d_name": "ssim"}
        v.add(
            "select_by_similarity",
            f"identical-{mode}-at-1",
            args,
            metrics.select_by_similarity,
        )
    args = {"frames": same, "mode": "keep-all", "threshold": 0.5, "d_name": "ssim"}
    v.add("select_by_similarity", "error-mode", args, metrics.select_by_similarity)


def build(seed: int) -> Dict[str, Any]:
    v = Vectors(seed)
    add_pairwise(v)
    add_theta(v)
    add_method_losses(v)
    add_training_loss(v)
    add_metrics(v)
    return {"format": FORMAT, "version": VERSION, "seed": seed, "cases": v.cases}


def write_atomic(path: Path, payload: Dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f, separators=(",", ":"), allow_nan=False)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", required=True, help="directory; the file is <out>/loss-vectors.json"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    configure_threads(1)  # tiny tensors: threads only cost start-up time
    payload = build(args.seed)
    path = Path(args.out) / "loss-vectors.json"
    write_atomic(path, payload)
    print(
        json.dumps(
            {
                "path": str(path),
                "cases": len(payload["cases"]),
                "bytes": path.stat().st_size,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
