"""The discovery pipeline: data -> problem -> planned strategies (in parallel) -> candidates ->
Pareto front -> one law.

:func:`discover` loads and splits the data, builds the :class:`~.problem.Problem` every strategy
receives (a seeded subsample of large tables), asks the registered planners for the plan
(:func:`~.strategies.plan_strategies`), runs it (:func:`~.runner.run_plan`: in this process, in
worker processes or on a Dask cluster), judges every formula on all validation rows, and picks a
law from the Pareto front (:mod:`.result`).

It stops early when a formula whose constants all snapped to nice numbers reproduces held-out data
to ``found_relative_rmse`` of the target's spread (or relative error for targets spanning decades),
or any formula does to ``exact_relative_rmse`` (:class:`~.config.SearchConfig`). Formulas with as
many fitted constants as training rows are discarded: they fit anything.

Noise (``sigma=``, ``noise=``, else estimated: :mod:`.noise`; the rules are in docs/noise.md): once
noise is seen, constants snap within their standard errors under an F test (strategies get it as
``problem.noise``), front entries within its statistical margin of the best loss count as equally
good (the simplest wins), a formula without fitted constants at the noise floor ends the search,
rows far off their neighbours are left out of the search (kept and named), and a target spanning
decades with additive noise is judged by absolute error. Noise the estimate could not tell from a
law's curvature is seen when a candidate's residuals leave no trend near it (:mod:`.residual_tests`).
The chosen law then gets its last fit (:mod:`.law_fit`): its outlying rows named, a robust (soft L1)
or weighted refit, and a standard error for every constant (``result.constants``, ``result.formula_with_errors``). A formula that is
not finite on every row of the table never wins.

Units (``units=``, units in a CSV header, ``constants=``): when every input and the target have
units, the Buckingham pi groups are planned too (:mod:`.strategies.units`), every candidate is
checked for dimensional consistency (``config["dimensionally_consistent"]``), and inconsistent
candidates never win (nor end the search): the Pareto front is built from the consistent ones
whenever one was found, from all of them otherwise (and when no monomial of the inputs has the
target's units, so that no law can be consistent). ``result.config["units"]`` holds the units, the
groups and whether the chosen law is consistent.
"""

from __future__ import annotations

import functools
import logging
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, overload

import numpy as np
import sympy

from ..data import Dataset, load_dataset, name_rows, read_units_file, row_word, with_constants, with_sigma, with_units
from ..kan import native
from ..kan.attribution import importance_table, input_importance
from ..kan.constraints import Constraint
from ..kan.protocol import load_model
from ..symbolic.formula import complexity, formula_rmse, refit_constants, to_callable, to_latex, widest_sum
from ..symbolic.library import get_library
from ..symbolic.uncertainty import with_errors
from ..units import DimensionError, PiGroups, buckingham, check_consistency, parse_unit
from .config import ConfigError, SearchConfig
from .constrained import LawConstraints
from .cross_validation import cross_validate, is_small_table
from .law_fit import LawFit, finite_on, fit_law, outlier_rows
from .noise import NoiseEstimate, estimate_noise, given_noise
from .outlier_repick import isolated_rows, refit_without_rows
from .polish import resnap_noisy, uses_relative_error
from .problem import Problem, ProblemUnits
from .residual_tests import leaves_trend, near_unseen_noise, shows_noise
from .result import PICK_RULES, Candidate, DiscoveryResult, pareto_front, pick_candidate
from .runner import Outcome, default_jobs, run_plan
from .stages import library_spec
from .strategies import Strategy, plan_strategies
from .vector import VectorResult, discover_vector, split_targets

__all__ = ["StrategyError", "discover", "uses_relative_error"]

log = logging.getLogger("kandisco")

# exceptions that mean a bug in a strategy, not a numerical dead end: raised in strict mode
PROGRAMMING_ERRORS = ("TypeError", "AttributeError", "NameError", "UnboundLocalError", "KeyError", "IndexError",
                      "AssertionError", "ImportError", "ModuleNotFoundError", "NotImplementedError", "WorkerDied")
# a sub-search (a structured leaf) also stops at this relative RMSE: its constants are refitted later
SUB_SEARCH_STOP = 3e-6
# small tables keep this share of the budget, up to CV_SECONDS, to cross-validate the candidates
CV_SHARE = 0.15
CV_SECONDS = 10.0


class StrategyError(RuntimeError):
    """A strategy failed with what looks like a programming error (raised in strict mode)."""


