"""The loop shared by the one-process experiment suites (ode_suite.py, potentials.py): run each job in
turn, append its row to ``results.jsonl`` as soon as it ends (so an interrupted run resumes), print a
line per job, and close the manifest's session whatever happens."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from kandisco.bench.provenance import end_session
from kandisco.bench.runner import RESULTS_FILE


def run_sequentially(out: Path, session: dict[str, Any], todo: Sequence[Any], run: Callable[[Any], dict[str, Any]],
                     describe: Callable[[Any, dict[str, Any]], str]) -> str:
    """Run ``run(job)`` for each job of ``todo``; ``describe(job, row)`` is its progress line (after OK or --).
    Returns the session's status: ``complete``, or ``interrupted`` after Ctrl-C."""
    status, ran = "complete", 0
    try:
        with (out / RESULTS_FILE).open("a") as fh:
            for job in todo:
                row = run(job)
                row["commit"] = session.get("commit")
                fh.write(json.dumps(row, default=str) + "\n")
                fh.flush()
                ran += 1
                print(("OK " if row["recovered"] else "-- ") + describe(job, row), file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        end_session(out, session, status, ran)
    return status


def write_report(out: Path, title: str, setup: str, summary: Sequence[str], table: Sequence[str]) -> None:
    """``report.md`` (title, the run's setup, the summary lines as a list, the table), printed too."""
    report = [f"# {title}", "", setup, "", *[f"- {s}" for s in summary], "", *table, ""]
    (out / "report.md").write_text("\n".join(report))
    print("\n".join(table))
    print("\n" + "\n".join(summary))
    print(f"\nresults: {out}/; then run python experiments/results_index.py")
