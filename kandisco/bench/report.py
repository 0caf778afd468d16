"""The benchmark report: rates per method and noise level, SRBench's published rates, per-task tables.

``write_report(DIR)`` reads ``DIR/results.jsonl`` and writes ``DIR/report.md`` and ``DIR/report.png``.
Rates are over all jobs of a (method, noise) cell: a timeout or an error counts as not solved. The
median time is over jobs that ran, a timeout counting as its limit. The headline is per seed: each
cell's recovered count as mean ± standard deviation over the seeds present, with every seed's count,
so that one lucky seed does not read as progress. SRBench's published per-problem
rates (``datasets/srbench2021_groundtruth_results.csv``, a copy of cavalab/srbench
``docs/csv/groundtruth.csv``: 10 seeds, up to 10,000 training rows, each method's own budget of
evaluations and hours) are averaged over the same Feynman problems and shown as published figures,
not as a run of this harness.
"""

from __future__ import annotations

import csv
import statistics
from pathlib import Path
from typing import Any, Sequence

from ..datasets import DATASETS_DIR
from .runner import RESULTS_FILE, latest_rows, load_results
from .score import ACCURACY_R2

__all__ = ["summarize", "seed_summary", "spread", "published_rates", "markdown_report", "plot_report", "write_report",
           "srbench_name"]

SRBENCH_FILE = DATASETS_DIR / "srbench2021_groundtruth_results.csv"
SRBENCH_NAMES = {"operon": "Operon", "gplearn": "gplearn"}  # our method -> SRBench algorithm
SRBENCH_RENAMED = {"I.15.1": "feynman_I_15_10"}  # the one id PMLB spells differently


def _failed(row: dict[str, Any]) -> str | None:
    status = str(row.get("status", ""))
    if status == "ok":
        return None
    return status.split(":")[0] if status else "error"


