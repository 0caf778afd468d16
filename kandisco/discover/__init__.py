"""Discovery: the pipeline from data to a law, and its results."""

from .pipeline import Strategy, default_strategies, discover
from .result import Candidate, DiscoveryResult, pareto_front, pick_candidate

__all__ = ["discover", "Strategy", "default_strategies", "Candidate", "DiscoveryResult", "pareto_front", "pick_candidate"]
