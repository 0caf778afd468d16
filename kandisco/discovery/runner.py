"""Running a search plan: strategies in this process, in worker processes, or on a Dask cluster.

Whatever runs them, outcomes are handed to the caller *in plan order*: a strategy that finishes
early waits until every strategy before it has been judged. The caller's stopping rule (an exact
law ends the search) therefore sees the same sequence with one worker or sixteen, and for a fixed
seed and a plan that fits in the time budget the result does not depend on the number of workers.
(A time budget can still change it: more workers start more strategies before it runs out.)

Every strategy runs with one torch thread, so that its numbers do not depend on how many threads
the process has either. Workers are forked (Linux): the plan and the problem are inherited, not
pickled, so a custom symbolic library with lambdas works; a model comes back as its saved file.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

import sympy
import torch

from .problem import NothingToPropose, Problem
from .strategies import Strategy

__all__ = ["Outcome", "default_jobs", "execute", "run_plan"]


@dataclass
class Outcome:
    """One strategy run: its formulas, its model (or the model's saved bytes), or why it failed."""

    index: int
    name: str
    seed: int
    status: str  # "ok", "nothing" (the strategy does not apply) or "failed"
    seconds: float
    formulas: list[sympy.Expr] = field(default_factory=list)
    model: Any = None
    model_bytes: bytes | None = None
    error: str = ""  # "TypeError: ..." when failed, the reason when "nothing"
    error_type: str = ""
    trace: str = ""
    notes: list[str] = field(default_factory=list)


def default_jobs() -> int:
    """The cores this process may use (its CPU affinity where the platform says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def execute(strategy: Strategy, problem: Problem, index: int, deadline_wall: float | None) -> Outcome:
    """Run one strategy with one torch thread; exceptions become a failed outcome (never raised).

    ``deadline_wall`` is a ``time.time()`` value, so it means the same on another machine.
    """
    deadline = time.perf_counter() + (deadline_wall - time.time()) if deadline_wall is not None else None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    try:
        proposal = strategy.propose(problem, deadline)
    except NothingToPropose as exc:
        return Outcome(index, strategy.name, strategy.seed, "nothing", time.perf_counter() - t0, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - recorded (and re-raised by the caller in strict mode)
        return Outcome(index, strategy.name, strategy.seed, "failed", time.perf_counter() - t0,
                       error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__, trace=traceback.format_exc())
    finally:
        torch.set_num_threads(threads)
    return Outcome(index, strategy.name, strategy.seed, "ok", time.perf_counter() - t0, proposal.formulas,
                   model=proposal.model, notes=list(proposal.notes))


def _detach_model(outcome: Outcome) -> Outcome:
    """Replace the model object by its saved file's bytes (models hold unpicklable library functions)."""
    if outcome.model is not None:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                outcome.model_bytes = outcome.model.save(Path(tmp) / "model").read_bytes()
            except (OSError, AttributeError, RuntimeError, TypeError):
                outcome.model_bytes = None  # the formulas are what matters; the model is a by-product
        outcome.model = None
    return outcome


# ------------------------------------------------------------------------------ pools
# the plan and problem of the pool being started: forked workers read them from here
_FORK_STATE: dict[str, Any] = {}


def _child(conn: Connection, index: int, deadline_wall: float | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends us
    outcome = execute(_FORK_STATE["plan"][index], _FORK_STATE["problem"], index, deadline_wall)
    conn.send(_detach_model(outcome))
    conn.close()


class _ForkPool:
    """At most ``n_jobs`` forked processes, one per strategy."""

    def __init__(self, plan: Sequence[Strategy], problem: Problem) -> None:
        self.ctx = mp.get_context("fork")
        _FORK_STATE.update(plan=list(plan), problem=problem)
        self.running: dict[Connection, tuple[int, Any]] = {}

    def submit(self, index: int, deadline_wall: float | None) -> None:
        reader, writer = self.ctx.Pipe(duplex=False)
        proc = self.ctx.Process(target=_child, args=(writer, index, deadline_wall), daemon=True)
        proc.start()
        writer.close()
        self.running[reader] = (index, proc)

    def wait(self, timeout: float) -> list[Outcome]:
        out: list[Outcome] = []
        for ready in wait(list(self.running), timeout=timeout):
            reader = self.running_reader(ready)
            index, proc = self.running.pop(reader)
            try:
                outcome: Outcome = reader.recv()
            except (EOFError, OSError):
                proc.join(5)
                strategy = _FORK_STATE["plan"][index]
                outcome = Outcome(index, strategy.name, strategy.seed, "failed", 0.0,
                                  error=f"worker process died (exit code {proc.exitcode})", error_type="WorkerDied")
            reader.close()
            proc.join(5)
            out.append(outcome)
        return out

    def running_reader(self, ready: object) -> Connection:
        """The pipe ``multiprocessing.connection.wait`` returned (it is typed as any waitable)."""
        return next(reader for reader in self.running if reader is ready)

    def close(self) -> None:
        for reader, (_, proc) in self.running.items():
            if proc.is_alive():
                proc.terminate()
            proc.join(5)
            reader.close()
        self.running.clear()
        _FORK_STATE.clear()


class _DaskPool:
    """The same jobs on a Dask distributed scheduler (strategies and problem travel by cloudpickle)."""

    def __init__(self, plan: Sequence[Strategy], problem: Problem, scheduler: Any) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise RuntimeError("scheduler= needs dask.distributed (pip install 'dask[distributed]')") from None
        self.client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
        self.own_client = not isinstance(scheduler, Client)
        self.plan, self.problem = list(plan), problem
        self.futures: dict[Any, int] = {}

    def submit(self, index: int, deadline_wall: float | None) -> None:
        future = self.client.submit(_remote, self.plan[index], self.problem, index, deadline_wall, pure=False)
        self.futures[future] = index

    def wait(self, timeout: float) -> list[Outcome]:
        from distributed import wait as dask_wait

        if not self.futures:
            return []
        try:
            done, _ = dask_wait(list(self.futures), timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:  # dask raises where concurrent.futures would return nothing done
            return []
        out = []
        for future in done:
            index = self.futures.pop(future)
            try:
                out.append(future.result())
            except Exception as exc:  # noqa: BLE001 - a worker lost or a pickling failure: the job failed
                strategy = self.plan[index]
                out.append(Outcome(index, strategy.name, strategy.seed, "failed", 0.0,
                                   error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__))
        return out

    def close(self) -> None:
        for future in self.futures:
            future.cancel()
        self.futures.clear()
        if self.own_client:
            self.client.close()


def _remote(strategy: Strategy, problem: Problem, index: int, deadline_wall: float | None) -> Outcome:
    return _detach_model(execute(strategy, problem, index, deadline_wall))


# ------------------------------------------------------------------------------- loop
def run_plan(
    plan: Sequence[Strategy],
    problem: Problem,
    on_outcome: Callable[[Outcome], bool],
    *,
    budget_seconds: float,
    start: float,
    n_jobs: int = 1,
    scheduler: Any = None,
) -> list[str]:
    """Run ``plan`` until ``on_outcome`` (called in plan order) returns True or the budget is spent.

    A strategy is not started when the time left is less than the mean duration of the strategies
    of its kind so far. ``start`` is the search's ``time.perf_counter()`` origin. Returns notes
    (e.g. that workers were not available and the plan ran in this process).
    """
    notes: list[str] = []
    deadline_wall = time.time() + budget_seconds - (time.perf_counter() - start)
    durations: dict[str, list[float]] = {}

    def kind(index: int) -> str:
        return str(plan[index].describe().get("kind", plan[index].name))

    def fits(index: int) -> bool:
        past = durations.get(kind(index), [])
        expected = sum(past) / len(past) if past else 0.0
        return time.perf_counter() - start + expected <= budget_seconds

    if scheduler is None and n_jobs > 1 and sys.platform != "linux":
        notes.append(f"n_jobs={n_jobs}: worker processes need fork (Linux); the strategies ran in this process")
        n_jobs = 1
    if scheduler is None and (n_jobs <= 1 or len(plan) <= 1):
        for index, strategy in enumerate(plan):
            if not fits(index):
                break
            outcome = execute(strategy, problem, index, deadline_wall)
            durations.setdefault(kind(index), []).append(outcome.seconds)
            if on_outcome(outcome):
                break
        return notes

    pool: _ForkPool | _DaskPool = _DaskPool(plan, problem, scheduler) if scheduler is not None else _ForkPool(plan, problem)
    width = n_jobs if scheduler is None else max(n_jobs, len(plan))
    upcoming, running, finished, judged = 0, 0, {}, 0
    try:
        while judged < len(plan):
            while running < width and upcoming < len(plan) and fits(upcoming):
                pool.submit(upcoming, deadline_wall)
                upcoming, running = upcoming + 1, running + 1
            if running == 0 and judged == upcoming:
                break  # nothing running, nothing waiting to be judged, nothing more fits
            for outcome in pool.wait(timeout=0.5):
                running -= 1
                finished[outcome.index] = outcome
                durations.setdefault(kind(outcome.index), []).append(outcome.seconds)
            while judged in finished:
                if on_outcome(finished.pop(judged)):
                    return notes
                judged += 1
    finally:
        pool.close()
    return notes
