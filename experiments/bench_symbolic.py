#!/usr/bin/env python
"""Auto-symbolic over every edge of trained KANs: kandisco vs pykan 0.2.8, side by side, one run.

For each width ([4,5,1] and [6,6,1]):

1. One pykan ``KAN(width, grid=5, k=3, seed=0, auto_save=False)`` (float32, pykan's default dtype) is
   trained with ``model.fit(dataset, opt="LBFGS", steps=50)`` (pykan's defaults otherwise: grid updates
   on, lamb=0) on 1000 seeded points, uniform in [-1, 1]^n, of

   * n=4: ``f4 = exp(sin(pi x1) + x2^2) + x3 x4``
   * n=6: ``f6 = exp(sin(pi x1) + x2^2) + x3 x4 + tanh(2 x5) + 0.5 cos(3 x6)``

   (periodic, exponential, quadratic, product-through-addition, saturating and oscillating edges).
2. One forward on the training inputs; every edge (l, i, j) gets its samples from pykan's own caches:
   ``x = model.acts[l][:, i]``, ``y = model.spline_postacts[l][:, j, i]``.  Both tools see exactly these
   1000 (x, y) pairs per edge.
3. pykan: ``model.auto_symbolic(lib=None, verbose=0)`` (its default library, 28 functions; its default
   ``weight_simple=0.8``) on a fresh ``copy.deepcopy`` of the trained model (the copy is not timed).  It
   reads the same cached acts/postacts.  The chosen name and affine (a, b, c, d) are read back from
   ``model.symbolic_fun[l]``; the r2 pykan itself reports is recorded by wrapping ``suggest_symbolic``.
4. kandisco: ``fit_affine(xs, ys, get_library("pykan"))`` on the stacked (E, N) float64 samples, then
   ``select_best(fits, lib)`` (default scoring, complexity_weight=0.15).  Timed: both calls.
5. R^2 of the chosen ``c f(a x + b) + d`` is recomputed *here, for both tools, with one definition*, in
   float64 on all 1000 samples of the edge (in-sample for both; kandisco's own r2 is held-out):
   ``R^2 = 1 - SSE / SST``, ``SST = sum (y - mean y)^2``; a point where the prediction is NaN/inf (out of
   f's domain, pole) contributes ``(y - mean y)^2`` to SSE, i.e. counts as fully unexplained.  pykan's
   functions are evaluated with pykan's own ``SYMBOLIC_LIB[name][0]``, kandisco's with
   ``lib[name].torch_fn``.  A ``0`` choice has R^2 = 0 (up to kandisco's d being the fit-set mean).

Also reported: kandisco's choice under ``complexity_weight=0.3`` (what ``KAN.auto_symbolic`` uses;
same fits, no extra time), and, per edge, kandisco's own fit of *pykan's* chosen function (``k(pyf)``),
which separates a fitter problem from a selection difference.  End-to-end reference: a kandisco
``KAN(width, grid=5, k=3, seed=0)`` fitted on the same data (``fit(X, y, steps=50, verbose=False)``,
float64) and timed ``auto_symbolic(library="pykan")`` on it (sampling + fit + select + fix).

Timing: ``torch.set_num_threads(1)`` for everything (both tools, training too), wall clock
(``time.perf_counter``), best of ``--pykan-repeats`` (default 2) / ``--kandisco-repeats`` (default 5).

Run: ``.venv/bin/python experiments/bench_symbolic.py`` (about 5-10 minutes on one core); writes
``experiments/results/symbolic_speed.md`` and ``.csv`` and prints the tables.
"""

from __future__ import annotations

import argparse
import copy
import csv
import datetime as _dt
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("TQDM_DISABLE", "1")  # pykan's fit always opens a progress bar

import numpy as np  # noqa: E402
import torch  # noqa: E402

THREADS = 1
SEED = 0
N_TRAIN = 1000
N_TEST = 1000
GRID, K, STEPS = 5, 3, 50
TARGET_SPEEDUP = 20.0

# pykan name -> kandisco name (get_library("pykan")); None: no counterpart in kandisco
PYKAN_TO_KANDISCO = {"x^0.5": "sqrt", "1/sqrt(x)": "1/sqrt", "1/x^0.5": "1/sqrt",
                     "1/x^4": None, "1/x^5": None, "sgn": None}

