"""The memory allocator the trainer runs on: tcmalloc when the machine has it, glibc otherwise.

Why: PyTorch on CPU allocates every activation afresh. glibc serves blocks above its mmap
threshold (128 KiB, rising to at most 32 MiB) with mmap and returns them with munmap, so each
step touches new pages and pays one page fault per 4 KiB. On a virtual machine a fault costs
10-20 us: a fresh 32 MiB tensor took 134 ms to copy into, one already mapped 2 ms. tcmalloc
keeps freed memory mapped and hands it out again. Measured on the 2-core development VM
(docs/training.md, "The allocator"; `npm run bench`, benchmark `allocator`): at 256 px a
key-frame adaptation step 2.0 -> 0.6 s, propagation 1.1 -> 4.1 frames/s (one thread).

How: the allocator must be in place before the interpreter allocates anything, i.e. set with
LD_PRELOAD when the process starts. `python -m stillmotion_trainer` (every entry point: the
orchestrator's trainer, torchrun's workers, a user's command line) re-executes itself once,
same pid and same arguments, with the library preloaded. `STILLMOTION_ALLOCATOR=system` turns
this off; a machine without the library (Debian: libtcmalloc-minimal4) runs on glibc as before.
Only the standard library is imported here: torch must not be loaded before the re-exec.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Mapping, Optional

ENV_CHOICE = "STILLMOTION_ALLOCATOR"  # "tcmalloc" (default) or "system"
LIBRARY = "libtcmalloc_minimal.so.4"
SEARCH_DIRS = (
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
)
# tcmalloc prints a warning with a stack trace for every allocation over this many bytes
# (default 1 GiB); a 512 px batch reaches that legitimately, so only report absurd sizes.
LARGE_ALLOC_REPORT = "TCMALLOC_LARGE_ALLOC_REPORT_THRESHOLD"
LARGE_ALLOC_REPORT_BYTES = str(64 << 30)


def find_tcmalloc(dirs: tuple[str, ...] = SEARCH_DIRS) -> Optional[str]:
    """Path of tcmalloc's shared library on this machine, or None."""
    for directory in dirs:
        candidate = Path(directory) / LIBRARY
        if candidate.is_file():
            return str(candidate)
    return None


def active() -> str:
    """The allocator this process runs on: "tcmalloc" when it is mapped, else "system"."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # not Linux
        return "system"
    return "tcmalloc" if "tcmalloc" in maps else "system"


def preload_environment(env: Mapping[str, str], library: Optional[str]) -> Optional[dict[str, str]]:
    """The environment to re-execute with, or None when this process should run as it is."""
    if env.get(ENV_CHOICE, "tcmalloc") == "system" or library is None:
        return None
    preload = env.get("LD_PRELOAD", "")
    if library in preload.split(":"):  # already asked for (loaded, or refused by the loader)
        return None
    new = dict(env)
    new["LD_PRELOAD"] = f"{library}:{preload}" if preload else library
    new.setdefault(LARGE_ALLOC_REPORT, LARGE_ALLOC_REPORT_BYTES)
    return new


def child_environment(env: Mapping[str, str], tcmalloc: bool) -> dict[str, str]:
    """`env` for a child process that runs on tcmalloc (where installed) or on glibc, whichever
    this process runs on: how the benchmarks compare the two side by side."""
    base = {k: v for k, v in env.items() if k != "LD_PRELOAD"}
    if not tcmalloc:
        return {**base, ENV_CHOICE: "system"}
    return preload_environment({**base, ENV_CHOICE: "tcmalloc"}, find_tcmalloc()) or base


def reexec_with_tcmalloc() -> None:
    """Replace this process by itself with tcmalloc preloaded (module docstring); returns only
    when that is not wanted or not possible. Call before anything imports torch."""
    if sys.platform != "linux" or active() == "tcmalloc":
        return
    env = preload_environment(os.environ, find_tcmalloc())
    if env is None:
        return
    # orig_argv (Python >= 3.10) keeps the interpreter's own options (-u, -X ...) as well
    argv = list(getattr(sys, "orig_argv", [])) or [
        sys.executable,
        "-m",
        "stillmotion_trainer",
        *sys.argv[1:],
    ]
    if "-m" not in argv:  # not started as `python -m stillmotion_trainer`: leave it be
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, argv, env)
    except OSError:  # exec refused (seccomp, noexec): run on glibc
        return
