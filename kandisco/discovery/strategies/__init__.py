"""Registered strategies. Importing this package registers the built-in planners: the flat KAN
strategies (:mod:`.kan`), the sparse-regression strategies (:mod:`.sparse`), the sign-aware power law
(:mod:`.signed_power`), the structured strategy (:mod:`.structured`) and the strategies on the
Buckingham pi groups when units are known (:mod:`.units`). A new strategy is a new module here that
calls :func:`register_planner` once, imported below."""

from . import kan, signed_power, sparse, structured, units
from .base import PLANNERS, NothingToPropose, Planner, Strategy, plan_strategies, register_planner
from .kan import KANStrategy
from .signed_power import SignedPowerLawStrategy
from .sparse import SparseStrategy
from .structured import StructuredStrategy
from .units import MonomialStrategy

__all__ = [
    "PLANNERS", "NothingToPropose", "Planner", "Strategy", "plan_strategies", "register_planner",
    "KANStrategy", "MonomialStrategy", "SignedPowerLawStrategy", "SparseStrategy", "StructuredStrategy",
    "kan", "signed_power", "sparse", "structured", "units",
]