LAWS = {
    4: ("exp(sin(pi*x1) + x2^2) + x3*x4",
        lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2) + x[:, 2] * x[:, 3]),
    6: ("exp(sin(pi*x1) + x2^2) + x3*x4 + tanh(2*x5) + 0.5*cos(3*x6)",
        lambda x: torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2) + x[:, 2] * x[:, 3]
        + torch.tanh(2 * x[:, 4]) + 0.5 * torch.cos(3 * x[:, 5])),
}
WIDTHS = ([4, 5, 1], [6, 6, 1])


def pykan_version() -> str:
    try:
        from importlib.metadata import version

        return version("pykan")
    except Exception:  # pragma: no cover
        return "unknown"


def make_data(n_in: int):
    gen = torch.Generator().manual_seed(SEED + n_in)
    X = torch.rand(N_TRAIN + N_TEST, n_in, generator=gen, dtype=torch.float64) * 2 - 1
    y = LAWS[n_in][1](X)[:, None]
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def r2_of(pred: torch.Tensor, y: torch.Tensor) -> float:
    """R^2 with non-finite predictions counted as fully unexplained (see module docstring). 1-D float64."""
    ym = y.mean()
    dev2 = (y - ym) ** 2
    ok = torch.isfinite(pred)
    sq = torch.where(ok, (torch.where(ok, pred, ym) - y) ** 2, dev2)
    sst = dev2.sum()
    if sst <= 0:
        return float("nan")
    return float(1 - sq.sum() / sst)


def edges_of(width):
    return [(l, i, j) for l in range(len(width) - 1) for i in range(width[l]) for j in range(width[l + 1])]


# ----------------------------------------------------------------------------------------------- pykan
def train_pykan(width, Xtr, ytr, Xte, yte):
    from kan import KAN

    torch.set_default_dtype(torch.float32)
    model = KAN(width=copy.deepcopy(width), grid=GRID, k=K, seed=SEED, auto_save=False, device="cpu")
    ds = {"train_input": Xtr.float(), "train_label": ytr.float(),
          "test_input": Xte.float(), "test_label": yte.float()}
    t0 = time.perf_counter()
    res = model.fit(ds, opt="LBFGS", steps=STEPS)
    t_fit = time.perf_counter() - t0
    with torch.no_grad():
        model(ds["train_input"])  # fills model.acts / model.spline_postacts on the training inputs
    return model, t_fit, float(res["train_loss"][-1]), float(res["test_loss"][-1])


def pykan_auto_symbolic(trained, edges, subset):
    """One timed pykan auto-symbolic pass on a deep copy (the copy is not timed).

    ``subset`` is None: ``model.auto_symbolic(lib=None, verbose=0)`` over every edge.  Otherwise only the
    listed edges, with exactly the loop body of pykan 0.2.8's ``auto_symbolic`` (``suggest_symbolic`` with
    its defaults, then ``fix_symbolic`` of the winner when r2 >= 0).  Returns (seconds, {edge: (name,
    params, r2_reported)}) for the edges processed.
    """
    model = copy.deepcopy(trained)
    reported = {}
    orig = model.suggest_symbolic

    def recording(l, i, j, *args, **kw):
        out = orig(l, i, j, *args, **kw)
        reported[(l, i, j)] = float(out[2])
        return out

    model.suggest_symbolic = recording  # instance attribute; auto_symbolic calls self.suggest_symbolic
    t0 = time.perf_counter()
    if subset is None:
        model.auto_symbolic(lib=None, verbose=0)
    else:
        for (l, i, j) in subset:  # pykan's auto_symbolic loop body, restricted to these edges
            name, fun, r2, c = model.suggest_symbolic(l, i, j, a_range=(-10, 10), b_range=(-10, 10), lib=None,
                                                      verbose=False, weight_simple=0.8)
            if r2 >= 0.0:
                model.fix_symbolic(l, i, j, name, verbose=False, log_history=False)
    dt = time.perf_counter() - t0
    chosen = {}
    for (l, i, j) in (edges if subset is None else subset):
        name = model.symbolic_fun[l].funs_name[j][i]
        params = model.symbolic_fun[l].affine.data[j, i].detach().double().clone()
        chosen[(l, i, j)] = (name, params, reported.get((l, i, j), float("nan")))
    return dt, chosen


