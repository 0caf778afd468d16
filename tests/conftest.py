"""Shared test fixtures."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module on one intra-op thread: on a machine where another process keeps a core busy,
    torch's 2-thread OpenMP barriers stall small ops (measured 8 s -> 100+ s for the affine suite)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
