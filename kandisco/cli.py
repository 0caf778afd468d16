"""The ``kandisco`` command.

``kandisco fit data.csv`` trains a KAN on a CSV and reports its fit (the discovery pipeline's
``discover`` command builds on the same pieces). User errors exit with code 2 and one line
``error: ...`` on stderr; internal failures exit with 1.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .data import DataError

__all__ = ["main"]


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kandisco", description="Symbolic discovery with Kolmogorov-Arnold networks.")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="train a KAN on a CSV and report the fit")
    fit.add_argument("data", help="CSV file with a header row")
    fit.add_argument("--target", help="target column (default: the last numeric column)")
    fit.add_argument("--features", help="comma-separated feature columns (default: the other numeric columns)")
    fit.add_argument("--hidden", default="5", help="hidden widths, comma-separated (default: 5)")
    fit.add_argument("--grid", type=int, default=5)
    fit.add_argument("--steps", type=int, default=50)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--out", help="save the trained model to this file")
    fit.add_argument("--dropna", action="store_true", help="drop rows with missing/NaN/inf values (says how many)")
    fit.add_argument("--quiet", action="store_true")
    fit.set_defaults(func=_cmd_fit)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except DataError as exc:
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