def accurate(row: dict[str, Any]) -> bool:
    """SRBench's accuracy solution: noise-free test R^2 above 0.999."""
    r2 = row.get("r2_test")
    return row.get("status") == "ok" and r2 is not None and r2 > ACCURACY_R2


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (method, noise): jobs, symbolic/accuracy solutions and rates, median seconds, failures."""
    cells: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for row in rows:
        cells.setdefault((row["method"], float(row["noise"])), []).append(row)
    out = []
    order = _method_order(rows)
    for (method, noise), group in sorted(cells.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        ran = [r for r in group if _failed(r) != "unavailable"]
        with_truth = [r for r in ran if r.get("truth")]
        symbolic = sum(bool(r.get("recovered")) for r in with_truth)
        rounded = sum(bool(r.get("recovered") or r.get("recovered_rounded")) for r in with_truth)
        acc = sum(accurate(r) for r in ran)
        seconds = [float(r["seconds"]) for r in ran if r.get("seconds") is not None]
        out.append({
            "method": method, "noise": noise, "jobs": len(group), "ran": len(ran),
            "symbolic": symbolic, "symbolic_rate": symbolic / len(with_truth) if with_truth else None,
            "symbolic_rounded": rounded, "symbolic_rounded_rate": rounded / len(with_truth) if with_truth else None,
            "accuracy": acc, "accuracy_rate": acc / len(ran) if ran else None,
            "median_seconds": statistics.median(seconds) if seconds else None,
            "timeouts": sum(_failed(r) == "timeout" for r in group),
            "errors": sum(_failed(r) == "error" for r in group),
            "unavailable": sorted({str(r["status"]) for r in group if _failed(r) == "unavailable"}),
        })
    return out


def _counts(group: Sequence[dict[str, Any]]) -> dict[str, int]:
    ran = [r for r in group if _failed(r) != "unavailable"]
    with_truth = [r for r in ran if r.get("truth")]
    return {"jobs": len(group), "ran": len(ran), "with_truth": len(with_truth),
            "symbolic": sum(bool(r.get("recovered")) for r in with_truth),
            "symbolic_rounded": sum(bool(r.get("recovered") or r.get("recovered_rounded")) for r in with_truth),
            "accuracy": sum(accurate(r) for r in ran)}


def spread(values: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean, sample standard deviation) of ``values``; the deviation is None for fewer than two."""
    if not values:
        return None, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def seed_summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (method, noise) that ran: the counts of every seed, and their mean and std over seeds.

    ``per_seed`` maps seed -> {jobs, ran, with_truth, symbolic, symbolic_rounded, accuracy};
    ``symbolic_mean``/``symbolic_std`` (and ``_rounded_``, ``accuracy_``) are over those seeds, the
    std the sample one (None with one seed). ``tasks`` is the most jobs any seed has, so a seed that
    is still running shows as fewer jobs rather than as a worse method.
    """
    cells: dict[tuple[str, float], dict[int, list[dict[str, Any]]]] = {}
    for row in rows:
        cells.setdefault((row["method"], float(row["noise"])), {}).setdefault(int(row["seed"]), []).append(row)
    order = _method_order(rows)
    out = []
    for (method, noise), by_seed in sorted(cells.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])):
        per_seed = {seed: _counts(group) for seed, group in sorted(by_seed.items())}
        if not any(c["ran"] for c in per_seed.values()):
            continue
        entry: dict[str, Any] = {"method": method, "noise": noise, "seeds": list(per_seed), "n_seeds": len(per_seed),
                                 "tasks": max(c["jobs"] for c in per_seed.values()), "per_seed": per_seed}
        for key in ("symbolic", "symbolic_rounded", "accuracy"):
            entry[f"{key}_mean"], entry[f"{key}_std"] = spread([c[key] for c in per_seed.values()])
        out.append(entry)
    return out


def _mean_std(mean: float | None, std: float | None, n: int) -> str:
    if mean is None:
        return "-"
    if std is None:
        return f"{mean:g} (1 seed, no spread)" if n == 1 else f"{mean:.1f}"
    return f"{mean:.1f} ± {std:.1f}"


def _per_seed(entry: dict[str, Any], key: str) -> str:
    return ", ".join(f"{seed}: {c[key]}/{c['with_truth'] if key != 'accuracy' else c['ran']}"
                     for seed, c in entry["per_seed"].items())


def _code_line(rows: Sequence[dict[str, Any]]) -> str:
    """Which commits produced the rows (rows written before provenance have none)."""
    by_commit: dict[str, int] = {}
    for r in rows:
        commit = r.get("commit") or "not recorded"
        commit += " (uncommitted changes)" if r.get("dirty") else ""
        by_commit[commit] = by_commit.get(commit, 0) + 1
    parts = [f"{c} ({n} jobs)" if len(by_commit) > 1 else c for c, n in by_commit.items()]
    return f"Code: commit {', '.join(parts)}; see manifest.json for packages, machine and command line."


def _headline_section(rows: Sequence[dict[str, Any]]) -> list[str]:
    entries = seed_summary(rows)
    if not entries:
        return []
    lines = ["## Headline: recovered per seed", "",
             "Symbolic solutions (and with SRBench rounding, and accuracy solutions) counted per seed, then mean ± "
             "standard deviation over the seeds present (sample std; none with one seed).", "",
             "| method | noise | seeds | tasks | symbolic solution, mean ± std | per seed | with SRBench rounding | "
             "accuracy solution | accuracy per seed |",
             "|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        n = e["n_seeds"]
        lines.append(f"| {e['method']} | {e['noise']:g} | {n} | {e['tasks']} | "
                     f"{_mean_std(e['symbolic_mean'], e['symbolic_std'], n)} | {_per_seed(e, 'symbolic')} | "
                     f"{_mean_std(e['symbolic_rounded_mean'], e['symbolic_rounded_std'], n)} | "
                     f"{_mean_std(e['accuracy_mean'], e['accuracy_std'], n)} | {_per_seed(e, 'accuracy')} |")
    return lines + [""]


def srbench_name(task_id: str) -> str:
    """PMLB/SRBench's dataset name for a Feynman id (``I.12.1`` -> ``feynman_I_12_1``)."""
    return SRBENCH_RENAMED.get(task_id, "feynman_" + task_id.replace(".", "_"))