@overload
def discover(data: Any, target: list[str] | tuple[str, ...], features: Sequence[str] | str | None = None, **options: Any) -> VectorResult: ...
@overload
def discover(data: Any, target: str | None = None, features: Sequence[str] | str | None = None, **options: Any) -> DiscoveryResult: ...
# the overloads give the return type by the target's kind; their **options stand for the keywords below
def discover(  # type: ignore[misc]
    data: Any,
    target: str | Sequence[str] | None = None,
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
    n_jobs: int | None = None,
    scheduler: Any = None,
    config: SearchConfig | None = None,
    progress: Callable[[str, float], None] | None = None,
    stop_at: float | None = None,
    units: Any = None,
    constants: str | Sequence[str] | None = None,
    sigma: str | Sequence[float] | np.ndarray | None = None,
    noise: float | None = None,
    constraints: Sequence[Constraint] | None = None,
    correlated_rows: float = 1.0,
) -> DiscoveryResult | VectorResult:
    """Find a closed-form law ``target = f(features)`` in ``data`` (CSV path, DataFrame or (X, y)).

    A vector target (``target=["Fx", "Fy", "Fz"]`` or ``"Fx,Fy,Fz"``) gives one law per output from
    the same inputs, in a :class:`~.vector.VectorResult` (:mod:`.vector`).

    Tries the registered planners' strategies (or ``strategies``) until ``budget_seconds`` run out
    or an exact formula is found; every formula goes to the Pareto front and ``pick`` chooses one
    (see :mod:`kandisco.discovery.result`). Ctrl-C stops the search and returns the best so far.

    Parallelism: ``n_jobs`` worker processes (default: every core this process may use; 1 runs
    everything here), or the workers of a Dask scheduler (``scheduler``: an address or a
    ``distributed.Client``). Outcomes are judged in plan order whatever finishes first.

    Determinism: each strategy is seeded and runs with one torch thread, so a seed fixes every
    formula a strategy yields, and with ``max_strategies`` (a plan that fits the budget) the
    result does not depend on ``n_jobs``. How many strategies fit in a *time* budget depends on
    the machine and on ``n_jobs``, so with a binding budget the result may too.

    ``config``: the search's settings (:class:`~kandisco.discovery.config.SearchConfig`).
    ``stop_at``: also stop once any formula (fitted constants allowed) is within this relative RMSE
    on held-out data - for sub-problems whose constants are refitted later anyway.
    ``units``: ``{column: unit}`` (pint's spelling, ``"m/s"``) or a ``name,unit`` CSV file, on top of
    units in a CSV header; ``constants``: named physical constants added as inputs (``"c,G,hbar"``,
    :mod:`kandisco.units.constants`). See the module docstring for what units change.
    ``sigma``: the target's one-sigma uncertainty per row (a column name, left out of the inputs, or
    one value per row): the law's constants are fitted by weighted least squares, their errors are
    absolute and the reduced chi-square is reported. ``noise``: the target's relative uncertainty
    (``0.01`` = 1% of each value). Without either, the noise is estimated from the data
    (:mod:`.noise`). The noise sets how far constants may snap, which losses count as equally good,
    and when the search may stop; see the module docstring. ``correlated_rows``: the target's errors
    are correlated over about this many rows (a derivative smoothed along a trajectory: 5-30), so
    every statistical judgement counts ``n / correlated_rows`` independent rows; the constants' errors
    grow by its square root. Default 1: independent rows.
    ``constraints``: :class:`~kandisco.kan.constraints.Symmetric`, ``Positive``, ``Monotone`` and a
    ``KnownLaw`` (:func:`~kandisco.discovery.priors.known_law`): the law must keep them; a formula
    that breaks one never wins (:mod:`.constrained`).
    """
    single = target if isinstance(target, str) or target is None else (str(list(target)[0]) if len(target) else None)  # one name in a list
    cfg = config if config is not None else SearchConfig()
    budget_seconds = _positive("budget_seconds", budget_seconds)
    jobs = _jobs(n_jobs)
    if max_strategies is not None and (isinstance(max_strategies, bool) or int(max_strategies) < 1):
        raise ConfigError(f"max_strategies must be at least 1, got {max_strategies!r}")
    if pick not in PICK_RULES:
        raise ConfigError(f"unknown pick rule {pick!r}; choose one of {', '.join(PICK_RULES)}")
    if noise is not None and (isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 < noise < 10):
        raise ConfigError(f"noise must be a relative uncertainty such as 0.01 (1% of each value), got {noise!r}")
    if isinstance(correlated_rows, bool) or not isinstance(correlated_rows, (int, float)) or not 1 <= correlated_rows < math.inf:
        raise ConfigError(f"correlated_rows must be a number of rows, at least 1, got {correlated_rows!r}")
    if sigma is not None and noise is not None:
        raise ConfigError("give the target's uncertainty once: sigma (per row) or noise (relative), not both")
    if isinstance(sigma, str) and features is not None:
        listed = [f.strip() for f in features.split(",")] if isinstance(features, str) else list(features)
        features = listed if sigma in listed else [*listed, sigma]
    outputs = split_targets(target)
    if outputs is not None:
        if isinstance(data, Dataset):
            raise ConfigError("a vector target needs the table itself (a CSV path, DataFrame or (X, Y)), not a one-target Dataset")

        def one(dataset: Dataset) -> DiscoveryResult:
            return discover(dataset, None, None, budget_seconds=budget_seconds, seed=seed, library=library, strategies=strategies,
                            max_strategies=max_strategies, pick=pick, test_fraction=test_fraction, val_fraction=val_fraction,
                            n_jobs=n_jobs, scheduler=scheduler, config=config, progress=progress, stop_at=stop_at,
                            constants=constants, sigma=sigma, noise=noise, constraints=constraints, correlated_rows=correlated_rows)

        return discover_vector(_vector_table(data, outputs), outputs, features, one, dropna=dropna, units=units)
    if isinstance(data, Dataset):
        dataset = data
        if units is not None:
            dataset = with_units(data, read_units_file(units) if isinstance(units, (str, Path)) else dict(units))
    else:
        dataset = load_dataset(data, single, features, dropna=dropna, units=units)
    sigma_all: np.ndarray | None = None
    if sigma is not None:
        dataset, sigma_all = with_sigma(dataset, sigma)
    if constants:
        dataset = with_constants(dataset, constants)
    if library is not None:
        get_library(library)  # validate early: a bad name is a clear error before any training
    native.kernel()  # build (first run on a machine) or load the compiled kernel before the clock starts
    start = time.perf_counter()
    split = dataset.split(test=test_fraction, val=val_fraction, seed=seed)
    X, y = dataset.X, dataset.y
    notes = list(dataset.notes)
    noise_info, relative, suspects = _noise(X, y, split, sigma_all, noise, seed, notes, dataset)
    noise_info = replace(noise_info, correlated_rows=float(correlated_rows))
    train_rows, val_rows = np.setdiff1d(split.train, suspects), np.setdiff1d(split.val, suspects)
    small = is_small_table(len(train_rows) + len(val_rows))
    train, val, test = (X[train_rows], y[train_rows]), (X[val_rows], y[val_rows]), (X[split.test], y[split.test])
    noise_sigma = noise_info.sigma if noise_info.visible else 0.0
    positive = np.all(X > 0, axis=0)
    symbols = [sympy.Symbol(f"x{i}", positive=True) if positive[i] else sympy.Symbol(f"x{i}", real=True) for i in range(X.shape[1])]
    search_train = _subsample(train, cfg.search_rows, seed)
    unit_info = _problem_units(dataset, notes)
    rules = LawConstraints.build(constraints, dataset.feature_names, symbols)
    problem = Problem(
        symbols=symbols, names=list(dataset.feature_names), target=dataset.target_name,
        train=rules.search_data(search_train, symbols, augment=True),
        val=rules.search_data(_subsample(val, cfg.search_val_rows, seed + 1), symbols, augment=False),
        relative=relative and rules.known is None, seed=seed,
        config=cfg, library=library, search=functools.partial(_sub_search, config=cfg), units=unit_info, noise=noise_sigma,
        correlated_rows=noise_info.correlated_rows, small_table=small,
        # (a small table's residual trend test has no power, 4/sqrt(n) > 0.5: no noise is seen in residuals there)
        unseen_noise=noise_info.sigma if noise_info.kind == "none" and not small else 0.0,
    )
    dims = {s: d for s, d in zip(symbols, unit_info.inputs)} if unit_info is not None else {}

    def consistency(expr: sympy.Expr) -> dict[str, Any]:
        """The candidate's config entries: whether it is dimensionally consistent (units known only)
        and whether it keeps the user's constraints (constraints given only)."""
        verdict = rules.verdict(expr, symbols, X, seed)
        if unit_info is None:
            return verdict
        return {"dimensionally_consistent": check_consistency(expr, dims, unit_info.target).consistent, **verdict}

    plan = list(strategies) if strategies is not None else plan_strategies(problem)
    if max_strategies is not None:
        plan = plan[: int(max_strategies)]
    y_spread = 1.0 if relative else (float(np.std(y)) or 1.0)
    stop_loss = (stop_at or cfg.exact_relative_rmse) * y_spread
    # a formula without fitted constants ends the search at this loss: found, or at the noise floor
    found_loss = _found_loss(cfg.found_relative_rmse * y_spread, stop_loss, noise_info, len(val[1]))
    if len(search_train[1]) < len(train[1]):
        notes.append(f"large table: strategies searched on {len(search_train[1])} of {len(train[1])} training rows; "
                     "every formula was judged on all validation rows and the law refitted on all training rows")
    # the constant law y = mean is always a candidate: the baseline the front starts from
    mean = sympy.Float(float(np.mean(train[1])))
    candidates = [Candidate(formula=str(mean), formula_x=str(mean), complexity=1, loss=formula_rmse(mean, symbols, *val, relative),
                            strategy="constant", seconds=0.0, config={"name": "constant", **consistency(mean)})]
    models: dict[int, Outcome] = {}
    timings: dict[str, float] = {}
    warnings: list[str] = []

    trend_rows = (np.vstack([search_train[0], val[0]]), np.concatenate([search_train[1], val[1]]))

    def residuals_of(expr: sympy.Expr) -> np.ndarray | None:
        """The formula's residuals on the search and validation rows (relative under relative error), or None."""
        try:
            with np.errstate(all="ignore"):
                pred = to_callable(expr, symbols)(trend_rows[0])
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None
        residuals = np.broadcast_to(pred, trend_rows[1].shape) - trend_rows[1]
        return residuals / np.abs(trend_rows[1]) if relative else residuals

    def may_end_at_floor(expr: sympy.Expr) -> bool:
        """Whether a formula without fitted constants within ``found_loss`` ends the search: always
        without visible noise; with it, only a law of short sums (at most FLOOR_STOP_TERMS terms: within
        1% noise five snapped terms imitated II.11.27) that leaves no trend in its residuals (the
        estimate can be high: a wrong law within it must not end the search)."""
        if not noise_info.visible or found_loss <= stop_loss:
            return True
        if widest_sum(expr) > FLOOR_STOP_TERMS:
            return False
        residuals = residuals_of(expr)
        return residuals is not None and bool(np.all(np.isfinite(residuals))) and not leaves_trend(trend_rows[0], residuals)

    def see_noise(expr: sympy.Expr, loss: float, strategy: str) -> None:
        """Where the estimate saw no noise: a formula whose residuals leave no trend at a loss near the
        estimate has seen it (residual_tests.shows_noise). From then on the noise is that loss, for the
        choice and for the strategies that start after this one (``problem`` is theirs)."""
        nonlocal noise_info, found_loss
        if not near_unseen_noise(loss, problem.unseen_noise, y_spread):
            return
        residuals = residuals_of(expr)
        if residuals is None or not shows_noise(trend_rows[0], residuals, loss, problem.unseen_noise, y_spread):
            return
        notes.append(f"the residuals of {strategy}'s law leave no trend at {loss:.3g}: noise the estimate "
                     f"({problem.unseen_noise:.3g}) could not tell from the law's curvature; judged as noise from here on")
        noise_info = replace(noise_info, sigma=loss, kind="relative" if relative else "additive",
                             fraction_of_spread=loss / y_spread, source=f"{noise_info.source}; seen in the residuals of a law")
        problem.noise, problem.unseen_noise = loss, 0.0
        found_loss = _found_loss(cfg.found_relative_rmse * y_spread, stop_loss, noise_info, len(val[1]))

    def judge(outcome: Outcome) -> bool:
        """Record one strategy's formulas; True ends the search (an exact law)."""
        label = f"{outcome.name}#{outcome.seed}"
        if outcome.status == "failed":
            timings[f"{label} (failed: {outcome.error_type})"] = outcome.seconds
            if cfg.strict and outcome.error_type in PROGRAMMING_ERRORS:
                raise StrategyError(f"strategy {label} failed: {outcome.error}\n{outcome.trace}")
            message = f"strategy {label} failed: {outcome.error}"
            warnings.append(message)
            log.warning(message)
            return False
        timings[label] = outcome.seconds
        if outcome.status == "nothing":
            notes.append(f"{outcome.name}: {outcome.error}")
            return False
        notes.extend(outcome.notes)
        exact = False
        for remainder in outcome.formulas:
            expr = rules.complete(remainder)
            if len(expr.atoms(sympy.Float)) >= len(search_train[1]) - 1:
                continue  # as many fitted constants as training rows: it fits anything
            if expr.has(sympy.zoo, sympy.oo, sympy.nan):
                continue  # simplify/snap can produce log(0) = zoo: no law, and it does not round-trip
            loss = formula_rmse(expr, symbols, *val, relative)
            cand = Candidate(
                formula=_user_string(expr, symbols, dataset.feature_names),
                formula_x=sympy.sstr(_plain(expr, symbols)),
                complexity=complexity(expr),
                loss=loss,
                strategy=outcome.name,
                seconds=outcome.seconds,
                config={**plan[outcome.index].describe(), **consistency(expr)},
            )
            models[id(cand)] = outcome
            candidates.append(cand)
            see_noise(expr, loss, outcome.name)
            if cand.config.get("dimensionally_consistent") is False and unit_info is not None and unit_info.pi is not None:
                continue  # an inconsistent formula cannot win, so it does not end the search
            if cand.config.get("constraints_satisfied") is False:
                continue  # nor can one that breaks a constraint
            exact = exact or loss <= stop_loss or (loss <= found_loss and not expr.atoms(sympy.Float) and may_end_at_floor(expr))
        if progress is not None:
            progress(outcome.name, time.perf_counter() - start)
        return exact

    # small tables: the last part of the budget judges the candidates by cross-validation
    cv_seconds = min(CV_SECONDS, CV_SHARE * budget_seconds) if small else 0.0
    interrupted = False
    try:
        notes.extend(run_plan(plan, problem, judge, budget_seconds=budget_seconds - cv_seconds, start=start, n_jobs=jobs,
                              scheduler=scheduler))
    except KeyboardInterrupt:
        interrupted = True
    noise_sigma = noise_info.sigma if noise_info.visible else 0.0  # (a law may have shown it during the search)
    unfit: set[int] = set()  # candidates not finite on some row of the table: never picked
    eligible = functools.partial(_eligible, gated=unit_info is not None and unit_info.pi is not None, unfit=unfit,
                                 constrained=bool(rules))
    front = _sane_front(candidates, eligible, unfit, symbols, X)
    equal_loss = _equal_loss(front, noise_info, len(val[1]), cfg.exact_relative_rmse * y_spread)
    fit_rows = split.train
    cv = None
    if small:
        seen_rows = np.sort(np.concatenate([train_rows, val_rows]))
        cv = cross_validate(eligible(candidates), symbols, X[seen_rows], y[seen_rows], relative=relative, seed=seed,
                            names=dataset.feature_names, seconds=max(cv_seconds, 1.0))
        rescored = [c for c in cv.candidates if c.complexity == 1 or finite_on(_internal_expr(c, symbols), symbols, X)]
        if not rescored:
            cv = None
        else:
            for copy in rescored:
                source = cv.sources.get(id(copy))
                if source is not None and id(source) in models:
                    models[id(copy)] = models[id(source)]
            candidates.extend(rescored)
            front = pareto_front(rescored)
            equal_loss = max(cv.equal_loss, cfg.exact_relative_rmse * y_spread)
            fit_rows = np.sort(np.concatenate([split.train, split.val]))
            notes.append(cv.note)
    chosen = cv.pick(front) if cv is not None and pick == "best" else pick_candidate(front, pick, exact_loss=equal_loss)
    best = front[chosen]
    if len(search_train[1]) < len(train[1]):
        front, chosen, best = _refit_on_all_rows(best, candidates, models, front, chosen, symbols, dataset, train, val,
                                                 relative, pick, equal_loss, eligible)
    if noise_info.visible and cv is None and not rules:
        resnapped = resnap_noisy(_internal_expr(best, symbols), symbols, search_train, val, relative, noise_sigma,
                                 max(best.loss, equal_loss), noise_info.correlated_rows)  # refits on the search rows: bounded on large tables
        verdict = consistency(resnapped) if resnapped is not None else {}
        if resnapped is not None and finite_on(resnapped, symbols, X) and (verdict.get("dimensionally_consistent") is not False
                                                                            or best.config.get("dimensionally_consistent") is False):
            best = Candidate.from_expr(resnapped, symbols, dataset.feature_names, loss=formula_rmse(resnapped, symbols, *val, relative),
                                       strategy=best.strategy, seconds=best.seconds, score=best.score,
                                       config={**best.config, **verdict, "resnapped": best.formula})
            if id(front[chosen]) in models:
                models[id(best)] = models[id(front[chosen])]
            candidates.append(best)
            front[chosen] = best
    law_fit = fit_law(_internal_expr(best, symbols), symbols, X, y, fit_rows, split.val, relative=relative, sigma=sigma_all,
                      refit=cv is not None, correlated_rows=noise_info.correlated_rows)
    searched = np.concatenate([train_rows, val_rows])
    if cv is None and sigma_all is None:
        by_law = np.intersect1d(law_fit.outliers, searched)
        missed = np.union1d(by_law, _named_by_simpler(front, best, symbols, X[searched], y[searched], relative, searched))
        clean_train, clean_val = np.setdiff1d(train_rows, missed), np.setdiff1d(val_rows, missed)
        repicked = None if not len(missed) else _repick_without(
            front, models, candidates, symbols, dataset, (X[clean_train], y[clean_train]), (X[clean_val], y[clean_val]),
            relative, pick, noise_info, cfg.exact_relative_rmse * y_spread, eligible)
        if repicked is not None and repicked[2] is not best:
            front, chosen, best = repicked
            whose = "the law" if len(by_law) == len(missed) else "the law or of a simpler one fitting the rest as tightly"
            notes.append(f"{len(missed)} row(s) the search used lie beyond {OUTLIER_WORDS} of {whose}: the candidates "
                         "were refitted and judged again without them")
            law_fit = fit_law(_internal_expr(best, symbols), symbols, X, y, fit_rows, split.val, relative=relative,
                              correlated_rows=noise_info.correlated_rows)
    keeps = not rules or not best.config.get("constraints_satisfied", True) or not rules.violations(law_fit.expr, symbols, X, seed)
    if law_fit.expr != _internal_expr(best, symbols) and finite_on(law_fit.expr, symbols, X) and keeps:
        best = _replace_chosen(best, law_fit, front, chosen, models, candidates, symbols, dataset, None if small else val, relative)
    expr = best.expr(dataset.feature_names)
    user_symbols = [sympy.Symbol(n, real=True) for n in dataset.feature_names]
    rmse = formula_rmse(expr, user_symbols, *test)
    var = float(np.var(test[1]))
    r2 = 1 - rmse**2 / var if var > 0 and math.isfinite(rmse) else float("nan")
    importance = importance_table(dataset.feature_names, input_importance(to_callable(expr, user_symbols), test[0]))
    if interrupted:
        notes.append("interrupted: the best formula found so far is reported")
    run_config: dict[str, Any] = {"noise": {**noise_info.to_dict(), "floor": noise_info.floor(len(val[1]))}}
    fit_summary = _fit_summary(law_fit, symbols, dataset, relative)
    if law_fit.outliers:
        notes.append(f"{len(law_fit.outliers)} row(s) lie beyond {OUTLIER_WORDS} of the law "
                     f"({_row_names(dataset, law_fit.outliers)}): kept in the table, the constants refitted robustly (soft L1)")
    if rules:
        run_config["constraints"] = rules.summary(_internal_expr(best, symbols), symbols, X, seed)
        if not run_config["constraints"]["satisfied"]:
            warnings.append(f"no formula found keeps every constraint: the chosen law is {'; '.join(run_config['constraints']['violations'])}")
    if unit_info is not None:
        run_config["units"] = _units_summary(dataset, unit_info, check_consistency(expr, dict(zip(user_symbols, unit_info.inputs)),
                                                                                  unit_info.target))

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
        seconds=time.perf_counter() - start,
        timings=timings,
        config={"loss": "relative RMSE" if relative else "RMSE", "budget_seconds": budget_seconds, "max_strategies": max_strategies,
                "seed": seed, "pick": pick, "library": library_spec(library), "n_jobs": jobs if scheduler is None else "dask",
                "n_train": len(split.train), "n_val": len(split.val), "n_test": len(split.test),
                "search_rows": len(search_train[1]), "search": cfg.to_dict(), **run_config},
        notes=notes,
        warnings=warnings,
        candidates=candidates,
        importance=importance,
        model=_model_of(models.get(id(best)), library),
        **fit_summary,
    )


