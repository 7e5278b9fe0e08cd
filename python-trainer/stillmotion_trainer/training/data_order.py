"""Which clips each step trains on: a function of (seed, epoch, batch index) only.

The order never depends on how much global randomness was consumed before, so a resumed run
(which restarts at a saved (epoch, batch_in_epoch)) and an uninterrupted run see the same
batches, and N distributed processes together see exactly the batches one process would:
global batch i of an epoch is split into N equal contiguous slices, slice r for rank r.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np


def epoch_permutation(n: int, seed: int, epoch: int) -> list[int]:
    """A shuffle of range(n) determined by (seed, epoch)."""
    return [int(i) for i in np.random.default_rng([seed, epoch, 0x5EED]).permutation(n)]


def epoch_batches(n: int, global_batch: int, seed: int, epoch: int) -> list[list[int]]:
    """The full global batches of an epoch (the last partial batch is dropped)."""
    order = epoch_permutation(n, seed, epoch)
    return [order[i : i + global_batch] for i in range(0, n - global_batch + 1, global_batch)]


def rank_slice(global_batch: list[int], rank: int, world_size: int) -> list[int]:
    """Rank `rank`'s contiguous share of a global batch (batch size divisible by world size)."""
    per_rank = len(global_batch) // world_size
    return global_batch[rank * per_rank : (rank + 1) * per_rank]


class RunBatches:
    """Every batch of one rank from (start_epoch, skip) on, epoch after epoch, as lists of
    (epoch, index) dataset keys.

    One DataLoader over this serves the whole run, so its worker processes are forked once
    rather than once per epoch (a fork per epoch cost ~10 % of steps/s on 2 cores, more from a
    process with gRPC threads); the keys carry the epoch because those workers never see the
    parent's set_epoch.
    """

    def __init__(
        self, n: int, global_batch: int, seed: int, start_epoch: int, skip: int,
        rank: int = 0, world_size: int = 1,
    ) -> None:  # fmt: skip
        if n < global_batch:
            raise ValueError(f"{n} clips cannot fill one global batch of {global_batch}")
        self.n, self.global_batch, self.seed = n, global_batch, seed
        self.start_epoch, self.skip = start_epoch, skip
        self.rank, self.world_size = rank, world_size

    @property
    def per_epoch(self) -> int:
        return self.n // self.global_batch

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, skip = self.start_epoch, self.skip
        while True:
            for batch in epoch_batches(self.n, self.global_batch, self.seed, epoch)[skip:]:
                yield [(epoch, i) for i in rank_slice(batch, self.rank, self.world_size)]
            epoch, skip = epoch + 1, 0


def validation_shard(n: int, limit: int | None, rank: int, world_size: int) -> list[int]:
    """Validation items of this rank: items 0..min(n, limit)-1, dealt round-robin."""
    total = n if limit is None else min(n, limit)
    return list(range(rank, total, world_size))
