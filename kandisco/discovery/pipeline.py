"""The discovery pipeline: data -> KAN candidates -> formulas -> Pareto front -> one law.

Each stage is a plain function so it can be run alone:

1. :func:`sparsify` - fit a KAN with the sparsity penalty;
2. :func:`prune_model` - drop edges/nodes under importance thresholds;
3. :func:`refine_and_fit` - grid extension, fit again;
4. :func:`fix_symbolic_edges` - auto-symbolic with a library;
5. :func:`retrain` - fit the affine parameters of the symbolic edges;
6. :func:`extract_formula` - network -> sympy in the data's units;
7. :func:`polish_formula` - refit constants on the whole expression, snap them, simplify.

:func:`discover` runs these for several *strategies* within a time budget and keeps every formula
as a :class:`~kandisco.discovery.result.Candidate`. Strategies, simplest first:

* ``power_law`` (positive data): a one-layer KAN on ``(log x, log y)`` with linear edges, i.e.
  ``y = C * prod x_i^p_i``: power laws become sums in log space;
* ``additive``: a one-layer KAN, ``y = sum f_i(x_i)``;
* ``log_additive`` (positive y): ``log y = sum f_i(x_i)``, products of one-variable factors;
* ``structured`` (two or more variables): structure analysis on a surrogate (separability, outer
  functions, symmetries, scalings) -> a graph of small KAN modules trained on the data -> candidate
  formulas per module, judged on the data (:mod:`kandisco.discovery.structured`);
* ``general`` / ``general_mult``: two-layer KANs with and without multiplication nodes, trained
  sparse, pruned, refined, auto-symbolic, retrained, over several seeds and penalties.

It stops early when a formula whose constants all snapped to nice numbers reproduces held-out data
to 1e-3 of the target's spread (or 0.1% relative error for targets spanning decades), or any
formula does to 1e-9. Strategies that would overrun the budget (judged by the mean duration so
far) are not started. Formulas with
as many fitted constants as training rows are discarded: they fit anything.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy
import torch

from ..data import Dataset, load_dataset
from ..kan import KAN, native
from ..symbolic.formula import (
    complexity,
    factor_powered_sums,
    formula_rmse,
    merge_numeric_factors,
    refit_constants,
    simplify_capped,
    snap_constants,
    to_callable,
    to_latex,
)
from ..symbolic.library import get_library
from ..kan.attribution import importance_table, input_importance
from ..kan.formula import network_formula
from .result import Candidate, DiscoveryResult, pareto_front, pick_candidate

__all__ = [
    "Strategy",
    "default_strategies",
    "discover",
    "extract_formula",
    "fix_symbolic_edges",
    "polish_formula",
    "prune_model",
    "refine_and_fit",
    "retrain",
    "sparsify",
]

# stop searching once a formula with no fitted constant left (all snapped) is this close on held-out
# data (RMSE relative to the target's spread, or relative error for targets spanning decades)
FOUND_RELATIVE_RMSE = 1e-3
# ... or once any formula is exact to rounding error (noiseless data; constants left as fitted)
EXACT_RELATIVE_RMSE = 1e-9
POWER_LIBRARY = ["x", "0"]
FLAT_LIBRARY = ["0", "x", "x^2", "x^3", "x^4", "1/x", "1/x^2", "1/x^3", "sqrt", "1/sqrt", "x^1.5",
                "exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "gaussian"]


@dataclass
class Strategy:
    """One way to look for the law: which view of the data and which network to train."""

    name: str
    width: list[Any]
    view: str = "raw"  # raw | loglog | logy | ypow (fit y**y_power)
    library: Sequence[str] | str | None = None
    lamb: float = 0.0
    grid: int = 5
    refine_to: int | None = None
    steps: int = 50
    seed: int = 0
    base_fun: str = "silu"
    prune: bool = False
    y_power: float = 1.0  # the "ypow" view: y**y_power is the sum of one-variable functions

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ------------------------------------------------------------------------- stages
def _stopper(deadline: float | None):
    """A fit callback that stops training once ``deadline`` (perf_counter seconds) has passed."""
    if deadline is None:
        return None
    return lambda step, loss: time.perf_counter() > deadline


def sparsify(model: KAN, X: torch.Tensor, y: torch.Tensor, lamb: float, steps: int, seed: int = 0, deadline: float | None = None) -> KAN:
    """Stage 1: fit with the (scale-free) sparsity penalty ``lamb``."""
    model.fit(X, y, steps=steps, lamb=lamb, verbose=False, seed=seed, callback=_stopper(deadline))
    return model


def prune_model(model: KAN, X: torch.Tensor, edge_threshold: float = 3e-2, node_threshold: float = 1e-2) -> KAN:
    """Stage 2: drop edges and hidden nodes whose importance is under the thresholds."""
    model.prune(X, edge_threshold=edge_threshold, node_threshold=node_threshold)
    return model


def refine_and_fit(model: KAN, X: torch.Tensor, y: torch.Tensor, grid: int, steps: int, seed: int = 0, deadline: float | None = None) -> KAN:
    """Stage 3: extend the grid (functions preserved) and fit again without the penalty."""
    model.refine(grid, X)
    model.fit(X, y, steps=steps, verbose=False, seed=seed, callback=_stopper(deadline))
    return model


def fix_symbolic_edges(model: KAN, X: torch.Tensor, library: Any = None) -> KAN:
    """Stage 4: replace every active spline edge by its best library function."""
    model.auto_symbolic(X, library=library)
    return model


def retrain(model: KAN, X: torch.Tensor, y: torch.Tensor, steps: int = 30, seed: int = 0, deadline: float | None = None) -> KAN:
    """Stage 5: fit the affine parameters of the symbolic edges (grids no longer matter)."""
    model.fit(X, y, steps=steps, update_grid=False, verbose=False, seed=seed, callback=_stopper(deadline))
    return model


def extract_formula(
    model: KAN, symbols: Sequence[sympy.Symbol], view: str, y_mean: float, y_std: float, y_power: float = 1.0
) -> sympy.Expr:
    """Stage 6: the network's formula in the data's units (undoing the view and the scaling)."""
    if view == "loglog":
        g = network_formula(model, [sympy.log(s) for s in symbols])[0]
        return sympy.exp(g)
    if view == "logy":
        return sympy.exp(network_formula(model, list(symbols))[0])
    g = network_formula(model, list(symbols))[0]
    if view == "ypow":
        return (y_std * g + y_mean) ** sympy.Rational(1 / y_power).limit_denominator(12)
    return y_std * g + y_mean


def polish_formula(
    expr: sympy.Expr,
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    simplify_seconds: float = 3.0,
    relative: bool = False,
) -> list[sympy.Expr]:
    """Stage 7: refit constants on the whole formula, snap them to nice numbers, simplify.

    Returns the refitted formula and, when different, the snapped-and-simplified one (both go
    to the Pareto front, which decides). ``relative``: errors relative to ``|y|``.
    """
    expr = _tidy(expr)
    refit = refit_constants(expr, symbols, *train, relative=relative)
    snapped = snap_constants(refit, symbols, *val, refit_on=train, relative=relative)
    snapped = _tidy(simplify_capped(snapped, timeout=simplify_seconds))
    snapped = snap_constants(snapped, symbols, *val, refit_on=train, relative=relative)
    out = [refit]
    if snapped != refit:
        out.append(snapped)
    return out


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """Cheap normalisation: merge powers and logs (symbols are positive where the data are;
    ``sqrt(1/x)`` -> ``1/sqrt(x)``), and take redundant scales out of powered and multiplied sums
    (:func:`factor_powered_sums`)."""
    try:
        expr = sympy.powsimp(sympy.expand_log(expr, force=True), force=True)
        # (1/x)**e -> x**-e: equal for x > 0, and both complex otherwise (not sqrt(x**2) -> x)
        expr = expr.replace(lambda e: e.is_Pow and e.base.is_Pow and e.base.exp == -1, lambda e: e.base.base ** (-e.exp))
    except (TypeError, ValueError, RecursionError):
        pass
    return merge_numeric_factors(factor_powered_sums(expr))


# ---------------------------------------------------------------------- strategies
def default_strategies(data: Dataset, seed: int = 0, library: Any = None, structured: bool = True) -> list[Strategy]:
    """Strategies to try, simplest first, for this data (see module docstring).

    ``structured``: for two or more variables, try the structure-analysis graph
    (:mod:`kandisco.discovery.structured`) right after the power law.
    """
    d = data.X.shape[1]
    x_pos = bool((data.X > 0).all())
    y_pos = bool((data.y > 0).all())
    flat = library if library is not None else FLAT_LIBRARY
    out: list[Strategy] = []
    if x_pos and y_pos:
        out.append(Strategy("power_law", [d, 1], "loglog", POWER_LIBRARY, grid=3, steps=30, seed=seed, base_fun="identity"))
    if structured and d >= 2:
        out.append(Strategy("structured", [d, 1], "structure", library, steps=60, seed=seed))
    out.append(Strategy("additive", [d, 1], "raw", flat, grid=5, steps=40, seed=seed))
    if y_pos:
        out.append(Strategy("log_additive", [d, 1], "logy", flat, grid=5, steps=40, seed=seed))
    if d <= 3:  # y = F(sum f_i(x_i)), e.g. 1/sqrt(1 - u^2): F a power first (cheap, one layer) ...
        if y_pos:
            for p in (-2.0, 2.0, -1.0):
                out.append(Strategy(f"power_{p:g}_additive", [d, 1], "ypow", flat, grid=5, steps=40, seed=seed, y_power=p))
        # ... then any F, which the spline composition does not always pin down
        out.append(Strategy("composition", [d, 1, 1], "raw", flat, grid=5, refine_to=10, steps=40, seed=seed))
    if x_pos and y_pos:
        out.append(Strategy("power_law_general", [d, d + 1, 1], "loglog", flat, lamb=1e-3, grid=5, refine_to=10, steps=40, seed=seed, prune=True))
    hidden = min(2 * d + 1, 9)
    for k, lamb in enumerate((1e-3, 1e-2, 3e-4)):
        s = seed + k
        out.append(Strategy("general_mult", [d, [d, max(1, d - 1)], 1], "raw", library, lamb=lamb, grid=5, refine_to=10, steps=50, seed=s, prune=True))
        out.append(Strategy("general", [d, hidden, 1], "raw", library, lamb=lamb, grid=5, refine_to=10, steps=50, seed=s, prune=True))
        if y_pos:
            out.append(Strategy("log_general", [d, hidden, 1], "logy", library, lamb=lamb, grid=5, refine_to=10, steps=50, seed=s, prune=True))
    return out


def _view(view: str, X: np.ndarray, y: np.ndarray, y_power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    if view == "ypow":
        return X, y**y_power
    if view == "loglog":
        return np.log(X), np.log(y)
    if view == "logy":
        return X, np.log(y)
    return X, y


def run_strategy(
    strategy: Strategy,
    symbols: Sequence[sympy.Symbol],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    relative: bool = False,
    deadline: float | None = None,
) -> tuple[list[sympy.Expr], KAN]:
    """Train the strategy's KAN through every stage and return its formulas (data units).

    Past ``deadline`` (a ``time.perf_counter()`` value) the training stages stop early; the
    symbolic stages still run so that the strategy yields a formula.
    """
    if strategy.view == "structure":
        from .structured import run_structured

        run = run_structured(symbols, train, val, relative, deadline, strategy.seed, strategy.steps)
        return run.formulas, run.model
    Xv, yv = _view(strategy.view, *train, strategy.y_power)
    standardise = strategy.view in ("raw", "ypow")
    y_mean = float(np.mean(yv)) if standardise else 0.0
    y_std = float(np.std(yv)) if standardise else 1.0
    Xt = torch.as_tensor(Xv, dtype=torch.float64)
    yt = torch.as_tensor((yv - y_mean) / y_std, dtype=torch.float64)[:, None]
    model = KAN(strategy.width, grid=strategy.grid, seed=strategy.seed, base_fun=strategy.base_fun)
    sparsify(model, Xt, yt, strategy.lamb, strategy.steps, strategy.seed, deadline)
    if strategy.prune:
        prune_model(model, Xt)
    if strategy.refine_to:
        refine_and_fit(model, Xt, yt, strategy.refine_to, strategy.steps // 2, strategy.seed, deadline)
    fix_symbolic_edges(model, Xt, strategy.library)
    retrain(model, Xt, yt, steps=20, seed=strategy.seed, deadline=deadline)
    expr = extract_formula(model, symbols, strategy.view, y_mean, y_std, strategy.y_power)
    return polish_formula(expr, symbols, train, val, relative=relative), model


# -------------------------------------------------------------------------- discover
@dataclass
class _Progress:
    start: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def discover(
    data: Any,
    target: str | None = None,
    features: Sequence[str] | str | None = None,
    *,
    budget_seconds: float = 60.0,
    seed: int = 0,
    library: Any = None,
    strategies: Sequence[Strategy] | None = None,
    max_strategies: int | None = None,
    pick: str = "best",
    dropna: bool = False,
    test_fraction: float = 0.2,
    val_fraction: float = 0.2,
    progress: Callable[[str, float], None] | None = None,
    stop_at: float | None = None,
) -> DiscoveryResult:
    """Find a closed-form law ``target = f(features)`` in ``data`` (CSV path, DataFrame or (X, y)).

    Tries :func:`default_strategies` (or ``strategies``) until ``budget_seconds`` run out or an exact
    formula is found; every formula goes to the Pareto front and ``pick`` chooses one (see
    :mod:`kandisco.discovery.result`). Ctrl-C stops the search and returns the best so far.

    Determinism: each strategy is seeded, so a seed fixes every formula a strategy yields. How many
    strategies fit in a *time* budget depends on the machine; ``max_strategies`` caps the count
    instead, which makes the whole result independent of speed.

    ``stop_at``: also stop once any formula (fitted constants allowed) is within this relative RMSE
    on held-out data - for sub-problems whose constants are refitted later anyway.
    """
    dataset = data if isinstance(data, Dataset) else load_dataset(data, target, features, dropna=dropna)
    if library is not None:
        get_library(library)  # validate early: a bad name is a clear error before any training
    native.kernel()  # build (first run on a machine) or load the compiled kernel before the clock starts
    prog = _Progress()
    split = dataset.split(test=test_fraction, val=val_fraction, seed=seed)
    X, y = dataset.X, dataset.y
    train, val, test = (X[split.train], y[split.train]), (X[split.val], y[split.val]), (X[split.test], y[split.test])
    positive = (X > 0).all(axis=0)
    symbols = [sympy.Symbol(f"x{i}", positive=True) if positive[i] else sympy.Symbol(f"x{i}", real=True) for i in range(X.shape[1])]
    plan = list(strategies) if strategies is not None else default_strategies(dataset, seed, library)
    if max_strategies is not None:
        plan = plan[: max(1, int(max_strategies))]
    models: dict[int, KAN] = {}
    # the constant law y = mean is always a candidate: the baseline the front starts from
    mean = sympy.Float(float(np.mean(train[1])))
    candidates = [Candidate(formula=str(mean), formula_x=str(mean), complexity=1, loss=formula_rmse(mean, symbols, *val, uses_relative_error(y)),
                            strategy="constant", seconds=0.0, config={"name": "constant"})]
    relative = uses_relative_error(y)
    y_spread = 1.0 if relative else (float(np.std(y)) or 1.0)
    interrupted = False
    durations: list[float] = []
    try:
        for strategy in plan:
            # the structured strategy is several times longer than a flat one: judge each kind by its own
            expected = float(np.mean(durations)) if durations and strategy.view != "structure" else 0.0
            if prog.elapsed() + expected > budget_seconds:
                break
            t0 = time.perf_counter()
            try:
                exprs, model = run_strategy(strategy, symbols, train, val, relative, prog.start + budget_seconds)
            except (ValueError, TypeError, RuntimeError, ArithmeticError, np.linalg.LinAlgError) as exc:
                prog.timings[f"{strategy.name}#{strategy.seed} (failed: {type(exc).__name__})"] = time.perf_counter() - t0
                continue
            secs = time.perf_counter() - t0
            if strategy.view != "structure":
                durations.append(secs)
            prog.timings[f"{strategy.name}#{strategy.seed}"] = secs
            exact = False
            for expr in exprs:
                if len(expr.atoms(sympy.Float)) >= len(split.train) - 1:
                    continue  # as many fitted constants as training rows: it fits anything
                if expr.has(sympy.zoo, sympy.oo, sympy.nan):
                    continue  # simplify/snap can produce log(0) = zoo: no law, and it does not round-trip
                loss = formula_rmse(expr, symbols, *val, relative)
                cand = Candidate(
                    formula=_user_string(expr, symbols, dataset.feature_names),
                    formula_x=sympy.sstr(_plain(expr, symbols)),
                    complexity=complexity(expr),
                    loss=loss,
                    strategy=strategy.name,
                    seconds=secs,
                    config=strategy.to_dict(),
                )
                models[id(cand)] = model
                candidates.append(cand)
                exact = exact or loss <= (stop_at or EXACT_RELATIVE_RMSE) * y_spread or (
                    loss <= FOUND_RELATIVE_RMSE * y_spread and not expr.atoms(sympy.Float)
                )
            if progress is not None:
                progress(strategy.name, prog.elapsed())
            if exact:
                break
    except KeyboardInterrupt:
        interrupted = True
    front = pareto_front(candidates)
    chosen = pick_candidate(front, pick, exact_loss=EXACT_RELATIVE_RMSE * y_spread)
    best = front[chosen]
    expr = best.expr(dataset.feature_names)
    user_symbols = [sympy.Symbol(n, real=True) for n in dataset.feature_names]
    rmse = formula_rmse(expr, user_symbols, *test)
    var = float(np.var(test[1]))
    r2 = 1 - rmse**2 / var if var > 0 and math.isfinite(rmse) else float("nan")
    importance = importance_table(dataset.feature_names, input_importance(to_callable(expr, user_symbols), test[0]))
    notes = list(dataset.notes)
    if interrupted:
        notes.append("interrupted: the best formula found so far is reported")
    return DiscoveryResult(
        formula=best.formula,
        formula_x=best.formula_x,
        latex=to_latex(expr),
        target=dataset.target_name,
        features=list(dataset.feature_names),
        r2_test=float(r2),
        rmse_test=float(rmse),
        complexity=best.complexity,
        pareto=front,
        chosen=chosen,
        seconds=prog.elapsed(),
        timings=prog.timings,
        config={"loss": "relative RMSE" if relative else "RMSE", "budget_seconds": budget_seconds, "max_strategies": max_strategies, "seed": seed, "pick": pick, "library": library if isinstance(library, (str, list, type(None))) else "custom",
                "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test)},
        notes=notes,
        candidates=candidates,
        importance=importance,
        model=models.get(id(best)),
    )


def uses_relative_error(y: np.ndarray) -> bool:
    """Positive targets spanning more than two decades are judged by relative error.

    A raw squared error there is dominated by the largest values (Kepler: the outer planets), so
    fits chase their measurement error and a law like ``a**1.5`` loses to ``0.9886*a**1.503``.
    """
    return bool(np.all(y > 0) and np.max(y) > 100 * np.min(y))


def _plain(expr: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """Replace the pipeline's assumption-carrying symbols by plain real ones named x0, x1, ..."""
    return expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in symbols})


def _user_string(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], names: Sequence[str]) -> str:
    return sympy.sstr(expr.xreplace({s: sympy.Symbol(n) for s, n in zip(symbols, names)}))