def pykan_pred(name, params, x):
    from kan.utils import SYMBOLIC_LIB

    a, b, c, d = (float(v) for v in params)
    with torch.no_grad():
        return c * SYMBOLIC_LIB[name][0](a * x + b) + d


# --------------------------------------------------------------------------------------------- kandisco
def kandisco_run(xs, ys, lib):
    from kandisco.symbolic import fit_affine, select_best

    t0 = time.perf_counter()
    fits = fit_affine(xs, ys, lib)
    best = select_best(fits, lib)
    return time.perf_counter() - t0, fits, best


def kandisco_pred(lib, name, params, x):
    a, b, c, d = (float(v) for v in params)
    if name == "0":
        return torch.full_like(x, d)
    with torch.no_grad():
        return c * lib[name].torch_fn(a * x + b) + d


def kandisco_end_to_end(width, Xtr, ytr, repeats):
    from kandisco.kan import KAN

    m = KAN(width, grid=GRID, k=K, seed=SEED)
    t0 = time.perf_counter()
    m.fit(Xtr, ytr, steps=STEPS, verbose=False)
    t_fit = time.perf_counter() - t0
    with torch.no_grad():
        rmse = float(((m(Xtr) - ytr) ** 2).mean().sqrt())
    times, fixed = [], None
    for _ in range(repeats):
        mc = copy.deepcopy(m)
        t0 = time.perf_counter()
        fixed = mc.auto_symbolic(library="pykan")
        times.append(time.perf_counter() - t0)
    n0 = sum(1 for f in fixed if f.fit.name == "0")
    mean_r2 = float(np.mean([f.fit.r2 for f in fixed]))
    return dict(t_fit=t_fit, rmse=rmse, t_auto=min(times), n_edges=len(fixed), n_zero=n0, mean_r2_own=mean_r2)


