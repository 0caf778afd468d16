"""Run a function under a wall-clock cap (sympy's simplify can run for minutes).

Preferred: a forked child that is killed at the deadline. Where a child is not allowed (inside a
daemonic worker of a process pool) or fork does not exist, the main thread uses a SIGALRM timer;
elsewhere the call runs uncapped.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import threading
from typing import Any, Callable

__all__ = ["call_with_timeout", "TimedOut"]


class TimedOut(Exception):
    """The call did not finish within its cap."""


def _child(fn: Callable[..., Any], args: tuple, queue: "mp.Queue") -> None:
    try:
        queue.put(("ok", fn(*args)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent
        queue.put(("error", exc))


def call_with_timeout(fn: Callable[..., Any], args: tuple, timeout: float) -> Any:
    """``fn(*args)``, raising :class:`TimedOut` after ``timeout`` seconds (exceptions propagate)."""
    if not mp.current_process().daemon and "fork" in mp.get_all_start_methods():
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(fn, args, queue), daemon=True)
        proc.start()
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            proc.join()
            raise TimedOut(f"took longer than {timeout:g} s")
        if queue.empty():
            raise TimedOut("the worker died without a result")
        kind, value = queue.get()
        if kind == "error":
            raise value
        return value
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGALRM"):
        def on_alarm(signum: int, frame: Any) -> None:
            raise TimedOut(f"took longer than {timeout:g} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 1e-3))
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return fn(*args)
