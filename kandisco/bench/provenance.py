"""Where a benchmark result came from: the code's git commit, the packages, the machine, the command.

Every run writes ``manifest.json`` next to ``results.jsonl``; each session (a first run and every
resume into the same folder) appends one record to its ``sessions`` list, so a folder that was
filled in three sittings says which code and machine produced which part. Rows carry the short
commit too (the runner adds it), since a row can be copied out of its folder.

The commit is that of the checkout kandisco is imported from, read with ``git``; an installed copy
(no checkout, or no git) records ``"unknown"`` with ``dirty`` None instead of failing. ``dirty``
means tracked files differ from the commit, leaving out the run's own output folder (a resumed
committed run would otherwise always look dirty).

:func:`run_dir` is the one layout for committed results: ``ROOT/<suite>/<date>_<shortcommit>/``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from .tasks import BenchError

__all__ = ["MANIFEST_FILE", "MANIFEST_FORMAT", "UNKNOWN", "SHORT", "git_state", "package_versions", "environment",
           "start_session", "end_session", "read_manifest", "run_dir", "output_dir", "suite_label", "now", "source_root"]

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "kandisco-bench-manifest/1"
UNKNOWN = "unknown"
SHORT = 7  # characters of a short commit (folder names, rows)
CORE_PACKAGES = ("kandisco", "torch", "numpy", "scipy", "sympy")


def now() -> str:
    """The current time in UTC, ISO 8601 to the second (``2026-11-26T10:15:31+00:00``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def source_root() -> Path:
    """The directory holding the imported ``kandisco`` package (a checkout, or site-packages)."""
    import kandisco

    return Path(kandisco.__file__).resolve().parents[1]


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.SubprocessError):  # no git binary, or it hangs
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(root: str | Path | None = None, exclude: Iterable[str | Path] = ()) -> dict[str, Any]:
    """``{"commit", "commit_short", "dirty", "dirty_files"}`` of the checkout at ``root`` (default: kandisco's).

    ``root`` must be the top of a git work tree (not merely inside one: a virtualenv inside a
    checkout is not that checkout's code); otherwise commit is ``"unknown"`` and dirty None.
    ``exclude``: paths left out of the dirty check (the run's own output folder).
    """
    root = Path(root or source_root()).resolve()
    unknown: dict[str, Any] = {"commit": UNKNOWN, "commit_short": UNKNOWN, "dirty": None, "dirty_files": []}
    top = _git(root, "rev-parse", "--show-toplevel")
    if top is None or Path(top.strip()).resolve() != root:
        return unknown
    commit = (_git(root, "rev-parse", "HEAD") or "").strip()
    if not re.fullmatch(r"[0-9a-f]{40,64}", commit):
        return unknown
    specs = ["."]
    for path in exclude:
        path = Path(path).resolve()
        if path.is_relative_to(root) and path != root:
            specs.append(f":(exclude){path.relative_to(root).as_posix()}")
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *specs)
    files = [line[3:] for line in (status or "").splitlines() if line.strip()]
    return {"commit": commit, "commit_short": commit[:SHORT], "dirty": None if status is None else bool(files),
            "dirty_files": files[:50]}


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
    except Exception:  # noqa: BLE001 - a broken metadata entry is not worth failing a run for
        return UNKNOWN


def package_versions(methods: Sequence[str] = ()) -> dict[str, str | None]:
    """Versions of kandisco, torch, numpy, scipy, sympy and each method's package (None: not installed)."""
    from .methods import get_method

    versions: dict[str, str | None] = {name: _version(name) for name in CORE_PACKAGES}
    if versions["kandisco"] is None:  # a checkout that was never pip-installed
        import kandisco

        versions["kandisco"] = getattr(kandisco, "__version__", None)
    for name in methods:
        try:
            dist = getattr(get_method(name), "distribution", None)
        except BenchError:
            continue
        if dist and dist not in versions:
            versions[dist] = _version(dist)
    return versions


def environment() -> dict[str, Any]:
    """Cores (all, and those this process may use), platform and Python of this machine."""
    try:
        usable: int | None = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # macOS and Windows have no affinity call
        usable = None
    return {"cores": {"cpu_count": os.cpu_count(), "usable": usable},
            "platform": {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
                         "platform": platform.platform()},
            "python": {"version": platform.python_version(), "implementation": platform.python_implementation(),
                       "executable": sys.executable}}


def read_manifest(out_dir: str | Path) -> dict[str, Any]:
    """``DIR/manifest.json`` (``{}`` when there is none); BenchError when it is not a manifest."""
    path = Path(out_dir) / MANIFEST_FILE
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not JSON ({exc}); fix or remove it before resuming") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sessions", []), list):
        raise BenchError(f"{path}: not a benchmark manifest (no list of sessions)")
    return manifest


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    sessions = manifest.get("sessions", [])

    def union(key: str) -> list:
        seen: dict[Any, None] = {}
        for s in sessions:
            for v in s.get(key) or []:
                seen.setdefault(v, None)
        return sorted(seen)

    summary = {"format": MANIFEST_FORMAT, "suites": union("suites"), "methods": union("methods"),
               "noises": union("noises"), "seeds": union("seeds"),
               "budgets": sorted({s["budget"] for s in sessions if s.get("budget") is not None}),
               "commits": list(dict.fromkeys(s.get("commit", UNKNOWN) for s in sessions))}
    extra = {k: v for k, v in manifest.items() if k not in summary and k != "sessions"}  # notes, reconstructed
    manifest = {**summary, **extra, "sessions": sessions}  # the summary first, the sessions last, for reading
    tmp = out_dir / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    tmp.replace(out_dir / MANIFEST_FILE)


