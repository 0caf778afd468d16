"""Dynamics: laws of motion from time series, checked by simulation (issue 20).

``discover_ode`` (:mod:`.ode`) splits a table into trajectories, estimates derivatives with the
``derivative`` package (:mod:`.derivatives`), runs :func:`kandisco.discover` once per state and
integrates the found system back (:mod:`.simulate`); ``discover_potential``
(:mod:`.potential`) fits a KAN potential V with F = -grad V after a curl test. :mod:`.systems` holds textbook ODE systems
written from their definitions, :mod:`.trajectories` samples them along solve_ivp trajectories
with exact derivatives, and :mod:`.sindy` is the pysindy baseline on the same data. This package
sits above the discovery pipeline; nothing in the core imports it. Names load on first use, so the
``kandisco`` command's parser (which adds ``ode`` from :mod:`.cli`) does not pay for torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .derivatives import DerivativeError as DerivativeError
    from .derivatives import estimate_derivative as estimate_derivative
    from .ode import ODELaw as ODELaw
    from .ode import ODEResult as ODEResult
    from .ode import discover_ode as discover_ode
    from .ode import prepare_trajectories as prepare_trajectories
    from .potential import PotentialResult as PotentialResult
    from .potential import curl_test as curl_test
    from .potential import discover_potential as discover_potential
    from .simulate import SimulationReport as SimulationReport
    from .simulate import simulate_laws as simulate_laws
    from .systems import SYSTEMS as SYSTEMS
    from .systems import ODESystem as ODESystem
    from .systems import get_system as get_system
    from .trajectories import simulate_system as simulate_system

_EXPORTS = {
    "DerivativeError": ".derivatives", "estimate_derivative": ".derivatives",
    "ODELaw": ".ode", "ODEResult": ".ode", "discover_ode": ".ode", "prepare_trajectories": ".ode",
    "PotentialResult": ".potential", "curl_test": ".potential", "discover_potential": ".potential",
    "SimulationReport": ".simulate", "simulate_laws": ".simulate",
    "SYSTEMS": ".systems", "ODESystem": ".systems", "get_system": ".systems",
    "simulate_system": ".trajectories",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kandisco.dynamics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
