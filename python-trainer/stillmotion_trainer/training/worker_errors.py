"""DataLoader batches whose errors keep their type across worker processes.

torch re-raises an exception from a worker as `exc_type(message_with_traceback)` and falls back
to a RuntimeError when that constructor call fails, which it does for DatasetError(reason, path,
message). So a truncated PNG read in a worker reached the user as a RuntimeError traceback. Here
the worker returns our error as the batch instead (errors pickle intact, see StillMotionError),
and the loop raises it in the main process with its code, reason and file.
"""

from __future__ import annotations

from typing import Any, Sequence

from torch.utils.data import Dataset
from torch.utils.data._utils.collate import default_collate

from stillmotion_trainer.errors import StillMotionError


class CarriedError:
    """A StillMotionError raised while loading an item, travelling in place of the item."""

    __slots__ = ("error",)

    def __init__(self, error: StillMotionError) -> None:
        self.error = error


class CarryErrors(Dataset):
    """Wraps a map-style dataset: an item that raises StillMotionError becomes a CarriedError."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        try:
            return self.dataset[index]
        except StillMotionError as err:
            return CarriedError(err)


def collate_or_carry(items: Sequence[Any]) -> Any:
    """default_collate, unless an item failed: then the first failure stands for the batch."""
    for item in items:
        if isinstance(item, CarriedError):
            return item
    return default_collate(items)


def raise_carried(batch: Any) -> Any:
    """The batch itself, or the error a worker carried, raised here in the main process."""
    if isinstance(batch, CarriedError):
        raise batch.error
    return batch
