"""Registered strategies. Importing this package registers the built-in planners: the flat KAN
strategies (:mod:`.kan`) and the structured strategy (:mod:`.structured`). A new strategy is a new
module here that calls :func:`register_planner` once, imported below."""

from . import kan, structured
from .base import PLANNERS, NothingToPropose, Planner, Strategy, plan_strategies, register_planner
from .kan import KANStrategy
from .structured import StructuredStrategy

__all__ = [
    "PLANNERS", "NothingToPropose", "Planner", "Strategy", "plan_strategies", "register_planner",
    "KANStrategy", "StructuredStrategy", "kan", "structured",
]
