"""The KAN engine: B-spline edges, layers, multiplication nodes, graphs of KAN modules, training and persistence.

Both trained model kinds, :class:`KAN` and a compiled :class:`GraphModule`, are :class:`LawModel`;
:func:`load_model` reads either's file.
"""

from .graph import GraphError, GraphModule, KANGraph
from .layer import EDGE_PRUNED, EDGE_SPLINE, EDGE_SYMBOLIC, KANLayer
from .network import KAN, Activations, Attribution, KANFileError
from .protocol import LawModel, Trainable, load_model
from .train import History, fit

__all__ = [
    "KAN", "KANLayer", "KANGraph", "GraphModule", "GraphError", "Activations", "Attribution", "History", "KANFileError", "fit",
    "LawModel", "Trainable", "load_model", "EDGE_SPLINE", "EDGE_SYMBOLIC", "EDGE_PRUNED",
]
