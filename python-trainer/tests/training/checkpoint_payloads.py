"""Hostile checkpoint files for the safe-loading tests. Not a test module (no test_ prefix).

Each file runs code when fully unpickled: it creates `marker`. A loader that never unpickles
beyond tensors leaves the marker absent.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch

from stillmotion_trainer.training.checkpoint import FORMAT, VERSION


class _WritesMarker:
    """Unpickling this calls open(marker, "w"): the file appears if the pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (open, (self.marker, "w"))


def torch_zip_payload(path: Path, marker: Path) -> Path:
    """A torch zip archive that looks like a checkpoint, with the payload beside its keys."""
    torch.save(
        {"format": FORMAT, "version": VERSION, "tensors": [], "state": "{}",
         "extra": _WritesMarker(marker)},
        path,
    )  # fmt: skip
    return path


def legacy_pickle_payload(path: Path, marker: Path) -> Path:
    """A bare pickle (torch's legacy, non-zip layout is a pickle stream too)."""
    with open(path, "wb") as f:
        pickle.dump({"model": {}, "generator_config": {}, "x": _WritesMarker(marker)}, f)
    return path


def version1_payload(path: Path, marker: Path) -> Path:
    """A format-1 style dict (the old plain pickled checkpoint) with the payload in its RNG."""
    torch.save(
        {"format": FORMAT, "version": 1, "model": {}, "generator_config": {},
         "rng": {"python": _WritesMarker(marker)}},
        path,
    )  # fmt: skip
    return path


PAYLOADS = {
    "torch_zip": torch_zip_payload,
    "legacy_pickle": legacy_pickle_payload,
    "version1": version1_payload,
}