# ------------------------------------------------------------------------------------------------ main
def bench_width(width, args, lib):
    from kandisco.symbolic import rank_edge

    n_in = width[0]
    Xtr, ytr, Xte, yte = make_data(n_in)
    model, t_fit, rmse_tr, rmse_te = train_pykan(width, Xtr, ytr, Xte, yte)
    edges = edges_of(width)
    xs = torch.stack([model.acts[l][:, i].detach() for l, i, _ in edges]).double()  # (E, N)
    ys = torch.stack([model.spline_postacts[l][:, j, i].detach() for l, i, j in edges]).double()

    # kandisco first warm-up-free: best of repeats includes the first (cold) call as one sample
    k_times, fits, best = [], None, None
    for _ in range(args.kandisco_repeats):
        dt, fits, best = kandisco_run(xs, ys, lib)
        k_times.append(dt)
    best03 = [rank_edge(fits, e, lib, complexity_weight=0.3)[0] for e in range(len(edges))]

    if args.pykan_edges <= 0 or args.pykan_edges >= len(edges):
        subset = None
    else:  # seeded subset, kept in pykan's loop order
        gen = torch.Generator().manual_seed(SEED)
        pick = sorted(torch.randperm(len(edges), generator=gen)[: args.pykan_edges].tolist())
        subset = [edges[p] for p in pick]
    n_p = len(edges) if subset is None else len(subset)
    p_times, chosen = [], None
    for _ in range(args.pykan_repeats):
        dt, chosen = pykan_auto_symbolic(model, edges, subset)
        p_times.append(dt * len(edges) / n_p)  # per-edge cost x E (exact when subset is None)
        print(f"  pykan {width}: {dt:.2f} s for {n_p} edges", flush=True)

    names_k = list(fits.names)
    rows = []
    for e, edge in enumerate(edges):
        x, y = xs[e], ys[e]
        ran = edge in chosen
        pname, pparams, prep = chosen[edge] if ran else ("", torch.full((4,), math.nan, dtype=torch.float64), math.nan)
        r2_p = r2_of(pykan_pred(pname, pparams, x).double(), y) if ran else math.nan
        kb = best[e]
        r2_k = r2_of(kandisco_pred(lib, kb.name, kb.params, x), y)
        kb3 = best03[e]
        r2_k3 = r2_of(kandisco_pred(lib, kb3.name, kb3.params, x), y)
        kname_of_p = PYKAN_TO_KANDISCO.get(pname, pname)
        if ran and kname_of_p is not None and kname_of_p in names_k and kname_of_p != "0":
            kk = names_k.index(kname_of_p)
            r2_k_pf = r2_of(kandisco_pred(lib, kname_of_p, fits.params[e, kk].tolist(), x), y)
        else:
            r2_k_pf = float("nan")
        rows.append(dict(
            width=str(width).replace(" ", ""), edge=f"({edge[0]},{edge[1]},{edge[2]})", pykan_ran=ran,
            x_min=float(x.min()), x_max=float(x.max()), y_std=float(y.std()),
            pykan_fn=pname, pykan_r2=r2_p, pykan_r2_reported=prep,
            pykan_params=" ".join(f"{float(v):.4g}" for v in pparams),
            kandisco_fn=kb.name, kandisco_r2=r2_k, kandisco_r2_heldout=kb.r2,
            kandisco_params=" ".join(f"{v:.4g}" for v in kb.params),
            kandisco_cw03_fn=kb3.name, kandisco_cw03_r2=r2_k3,
            kandisco_fit_of_pykan_fn_r2=r2_k_pf,
        ))

    e2e = kandisco_end_to_end(width, Xtr, ytr, args.kandisco_repeats)
    t_p, t_k = min(p_times), min(k_times)
    summary = dict(
        width=str(width).replace(" ", ""), law=LAWS[n_in][0], n_edges=len(edges),
        pykan_train_s=t_fit, pykan_train_rmse=rmse_tr, pykan_test_rmse=rmse_te,
        pykan_s=t_p, pykan_all_s=" ".join(f"{t:.2f}" for t in p_times),
        kandisco_s=t_k, kandisco_all_s=" ".join(f"{t:.3f}" for t in k_times),
        speedup=t_p / t_k, pykan_edges_run=n_p, pykan_extrapolated=subset is not None,
        pykan_mean_r2=float(np.mean([r["pykan_r2"] for r in rows if r["pykan_ran"]])),
        kandisco_mean_r2=float(np.mean([r["kandisco_r2"] for r in rows if r["pykan_ran"]])),
        kandisco_mean_r2_all=float(np.mean([r["kandisco_r2"] for r in rows])),
        kandisco_cw03_mean_r2=float(np.mean([r["kandisco_cw03_r2"] for r in rows if r["pykan_ran"]])),
        pykan_n_zero=sum(r["pykan_fn"] == "0" for r in rows if r["pykan_ran"]),
        kandisco_n_zero=sum(r["kandisco_fn"] == "0" for r in rows if r["pykan_ran"]),
        kandisco_n_zero_all=sum(r["kandisco_fn"] == "0" for r in rows),
        kandisco_cw03_n_zero=sum(r["kandisco_cw03_fn"] == "0" for r in rows if r["pykan_ran"]),
        e2e_train_s=e2e["t_fit"], e2e_train_rmse=e2e["rmse"], e2e_auto_s=e2e["t_auto"],
        e2e_n_edges=e2e["n_edges"], e2e_n_zero=e2e["n_zero"], e2e_mean_r2_heldout=e2e["mean_r2_own"],
    )
    return summary, rows


def fmt(v, nd=4):
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return f"{v:.{nd}f}"
    return str(v)


