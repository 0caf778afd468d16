"""Run tasks x methods x noise levels x seeds, one process per job, results appended as they finish.

Each job runs in a fresh Python process (``python -m kandisco.bench.worker``) with a wall-clock limit
of budget + margin: a method that overruns is killed (with anything it started) and recorded as
``timeout``; an exception, a crash or a missing tool is recorded too (``error: ...``,
``unavailable: ...``), never raised. Rows are appended to ``DIR/results.jsonl`` one line per job as
soon as it ends, and a rerun skips the (task, method, noise, seed) jobs already there, so an
interrupted run resumes where it stopped (rows marked ``unavailable`` are tried again). Each sitting
appends a session to ``DIR/manifest.json`` (:mod:`kandisco.bench.provenance`: commit, packages,
cores, command line) and each row carries the commit.

Locally, ``jobs`` threads each wait on one job process (one core per job: the worker pins torch and
BLAS to one thread). With ``scheduler`` the same :func:`run_job` goes to a Dask distributed cluster
(``dask.distributed.Client(address)``); job data is generated here and shipped with the job, so
every worker sees the same rows.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generator, Iterable, Sequence

from .methods import get_method
from .tasks import BenchError, Task, TaskData

__all__ = ["Job", "RESULTS_FILE", "DEFAULT_MARGIN", "make_jobs", "run_job", "run_bench", "load_results",
           "latest_rows", "job_key"]

RESULTS_FILE = "results.jsonl"
DEFAULT_MARGIN = 60.0  # seconds a job may run past its budget (start-up, scoring) before it is killed

_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


@dataclass(frozen=True)
class Job:
    """One (task, method, noise, seed) fit with its budget and hard wall-clock limit (seconds)."""

    task: Task
    method: str
    noise: float
    seed: int
    budget: float
    limit: float
    n_train: int = 1000
    n_test: int = 1000
    equivalence_timeout: float = 10.0

    @property
    def key(self) -> tuple[str, str, float, int]:
        return (self.task.id, self.method, float(self.noise), int(self.seed))

    def base_row(self) -> dict[str, Any]:
        return {"task": self.task.id, "suite": self.task.suite, "method": self.method, "noise": float(self.noise),
                "seed": int(self.seed), "budget": float(self.budget), "limit": float(self.limit),
                "n_train": self.n_train, "n_vars": len(self.task.features), "truth": self.task.formula}


def job_key(row: dict[str, Any]) -> tuple[str, str, float, int]:
    """The (task, method, noise, seed) identity of a result row."""
    return (row["task"], row["method"], float(row["noise"]), int(row["seed"]))


def make_jobs(tasks: Sequence[Task], methods: Sequence[str], noises: Sequence[float], seeds: Sequence[int],
              budget: float, margin: float = DEFAULT_MARGIN, n_train: int = 1000, n_test: int = 1000) -> list[Job]:
    """Every combination, ordered noise, seed, task, method (methods of a task run side by side)."""
    if budget <= 0:
        raise BenchError(f"budget must be positive, got {budget}")
    if margin < 0:
        raise BenchError(f"margin must be >= 0, got {margin}")
    for nz in noises:
        if nz < 0:
            raise BenchError(f"noise levels must be >= 0, got {nz}")
    for m in methods:
        get_method(m)  # unknown names fail here, before anything runs
    return [Job(t, m, float(nz), int(s), float(budget), float(budget + margin), n_train, n_test)
            for nz in noises for s in seeds for t in tasks for m in methods]


# ------------------------------------------------------------------------------------------ one job
def run_job(job: Job, data: TaskData | None = None, stop: threading.Event | None = None) -> dict[str, Any]:
    """Run one job in its own process under ``job.limit`` seconds; always returns a row, never raises.

    ``stop`` (local runs): once set, a job that is just starting kills itself instead of running.
    """
    start = time.perf_counter()
    row = job.base_row()
    try:
        if data is None:
            data = job.task.data(job.noise, job.seed, job.n_train, job.n_test)
    except Exception as exc:  # noqa: BLE001 - a task that cannot make data is a recorded result
        row.update(status=f"error: data: {type(exc).__name__}: {_clip(str(exc))}", recovered=False, seconds=0.0)
        return row
    with tempfile.TemporaryDirectory(prefix="kandisco-bench-") as tmp:
        inp, out, log = Path(tmp, "job.pkl"), Path(tmp, "row.json"), Path(tmp, "log.txt")
        inp.write_bytes(pickle.dumps((job, data)))
        cmd = [sys.executable, "-m", "kandisco.bench.worker", str(inp), str(out)]
        with log.open("wb") as log_fh:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_fh, stderr=subprocess.STDOUT,
                                    cwd=tmp, env=_child_env(), start_new_session=True)
            with _RUNNING_LOCK:
                _RUNNING.add(proc)
            if stop is not None and stop.is_set():
                _kill(proc)
            timed_out = False
            try:
                proc.wait(timeout=job.limit)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill(proc)
            finally:
                with _RUNNING_LOCK:
                    _RUNNING.discard(proc)
        if out.exists():
            row.update(json.loads(out.read_text()))
        elif timed_out:
            row.update(status="timeout", recovered=False, seconds=float(job.limit))
        else:
            tail = _tail(log)
            row.update(status=f"error: worker exited with code {proc.returncode}{': ' + tail if tail else ''}",
                       recovered=False, seconds=time.perf_counter() - start)
    row["wall"] = time.perf_counter() - start
    return row


def _child_env() -> dict[str, str]:
    import kandisco

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    env["TQDM_DISABLE"] = "1"
    env["PYTHONHASHSEED"] = "0"  # sympy's term order depends on hashes; fix it for reproducible formulas
    root = str(Path(kandisco.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _kill(proc: subprocess.Popen) -> None:
    """Kill the job process and everything it started (its own session)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _tail(path: Path, n: int = 300) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return _clip(lines[-1], n) if lines else ""


