"""Graphs the tests build by hand (imported by test modules; not a test module itself)."""

from kandisco.kan import KAN, KANGraph


def product_graph(seed: int = 0, hidden: int = 3) -> KANGraph:
    """``f = g(x, y) * h(z)``: a two-input module times a one-input module."""
    g = KANGraph()
    for name in ("x", "y", "z"):
        g.add_input(name)
    g.add_module("g", KAN([2, hidden, 1], seed=seed), inputs=["a", "b"])
    g.add_module("h", KAN([1, 1], seed=seed + 1), inputs=["c"])
    g.add_mult("times")
    g.add_output("f")
    for src, dst in (("x", "g.a"), ("y", "g.b"), ("z", "h"), ("g", "times"), ("h", "times"), ("times", "f")):
        g.connect(src, dst)
    return g
