"""The ``kandisco`` command.

``kandisco fit data.csv`` trains a KAN on a CSV and reports its fit (the discovery pipeline's
``discover`` command builds on the same pieces); ``kandisco bench`` runs the benchmark harness.
User errors exit with code 2 and one line ``error: ...`` on stderr; internal failures exit with 1.
The library's log (the ``kandisco`` logger) goes to stderr: warnings by default, ``-v`` info,
``-vv`` debug.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import NoReturn, Sequence

from .arg_types import positive_int as _positive_int
from .arg_types import positive_seconds as _positive_seconds
from .constraint_args import add_constraint_arguments, constraints_from_args
from .errors import KandiscoError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors, like the CLI's own: ``error: argument --budget: ... (see kandisco discover --help)``."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _fraction(text: str) -> float:
    """A relative uncertainty such as 0.01 (1%)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.01, got {text!r}") from None
    if not (math.isfinite(value) and 0 < value < 10):
        raise argparse.ArgumentTypeError(f"must be a positive fraction such as 0.01 (1%), got {text!r}")
    return value


def _cmd_fit(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from .data import load_dataset
    from .kan import KAN

    data = load_dataset(args.data, args.target, args.features, dropna=args.dropna)
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    X, y, names, target = data.X, data.y[:, None], data.feature_names, data.target_name
    width = [len(names)] + [int(w) for w in args.hidden.split(",") if w] + [1]
    model = KAN(width, grid=args.grid, seed=args.seed)
    hist = model.fit(X, y, steps=args.steps, verbose=not args.quiet, seed=args.seed)
    with torch.no_grad():
        pred = model(torch.as_tensor(X)).numpy()
    r2 = 1 - float(np.mean((pred - y) ** 2) / np.var(y))
    att = model.attribute(torch.as_tensor(X))
    print(f"KAN {width} grid={args.grid}: {target} ~ f({', '.join(names)}) on {len(y)} rows")
    print(f"  R^2 = {r2:.6f}   RMSE = {float(np.sqrt(np.mean((pred - y) ** 2))):.4g}   final loss = {hist.train_loss[-1]:.4g}")
    print("  input importance: " + ", ".join(f"{n} {float(s):.3f}" for n, s in zip(names, att.input_scores)))
    if args.out:
        print(f"  model saved to {model.save(args.out)}")
    return 0


def _search_config(args: argparse.Namespace):
    """--config FILE, then --set name=value on top of it."""
    from .discovery import SearchConfig

    config = SearchConfig.from_file(args.config) if args.config else SearchConfig()
    return config.with_assignments(args.set) if args.set else config


def _cmd_discover(args: argparse.Namespace) -> int:
    import json

    from .data import load_dataset, with_constants
    from .discovery import discover
    from .discovery.vector import split_targets

    config = _search_config(args)
    outputs = split_targets(args.target)
    if outputs is not None:
        return _discover_vector(args, outputs, config)
    features = args.features
    if args.sigma and features and args.sigma not in [f.strip() for f in features.split(",")]:
        features = f"{features},{args.sigma}"  # the uncertainties column is read with the data, then set apart
    data = load_dataset(args.data, args.target, features, dropna=args.dropna, units=args.units)
    if args.constants:
        data = with_constants(data, args.constants)
    constraints = constraints_from_args(args, [n for n in data.feature_names if n != args.sigma])
    for note in data.notes:
        print(f"note: {note}", file=sys.stderr)
    with _progress_bar(args) as bar:
        result = discover(data, budget_seconds=args.budget, seed=args.seed, pick=args.pick, progress=bar, n_jobs=args.jobs,
                          scheduler=args.scheduler, config=config, max_strategies=args.max_strategies,
                          sigma=args.sigma, noise=args.noise, constraints=constraints)
    if args.out:
        _write_outputs(result, data, Path(args.out))
    if args.json:
        print(json.dumps(_payload(result)))
        return 0
    _print_result(result, args, len(data.notes))
    if args.out:
        print(f"results written to {args.out}/")
    return 0


def _discover_vector(args: argparse.Namespace, outputs: list[str], config) -> int:
    """``--target Fx,Fy,Fz``: one law per output from the same inputs; ``--out DIR`` gets a folder per output."""
    import json

    from .discovery import discover

    with _progress_bar(args) as bar:
        result = discover(args.data, outputs, args.features, budget_seconds=args.budget, seed=args.seed, pick=args.pick,
                          progress=bar, n_jobs=args.jobs, scheduler=args.scheduler, config=config, max_strategies=args.max_strategies,
                          sigma=args.sigma, noise=args.noise, dropna=args.dropna, units=args.units, constants=args.constants,
                          constraints=constraints_from_args(args, None))
    if args.out:
        from .data import load_dataset

        features = result[outputs[0]].features
        for name in outputs:
            data = load_dataset(args.data, name, features, dropna=args.dropna, units=args.units)
            _write_outputs(result[name], data, Path(args.out) / name)
        (Path(args.out) / "laws.json").write_text(result.to_json(indent=2))
    if args.json:
        print(json.dumps({"laws": result.formulas, "shared_factor": result.shared_factor, "notes": result.notes,
                          "results": {name: _payload(r) for name, r in result.laws.items()}}))
        return 0
    for name in outputs:
        _print_result(result[name], args, 0)
        print()
    if result.shared_factor:
        print(f"shared factor: {result.shared_factor} (every component has it)")
    if args.out:
        print(f"results written to {args.out}/ (one folder per output, laws.json)")
    return 0


def _payload(result) -> dict:
    """The ``--json`` object of one law."""
    payload = {
        "formula": result.formula,
        "target": result.target,
        "r2_test": result.r2_test,
        "rmse_test": result.rmse_test,
        "complexity": result.complexity,
        "importance": result.importance,
        "pareto": [{"formula": c.formula, "complexity": c.complexity, "loss": c.loss, "score": c.score} for c in result.pareto],
        "constants": result.constants,
        "formula_with_errors": result.formula_with_errors,
        "noise": result.config.get("noise"),
        "fit": result.fit,
        "outliers": result.outliers,
        "seconds": result.seconds,
        "notes": result.notes,
        "warnings": result.warnings,
    }
    for key in ("units", "constraints"):
        if key in result.config:
            payload[key] = result.config[key]
    return payload


def _print_result(result, args: argparse.Namespace, data_notes: int) -> None:
    """The law, its fit, units, importances, Pareto front, notes and warnings, for a terminal."""
    import sympy

    print(f"{result.target} = {result.formula}")
    pretty = sympy.pretty(result.expr, use_unicode=True)
    if "\n" in pretty:
        print(pretty)
    print(f"test R^2 = {result.r2_test:.6g}   test RMSE = {result.rmse_test:.4g}   ({result.seconds:.1f} s)")
    _print_fit(result)
    _print_units(result.config.get("units"))
    _print_constraints(result.config.get("constraints"))
    if result.importance:
        print("input importance: " + ", ".join(f"{n} {s:.3f}" for n, s in result.importance.items()))
    print("Pareto front (validation loss: " + str(result.config.get("loss")) + "):")
    print(result.table())
    for note in result.notes[data_notes:]:
        print(f"note: {note}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.verbose:
        print("strategies run (seconds): " + ", ".join(f"{k} {v:.1f}" for k, v in result.timings.items()), file=sys.stderr)


def _print_constraints(report: dict | None) -> None:
    """Which constraints the law was asked to keep, and whether it keeps them (the violations go to warnings)."""
    if report:
        print(f"constraints: {'; '.join(report['constraints'])} ({'all kept' if report['satisfied'] else 'NOT all kept'})")


def _print_fit(result) -> None:
    """The constants with their one-sigma errors, the noise, the fit's chi-square and the outlying rows."""
    if result.constants:
        print(f"with errors (1 sigma): {result.target} = {result.formula_with_errors}")
    noise = result.config.get("noise") or {}
    if noise.get("kind") in ("additive", "relative"):
        size = f"{100 * noise['fraction_of_spread']:.3g}% of {'each value' if noise.get('relative') else 'the spread of ' + result.target}"
        print(f"noise: {noise['kind']}, {size} ({noise['source']})")
    chi2 = (result.fit or {}).get("reduced_chi2")
    if chi2 is not None:
        print(f"reduced chi-square = {chi2:.3g} on {result.fit['dof']} degrees of freedom (weighted by the given sigma)")
    if result.outliers:
        words = "lines" if result.fit.get("outlier_rows_are") == "line numbers" else "rows"
        print(f"outliers (kept in the data, constants refitted robustly): {words} " + ", ".join(str(r) for r in result.outliers))


def _print_units(units: dict | None) -> None:
    """The dimensional analysis under the law: its pi groups and whether the law is consistent."""
    if not units:
        return
    if "law" in units:
        print(f"pi groups: {units['law']}")
    elif units.get("message"):
        print(f"no pi groups: {units['message']}")
    if units.get("constants"):
        print("constants: " + ", ".join(f"{n} = {v:.10g} {units['units'][n]}" for n, v in units["constants"].items()))
    print("dimensionally consistent" if units["consistent"] else f"not dimensionally consistent: {units['reason']}")


def _cmd_bench(args: argparse.Namespace) -> int:
    """Run (or resume) a benchmark sweep into --out, then write its report."""
    from .bench import BenchError

    try:
        return _run_bench(args)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _run_bench(args: argparse.Namespace) -> int:
    import os

    from .bench import BenchError, load_tasks, make_jobs, run_bench
    from .bench.provenance import output_dir
    from .bench.report import write_report

    def numbers(text: str, kind: type, name: str) -> list:
        try:
            return [kind(v) for v in text.split(",") if v.strip()]
        except ValueError:
            raise BenchError(f"--{name} takes comma-separated {kind.__name__} values, got {text!r}") from None

    out = output_dir(args.out, args.results_root, args.suite)
    tasks = load_tasks(args.suite, [i.strip() for i in args.ids.split(",") if i.strip()] if args.ids else None)
    if not args.report_only:
        if args.jobs is not None and args.jobs < 1:
            raise BenchError(f"--jobs must be at least 1, got {args.jobs}")
        methods = [m.strip() for m in args.methods.split(",") if m.strip()]
        if args.units:  # kandisco told each task's units, beside the methods asked for
            from .bench import METHODS

            with_units = "kandisco-units" if "kandisco-units" in METHODS else "kandisco.bench.methods.kandisco:KandiscoUnits"
            methods += [with_units] if with_units not in methods else []
        jobs = make_jobs(tasks, methods, numbers(args.noise, float, "noise"), numbers(args.seeds, int, "seeds"),
                         args.budget, args.margin, args.n_train, args.n_test)

        def progress(row: dict) -> None:
            if args.quiet:
                return
            if row.get("event") == "start":
                print(f"{row['todo']} jobs to run, {row['done']} already in {row['path']}", file=sys.stderr)
                return
            mark = "OK " if row.get("recovered") else "-- "
            what = row.get("formula") if row.get("status") == "ok" else row.get("status")
            print(f"{mark}{row['task']:>10} {row['method']:<9} noise={row['noise']:<6g} seed={row['seed']} "
                  f"{float(row.get('seconds') or 0):6.1f}s  {what}", file=sys.stderr)

        run_bench(jobs, out, workers=args.jobs or os.cpu_count() or 1, scheduler=args.scheduler, progress=progress)
    elif not (out / "results.jsonl").exists():
        raise BenchError(f"{out}/results.jsonl does not exist: nothing to report")
    md, png = write_report(out, title=args.title or f"kandisco bench: {args.suite}", task_order=[t.id for t in tasks])
    print(f"report: {md} and {png}")
    return 0


def _progress_bar(args: argparse.Namespace):
    """The discover command's bar on stderr: shown on a terminal (unless --json) or with -v; never with --quiet."""
    from .progress import ProgressBar

    shown = not args.quiet and (args.verbose >= 1 or (sys.stderr.isatty() and not args.json))
    return ProgressBar(args.budget, file=sys.stderr, disable=not shown)


def _write_outputs(result, data, out: Path) -> None:
    """result.json, formula.tex, the chosen candidate's model (flat KAN or KAN graph), three figures."""
    from .discovery import get_view
    from .plot import plot_model, plot_pareto, plot_predictions, save_figure

    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(result.to_json(indent=2))
    (out / "formula.tex").write_text(f"{result.target} = {result.latex}\n")
    if result.model is not None:
        result.model.save(out / "model.kan")
        view = get_view(result.pareto[result.chosen].config.get("view", "raw"))  # the network saw the data through it
        names, target = view.labels(list(data.feature_names), data.target_name)
        save_figure(plot_model(result.model, view.plot_inputs(data.X), names, target), out / "network.png")
    save_figure(plot_pareto(result), out / "pareto.png")
    save_figure(plot_predictions(data.y, result.predict(data.X), f"{result.target} = {result.formula}"), out / "predictions.png")


def _parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="kandisco", description="Symbolic discovery with Kolmogorov-Arnold networks.")
    parser.add_argument("--version", action="version", version=f"kandisco {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fit = sub.add_parser("fit", help="train a KAN on a CSV and report the fit")
    fit.add_argument("data", help="CSV file with a header row")
    fit.add_argument("--target", help="target column (default: the last numeric column)")
    fit.add_argument("--features", help="comma-separated feature columns (default: the other numeric columns)")
    fit.add_argument("--hidden", default="5", help="hidden widths, comma-separated (default: 5)")
    fit.add_argument("--grid", type=_positive_int, default=5)
    fit.add_argument("--steps", type=_positive_int, default=50)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--out", help="save the trained model to this file")
    fit.add_argument("--dropna", action="store_true", help="drop rows with missing/NaN/inf values (says how many)")
    fit.add_argument("--quiet", action="store_true")
    fit.add_argument("-v", "--verbose", action="count", default=0, help="-v: info messages on stderr; -vv: debug messages too")
    fit.set_defaults(func=_cmd_fit)

    disc = sub.add_parser("discover", help="find the law behind a CSV of measurements")
    disc.add_argument("data", help="CSV file with a header row")
    disc.add_argument("--target", help="target column (default: the last numeric column); several, comma-separated (Fx,Fy,Fz), "
                      "for a vector law: one law per output from the same inputs")
    disc.add_argument("--features", help="comma-separated feature columns (default: the other numeric columns)")
    disc.add_argument("--budget", type=_positive_seconds, default=60.0, help="seconds to search (default 60)")
    disc.add_argument("--jobs", type=_positive_int, help="worker processes (default: every core); 1 runs the search in one process")
    disc.add_argument("--scheduler", help="run the strategies on a Dask distributed scheduler at this address")
    disc.add_argument("--max-strategies", type=_positive_int, help="try at most this many strategies (a result independent of speed)")
    disc.add_argument("--config", help="JSON file of search settings (see kandisco.discovery.SearchConfig)")
    disc.add_argument("--set", action="append", metavar="NAME=VALUE", help="one search setting, e.g. --set general_steps=80 (repeatable)")
    disc.add_argument("-v", "--verbose", action="count", default=0,
                      help="-v: the progress bar even off a terminal, info messages and the strategies run; -vv: debug messages too")
    disc.add_argument("--seed", type=int, default=0)
    disc.add_argument("--pick", default="best", choices=["best", "accuracy", "simplest"], help="rule that picks the formula from the Pareto front")
    disc.add_argument("--out", help="directory for result.json, formula.tex, model.kan and PNG plots")
    disc.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    disc.add_argument("--dropna", action="store_true", help="drop rows with missing/NaN/inf values (says how many)")
    disc.add_argument("--units", metavar="FILE", help="CSV of name,unit per column (units may also be in the header: 'v [m/s]')")
    disc.add_argument("--constants", metavar="NAMES",
                      help="physical constants to add as inputs with their units, e.g. c,G,h,hbar,kB,e,eps0,mu0")
    disc.add_argument("--quiet", action="store_true", help="no progress bar")
    disc.add_argument("--sigma", metavar="COLUMN", help="column of the target's one-sigma uncertainties (a weighted fit; not an input)")
    disc.add_argument("--noise", type=_fraction, metavar="FRACTION",
                      help="the target's relative uncertainty, e.g. 0.01 for 1%% of each value (default: estimated from the data)")
    add_constraint_arguments(disc)
    disc.set_defaults(func=_cmd_discover)

    bench = sub.add_parser("bench", help="benchmark kandisco and other methods on Feynman, Kepler or your tasks",
                           description="Run tasks x methods x noise levels x seeds (one process per job, each under a "
                           "wall-clock limit), append rows to OUT/results.jsonl (a rerun resumes) and write "
                           "OUT/report.md and OUT/report.png.")
    bench.add_argument("--suite", default="feynman", help="feynman, feynman-realistic (sampled over decades, signed), kepler, or a task table CSV "
                       "(id,data,target,formula); comma-separated")
    bench.add_argument("--ids", help="comma-separated task ids (default: every task of the suites)")
    bench.add_argument("--methods", default="kandisco,operon,gplearn,pykan,pysr",
                       help="comma-separated: kandisco, operon, gplearn, pykan, pysr, linear, or module:Class")
    bench.add_argument("--noise", default="0,0.001,0.01,0.1", help="noise levels, fraction of std(y) (default 0,0.001,0.01,0.1)")
    bench.add_argument("--units", action="store_true",
                       help="also run kandisco-units: kandisco told each task's units (Feynman: datasets/feynman_units.csv)")
    bench.add_argument("--seeds", default="0", help="comma-separated seeds (data sample, noise and method)")
    bench.add_argument("--budget", type=_positive_seconds, default=60.0, help="seconds per job for every method (default 60)")
    bench.add_argument("--margin", type=float, default=60.0, help="a job is killed at budget + margin seconds (default 60)")
    bench.add_argument("--n-train", type=int, default=1000, help="training rows per Feynman task (default 1000)")
    bench.add_argument("--n-test", type=int, default=1000, help="noise-free test rows per task (default 1000)")
    bench.add_argument("--jobs", type=int, help="jobs at once on this machine (default: number of cores)")
    bench.add_argument("--scheduler", help="run the jobs on a Dask distributed scheduler at this address instead")
    where = bench.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="directory for results.jsonl, manifest.json, report.md, report.png")
    where.add_argument("--results-root", help="file the run as DIR/<suite>/<date>_<commit>/ (e.g. experiments/results)")
    bench.add_argument("--title", help="report title")
    bench.add_argument("--report-only", action="store_true", help="only rewrite the report from OUT/results.jsonl")
    bench.add_argument("--quiet", action="store_true", help="no line per finished job")
    bench.set_defaults(func=_cmd_bench)

    from .dynamics.cli import add_ode_parser, add_potential_parser  # kandisco ode and potential live with the dynamics package

    add_ode_parser(sub)
    add_potential_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed: its exit code
        return exc.code if isinstance(exc.code, int) else 2
    from .progress import verbosity

    try:
        with verbosity(getattr(args, "verbose", 0), stream=sys.stderr):  # put back on return: main() may run in a caller's process
            return args.func(args)
    except KandiscoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence, no traceback for users
        print(f"kandisco: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