# ------------------------------------------------------------------------ helpers
def _vector_table(data: Any, outputs: list[str]) -> Any:
    """``(X, Y)`` arrays with one column of ``Y`` per output as a DataFrame (inputs ``x0, x1, ...``); other data as is."""
    if not (isinstance(data, tuple) and len(data) == 2):
        return data
    import pandas as pd

    X, Y = (np.asarray(a, dtype=float) for a in data)
    if Y.ndim != 2 or Y.shape[1] != len(outputs):
        raise ConfigError(f"{len(outputs)} outputs named ({', '.join(outputs)}) but Y has shape {Y.shape}: one column per output")
    X = X.reshape(len(X), -1)
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    for k, name in enumerate(outputs):
        frame[name] = Y[:, k]
    return frame


def _positive(name: str, value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise ConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return number


def _jobs(n_jobs: int | None) -> int:
    """Worker count: None or -1 -> every core this process may use."""
    if n_jobs is None or n_jobs == -1:
        return default_jobs()
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ConfigError(f"n_jobs must be a positive integer (or -1 / None for every core), got {n_jobs!r}")
    return int(n_jobs)


def _subsample(part: tuple[np.ndarray, np.ndarray], rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``rows`` of ``part``, a seeded choice kept in the table's order."""
    X, y = part
    if len(y) <= rows:
        return part
    keep = np.sort(np.random.default_rng(seed).choice(len(y), size=rows, replace=False))
    return X[keep], y[keep]


# a simpler front entry names outliers for the repick when its residuals' robust spread is at most this
# many times the chosen law's (it fits the other rows as well, so the rows it calls far off are so)
NAMING_SPREAD = 1.5


def _named_by_simpler(front: list[Candidate], best: Candidate, symbols: list[sympy.Symbol], X: np.ndarray, y: np.ndarray,
                      relative: bool, rows: np.ndarray) -> np.ndarray:
    """Rows (of ``rows``, the search's) that a front entry simpler than ``best`` calls outliers while
    fitting the rest as tightly: a flexible law can bend around an outlier the noise estimate missed
    (a planet's period off by a factor 2 in issue 17's Kepler table, met by a narrow dip of 28 nodes),
    and then names nothing, while T = a**1.5/sqrt(M) with the constant it pulled to 0.89 names it.
    Only isolated rows count (:func:`.outlier_repick.isolated_rows`): a simpler law that is wrong in a
    region names that region as a block (a Gaussian's peak, missed by a sum fitting the tails)."""
    _, spread = outlier_rows(_internal_expr(best, symbols), symbols, X, y, relative)
    if not spread > 0:
        return np.array([], dtype=int)
    named: set[int] = set()
    for cand in front:
        if cand.complexity >= best.complexity or cand.complexity <= 1:
            continue
        try:
            far, own = outlier_rows(_internal_expr(cand, symbols), symbols, X, y, relative)
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            continue
        if far and own <= NAMING_SPREAD * spread:
            named.update(isolated_rows(X, far))
    return np.asarray(rows)[sorted(named)] if named else np.array([], dtype=int)


def _repick_without(
    front: list[Candidate], models: dict[int, Outcome], candidates: list[Candidate], symbols: list[sympy.Symbol], dataset: Dataset,
    train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray], relative: bool, pick: str, noise_info: NoiseEstimate,
    exact_loss: float, eligible: Callable[[list[Candidate]], list[Candidate]],
) -> tuple[list[Candidate], int, Candidate] | None:
    """The front refitted and judged on ``train``/``val`` without the rows the chosen law calls outliers
    (:mod:`.outlier_repick`), and the pick on it; None when no entry stays finite there."""
    sigma = noise_info.sigma if noise_info.visible else 0.0
    refits = refit_without_rows([_internal_expr(c, symbols) for c in front], symbols, train, val, relative=relative,
                                noise=sigma, correlated_rows=noise_info.correlated_rows)
    fresh: list[Candidate] = []
    for old, (expr, loss) in zip(front, refits):
        cand = Candidate.from_expr(expr, symbols, dataset.feature_names, loss=loss, strategy=old.strategy, seconds=old.seconds,
                                   config={**old.config, "refit_without_outliers": True})
        if id(old) in models:
            models[id(cand)] = models[id(old)]
        fresh.append(cand)
    candidates.extend(fresh)
    new_front = _sane_front(fresh, eligible, set(), symbols, dataset.X)  # as the first front: finite on every row
    if not new_front:
        return None
    chosen = pick_candidate(new_front, pick, exact_loss=_equal_loss(new_front, noise_info, len(val[1]), exact_loss))
    return new_front, chosen, new_front[chosen]


def _refit_on_all_rows(
    best: Candidate, candidates: list[Candidate], models: dict[int, Outcome], front: list[Candidate], chosen: int,
    symbols: list[sympy.Symbol], dataset: Dataset, train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray],
    relative: bool, pick: str, exact_loss: float, eligible: Callable[[list[Candidate]], list[Candidate]] = list,
) -> tuple[list[Candidate], int, Candidate]:
    """The chosen law's fitted constants refitted on every training row (strategies saw a subsample)."""
    internal = {f"x{i}": s for i, s in enumerate(symbols)}
    expr = best.expr([f"x{i}" for i in range(len(symbols))]).xreplace({sympy.Symbol(k, real=True): v for k, v in internal.items()})
    if not expr.atoms(sympy.Float):
        return front, chosen, best
    refit = refit_constants(expr, symbols, *train, relative=relative)
    loss = formula_rmse(refit, symbols, *val, relative)
    if not (math.isfinite(loss) and loss < best.loss):
        return front, chosen, best
    cand = Candidate(formula=_user_string(refit, symbols, dataset.feature_names), formula_x=sympy.sstr(_plain(refit, symbols)),
                     complexity=complexity(refit), loss=loss, strategy=best.strategy, seconds=best.seconds,
                     config={**best.config, "refit_on_all_rows": True})
    if id(best) in models:
        models[id(cand)] = models[id(best)]
    candidates.append(cand)
    front = pareto_front(eligible(candidates))
    chosen = pick_candidate(front, pick, exact_loss=exact_loss)
    return front, chosen, front[chosen]


