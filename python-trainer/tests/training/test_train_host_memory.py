"""keep_freed_memory tunes glibc's malloc where there is one, and is a no-op elsewhere."""

from __future__ import annotations

import platform
import sys

import torch

from stillmotion_trainer.training.host_memory import keep_freed_memory


def test_keep_freed_memory_takes_effect_exactly_where_glibc_malloc_is():
    glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
    assert keep_freed_memory() is glibc
    assert keep_freed_memory() is glibc  # calling it again is harmless
    x = torch.rand(3_000_000)  # a 12 MB block, above glibc's default mmap threshold
    assert float((x * 0).sum()) == 0.0  # allocation still works
