"""The fused C++ kernels, compiled on first use, with a pure-torch fallback.

``bspline.cpp`` evaluates B-spline bases (and the base function) per point; ``network.cpp`` runs a
whole KAN, forward and backward, on top of it; ``bindings.cpp`` exposes both. They are compiled
as one translation unit, in that order.

Evaluating bases with tensor operations costs dozens of small kernels per layer; the fused
kernel does one pass per point and is several times faster on CPU. It is built once with
:func:`torch.utils.cpp_extension.load_inline` (a C++ compiler and ninja are needed; ninja is a
dependency) and cached by torch under ``~/.cache/torch_extensions``. Where the build fails, or
with ``KANDISCO_NATIVE=0`` in the environment, :func:`kernel` returns None and the layers use the
torch implementation in :mod:`kandisco.kan.spline`, which gives the same values.

Notices go to the ``kandisco.kan.native`` logger (a child of ``kandisco``): a fresh compile is
logged at INFO, a build that failed (torch fallback) at DEBUG; nothing is printed.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import threading
import time
from pathlib import Path
from types import ModuleType

__all__ = ["kernel", "unavailable_reason"]

_SOURCES = [Path(__file__).with_name(name) for name in ("bspline.cpp", "network.cpp", "bindings.cpp")]
_lock = threading.Lock()
_state: dict[str, object] = {}
_log = logging.getLogger(__name__)


def _build_directory(name: str) -> Path:
    """Where the build of ``name`` lives: torch's extension root (``TORCH_EXTENSIONS_DIR`` if set)."""
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or str(Path.home() / ".cache" / "torch_extensions")
    tag = f"py{sys.version_info.major}{sys.version_info.minor}_cpu"
    path = Path(root) / tag / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _exclusive(path: Path):
    """An inter-process lock that dies with its holder (``flock``), where the OS has one."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): torch's own lock file is all there is
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _source() -> str:
    """The kernels' C++ source, one translation unit."""
    return "\n".join(path.read_text() for path in _SOURCES)


def _build_name() -> str:
    """The extension's name, with a hash of the kernel source, the torch version and the Python
    environment.

    load_inline writes the source into the build directory, so the build does not depend on where
    this package lives (two checkouts in one environment share one build). The hash keeps
    different kernels, torch versions and environments in different builds: two virtual
    environments sharing one build directory rebuilt it back and forth (about 40 s each time,
    measured with two clones, each with its own .venv).
    """
    import torch

    environment = f"{Path(torch.__file__).resolve().parent}\n{Path(sys.prefix).resolve()}"
    key = f"{_source()}\n{torch.__version__}\n{environment}"
    return f"kandisco_bspline_{hashlib.sha1(key.encode()).hexdigest()[:12]}"


def _build() -> ModuleType:
    from torch.utils import cpp_extension

    start = time.perf_counter()
    source = _source()
    name = _build_name()
    build_dir = _build_directory(name)
    # torch guards a build with a plain lock file and waits forever while it exists, so a build
    # killed midway (Ctrl-C in the first fit) would hang every later run. Builders take this flock
    # first (released by the OS even when a holder dies); whoever holds it knows that a torch lock
    # file left in the directory is stale and removes it.
    with _exclusive(build_dir / "kandisco.lock"):
        (build_dir / "lock").unlink(missing_ok=True)
        module = cpp_extension.load_inline(
            name=name,
            cpp_sources=[source],
            extra_cflags=["-O3", "-fopenmp"],  # at::parallel_for is OpenMP-inline: without it, serial
            extra_ldflags=["-fopenmp"],
            build_directory=str(build_dir),
            verbose=False,
        )
    took = time.perf_counter() - start
    if took > 5:  # a fresh compile, not a cache hit: say why the first fit paused
        _log.info("building the B-spline kernel took %.0f s (once per Python environment; cached)", took)
    return module


def kernel() -> ModuleType | None:
    """The compiled extension, or None where it is disabled or cannot be built (reason kept)."""
    if "module" in _state:
        return _state["module"]  # type: ignore[return-value]
    with _lock:
        if "module" not in _state:
            if os.environ.get("KANDISCO_NATIVE", "1").strip().lower() in ("0", "false", "no", "off"):
                _state["module"], _state["reason"] = None, "disabled by KANDISCO_NATIVE=0"
            else:
                try:
                    _state["module"], _state["reason"] = _build(), None
                except Exception as exc:  # noqa: BLE001 - no compiler/ninja/headers: any failure means fall back
                    _state["module"] = None
                    _state["reason"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1][:200]}"
                    _log.debug("the compiled kernel is unavailable (%s): using the torch implementation", _state["reason"])
    return _state["module"]  # type: ignore[return-value]


def unavailable_reason() -> str | None:
    """Why :func:`kernel` is None (after it has been called), else None."""
    kernel()
    return _state.get("reason")  # type: ignore[return-value]