OUTLIER_WORDS = "5 robust standard deviations"
# suspect rows (far off their neighbours) are left out of the search only up to this fraction
MAX_SUSPECT_FRACTION = 0.2


def _noise(X: np.ndarray, y: np.ndarray, split: Any, sigma: np.ndarray | None, fraction: float | None, seed: int,
           notes: list[str], dataset: Dataset) -> tuple[NoiseEstimate, bool, np.ndarray]:
    """The noise (given or estimated on the training and validation rows), whether the loss is
    relative, and the rows left out of the search as far off their neighbours (estimated noise only)."""
    rows = np.sort(np.concatenate([split.train, split.val]))
    by_range = uses_relative_error(y)
    if sigma is not None or fraction is not None:
        info = given_noise(y[rows], by_range, sigma=None if sigma is None else sigma[rows], fraction=fraction)
        return info, by_range, np.array([], dtype=int)
    info = estimate_noise(X[rows], y[rows], relative=by_range, seed=seed)
    relative = by_range and info.kind != "additive"
    if by_range and not relative:
        notes.append("the target spans decades but its noise is additive (the same size at every value): "
                     "judged by absolute, not relative, error")
        info = estimate_noise(X[rows], y[rows], relative=False, seed=seed)
    suspects = rows[list(info.outliers)] if info.visible and info.outliers else np.array([], dtype=int)
    if len(suspects) > MAX_SUSPECT_FRACTION * len(rows):
        suspects = np.array([], dtype=int)
    if len(suspects):
        notes.append(f"{len(suspects)} row(s) lie far from what their neighbours say ({_row_names(dataset, suspects)}): "
                     "left out of the search, kept in the table; the chosen law judges them again")
    return info, relative, suspects


