"""The KAN engine: B-spline edges, layers, multiplication nodes, training and persistence."""

from .layer import EDGE_PRUNED, EDGE_SPLINE, EDGE_SYMBOLIC, KANLayer
from .graph import GraphError, GraphModule, KANGraph
from .network import KAN, Activations, Attribution, KANFileError
from .train import History, fit

__all__ = [
    "KAN", "KANLayer", "KANGraph", "GraphModule", "GraphError", "Activations", "Attribution", "History", "KANFileError", "fit",
    "EDGE_SPLINE", "EDGE_SYMBOLIC", "EDGE_PRUNED",
]
