"""The trainer re-executes itself with tcmalloc preloaded (stillmotion_trainer/allocator.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from stillmotion_trainer import allocator

TRAINER_DIR = Path(__file__).resolve().parents[1]


def version_line(**env: str) -> str:
    """`python -m stillmotion_trainer --version` in a fresh process with `env` added."""
    full = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", allocator.ENV_CHOICE)}
    full.update(env)
    done = subprocess.run(
        [sys.executable, "-m", "stillmotion_trainer", "--version"],
        cwd=TRAINER_DIR,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_the_trainer_runs_on_tcmalloc_where_installed_and_on_glibc_when_asked():
    expected = "tcmalloc" if allocator.find_tcmalloc() else "system"
    assert version_line().endswith(f"allocator {expected}")
    assert version_line(STILLMOTION_ALLOCATOR="system").endswith("allocator system")


def test_a_missing_library_leaves_the_process_as_it_is(tmp_path):
    assert allocator.find_tcmalloc((str(tmp_path),)) is None
    assert allocator.preload_environment({}, None) is None


def test_the_library_is_found_in_the_given_folders(tmp_path):
    (tmp_path / allocator.LIBRARY).write_bytes(b"")
    assert allocator.find_tcmalloc(("/nonexistent", str(tmp_path))) == str(
        tmp_path / allocator.LIBRARY
    )


def test_preload_is_prepended_once_and_large_allocation_reports_are_quietened():
    lib = "/usr/lib/x86_64-linux-gnu/" + allocator.LIBRARY
    env = allocator.preload_environment({"LD_PRELOAD": "/opt/other.so", "A": "1"}, lib)
    assert env is not None
    assert env["LD_PRELOAD"] == f"{lib}:/opt/other.so"
    assert env["A"] == "1"
    assert int(env[allocator.LARGE_ALLOC_REPORT]) >= 1 << 30
    # the re-executed process sees its own request and does not loop, even if the loader refused
    assert allocator.preload_environment(env, lib) is None
    assert allocator.preload_environment({"STILLMOTION_ALLOCATOR": "system"}, lib) is None
    assert allocator.preload_environment({}, lib) == {
        "LD_PRELOAD": lib,
        allocator.LARGE_ALLOC_REPORT: allocator.LARGE_ALLOC_REPORT_BYTES,
    }


def test_child_environments_pick_one_allocator_whatever_the_parent_runs_on():
    parent = {"LD_PRELOAD": "/x/libtcmalloc_minimal.so.4", "A": "1"}
    assert allocator.child_environment(parent, tcmalloc=False) == {
        "A": "1",
        allocator.ENV_CHOICE: "system",
    }
    child = allocator.child_environment(parent, tcmalloc=True)
    assert child["A"] == "1"
    assert child.get("LD_PRELOAD") == allocator.find_tcmalloc()  # None where not installed