# with visible noise, a formula without fitted constants at the noise floor ends the search only if no sum in it
# has more terms than this (see may_end_at_floor in discover; the laws of the Feynman set have at most three)
FLOOR_STOP_TERMS = 4

# on data without visible noise, a formula without fitted constants whose loss is more than this many
# times what the local polynomial leaves (noise and curvature together) is an approximation, not found
FOUND_OVER_SMOOTHNESS = 10.0


def _found_loss(found: float, exact: float, info: NoiseEstimate, n_val: int) -> float:
    """The held-out loss at which a formula without fitted constants ends the search.

    With visible noise: ``found`` or the noise floor, whichever is higher. Without: ``found``, but
    never more than ``FOUND_OVER_SMOOTHNESS`` times the data's own smoothness residual (nor less than
    the rounding level ``exact``): II.11.28's noiseless table, smooth to 1.3e-6, was stopped after 5 s
    by a 10-term sum of snapped numbers at 2e-4 (found at 2.8e-4 of the spread), not the law.
    """
    if info.visible:
        return max(found, info.floor(n_val))
    if info.kind == "none" and info.sigma > 0:
        return min(found, max(exact, FOUND_OVER_SMOOTHNESS * info.sigma))
    return found


# an estimated noise level is good to about this factor (docs/noise.md: quartiles 1.02-1.25x at 1%)
NOISE_ESTIMATE_SLACK = 1.25


