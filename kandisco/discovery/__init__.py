"""Discovery: the pipeline from data to a law, its strategies and views, and its results."""

from .compiler import UnsupportedExpressionError, compile_formula, free_edge
from .config import ConfigError, SearchConfig
from .pipeline import StrategyError, discover
from .problem import NothingToPropose, Problem, Proposal
from .result import Candidate, DiscoveryResult, ResultFileError, pareto_front, pick_candidate
from .strategies import KANStrategy, Strategy, StructuredStrategy, plan_strategies, register_planner
from .structure import build_graph, decompose
from .views import View, get_view, register_view

__all__ = [
    "discover", "SearchConfig", "ConfigError", "StrategyError", "Problem", "Proposal", "NothingToPropose",
    "Strategy", "KANStrategy", "StructuredStrategy", "plan_strategies", "register_planner",
    "View", "get_view", "register_view",
    "Candidate", "DiscoveryResult", "ResultFileError", "pareto_front", "pick_candidate",
    "compile_formula", "free_edge", "UnsupportedExpressionError", "decompose", "build_graph",
]
