"""Is the noise seen? The noise estimate's verdict on every Feynman equation at several noise levels.

For each equation the rows the pipeline estimates on (training + validation of the default split,
800 of 1,000) get :func:`kandisco.discovery.noise.estimate_noise`; the table counts how often noise
is seen (kind "additive" or "relative") per level, beside the pooled neighbour correlation alone
(the rule before the thirds by |y|), and lists the noiseless tables where noise is seen anyway:

    python experiments/noise_visibility.py                      # noise 0, 1%, 10%; about 2 minutes
    python experiments/noise_visibility.py --noise 0,0.01 --ids II.13.17,III.19.51
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import spearmanr

from kandisco.bench import load_tasks
from kandisco.data import load_dataset
from kandisco.discovery.noise import NOISE_CORRELATION, VISIBLE, estimate_noise, local_residuals, standardised


def pooled_visible(X: np.ndarray, y: np.ndarray) -> bool:
    """The rule with one correlation over all rows (errors large enough, neighbours anti-correlated)."""
    errors = local_residuals(X, y)
    sigma = float(np.sqrt(np.median(errors**2) / 0.454936))
    Z = standardised(X)
    _, idx = cKDTree(Z).query(Z, k=4)
    correlation = spearmanr(errors, errors[idx[:, 1:]].mean(axis=1)).statistic
    return bool(sigma >= VISIBLE * np.std(y) and correlation <= NOISE_CORRELATION)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--noise", default="0,0.01,0.1", help="comma-separated noise levels (fractions of std(y))")
    ap.add_argument("--ids", help="comma-separated Feynman ids (default: all 100)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    levels = [float(v) for v in args.noise.split(",") if v.strip()]
    tasks = load_tasks("feynman", args.ids.split(",") if args.ids else None)
    seen: dict[float, list[str]] = {lv: [] for lv in levels}
    seen_pooled: dict[float, list[str]] = {lv: [] for lv in levels}
    for task in tasks:
        for lv in levels:
            d = task.data(lv, args.seed, 1000, 1000)
            ds = load_dataset((d.X_train, d.y_train), feature_names=list(d.features), target_name=d.target)
            split = ds.split(seed=args.seed)
            rows = np.sort(np.concatenate([split.train, split.val]))
            X, y = ds.X[rows], ds.y[rows]
            if estimate_noise(X, y, seed=args.seed).visible:
                seen[lv].append(task.id)
            if pooled_visible(X, y):
                seen_pooled[lv].append(task.id)
    print("| noise | tables | noise seen | seen, pooled correlation alone |")
    print("|---|---|---|---|")
    for lv in levels:
        print(f"| {lv:g} | {len(tasks)} | {len(seen[lv])} | {len(seen_pooled[lv])} |")
    for lv in levels:
        if lv == 0:
            print(f"\nnoise 0, seen anyway: {', '.join(seen[lv]) or '-'} (pooled alone: {', '.join(seen_pooled[lv]) or '-'})")
        else:
            missed = [t.id for t in tasks if t.id not in seen[lv]]
            print(f"noise {lv:g}, not seen: {', '.join(missed) or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