def _equal_loss(front: list[Candidate], info: NoiseEstimate, n_val: int, exact_loss: float) -> float:
    """Losses at or below this count as equally good (the simplest such entry wins): rounding level,
    or, with visible noise, within its statistical margin of the best loss (never above the noise,
    as far as an estimate tells it: a best loss within NOISE_ESTIMATE_SLACK of the estimate is at it)."""
    if not info.visible or not front:
        return exact_loss
    lowest = min(c.loss for c in front)
    level = lowest if lowest <= NOISE_ESTIMATE_SLACK * info.sigma else info.sigma  # (lowest > sigma there)
    return max(exact_loss, replace(info, sigma=level, fraction_of_spread=0.0).floor(n_val))


def _sane_front(candidates: list[Candidate], eligible: Callable[[list[Candidate]], list[Candidate]], unfit: set[int],
                symbols: list[sympy.Symbol], X: np.ndarray) -> list[Candidate]:
    """The Pareto front of the eligible candidates whose formula is finite on every row of the table."""
    while True:
        front = pareto_front([c for c in eligible(candidates) if id(c) not in unfit])
        bad = [c for c in front if c.complexity > 1 and not finite_on(_internal_expr(c, symbols), symbols, X)]
        if not bad:
            return front
        unfit.update(id(c) for c in bad)


