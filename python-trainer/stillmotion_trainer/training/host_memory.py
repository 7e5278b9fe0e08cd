"""Keep the host memory a training step frees inside the process, for the next step to reuse.

glibc's malloc serves every block above its mmap threshold (128 KiB, rising to at most 32 MiB)
with a fresh mmap() and unmaps it on free, so each step allocates its large tensors (frames
gathered per walk, activations, SSIM planes) from new pages, and the kernel zero-fills every one
of them on first touch. A step repeats the same allocations, so keeping freed blocks in the heap
(no mmap'd blocks, trimming only above 1 GiB free at the top) lets the next step reuse warm
pages. Measured on the 2-core development VM (issue L, docs/training.md "Training speed"): the
SSIM blur of 144 x 5 planes of 128 x 128 took 7.6 s with glibc's defaults and 1.3 s with this;
the real-propagation recipe's step at 128 px went from 12.3 s to 5.0 s. The price is that the
process's resident memory stays at its peak instead of shrinking between steps.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, glibc's malloc.h
M_MMAP_MAX = -4
TRIM_THRESHOLD_BYTES = 1 << 30


def keep_freed_memory() -> bool:
    """Make this process's glibc malloc keep freed blocks for reuse (module docstring).

    Returns True when the setting took effect; False where there is no glibc malloc to tune
    (another OS or C library), which changes only speed, never results.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
    )