def published_rates(task_ids: Sequence[str], noises: Sequence[float],
                    path: Path = SRBENCH_FILE) -> dict[str, dict[float, tuple[float, float, int]]]:
    """SRBench 2021: algorithm -> noise -> (mean symbolic %, mean accuracy %, problems found) over ``task_ids``."""
    if not path.exists():
        return {}
    wanted = {srbench_name(t) for t in task_ids}
    acc: dict[str, dict[float, list[tuple[float, float]]]] = {}
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            noise = float(row["target_noise"])
            if row["dataset"] in wanted and noise in noises:
                acc.setdefault(row["algorithm"], {}).setdefault(noise, []).append(
                    (float(row["symbolic_solution_rate_(%)"]), 100.0 * float(row["accuracy_solution"])))
    return {alg: {nz: (statistics.fmean(v[0] for v in vals), statistics.fmean(v[1] for v in vals), len(vals))
                  for nz, vals in by_noise.items()} for alg, by_noise in acc.items()}


def _method_order(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Built-in methods in registry order, then any others as they first appear."""
    from .methods import METHODS

    seen = list(dict.fromkeys(r["method"] for r in rows))
    return [m for m in METHODS if m in seen] + [m for m in seen if m not in METHODS]


def _pct(k: int, n: int, rate: float | None) -> str:
    return "n/a" if rate is None else f"{k}/{n} ({rate:.0%})"


def _yes_no(value: Any) -> str:
    return "-" if value is None else "yes" if value else "no"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return ""
    failed = _failed(row)
    if failed == "unavailable":
        return "n/a"
    if failed:
        return failed
    mark = ("✓" if row.get("recovered") else "✓*" if row.get("recovered_rounded")
            else "≈" if accurate(row) else "·")
    r2 = row.get("r2_test")
    r2_text = "nan" if r2 is None else f"{r2:.6f}" if r2 > 0.99 else f"{r2:.3f}"
    return f"{mark} {r2_text} ({float(row['seconds']):.0f} s)"


def markdown_report(rows: Sequence[dict[str, Any]], title: str = "Benchmark", notes: Sequence[str] = (),
                    task_order: Sequence[str] | None = None) -> str:
    """The whole report as markdown (summary, published rates, per-task table, every job)."""
    rows = list(rows)
    order = list(task_order or [])
    for r in rows:
        if r["task"] not in order:
            order.append(r["task"])
    methods = _method_order(rows)
    noises = sorted({float(r["noise"]) for r in rows})
    budgets = sorted({float(r["budget"]) for r in rows})
    seeds = sorted({int(r["seed"]) for r in rows})
    n_feynman = sorted({int(r["n_train"]) for r in rows if r.get("suite") in ("feynman", "feynman-realistic")})
    sizes = f"{', '.join(map(str, n_feynman))} training rows per Feynman task" if n_feynman else ""
    if any(r.get("suite") == "feynman-realistic" for r in rows):
        sizes += " (realistic sampling: variables over decades, signed where the physics allows)"
    if any(r.get("suite") not in ("feynman", "feynman-realistic") for r in rows):
        sizes += ("; " if sizes else "") + "CSV tasks train on all their rows"
    lines = [f"# {title}", ""]
    lines.append(f"{len(order)} tasks, methods {', '.join(methods)}, noise {', '.join(f'{n:g}' for n in noises)} "
                 f"(fraction of std(y), on training targets), seeds {', '.join(map(str, seeds))}, "
                 f"budget {', '.join(f'{b:g}' for b in budgets)} s per job; {sizes}.")
    lines += ["", _code_line(rows)]
    for note in notes:
        lines += ["", str(note)]
    lines += [""]
    lines += ["Symbolic solution: the formula equals the truth up to an additive or multiplicative constant "
              "(SRBench rule as `kandisco.symbolic.equivalence` applies it: floats count as exact only within 1e-6 "
              "of a simple rational). SRBench rounding: SRBench's own reading, floats in truth - found and "
              "found / truth rounded to 3 decimals first (test R^2 > 0.5 required); it forgives float32 "
              "constants and is what SRBench published. Accuracy solution: R^2 > 0.999 on noise-free test rows. "
              "A timeout or error counts as not solved; times are fit seconds (a timeout counts as its limit).", ""]
    lines += _headline_section(rows)
    lines += ["## Summary (all seeds together)", "",
              "| method | noise | jobs | symbolic solution | with SRBench rounding | accuracy solution | median seconds "
              "| timeouts | errors |",
              "|---|---|---|---|---|---|---|---|---|"]
    for s in summarize(rows):
        if s["unavailable"] and not s["ran"]:
            lines.append(f"| {s['method']} | {s['noise']:g} | {s['jobs']} | {_md(s['unavailable'][0])} | | | | | |")
            continue
        med = "-" if s["median_seconds"] is None else f"{s['median_seconds']:.1f}"
        lines.append(f"| {s['method']} | {s['noise']:g} | {s['jobs']} | {_pct(s['symbolic'], s['ran'], s['symbolic_rate'])} | "
                     f"{_pct(s['symbolic_rounded'], s['ran'], s['symbolic_rounded_rate'])} | "
                     f"{_pct(s['accuracy'], s['ran'], s['accuracy_rate'])} | {med} | {s['timeouts']} | {s['errors']} |")
    lines += _published_section([t for t in order if any(r["task"] == t and r["suite"] == "feynman" for r in rows)], noises)
    lines += ["", "## Per task", "",
              "✓ symbolic solution, ✓* only with SRBench rounding, ≈ accuracy solution only, · neither; "
              "then test R^2 and fit seconds.", ""]
    lines.append("| task | noise | seed | " + " | ".join(methods) + " |")
    lines.append("|---|---|---|" + "---|" * len(methods))
    index = {(r["task"], float(r["noise"]), int(r["seed"]), r["method"]): r for r in rows}
    for nz in noises:
        for seed in seeds:
            for task in order:
                cells = [_cell(index.get((task, nz, seed, m))) for m in methods]
                if any(cells):
                    lines.append(f"| {task} | {nz:g} | {seed} | " + " | ".join(cells) + " |")
    lines += ["", "## Jobs", "", "| task | method | noise | seed | status | recovered | rounded | test R^2 | seconds | formula |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (float(r["noise"]), int(r["seed"]), order.index(r["task"]), methods.index(r["method"]))):
        r2 = r.get("r2_test")
        formula = r.get("formula") or ""
        formula = formula if len(formula) <= 160 else formula[:157] + "..."
        lines.append(f"| {r['task']} | {r['method']} | {float(r['noise']):g} | {r['seed']} | {_md(r.get('status', ''))} | "
                     f"{_yes_no(r.get('recovered'))} | {_yes_no(r.get('recovered_rounded'))} | "
                     f"{'-' if r2 is None else f'{r2:.6g}'} | "
                     f"{float(r.get('seconds') or 0):.1f} | `{_md(formula)}` |")
    return "\n".join(lines) + "\n"


def _published_section(feynman_ids: Sequence[str], noises: Sequence[float]) -> list[str]:
    published = published_rates(feynman_ids, noises)
    if not feynman_ids or not published:
        return []
    shown = [n for n in noises if any(n in v for v in published.values())]
    if not shown:
        return []
    found = max(v[2] for by_noise in published.values() for v in by_noise.values())
    lines = ["", "## Published SRBench 2021 rates on the same Feynman problems", "",
             f"Published figures, not runs of this harness: SRBench (La Cava et al. 2021) gave each method its own "
             f"budget (evaluations and hours per run, not seconds), up to 10,000 training rows, 10 seeds, noise "
             f"scaled by the RMS of the training target. "
             f"Mean over the {found} of these {len(feynman_ids)} problems that SRBench has; "
             f"symbolic / accuracy solution rate in %.", "",
             "| algorithm | " + " | ".join(f"noise {n:g}" for n in shown) + " |", "|---|" + "---|" * len(shown)]
    key = shown[0]
    for alg in sorted(published, key=lambda a: -published[a].get(key, (0, 0, 0))[0]):
        cells = []
        for n in shown:
            v = published[alg].get(n)
            cells.append("-" if v is None else f"{v[0]:.1f} / {v[1]:.1f}")
        ours = [m for m, a in SRBENCH_NAMES.items() if a == alg]
        label = f"{alg} (ours: {ours[0]})" if ours else alg
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def plot_report(rows: Sequence[dict[str, Any]], path: str | Path, title: str = "Benchmark") -> Path:
    """Bar charts: symbolic rate, accuracy rate and median seconds per method, grouped by noise level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    summary = [s for s in summarize(rows) if s["ran"]]
    methods = [m for m in _method_order(rows) if any(s["method"] == m for s in summary)]
    noises = sorted({s["noise"] for s in summary})
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    width = 0.8 / max(len(methods), 1)
    panels = (("symbolic_rate", "symbolic solution rate (— with SRBench rounding)", 100.0),
              ("accuracy_rate", "accuracy solution rate (R² > 0.999)", 100.0), ("median_seconds", "median fit seconds", 1.0))
    for ax, (field, label, scale) in zip(axes, panels):
        for k, method in enumerate(methods):
            values = []
            for nz in noises:
                s = next((s for s in summary if s["method"] == method and s["noise"] == nz), None)
                v = None if s is None else s[field]
                values.append(np.nan if v is None else v * scale)
            xs = np.arange(len(noises)) + (k - (len(methods) - 1) / 2) * width
            ax.bar(xs, values, width, label=method)
            if field == "symbolic_rate":  # SRBench's rounded reading as a tick above each bar
                rounded = [next((s["symbolic_rounded_rate"] for s in summary if s["method"] == method and s["noise"] == nz), None)
                           for nz in noises]
                ax.scatter(xs, [np.nan if v is None else v * 100 for v in rounded], marker="_", s=200,
                           color="black", zorder=3)
        ax.set_xticks(np.arange(len(noises)), [f"noise {n:g}" for n in noises])
        ax.set_title(label)
        if scale == 100.0:
            ax.set_ylim(0, 100)
            ax.set_ylabel("%")
        ax.grid(axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(out_dir: str | Path, title: str = "Benchmark", notes: Sequence[str] = (),
                 task_order: Sequence[str] | None = None) -> tuple[Path, Path]:
    """``report.md`` and ``report.png`` from ``out_dir/results.jsonl``; returns their paths."""
    from .provenance import read_manifest

    out_dir = Path(out_dir)
    rows = latest_rows(load_results(out_dir / RESULTS_FILE))
    manifest = read_manifest(out_dir)
    commits = manifest.get("commits") or []
    if len(commits) == 1 and commits[0] != "unknown":  # rows written before provenance: the manifest's commit
        rows = [r if r.get("commit") else {**r, "commit": commits[0][:7]} for r in rows]
    if manifest.get("reconstructed"):
        notes = [*notes, f"Provenance reconstructed after the run: {manifest['reconstructed']}."]
    md = out_dir / "report.md"
    md.write_text(markdown_report(rows, title, notes, task_order))
    png = plot_report(rows, out_dir / "report.png", title)
    return md, png