def _internal_expr(cand: Candidate, symbols: list[sympy.Symbol]) -> sympy.Expr:
    names = [f"x{i}" for i in range(len(symbols))]
    return cand.expr(names).xreplace({sympy.Symbol(n, real=True): s for n, s in zip(names, symbols)})


def _replace_chosen(best: Candidate, law_fit: LawFit, front: list[Candidate], chosen: int, models: dict[int, Outcome],
                    candidates: list[Candidate], symbols: list[sympy.Symbol], dataset: Dataset,
                    val: tuple[np.ndarray, np.ndarray] | None, relative: bool) -> Candidate:
    """The chosen entry with the constants of its last fit (robust or weighted), in its place on the front
    (its loss recomputed on ``val``; kept, when None, as the cross-validated loss of its formula)."""
    expr = law_fit.expr
    how = "robust" if law_fit.robust else "weighted"
    cand = Candidate(formula=_user_string(expr, symbols, dataset.feature_names), formula_x=sympy.sstr(_plain(expr, symbols)),
                     complexity=complexity(expr), loss=best.loss if val is None else formula_rmse(expr, symbols, *val, relative),
                     strategy=best.strategy,
                     seconds=best.seconds, score=best.score, config={**best.config, "final_fit": how})
    if id(best) in models:
        models[id(cand)] = models[id(best)]
    candidates.append(cand)
    front[chosen] = cand
    return cand