def start_session(out_dir: str | Path, jobs: Sequence[Any], *, argv: Sequence[str] | None = None,
                  workers: int | None = None, scheduler: Any = None, todo: int | None = None,
                  git: dict[str, Any] | None = None) -> dict[str, Any]:
    """Append a session for ``jobs`` to ``DIR/manifest.json`` (ended None until :func:`end_session`)."""
    out_dir = Path(out_dir)
    methods = list(dict.fromkeys(j.method for j in jobs))
    state = git if git is not None else git_state(exclude=[out_dir])
    session = {
        **state,
        "id": f"{now()}/{os.getpid()}", "started": now(), "ended": None, "status": "running",
        "argv": list(sys.argv if argv is None else argv),
        "suites": list(dict.fromkeys(j.task.suite for j in jobs)),
        "tasks": len({j.task.id for j in jobs}),
        "methods": methods,
        "noises": sorted({float(j.noise) for j in jobs}),
        "seeds": sorted({int(j.seed) for j in jobs}),
        "budget": float(jobs[0].budget) if jobs else None,
        "margin": float(jobs[0].limit - jobs[0].budget) if jobs else None,
        "n_train": int(jobs[0].n_train) if jobs else None,
        "n_test": int(jobs[0].n_test) if jobs else None,
        "jobs": len(jobs), "jobs_to_run": len(jobs) if todo is None else int(todo), "jobs_run": 0,
        "workers": workers, "scheduler": None if scheduler is None else str(scheduler),
        "packages": package_versions(methods),
        **environment(),
    }
    manifest = read_manifest(out_dir)
    manifest.setdefault("sessions", []).append(session)
    _write_manifest(out_dir, manifest)
    return session


def end_session(out_dir: str | Path, session: dict[str, Any], status: str, jobs_run: int) -> None:
    """Record the end time, ``status`` (complete, interrupted, failed) and jobs run of ``session``."""
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    sessions = manifest.get("sessions", [])
    for i in range(len(sessions) - 1, -1, -1):
        if sessions[i].get("id") == session.get("id"):
            session = sessions[i]
            break
    else:
        sessions.append(session)
    session.update(ended=now(), status=status, jobs_run=int(jobs_run))
    manifest["sessions"] = sessions
    _write_manifest(out_dir, manifest)


def suite_label(suites: str | Sequence[str]) -> str:
    """A folder name for the suites of a run: ``feynman``, ``kepler``, a table's file stem; ``+`` between."""
    if isinstance(suites, str):
        suites = [s.strip() for s in suites.split(",") if s.strip()]
    labels = []
    for suite in suites:
        name = Path(suite).stem if (suite.endswith(".csv") or os.sep in suite or "/" in suite) else suite
        labels.append(re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.") or "tasks")
    if not labels:
        raise BenchError("no suite given")
    return "+".join(dict.fromkeys(labels))


def run_dir(results_root: str | Path, suite: str | Sequence[str], commit: str | None = None,
            date: str | None = None) -> Path:
    """``ROOT/<suite>/<date>_<shortcommit>/``: today's folder for this commit, or the latest one that exists.

    Reusing an existing folder of the same suite and commit lets an interrupted run resume on
    another day; a new commit starts a new folder. ``commit`` defaults to kandisco's checkout
    (``unknown`` for an installed copy); ``date`` (``YYYY-MM-DD``) to today in UTC.
    """
    base = Path(results_root) / suite_label(suite)
    short = (commit or git_state()["commit_short"])[:SHORT]
    if date is None:
        existing = sorted(p for p in base.glob(f"*_{short}") if p.is_dir()) if base.is_dir() else []
        if existing:
            return existing[-1]
        date = _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise BenchError(f"run date must be YYYY-MM-DD, got {date!r}")
    return base / f"{date}_{short}"


def output_dir(out: str | Path | None, results_root: str | Path | None, suite: str | Sequence[str]) -> Path:
    """Where a run writes: ``out`` as given, or :func:`run_dir` under ``results_root``; exactly one of them.

    ``kandisco bench --out DIR`` keeps any directory; ``--results-root DIR`` files the run as
    ``DIR/<suite>/<date>_<commit>/`` (resuming the latest folder of this commit when there is one).
    """
    if out is not None and results_root is not None:
        raise BenchError("give --out DIR or --results-root DIR, not both")
    if out is not None:
        return Path(out)
    if results_root is not None:
        return run_dir(results_root, suite)
    raise BenchError("give --out DIR (any directory) or --results-root DIR (files the run as DIR/<suite>/<date>_<commit>/)")
