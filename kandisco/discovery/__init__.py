"""Discovery: the pipeline from data to a law, and its results."""

from .compiler import UnsupportedExpressionError, compile_formula, free_edge
from .pipeline import Strategy, default_strategies, discover
from .result import Candidate, DiscoveryResult, pareto_front, pick_candidate
from .structure import build_graph, decompose

__all__ = [
    "discover", "Strategy", "default_strategies", "Candidate", "DiscoveryResult", "pareto_front", "pick_candidate",
    "compile_formula", "free_edge", "UnsupportedExpressionError", "decompose", "build_graph",
]
