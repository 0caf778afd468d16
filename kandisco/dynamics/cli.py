"""``kandisco ode``: laws of motion from a table of trajectories (see :func:`kandisco.dynamics.discover_ode`);
``kandisco potential``: a potential V with F = -grad V from positions and forces (:func:`kandisco.dynamics.discover_potential`).

:func:`add_ode_parser` and :func:`add_potential_parser` add the subcommands to the ``kandisco`` parser.
``--json`` prints one object: ``laws`` maps each state to its derivative's formula (sympy-parsable,
in the column names), with per-law R^2 and the simulation check; ``--out DIR`` writes
``result.json``, ``trajectories.png`` (data against the simulated system) and ``phase.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..arg_types import positive_int, positive_seconds

__all__ = ["add_ode_parser", "add_potential_parser", "run_ode", "run_potential"]


def add_ode_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``ode`` to the ``kandisco`` subparsers ``sub``; its ``func`` is :func:`run_ode`."""
    ode = sub.add_parser("ode", help="find the laws of motion d(state)/dt = f(states) behind trajectories in a CSV",
                         description="Estimate each state's derivative per trajectory (the derivative package), find one "
                         "law per state with the discovery pipeline, and integrate the found system back from each "
                         "trajectory's first state.")
    ode.add_argument("data", help="CSV file, one row per sample (long format)")
    ode.add_argument("--time", default="t", help="time column (default t)")
    ode.add_argument("--states", help="comma-separated state columns (default: every numeric column but time and group)")
    ode.add_argument("--group", help="column telling trajectories apart (default: the whole file is one trajectory)")
    ode.add_argument("--budget", type=positive_seconds, default=30.0, help="seconds to search per law (default 30)")
    ode.add_argument("--jobs", type=positive_int, help="worker processes (default: every core); 1 runs the search in one process")
    ode.add_argument("--seed", type=int, default=0)
    ode.add_argument("--derivative", default="auto", choices=["auto", "spline", "savitzky_golay", "finite_difference"],
                     help="how derivatives are estimated (default auto: interpolating or smoothing spline by the noise)")
    ode.add_argument("--units", help="a name,unit CSV of units for the states and time (or give them in the header: 'x [m]', 't [s]')")
    ode.add_argument("--tolerance", type=float, default=0.1,
                     help="the simulation's drift tolerance, relative to each state's spread (default 0.1)")
    ode.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ode.add_argument("--out", help="directory for result.json, trajectories.png and phase.png")
    ode.add_argument("-v", "--verbose", action="count", default=0, help="-v: info messages on stderr; -vv: debug messages too")
    ode.set_defaults(func=run_ode)
    return ode


def _columns(text: str, option: str) -> list[str]:
    from ..data import DataError

    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise DataError(f"{option} needs comma-separated column names, got {text!r}")
    return names


def add_potential_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``potential`` to the ``kandisco`` subparsers ``sub``; its ``func`` is :func:`run_potential`."""
    pot = sub.add_parser("potential", help="find a potential V(positions) with forces = -grad V from a CSV of positions and forces",
                         description="Test whether the force field is conservative (curl of a local linear fit), train a KAN "
                         "potential whose negative gradient matches the forces, and read V as a formula whose constants are "
                         "fitted on the forces. Accelerations work as forces per unit mass.")
    pot.add_argument("data", help="CSV file, one row per sample")
    pot.add_argument("--positions", required=True, help="comma-separated position columns, e.g. x,y")
    pot.add_argument("--forces", required=True, help="comma-separated force (or acceleration) columns, one per position, e.g. Fx,Fy")
    pot.add_argument("--budget", type=positive_seconds, default=60.0, help="seconds in all (default 60)")
    pot.add_argument("--jobs", type=positive_int, help="worker processes for the discovery (default: every core)")
    pot.add_argument("--seed", type=int, default=0)
    pot.add_argument("--curl-tolerance", type=float, default=0.2,
                     help="largest median ||J - J^T|| / ||J|| of the force's Jacobian still called conservative (default 0.2)")
    pot.add_argument("--force", action="store_true", help="look for a potential even when the curl test says there is none")
    pot.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    pot.set_defaults(func=run_potential)
    return pot


def run_potential(args: argparse.Namespace) -> int:
    """Run ``kandisco potential``; a field that is not conservative is an answer (exit 0), not an error."""
    from .potential import discover_potential

    result = discover_potential(args.data, _columns(args.positions, "--positions"), _columns(args.forces, "--forces"),
                                budget_seconds=args.budget, seed=args.seed, n_jobs=args.jobs, curl_tolerance=args.curl_tolerance,
                                force=args.force)
    if args.json:
        print(json.dumps(result.to_dict()))
    elif result.formula is None:
        print(f"no potential: the force field is not conservative (curl ratio {result.curl.ratio:.3g}, "
              f"tolerance {result.curl.tolerance:g})")
    else:
        print(f"V = {result.formula}")
        print(f"-grad V against the forces: R^2 = {result.force_r2:.9g}   (the KAN's: {result.kan_force_r2:.6g}; "
              f"curl ratio {result.curl.ratio:.3g}; {result.seconds:.1f} s)")
    if not args.json:
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    return 0


def run_ode(args: argparse.Namespace) -> int:
    """Run ``kandisco ode``; user errors raise KandiscoError (the CLI prints them and exits 2)."""
    from ..data import read_units_file
    from .ode import discover_ode

    result = discover_ode(args.data, time=args.time, states=args.states, group=args.group, budget_seconds=args.budget,
                          seed=args.seed, n_jobs=args.jobs, derivative=args.derivative, tolerance=args.tolerance,
                          units=read_units_file(args.units) if args.units else None)
    payload = result.to_dict()
    if args.out:
        _write(result, payload, Path(args.out))
    if args.json:
        print(json.dumps(payload))
        return 0
    for state, law in result.laws.items():
        print(f"d{state}/d{result.time} = {law.formula}    (R^2 = {law.r2_test:.6g} held out, {law.r2:.6g} all samples, {law.seconds:.1f} s)")
    if result.units:
        print("units: " + ", ".join(f"{c} [{u}]" for c, u in result.units.items()) + " (the laws' constants carry the units between)")
    if result.simulation is not None:
        print(f"simulation from each trajectory's first state (drift: error past {result.simulation.tolerance:g} of a state's spread):")
        for check in result.simulation.trajectories:
            drift = "never" if check.drift_time is None else f"after {check.drift_time:.4g}"
            print(f"  trajectory {check.label}: {check.status}, relative RMSE {check.error:.3g}, drift {drift} "
                  f"(span {check.t_end - check.t_start:.4g})")
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        print(f"results written to {args.out}/")
    return 0


def _write(result: Any, payload: dict[str, Any], out: Path) -> None:
    from ..plot import save_figure
    from .plot import plot_phase, plot_trajectories

    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(payload, indent=2) + "\n")
    save_figure(plot_trajectories(result), out / "trajectories.png")
    save_figure(plot_phase(result), out / "phase.png")
