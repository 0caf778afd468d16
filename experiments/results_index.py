"""Write experiments/results/README.md: an index of every benchmark run and result file kept here.

Runs live in one layout, ``experiments/results/<suite>/<date>_<shortcommit>/`` (results.jsonl,
manifest.json, report.md, report.png; ``kandisco bench --results-root experiments/results`` and
``experiments/bench_compare.py`` write it). For each run the index gives suite, date, commit (marked
when the tree was dirty or the provenance was reconstructed), methods, noises, seeds, and the headline:
recovered count per method and noise as mean ± std over the seeds present, with the number of seeds
and each seed's count. Folders from before the layout and the other result files are listed too.

    python experiments/results_index.py            # rewrite experiments/results/README.md
    python experiments/results_index.py --check    # exit 1 if README.md is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any, Sequence

from kandisco.bench.provenance import MANIFEST_FILE, read_manifest
from kandisco.bench.report import seed_summary
from kandisco.bench.runner import RESULTS_FILE, latest_rows, load_results

HERE = Path(__file__).resolve().parent
DEFAULT_ROOT = HERE / "results"
INDEX_FILE = "README.md"
RUN_NAME = re.compile(r"(?P<date>\d{4}-\d{2}-\d{2})_(?P<commit>[0-9a-f]{7,40}|unknown)")

#: Runs deleted when the layout came in (issue 16): where git still has them, and what they gave.
SUPERSEDED = [  # (folder, code of commit, headline, the commit that last added or changed it)
    ("bench_feynman100_v8", "d8df6c9", "Feynman-100, noise 0, seed 0: 83/100", "c2ee2fc"),
    ("bench_feynman100_v7", "61ba32b", "Feynman-100, noise 0, seed 0: 82/100", "c2ee2fc"),
    ("bench_feynman100_v6", "3ba4059", "Feynman-100, noise 0, seed 0: 84/100", "fe595a8"),
    ("bench_feynman100_v5", "5c9ecdb", "Feynman-100, noise 0, seed 0: 84/100", "5a32411"),
    ("bench_feynman100_v4", "e560131", "Feynman-100, noise 0, seed 0: 80/100", "c4cd826"),
    ("bench_feynman100_v2", "9c765a6", "Feynman-100, noise 0 / 0.01, seed 0: 74/100, 49/100", "353f0ae"),
    ("bench_feynman100", "older code", "Feynman-100, noise 0, seed 0: 54/100", "9011f7c"),
]


def _headline(entry: dict[str, Any], key: str = "symbolic") -> str:
    """``84.3 ± 1.2 / 100 (3 seeds: 85, 83, 85)``, or ``85/100 (1 seed)``."""
    counts = [c[key] for c in entry["per_seed"].values()]
    of = max(c["with_truth"] if key != "accuracy" else c["ran"] for c in entry["per_seed"].values())
    n = entry["n_seeds"]
    if n == 1:
        return f"{counts[0]}/{of} (1 seed)"
    mean, std = entry[f"{key}_mean"], entry[f"{key}_std"]
    return f"{mean:.1f} ± {std:.1f} / {of} ({n} seeds: {', '.join(map(str, counts))})"


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _rows(folder: Path) -> list[dict[str, Any]]:
    return latest_rows(load_results(folder / RESULTS_FILE))


def scan_runs(root: Path) -> list[dict[str, Any]]:
    """Every ``root/<suite>/<date>_<commit>/`` folder with a manifest, newest first within a suite."""
    runs: list[dict[str, Any]] = []
    for manifest_path in sorted(root.glob(f"*/*/{MANIFEST_FILE}")):
        folder = manifest_path.parent
        match = RUN_NAME.fullmatch(folder.name)
        if match is None:
            continue
        manifest = read_manifest(folder)
        sessions = manifest.get("sessions", [])
        runs.append({"folder": folder, "suite": folder.parent.name, "date": match["date"], "commit": match["commit"],
                     "manifest": manifest, "dirty": any(s.get("dirty") for s in sessions),
                     "commits": [c[:7] for c in manifest.get("commits", [])], "rows": _rows(folder)})
    def started(run: dict[str, Any]) -> str:
        return max((s.get("started") or "" for s in run["manifest"].get("sessions", [])), default="")

    runs.sort(key=lambda r: (r["date"], started(r), r["commit"]), reverse=True)
    runs.sort(key=lambda r: r["suite"])  # stable: newest first within each suite
    return runs


def legacy_runs(root: Path) -> list[dict[str, Any]]:
    """Folders directly under ``root`` holding a results.jsonl: runs from before the layout (no manifest)."""
    out = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        if (folder / RESULTS_FILE).exists():
            title = _title(folder / "report.md") or folder.name
            out.append({"folder": folder, "title": title, "rows": _rows(folder)})
    return out


def _title(path: Path) -> str | None:
    if not path.exists():
        return None
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("#"):
            return line.lstrip("#").strip()
    return None


def other_files(root: Path) -> list[tuple[str, str]]:
    """``(name, what)`` for the result files directly under ``root`` (benchmarks of speed, recovery, ...)."""
    files = sorted(p for p in root.iterdir() if p.is_file() and p.name != INDEX_FILE and not p.name.startswith("."))
    out = []
    for path in files:
        if path.suffix == ".md":
            what = _title(path) or ""
        else:
            md = path.with_suffix(".md")
            what = f"data of {md.name}" if md.exists() else ""
        out.append((path.name, what))
    return out


def _method_lines(rows: Sequence[dict[str, Any]]) -> list[tuple[str, float, str, str, int]]:
    return [(e["method"], e["noise"], _headline(e), _headline(e, "accuracy"), e["n_seeds"]) for e in seed_summary(rows)]


def render(root: Path) -> str:
    """The index as markdown."""
    lines = ["# Results", "",
             "Generated by `python experiments/results_index.py` from the run folders' manifests and results; "
             "do not edit by hand.", "",
             "Runs: `<suite>/<date>_<commit>/` with `results.jsonl` (one row per job, each with its commit), "
             "`manifest.json` (per session: commit, dirty flag, package versions, cores, platform, command line, "
             "times), `report.md` and `report.png`. Write one with "
             "`kandisco bench --suite feynman --seeds 0,1,2 --results-root experiments/results` or "
             "`python experiments/bench_compare.py`. A run at a dirty tree is marked *dirty*: its code is the commit "
             "plus uncommitted changes.", "",
             "Recovered: symbolic solutions (the formula equals the truth up to an additive or multiplicative "
             "constant), as mean ± sample std over the seeds present, with each seed's count. Accuracy: test "
             "R^2 > 0.999. A timeout or error counts as not recovered.", "",
             "## Runs", "",
             "| suite | date | commit | method | noise | seeds | recovered | accuracy | budget | run |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for run in scan_runs(root):
        manifest = run["manifest"]
        commit = run["commit"] if run["commits"] in ([], [run["commit"]]) else "mixed: " + ", ".join(run["commits"])
        marks = [m for m, on in (("dirty", run["dirty"]), ("reconstructed", manifest.get("reconstructed"))) if on]
        commit += "".join(f" *{m}*" for m in marks)
        budgets = ", ".join(f"{b:g} s" for b in manifest.get("budgets", []))
        link = run["folder"].relative_to(root).as_posix()
        # a run that is no recovery benchmark (experiments/pde_examples.py) gives its headline in the manifest
        entries = _method_lines(run["rows"]) or [(", ".join(manifest.get("methods", [])) or "-", float("nan"),
                                                  manifest.get("headline", "no rows yet"), "", len(manifest.get("seeds", [])))]
        for method, noise, recovered, accuracy, n_seeds in entries:
            lines.append(f"| {run['suite']} | {run['date']} | {_md(commit)} | {method} | {noise:g} | {n_seeds} | "
                         f"{recovered} | {accuracy} | {budgets} | [{link}]({link}/report.md) |")
    legacy = legacy_runs(root)
    if legacy:
        lines += ["", "## Older runs (before manifests, not in the layout)", "",
                  "Their rows carry no commit; the commit that added each folder is in "
                  "`git log -- experiments/results/<folder>`.", "",
                  "| folder | what | method | noise | seeds | recovered | accuracy |", "|---|---|---|---|---|---|---|"]
        for run in legacy:
            name = run["folder"].name
            for method, noise, recovered, accuracy, n_seeds in _method_lines(run["rows"]):
                lines.append(f"| [{name}]({name}/report.md) | {_md(run['title'])} | {method} | {noise:g} | {n_seeds} | "
                             f"{recovered} | {accuracy} |")
    lines += ["", "## Superseded runs (deleted; git keeps them)", "",
              "Single-seed Feynman-100 runs replaced by the ones above; read one back with "
              "`git show <added in>:experiments/results/<folder>/report.md`. One seed each: a difference of "
              "one or two equations between them is no evidence of progress until it holds over seeds.", "",
              "| folder | code of commit | headline | added in |", "|---|---|---|---|"]
    for folder, code, headline, added in SUPERSEDED:
        lines.append(f"| {folder} | {code} | {headline} | {added} |")
    files = other_files(root)
    if files:
        lines += ["", "## Other result files", "", "| file | what |", "|---|---|"]
        lines += [f"| [{name}]({name}) | {_md(what)} |" for name, what in files]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="results directory (default experiments/results)")
    ap.add_argument("--check", action="store_true", help="exit 1 if README.md is not what this would write")
    args = ap.parse_args(argv)
    text = render(args.root)
    index = args.root / INDEX_FILE
    if args.check:
        current = index.read_text() if index.exists() else ""
        if current != text:
            print(f"{index} is out of date: run python experiments/results_index.py", file=sys.stderr)
            return 1
        return 0
    index.write_text(text)
    print(f"wrote {index} ({len(scan_runs(args.root))} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