def render(summaries, rows, meta) -> str:
    L = []
    L.append("# Auto-symbolic speed and quality: kandisco vs pykan 0.2.8")
    L.append("")
    L.append(f"- command: `{meta['cmd']}`")
    L.append(f"- date: {meta['date']}; torch {meta['torch']}; pykan {meta['pykan']}; python {meta['python']}; "
             f"{meta['machine']}")
    L.append(f"- threads: `torch.set_num_threads({THREADS})` for both tools (and training); "
             f"wall clock, best of {meta['pr']} pykan / {meta['kr']} kandisco repeats")
    L.append(f"- target: >= {TARGET_SPEEDUP:.0f}x faster than pykan with equal or higher mean R^2 of the chosen fits")
    L.append("")
    L.append("Setup: one pykan `KAN(width, grid=5, k=3, seed=0)` per width (float32) trained with "
             "`fit(dataset, opt=\"LBFGS\", steps=50)` on 1000 seeded points in [-1,1]^n; every edge's 1000 "
             "samples are read from pykan's own caches after a forward on the training inputs "
             "(`x = acts[l][:, i]`, `y = spline_postacts[l][:, j, i]`). pykan: `auto_symbolic(lib=None)` "
             "(28-function default library, weight_simple=0.8) on a deep copy. kandisco: "
             "`fit_affine(xs, ys, get_library(\"pykan\"))` + `select_best` (complexity_weight 0.15) on the "
             "same (E, 1000) samples. R^2 for both is recomputed here in float64 on all 1000 samples of "
             "each edge as 1 - SSE/SST, a non-finite prediction counting as (y - mean y)^2 (fully "
             "unexplained).")
    L.append("")
    L.append("| width | law | edges | pykan edges run | pykan s (all edges) | kandisco s (all edges) | speed-up | "
             "mean R^2 pykan | mean R^2 kandisco | `0` pykan | `0` kandisco | kandisco mean R^2, all edges | "
             "target met |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for s in summaries:
        met = s["speedup"] >= TARGET_SPEEDUP and s["kandisco_mean_r2"] >= s["pykan_mean_r2"]
        star = "*" if s["pykan_extrapolated"] else ""
        L.append(f"| {s['width']} | `{s['law']}` | {s['n_edges']} | {s['pykan_edges_run']} | {s['pykan_s']:.1f}{star} | "
                 f"{s['kandisco_s']:.3f} | {s['speedup']:.0f}x | {s['pykan_mean_r2']:.4f} | "
                 f"{s['kandisco_mean_r2']:.4f} | {s['pykan_n_zero']} | {s['kandisco_n_zero']} | "
                 f"{s['kandisco_mean_r2_all']:.4f} ({s['kandisco_n_zero_all']} `0`) | {'yes' if met else 'NO'} |")
    L.append("")
    L.append("Mean R^2 and `0` counts compare the two tools on the edges pykan ran. `*`: pykan ran on a seeded "
             "subset of the edges (`--pykan-edges`, its exact `auto_symbolic` loop body) and its time is scaled "
             "to all edges (time x edges / edges run). pykan's cost per edge does not depend on the edge's data "
             "(28 functions x 3 zoom rounds x a 101 x 101 (a, b) grid x 1000 samples each), so the scaling is "
             "sound; a full pass (`--pykan-edges 0`) takes ~15-25 min per width on this machine. kandisco "
             "always fits all edges in one batched call.")
    L.append("")
    L.append("All repeats (s): " + "; ".join(
        f"{s['width']}: pykan {s['pykan_all_s']}, kandisco {s['kandisco_all_s']}" for s in summaries))
    L.append("")
    L.append("Context: pykan training (50 LBFGS steps, float32): " + "; ".join(
        f"{s['width']} {s['pykan_train_s']:.1f} s, train RMSE {s['pykan_train_rmse']:.4f}, "
        f"test RMSE {s['pykan_test_rmse']:.4f}" for s in summaries) + ".")
    L.append("")
    L.append("kandisco with `complexity_weight=0.3` (the default of `KAN.auto_symbolic`), same fits: " + "; ".join(
        f"{s['width']} mean R^2 {s['kandisco_cw03_mean_r2']:.4f}, `0` on {s['kandisco_cw03_n_zero']} edges"
        for s in summaries) + ".")
    L.append("")
    L.append("## End-to-end kandisco (reference)")
    L.append("")
    L.append("kandisco `KAN(width, grid=5, k=3, seed=0)` (float64) trained on the same data with "
             "`fit(X, y, steps=50, verbose=False)`, then `auto_symbolic(library=\"pykan\")` timed on a copy "
             "(edge sampling + batched fit + selection + fixing). R^2 here is kandisco's own held-out R^2.")
    L.append("")
    L.append("| width | train s | train RMSE | auto_symbolic s | edges | `0` edges | mean held-out R^2 |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for s in summaries:
        L.append(f"| {s['width']} | {s['e2e_train_s']:.1f} | {s['e2e_train_rmse']:.4f} | {s['e2e_auto_s']:.3f} | "
                 f"{s['e2e_n_edges']} | {s['e2e_n_zero']} | {s['e2e_mean_r2_heldout']:.4f} |")
    L.append("")
    L.append("## Per edge")
    L.append("")
    L.append("`R^2 k(pyf)`: kandisco's own fit of pykan's chosen function on that edge (nan: no counterpart "
             "in kandisco's library, or `0`). pykan's `reported` r2 is its grid-search squared correlation.")
    for s in summaries:
        L.append("")
        L.append(f"### {s['width']}")
        L.append("")
        L.append("| edge | x range | pykan fn | R^2 pykan | reported | kandisco fn | R^2 kandisco | "
                 "R^2 k(pyf) | kandisco cw=0.3 fn | R^2 cw=0.3 |")
        L.append("|---|---|---|---:|---:|---|---:|---:|---|---:|")
        for r in rows:
            if r["width"] != s["width"]:
                continue
            pf = f"`{r['pykan_fn']}`" if r["pykan_ran"] else "-"
            L.append(f"| {r['edge']} | [{r['x_min']:.2f}, {r['x_max']:.2f}] | {pf} | "
                     f"{fmt(r['pykan_r2'], 5)} | {fmt(r['pykan_r2_reported'], 5)} | `{r['kandisco_fn']}` | "
                     f"{fmt(r['kandisco_r2'], 5)} | {fmt(r['kandisco_fit_of_pykan_fn_r2'], 5)} | "
                     f"`{r['kandisco_cw03_fn']}` | {fmt(r['kandisco_cw03_r2'], 5)} |")
    L.append("")
    return "\n".join(L)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pykan-repeats", type=int, default=2)
    ap.add_argument("--kandisco-repeats", type=int, default=5)
    ap.add_argument("--pykan-edges", type=int, default=8,
                    help="run pykan on this many seeded edges per width and scale its time to all edges "
                         "(its cost per edge is data-independent); 0 = all edges")
    ap.add_argument("--out", default=str(HERE / "results" / "symbolic_speed"))
    args = ap.parse_args(argv)

    torch.set_num_threads(THREADS)
    print(f"torch.set_num_threads({THREADS}) for both tools; torch {torch.__version__}, pykan {pykan_version()}",
          flush=True)
    from kandisco.symbolic import get_library

    lib = get_library("pykan")
    dtype0 = torch.get_default_dtype()
    summaries, rows = [], []
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)  # pykan may write ./model or ./figures
        try:
            for width in WIDTHS:
                print(f"width {width} ...", flush=True)
                s, r = bench_width(width, args, lib)
                summaries.append(s)
                rows.extend(r)
        finally:
            os.chdir(cwd)
            torch.set_default_dtype(dtype0)

    meta = dict(
        cmd=" ".join([".venv/bin/python", "experiments/bench_symbolic.py"] + list(sys.argv[1:] if argv is None else argv)),
        date=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"), torch=torch.__version__, pykan=pykan_version(),
        python=platform.python_version(), machine=f"{platform.machine()}, {os.cpu_count()} CPUs visible",
        pr=args.pykan_repeats, kr=args.kandisco_repeats,
    )
    md = render(summaries, rows, meta)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(md)
    cols_s = list(summaries[0].keys())
    cols_r = list(rows[0].keys())
    with open(out.with_suffix(".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"# {meta['cmd']} | {meta['date']} | torch {meta['torch']} | pykan {meta['pykan']} | "
                    f"threads {THREADS}"])
        w.writerow(["row"] + cols_s)
        for s in summaries:
            w.writerow(["summary"] + [s[c] for c in cols_s])
        w.writerow(["row"] + cols_r)
        for r in rows:
            w.writerow(["edge"] + [r[c] for c in cols_r])
    print(md)
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
