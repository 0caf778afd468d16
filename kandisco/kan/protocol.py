"""``LawModel``: what every trained model the pipeline hands back can do, flat KAN or KAN graph.

Discovery returns either a flat :class:`~kandisco.kan.network.KAN` or a compiled
:class:`~kandisco.kan.graph.GraphModule` (the structured strategy's). Code after discovery (the
CLI's ``--out``, the estimator, plots) must work with whichever won, so it types its model as
:class:`LawModel` and uses only this:

* ``n_inputs``, ``n_outputs``, ``dtype``; calling the model maps ``(batch, n_inputs)`` to
  ``(batch, n_outputs)``;
* ``output_formulas(symbols=None)``: each output as sympy (all active edges symbolic);
* ``input_scores(x, output=0)``: each input's importance on data ``x`` (mean |df/dx_i| * std(x_i),
  summing to 1; the same measure for both kinds, so their scores compare);
* ``save(path)``: a file :func:`load_model` reads back as the same kind of model.

Drawing is not a model method: :func:`kandisco.plot.plot_model` dispatches on the model's type
(``functools.singledispatch``; a KAN draws its edge functions, a graph its modules). That keeps
matplotlib and the plotting module out of :mod:`kandisco.kan` entirely: the engine never imports
a layer above it, not even lazily.

Training is not part of the protocol either (a law is a result, not a training job): what
:func:`kandisco.kan.train.fit` needs is :data:`Trainable`, ``KAN | GraphModule``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, runtime_checkable

import sympy
import torch

from .graph import GRAPH_FORMAT, GraphModule, load_graph_file
from .network import FORMAT_NAME, FORMAT_VERSION, KAN, KANFileError, check_version, read_file

__all__ = ["LawModel", "Trainable", "load_model"]

Trainable: TypeAlias = KAN | GraphModule
"""What :func:`kandisco.kan.train.fit` trains: grids, layers, activations, state dicts of both kinds."""


@runtime_checkable
class LawModel(Protocol):
    """A trained model of a law: forward, formulas, input importance, persistence (see the module doc)."""

    @property
    def n_inputs(self) -> int:
        """Number of input columns."""
        ...

    @property
    def n_outputs(self) -> int:
        """Number of outputs."""
        ...

    @property
    def dtype(self) -> torch.dtype:
        """Dtype of the parameters; inputs are cast to it."""
        ...

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Forward pass: ``(batch, n_inputs) -> (batch, n_outputs)``."""
        ...

    def output_formulas(self, symbols: Sequence[sympy.Symbol] | None = None) -> list[sympy.Expr]:
        """Each output as a sympy expression in ``symbols`` (one per input)."""
        ...

    def input_scores(self, x: Any, output: int = 0) -> torch.Tensor:
        """Importance of each input for output ``output`` on data ``x``, summing to 1."""
        ...

    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` (read back with :func:`load_model`); returns the path."""
        ...


def load_model(path: str | Path, library: Any = None) -> Trainable:
    """Read a file written by ``KAN.save``, ``GraphModule.save`` or ``KANGraph.save``.

    Returns a :class:`KAN` or a compiled :class:`GraphModule`, whichever the file holds (both are
    :class:`LawModel`). ``library`` supplies custom symbolic functions the file's edges use. A file
    of neither format, or of an unsupported version, is a :class:`KANFileError` naming it.
    """
    path = Path(path)
    payload = read_file(path, "model")
    kind = payload.get("format")
    if kind == FORMAT_NAME:
        check_version(payload, path, FORMAT_VERSION, "model")
        return KAN.from_payload(payload, library=library, source=str(path))
    if kind == GRAPH_FORMAT:
        return load_graph_file(payload, path, library).compile()
    raise KANFileError(f"{path}: not a kandisco model file (neither a KAN nor a KAN graph)")


if TYPE_CHECKING:

    def _both_kinds_conform(kan: KAN, graph: GraphModule) -> tuple[LawModel, LawModel]:
        """Never called: makes the type checker prove that both model kinds implement the protocol."""
        return kan, graph