def _fit_summary(law_fit: LawFit, symbols: list[sympy.Symbol], dataset: Dataset, relative: bool) -> dict[str, Any]:
    """The result's fields about the law's last fit: constants with errors, the formula with them, outliers."""
    user = {s: sympy.Symbol(n) for s, n in zip(symbols, dataset.feature_names)}
    expr = law_fit.expr.xreplace(user)
    text = with_errors(expr, law_fit.constants) if law_fit.constants else sympy.sstr(expr)
    latex = with_errors(expr, law_fit.constants, latex=True) if law_fit.constants else to_latex(expr)
    errors = law_fit.errors
    return {
        "constants": [c.to_dict() for c in law_fit.constants],
        "formula_with_errors": text,
        "latex_with_errors": latex,
        "outliers": [int(dataset.row_labels[i]) if dataset.row_labels is not None else int(i) for i in law_fit.outliers],
        "fit": {"robust": law_fit.robust, "weighted": law_fit.weighted, "dof": errors.dof,
                "residual_std": errors.residual_std if math.isfinite(errors.residual_std) else None,
                "residual_kind": "weighted (1/sigma)" if law_fit.weighted else ("relative" if relative else "absolute"),
                "reduced_chi2": errors.reduced_chi2, "outlier_rows_are": "line numbers" if _rows_are_lines(dataset) else "row indices"},
    }


def _rows_are_lines(dataset: Dataset) -> bool:
    """Whether the dataset's row labels are a file's line numbers (a frame's and arrays' are positions)."""
    return dataset.row_labels is not None and row_word(dataset.source) == "line"


def _row_names(dataset: Dataset, rows: Any) -> str:
    """``lines 4, 17, 30`` for a file (its line numbers), ``rows 2, 15`` otherwise; at most 12 named."""
    rows = [int(r) for r in rows]
    names = [int(dataset.row_labels[r]) for r in rows] if dataset.row_labels is not None else rows
    return name_rows(names, "line" if _rows_are_lines(dataset) else "row")


def _problem_units(dataset: Dataset, notes: list[str]) -> ProblemUnits | None:
    """Dimensions of the inputs and target and their pi groups, when every one of them has a unit."""
    if not dataset.units:
        return None
    columns = [*dataset.feature_names, dataset.target_name]
    missing = [n for n in columns if n not in dataset.units]
    if missing:
        notes.append(f"units are known for some columns only (none for {', '.join(missing)}): no dimensional analysis")
        return None
    inputs = tuple(parse_unit(dataset.units[n]) for n in dataset.feature_names)
    target = parse_unit(dataset.units[dataset.target_name])
    try:
        pi: PiGroups | None = buckingham(list(zip(dataset.feature_names, inputs)), (dataset.target_name, target),
                                         constants=list(dataset.constants))
    except DimensionError as exc:
        notes.append(f"units: {exc}; searched without pi groups")
        return ProblemUnits(inputs, target, None, str(exc))
    return ProblemUnits(inputs, target, pi)


def _eligible(candidates: list[Candidate], gated: bool, unfit: set[int] | None = None, constrained: bool = False) -> list[Candidate]:
    """The candidates that may win: none that is not finite on some row (``unfit``), those that keep
    the user's constraints (``constrained``) if any does, and the dimensionally consistent ones when
    units allow any (and one was found), else every candidate."""
    if unfit:
        candidates = [c for c in candidates if id(c) not in unfit]
    if constrained:
        keeping = [c for c in candidates if c.config.get("constraints_satisfied", True)]
        candidates = keeping or candidates
    if not gated:
        return candidates
    consistent = [c for c in candidates if c.config.get("dimensionally_consistent", True)]
    return consistent if consistent else candidates


def _units_summary(dataset: Dataset, info: ProblemUnits, verdict: Any) -> dict[str, Any]:
    """``result.config["units"]``: units of every column, constants, the pi groups, the verdict on the law."""
    out: dict[str, Any] = {"units": {n: dataset.units[n] for n in [*dataset.feature_names, dataset.target_name]},
                           "constants": dict(dataset.constants), "consistent": bool(verdict.consistent),
                           "reason": verdict.reason}
    if info.pi is not None:
        out.update(info.pi.describe())
        out["pi"] = info.pi.to_dict()
    else:
        out["message"] = info.message
    return out


def _model_of(outcome: Outcome | None, library: Any) -> Any:
    """The model behind the chosen law: the object itself, or read back from a worker's saved bytes."""
    if outcome is None:
        return None
    if outcome.model is not None or outcome.model_bytes is None:
        return outcome.model
    lib = library if library is not None and not isinstance(library, (str, list, tuple)) else None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model"
        path.write_bytes(outcome.model_bytes)
        return load_model(path, library=lib)


def _sub_search(
    Z: np.ndarray, out: np.ndarray, names: Sequence[str], budget: float, seed: int, config: SearchConfig
) -> list[tuple[float, sympy.Expr]]:
    """A flat discovery on a module's inputs and outputs (the structured strategy's leaves), here in
    this process: ``[(loss, formula in real symbols named as ``names``)]`` from its Pareto front."""
    data = load_dataset((Z, out), feature_names=list(names), target_name="leaf")
    res = discover(data, budget_seconds=budget, seed=seed, n_jobs=1, config=replace(config, structured=False), stop_at=SUB_SEARCH_STOP)
    found = []
    for cand in res.pareto:
        expr = cand.expr(res.features)
        found.append((cand.loss, expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in expr.free_symbols})))
    return found


def _plain(expr: sympy.Expr, symbols: Sequence[sympy.Symbol]) -> sympy.Expr:
    """Replace the pipeline's assumption-carrying symbols by plain real ones named x0, x1, ..."""
    return expr.xreplace({s: sympy.Symbol(s.name, real=True) for s in symbols})


def _user_string(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], names: Sequence[str]) -> str:
    return sympy.sstr(expr.xreplace({s: sympy.Symbol(n) for s, n in zip(symbols, names)}))
