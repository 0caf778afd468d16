"""Shared test fixtures. The suite runs discovery in strict mode: a programming error inside a
strategy fails the test instead of becoming a warning in the result."""

import os
import subprocess
import sys

import pytest
import torch

os.environ.setdefault("KANDISCO_STRICT", "1")


@pytest.fixture
def run_snippet():
    """Run Python code in a fresh interpreter (what a new process sees: imports, builds, caches);
    returns its stripped stdout and fails the test on a non-zero exit, showing stderr."""

    def run(code: str, env: dict | None = None, timeout: float = 300) -> str:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    return run


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run a module on one intra-op thread: on a machine where another process keeps a core busy,
    torch's 2-thread OpenMP barriers stall small ops (measured 8 s -> 100+ s for the affine suite)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
