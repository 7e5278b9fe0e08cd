"""all_reduce_stats between 2 real processes (gloo over a file store): values meet by name."""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from stillmotion_trainer.training.distributed import (
    DistContext,
    StatsMismatchError,
    all_reduce_stats,
)

WORLD = 2


def _rank_main(rank: int, store: str, out_dir: str, mismatch: bool) -> None:
    """One rank: join the group, reduce dicts built in a rank-specific key order, save results."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=WORLD)
    ctx = DistContext(rank, WORLD, 0, torch.device("cpu"), True)
    result: dict[str, object] = {}
    try:
        if mismatch:  # same count of values, one name differs on rank 1
            name = "extra" if rank == 1 else "other"
            all_reduce_stats({"loss": 1.0, name: 2.0}, ctx)
        else:
            # rank 0 lists its statistics in one order, rank 1 in the reverse order
            stats = {"loss": torch.tensor(1.0 + rank), "clips": 3.0 * (rank + 1), "iou": 0.25}
            if rank == 1:
                stats = dict(reversed(list(stats.items())))
            result["mean"] = all_reduce_stats(stats, ctx)
            result["sum"] = all_reduce_stats(stats, ctx, op="sum")
            result["mean_keys"] = list(result["mean"])  # type: ignore[arg-type]
    except StatsMismatchError as err:
        result["error"] = {"type": type(err).__name__, "code": err.code, "message": str(err)}
    except Exception:  # anything else: report it to the test instead of a silent exit code
        result["error"] = {"type": "unexpected", "message": traceback.format_exc()}
    finally:
        dist.destroy_process_group()
    Path(out_dir, f"rank{rank}.json").write_text(json.dumps(result))


def _run_two_ranks(tmp_path: Path, mismatch: bool = False) -> list[dict]:
    mp.spawn(_rank_main, args=(str(tmp_path / "store"), str(tmp_path), mismatch), nprocs=WORLD)
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]


@pytest.mark.slow
def test_two_ranks_get_each_statistic_summed_and_averaged_by_name(tmp_path):
    ranks = _run_two_ranks(tmp_path)
    for rank, result in enumerate(ranks):
        assert "error" not in result, result
        assert result["sum"] == {"loss": 3.0, "clips": 9.0, "iou": 0.5}
        assert result["mean"] == {"loss": 1.5, "clips": 4.5, "iou": 0.25}
    # each rank gets its answer back in the order it asked in
    assert ranks[0]["mean_keys"] == ["loss", "clips", "iou"]
    assert ranks[1]["mean_keys"] == ["iou", "clips", "loss"]


@pytest.mark.slow
def test_ranks_that_name_their_statistics_differently_both_get_a_typed_error(tmp_path):
    for rank, result in enumerate(_run_two_ranks(tmp_path, mismatch=True)):
        error = result.get("error")
        assert error is not None and error["type"] == "StatsMismatchError", result
        assert error["code"] == "INTERNAL"
        assert f"rank {rank}: all_reduce_stats over" in error["message"]


def test_one_process_returns_the_values_as_floats_in_the_order_given():
    ctx = DistContext(0, 1, 0, torch.device("cpu"), False)
    stats = {"b": torch.tensor(0.5), "a": 2}
    assert all_reduce_stats(stats, ctx) == {"b": 0.5, "a": 2.0}
    assert list(all_reduce_stats(stats, ctx, op="sum")) == ["b", "a"]


def test_an_unknown_op_lists_the_allowed_ones():
    ctx = DistContext(0, 1, 0, torch.device("cpu"), False)
    with pytest.raises(
        ValueError, match="op: unsupported value 'max'. Should be one of: sum, mean"
    ):
        all_reduce_stats({"a": 1.0}, ctx, op="max")
