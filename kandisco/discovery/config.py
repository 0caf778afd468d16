"""The search's knobs in one documented object, accepted by :func:`kandisco.discover`, the
estimator (``config=``) and the CLI (``--config FILE.json``, ``--set name=value``).

Every number the default strategy plan and the stopping rules use lives here, so tuning a search
is a matter of settings, never of editing source (PySR documents its search constants as
parameters the same way). Unknown names are errors that suggest the closest known one.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..errors import KandiscoError

__all__ = ["ConfigError", "SearchConfig", "FLAT_LIBRARY", "POWER_LIBRARY"]

# the one-variable functions the flat strategies' edges choose from (names in kandisco.symbolic.library)
FLAT_LIBRARY = ("0", "x", "x^2", "x^3", "x^4", "1/x", "1/x^2", "1/x^3", "sqrt", "1/sqrt", "x^1.5",
                "exp", "log", "sin", "cos", "tan", "tanh", "arcsin", "arccos", "arctan", "gaussian")
# a power law's edges in log space are linear (or pruned)
POWER_LIBRARY = ("x", "0")


class ConfigError(KandiscoError, ValueError):
    """A search setting is unknown or has a value it cannot take (the message names it)."""


@dataclass(frozen=True)
class SearchConfig:
    """How :func:`kandisco.discover` searches. Defaults reproduce the tuned Feynman settings.

    Stopping:
        found_relative_rmse: stop once a formula with every constant snapped to a nice number is
            this close on held-out data (RMSE relative to the target's spread, or relative error
            for targets spanning decades).
        exact_relative_rmse: ... or once any formula is this close (rounding level).

    Large tables:
        search_rows: strategies train on at most this many training rows (a seeded subsample);
            every candidate is then judged on every validation row and the chosen law's constants
            refitted on every training row, so time to law grows little with the table's size.
        search_val_rows: rows of the validation split the strategies see while they search.

    Flat strategies (one or two KAN layers on a view of the data):
        flat_library: edge functions of the flat strategies (names in the symbolic library).
        power_grid, power_steps: the one-layer log-log power law ``y = C prod x_i^p_i``.
        flat_grid, flat_steps: additive, log-additive, power-additive and composition strategies.
        y_powers: powers p for which ``y**p`` is fitted as a sum of one-variable functions.
        composition_max_inputs: try ``y = F(sum f_i(x_i))`` (and the y-power views) up to this many inputs.
        general_grid, general_refine_to, general_steps: two-layer KANs (with and without mult nodes).
        general_lambdas: sparsity penalties, one run of each general strategy per value (seed + k).
        general_max_hidden: the widest hidden layer of a general KAN (2d + 1 otherwise).
        retrain_steps: steps of the final fit of symbolic edges' affine parameters.
        simplify_seconds: time cap of sympy's simplify on one formula.

    Structured strategy:
        structured: try the separability / symmetry analysis (two or more inputs).
        structured_steps: joint fit steps of the module graph.

    Sparse regression (laws that are short sums of products, :mod:`kandisco.discovery.sparse`):
        sparse: try it (plain sums of terms, then the rational form ``P / (1 - Q)``).
        sparse_max_terms: the most terms a law may have (besides the constant).
        sparse_max_degree: the highest total degree of a monomial term.
        sparse_function_degree: the highest degree of the monomial a one-variable function is multiplied by.
        sparse_max_features: the largest library; degrees are lowered until it fits.
        sparse_rows: training rows the terms are chosen on (a seeded subsample).

    Errors:
        strict: re-raise a strategy's programming error (TypeError, AttributeError, ...) instead of
            recording it as a warning; default from the environment variable ``KANDISCO_STRICT=1``,
            which the test suite sets, so that a bug inside a strategy fails a test.
    """

    found_relative_rmse: float = 1e-3
    exact_relative_rmse: float = 1e-9
    search_rows: int = 2000
    search_val_rows: int = 1000
    flat_library: tuple[str, ...] = FLAT_LIBRARY
    power_grid: int = 3
    power_steps: int = 30
    flat_grid: int = 5
    flat_steps: int = 40
    y_powers: tuple[float, ...] = (-2.0, 2.0, -1.0)
    composition_max_inputs: int = 3
    composition_refine_to: int = 10
    general_grid: int = 5
    general_refine_to: int = 10
    general_steps: int = 50
    general_lambdas: tuple[float, ...] = (1e-3, 1e-2, 3e-4)
    general_max_hidden: int = 9
    power_general_lambda: float = 1e-3
    retrain_steps: int = 20
    simplify_seconds: float = 3.0
    structured: bool = True
    structured_steps: int = 60
    sparse: bool = True
    sparse_max_terms: int = 10
    sparse_max_degree: int = 3
    sparse_function_degree: int = 3
    sparse_max_features: int = 3000
    sparse_rows: int = 1000
    strict: bool = field(default_factory=lambda: os.environ.get("KANDISCO_STRICT", "") == "1")

    def __post_init__(self) -> None:
        for name in ("found_relative_rmse", "exact_relative_rmse", "simplify_seconds"):
            if not float(getattr(self, name)) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("search_rows", "search_val_rows", "power_grid", "flat_grid", "general_grid", "general_max_hidden",
                     "sparse_max_terms", "sparse_max_degree", "sparse_max_features", "sparse_rows"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("power_steps", "flat_steps", "general_steps", "retrain_steps", "structured_steps", "composition_max_inputs",
                     "sparse_function_degree"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")

    # ------------------------------------------------------------------ conversion
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base: SearchConfig | None = None) -> SearchConfig:
        """``base`` (default: the defaults) with ``values`` replaced; unknown names are a ConfigError."""
        base = base or cls()
        known = {f.name: f for f in fields(cls)}
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name not in known:
                close = difflib.get_close_matches(name, list(known), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"unknown search setting {name!r}{hint} (settings: {', '.join(known)})")
            changes[name] = _coerce(name, value, getattr(base, name))
        return replace(base, **changes)

    @classmethod
    def from_file(cls, path: str | Path) -> SearchConfig:
        """Settings from a JSON object file (``{"general_steps": 80, ...}``)."""
        path = Path(path)
        try:
            values = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: expected a JSON object of settings, got {type(values).__name__}")
        try:
            return cls.from_dict(values)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

    def with_assignments(self, assignments: list[str]) -> SearchConfig:
        """Apply ``name=value`` strings (value as JSON, or a bare word for strings)."""
        values: dict[str, Any] = {}
        for text in assignments:
            name, sep, raw = text.partition("=")
            if not sep or not name.strip():
                raise ConfigError(f"--set takes name=value, got {text!r}")
            try:
                values[name.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                values[name.strip()] = raw.strip()
        return SearchConfig.from_dict(values, base=self)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` converted to the type of the setting's default, or a ConfigError naming it."""
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise TypeError
        if isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            kind = type(default[0]) if default else str
            return tuple(kind(v.strip() if isinstance(v, str) else v) for v in items)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise TypeError
            return int(value)
        if isinstance(default, float):
            return float(value)
        return value
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name} takes a {type(default).__name__}, got {value!r}") from None