def _clip(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


# ------------------------------------------------------------------------------------------ results
def load_results(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a results.jsonl; a truncated last line (an interrupted write) is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    rows = []
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines):
                continue
            raise BenchError(f"{path}:{i}: not a JSON line; fix or remove it before resuming") from None
    return rows


def latest_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (task, method, noise, seed): the last one written."""
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        by_key[job_key(row)] = row
    return list(by_key.values())


def _append_handle(path: Path):
    """Open for appending, first cutting off a partial last line left by an interrupted write."""
    if path.exists() and path.stat().st_size:
        data = path.read_bytes()
        if not data.endswith(b"\n"):
            with path.open("r+b") as fh:
                fh.truncate(data.rfind(b"\n") + 1)
    return path.open("a")


# ------------------------------------------------------------------------------------------ many jobs
def run_bench(
    jobs: Sequence[Job],
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: Any = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
    manifest: bool = True,
    argv: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Run the jobs not yet in ``out_dir/results.jsonl``, appending each row as it ends.

    ``workers``: parallel job processes (default: the number of cores). ``scheduler``: a Dask
    scheduler address (or a ``distributed.Client``) to run the jobs on instead. When there is work
    to do, a session (commit, packages, machine, ``argv``, default ``sys.argv``) is appended to
    ``out_dir/manifest.json`` (unless ``manifest`` is False) and every new row carries the short
    ``commit`` and ``dirty`` flag. Returns every row of the results file, one per job key (the latest).
    """
    from .provenance import end_session, git_state, start_session

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / RESULTS_FILE
    existing = load_results(path)
    _check_compatible(existing, jobs, path)
    done = {job_key(r) for r in latest_rows(existing) if not str(r.get("status", "")).startswith("unavailable")}
    todo = [j for j in jobs if j.key not in done]
    if progress:
        progress({"event": "start", "todo": len(todo), "done": len(jobs) - len(todo), "path": str(path)})
    if todo:
        workers = workers or os.cpu_count() or 1
        git = git_state(exclude=[out_dir])
        session = (start_session(out_dir, jobs, argv=argv, workers=None if scheduler is not None else workers,
                                 scheduler=scheduler, todo=len(todo), git=git) if manifest else None)
        rows = _dask_rows(todo, scheduler) if scheduler is not None else _local_rows(todo, workers)
        written, status = 0, "failed"
        try:
            with _append_handle(path) as fh:
                for row in rows:
                    row.setdefault("commit", git["commit_short"])
                    row.setdefault("dirty", git["dirty"])
                    fh.write(json.dumps(row, default=_json_default) + "\n")
                    fh.flush()
                    written += 1
                    if progress:
                        progress(row)
            status = "complete"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            rows.close()  # on an interrupt: stop the jobs still queued or running now, not at garbage collection
            if session is not None:
                end_session(out_dir, session, status, written)
    return latest_rows(load_results(path))


def _check_compatible(existing: list[dict[str, Any]], jobs: Sequence[Job], path: Path) -> None:
    """Refuse to mix budgets or training sizes in one results file (the rates would not mean anything)."""
    if not jobs:
        return
    want = (jobs[0].budget, jobs[0].n_train)
    for row in existing:
        have = (float(row.get("budget", want[0])), int(row.get("n_train", want[1])))
        if have != want:
            raise BenchError(f"{path} holds results with budget {have[0]:g} s and {have[1]} training rows; this run "
                             f"asks for {want[0]:g} s and {want[1]}: use another --out directory")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


def _local_rows(jobs: Sequence[Job], workers: int) -> Generator[dict[str, Any], None, None]:
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="bench-job")
    stop = threading.Event()
    futures = [pool.submit(run_job, job, None, stop) for job in jobs]
    try:
        for fut in as_completed(futures):
            yield fut.result()
    finally:  # on an interrupt: stop queued jobs and kill the running ones
        stop.set()
        for fut in futures:
            fut.cancel()
        with _RUNNING_LOCK:
            running = list(_RUNNING)
        for proc in running:
            _kill(proc)
        pool.shutdown(wait=True)


def _dask_rows(jobs: Sequence[Job], scheduler: Any) -> Generator[dict[str, Any], None, None]:
    try:
        from dask.distributed import Client
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise BenchError("--scheduler needs dask.distributed: pip install 'kandisco[bench]'") from None
    own = isinstance(scheduler, str)
    client = Client(scheduler) if own else scheduler
    futures = {}
    try:
        for i, job in enumerate(jobs):
            try:
                data = job.task.data(job.noise, job.seed, job.n_train, job.n_test)
            except Exception:  # noqa: BLE001 - let run_job record the same error on the worker
                data = None
            key = f"kandisco-bench-{i}-{job.task.id}-{job.method}-{job.noise}-{job.seed}-{os.getpid()}-{time.time_ns()}"
            futures[client.submit(run_job, job, data, key=key, pure=False)] = job
        for fut in dask_completed(list(futures)):
            try:
                yield fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker is a recorded result
                row = futures[fut].base_row()
                row.update(status=f"error: dask: {type(exc).__name__}: {_clip(str(exc))}", recovered=False, seconds=0.0)
                yield row
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:
            client.cancel(pending)
        if own:
            client.close()
