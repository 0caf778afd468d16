"""Wall time per law with one worker and with every core, side by side, from two benchmark runs.

Run the Feynman suite twice on the same commit, once as usual (``--jobs 2``: two laws at once, one
process each) and once with every core per law (``KANDISCO_BENCH_JOBS=<cores>`` and ``--jobs 1``),
then compare the rows of the same seed:

    python experiments/bench_compare.py --full --noise 0 --seeds 0,1,2 --jobs 2
    KANDISCO_BENCH_JOBS=2 python experiments/bench_compare.py --full --noise 0 --seeds 0 --jobs 1 \\
        --out experiments/results/feynman-all-cores/<date>_<commit>
    python experiments/wall_time_jobs.py RUN_DIR_1_JOB RUN_DIR_ALL_CORES [--seed 0] [--out FILE.md]

The one-job run's times were measured with two laws running at once on the two cores, so each law
had one core, as in the all-cores run's workers; the table says so.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path


def rows(run: Path, seed: int) -> dict[str, dict]:
    """The latest row per task of ``seed`` in ``run/results.jsonl``."""
    out: dict[str, dict] = {}
    for line in (run / "results.jsonl").read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            if int(row["seed"]) == seed and row.get("method") == "kandisco":
                out[row["task"]] = row
    return out


def table(one: dict[str, dict], many: dict[str, dict], labels: tuple[str, str]) -> str:
    tasks = [t for t in one if t in many]
    secs_one = [float(one[t].get("seconds") or 0) for t in tasks]
    secs_many = [float(many[t].get("seconds") or 0) for t in tasks]
    ratios = [a / b for a, b in zip(secs_one, secs_many) if a > 0 and b > 0]
    lines = [
        f"| | {labels[0]} | {labels[1]} |",
        "|---|---:|---:|",
        f"| laws | {len(tasks)} | {len(tasks)} |",
        f"| recovered | {sum(bool(one[t].get('recovered')) for t in tasks)} | {sum(bool(many[t].get('recovered')) for t in tasks)} |",
        f"| median seconds per law | {statistics.median(secs_one):.1f} | {statistics.median(secs_many):.1f} |",
        f"| mean seconds per law | {statistics.mean(secs_one):.1f} | {statistics.mean(secs_many):.1f} |",
        f"| total seconds | {sum(secs_one):.0f} | {sum(secs_many):.0f} |",
        "",
        f"Speed-up per law (1 job / all cores): median {statistics.median(ratios):.2f}x, "
        f"on laws over 10 s with one job: median {statistics.median([a / b for a, b in zip(secs_one, secs_many) if a > 10 and b > 0] or [float('nan')]):.2f}x.",
        "",
        "| task | 1 job s | all cores s | ratio | recovered (1 job / all) |",
        "|---|---:|---:|---:|---|",
    ]
    for t, a, b in zip(tasks, secs_one, secs_many):
        lines.append(f"| {t} | {a:.1f} | {b:.1f} | {a / b if b else float('nan'):.2f} | "
                     f"{'yes' if one[t].get('recovered') else 'no'} / {'yes' if many[t].get('recovered') else 'no'} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("one_job", type=Path, help="run folder with one worker per law")
    parser.add_argument("all_cores", type=Path, help="run folder with every core per law")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    text = (f"# Wall time per law: one worker vs every core (seed {args.seed})\n\n"
            f"From `{args.one_job}` and `{args.all_cores}` (`python experiments/wall_time_jobs.py`).\n\n"
            + table(rows(args.one_job, args.seed), rows(args.all_cores, args.seed), ("1 job per law", "all cores per law")))
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
