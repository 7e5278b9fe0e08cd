"""Process-level set-up shared by every entry point: CPU threads and dying with the parent.

Debian's torch starts with one OpenMP thread on this kind of machine, which halves training
speed; we size the pool from the cores this process may actually run on.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from typing import Callable

import torch

PR_SET_PDEATHSIG = 1


def available_cores() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_threads(num_threads: int | None = None) -> int:
    """Set torch's intra-op threads to `num_threads` (default: all available cores)."""
    n = num_threads or int(os.environ.get("STILLMOTION_THREADS", "0")) or available_cores()
    torch.set_num_threads(n)
    return n


def die_with_parent(on_orphaned: Callable[[], None], parent: int | None = None) -> None:
    """Make sure this process never outlives the process that started it.

    Two layers: the kernel's PR_SET_PDEATHSIG sends SIGTERM when the parent thread exits (Linux
    only), and a watchdog thread notices re-parenting (getppid changes) everywhere else. `parent`
    is the pid the parent gave us: without it, a parent that died while we were still importing
    torch goes unnoticed (we would take our new parent, init, for it).
    """
    parent = parent or os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    if os.getppid() != parent:  # parent died before prctl took effect
        on_orphaned()
        return

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                on_orphaned()
                return

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()
