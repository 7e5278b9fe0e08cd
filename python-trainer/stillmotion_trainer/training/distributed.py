"""Distributed set-up: one process per device under torchrun, or a plain single process.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; we then join the process group (gloo on CPU,
nccl on CUDA) and the loop wraps the networks in DistributedDataParallel. Rank 0 alone writes
checkpoints, metrics and events.

Debian 12's torch 1.13 on Python 3.11 ships a torchrun whose default `--redirects 0 --tee 0`
crashes (IntFlag iteration changed in 3.11); `torchrun --redirects 2 --tee 2 ...` works there
(docs/training.md). Newer torch releases need no flags.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, Union

import torch
import torch.distributed as dist

from stillmotion_trainer.errors import StillMotionError
from stillmotion_trainer.training.config import ConfigError

REDUCE_OPS = ("sum", "mean")


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    initialized_here: bool  # we called init_process_group, so we tear it down

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def resolve_device(preference: str, local_rank: int = 0) -> torch.device:
    """ "cpu", "cuda" (error if absent) or "auto" (cuda when available) -> a torch.device."""
    if preference == "cpu":
        return torch.device("cpu")
    if preference == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(['train.device: "cuda" was asked for, but CUDA is not available'])
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if preference == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    raise ConfigError(
        [f'train.device: unsupported value "{preference}". Should be one of: auto, cpu, cuda']
    )


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device_preference: str) -> DistContext:
    """Join the torchrun process group when there is one; otherwise a 1-process context."""
    if not launched_by_torchrun():
        return DistContext(0, 1, 0, resolve_device(device_preference), False)
    rank = int(os.environ["RANK"])
    world = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_preference, local_rank)
    initialized_here = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        initialized_here = True
    return DistContext(rank, world, local_rank, device, initialized_here)


def local_world_size() -> int:
    return int(os.environ.get("LOCAL_WORLD_SIZE", "1"))


class StatsMismatchError(StillMotionError):
    """The ranks all-reduced statistics under different names (a bug, never bad input)."""

    code = "INTERNAL"


def all_reduce_stats(
    stats: Mapping[str, Union[float, torch.Tensor]], ctx: DistContext, op: str = "mean"
) -> dict[str, float]:
    """Sum ("sum") or average ("mean" = sum / world_size) named scalars over all ranks.

    One collective: the values travel as one float64 tensor (sums of float32 losses stay
    exact-ish) laid out in sorted-key order, so every rank packs them alike whatever order it
    built its dict in. The CRC-32 of the key list travels as one more element: if any rank used
    other names, the sum of those checksums differs from world_size times this rank's own and
    every rank raises StatsMismatchError instead of reading another statistic's value. The
    result keeps the order of `stats`. Every rank must call it at the same point of the loop.
    """
    if op not in REDUCE_OPS:
        raise ValueError(f"op: unsupported value {op!r}. Should be one of: {', '.join(REDUCE_OPS)}")
    if not ctx.enabled:
        return {name: float(value) for name, value in stats.items()}
    names = sorted(stats)
    checksum = float(zlib.crc32("\0".join(names).encode()))
    device = ctx.device if ctx.device.type == "cuda" else torch.device("cpu")
    packed = [float(stats[name]) for name in names] + [checksum]
    t = torch.tensor(packed, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    *sums, checksum_sum = t.cpu().tolist()
    if checksum_sum != checksum * ctx.world_size:
        raise StatsMismatchError(
            f"rank {ctx.rank}: all_reduce_stats over {names}, but another rank used other names"
        )
    reduced = dict(zip(names, sums))
    if op == "mean":
        reduced = {name: value / ctx.world_size for name, value in reduced.items()}
    return {name: reduced[name] for name in stats}


def parameter_digest(*modules: torch.nn.Module) -> str:
    """SHA-256 of every parameter's bytes, in state_dict order: equal digests = equal weights."""
    h = hashlib.sha256()
    for module in modules:
        for name, tensor in module.state_dict().items():
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def replica_digests(modules: Sequence[torch.nn.Module], ctx: DistContext) -> list[str]:
    """parameter_digest of every rank (a collective: all ranks must call it together)."""
    mine = parameter_digest(*modules)
    if not ctx.enabled:
        return [mine]
    gathered: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(gathered, mine)
    return [str(d) for d in gathered]


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def shutdown(ctx: DistContext) -> None:
    if ctx.initialized_here and dist.is_initialized():
        dist.destroy_process_group()
