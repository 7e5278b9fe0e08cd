"""Fixtures shared by the training tests."""

import pytest
import torch


@pytest.fixture
def keep_torch_threads(monkeypatch):
    """The `train` command sizes torch's thread pool; keep the rest of the test process as it
    was (and run the command on one thread)."""
    monkeypatch.setenv("STILLMOTION_THREADS", "1")
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)
