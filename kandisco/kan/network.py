"""``KAN``: stacked KAN layers with sum nodes and multiplication nodes (KAN 2.0's MultKAN).

A width entry is an int (that many sum nodes) or ``[n_sum, n_mult]``. Layer ``l`` maps the
``n_sum + n_mult`` nodes of level ``l`` to the *subnodes* of level ``l + 1``: one per sum node and
``arity`` per multiplication node; a multiplication node multiplies its subnodes. Every node then
gets a trainable affine ``node_scale * v + node_bias`` (the output bias is the law's constant term).

Inputs are raw user data: on the first :meth:`KAN.fit` (or :meth:`KAN.initialize_grids`) every
layer's knots move to the range of the values that reach it, so nobody has to rescale to [-1, 1].
The module never caches activations: :meth:`KAN.activations` returns them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import sympy
import torch
from torch import nn

from ..errors import KandiscoError
from ..symbolic.library import SymbolicLibrary, UnknownFunctionError
from . import fused_network, symbolic_edges
from .attribution import module_input_importance
from .formula import network_formula
from .layer import EDGE_PRUNED, KANLayer, KANLayers
from .train import History
from .train import fit as train_fit

if TYPE_CHECKING:  # the return type only: matplotlib is imported when plot() runs
    from matplotlib.figure import Figure

__all__ = ["KAN", "Activations", "Attribution", "KANFileError", "parse_width"]

FORMAT_NAME = "kandisco.kan"
FORMAT_VERSION = 1


class KANFileError(KandiscoError, ValueError):
    """A model file that cannot be read: corrupt, not a kandisco model, or incompatible."""


def parse_width(
    width: Sequence[int | Sequence[int]], mult_arity: int | Sequence[Sequence[int]] = 2
) -> tuple[list[int], list[list[int]]]:
    """Normalise a width spec to ``(n_sum per level, [arity of each mult node] per level)``.

    ``mult_arity`` is one int for every multiplication node, or per level a list with one arity per
    multiplication node of that level.
    """
    if not isinstance(width, (list, tuple)) or len(width) < 2:
        raise ValueError(f"width must be a list of at least 2 levels, got {width!r}")
    n_sum: list[int] = []
    n_mult: list[int] = []
    for level, entry in enumerate(width):
        if isinstance(entry, (list, tuple)):
            if len(entry) != 2:
                raise ValueError(f"width[{level}] = {entry!r}: expected an int or [n_sum, n_mult]")
            s, m = int(entry[0]), int(entry[1])
        else:
            s, m = int(entry), 0
        if s < 0 or m < 0 or s + m == 0:
            raise ValueError(f"width[{level}] = {entry!r}: a level needs at least one node")
        n_sum.append(s)
        n_mult.append(m)
    if n_mult[0]:
        raise ValueError("width[0] describes the inputs and cannot have multiplication nodes")
    arities: list[list[int]] = []
    for level, m in enumerate(n_mult):
        if isinstance(mult_arity, int):
            ar = [mult_arity] * m
        else:
            if len(mult_arity) != len(width):
                raise ValueError(f"mult_arity needs one list per level ({len(width)}), got {len(mult_arity)}")
            ar = [int(a) for a in mult_arity[level]]
            if len(ar) != m:
                raise ValueError(f"mult_arity[{level}] has {len(ar)} arities for {m} multiplication nodes")
        if any(a < 2 for a in ar):
            raise ValueError(f"multiplication nodes need arity >= 2, got {ar} at level {level}")
        arities.append(ar)
    return n_sum, arities


@dataclass
class Activations:
    """Values inside the network for one batch (lists indexed by layer)."""

    inputs: list[torch.Tensor]  # (batch, n_in_l): what reaches layer l
    edges: list[torch.Tensor]  # (batch, n_out_l, n_in_l): phi_{l,j,i}
    subnodes: list[torch.Tensor]  # (batch, n_sub_{l+1}): edge sums before multiplication
    output: torch.Tensor  # (batch, n_out)


@dataclass
class Attribution:
    """KAN 2.0 importance scores, propagated back from the outputs (score 1 each)."""

    edge_scores: list[torch.Tensor]  # (n_out_l, n_in_l) per layer
    node_scores: list[torch.Tensor]  # (n_nodes_l,) per level, level 0 = inputs

    @property
    def input_scores(self) -> torch.Tensor:
        return self.node_scores[0]


def read_file(path: Path, what: str) -> dict[str, Any]:
    """The dict a kandisco ``save`` wrote to ``path`` (torch weights_only: no code runs), format not
    yet checked; a missing or unreadable file is a :class:`KANFileError` naming it."""
    if not path.is_file():
        raise KANFileError(f"{path}: no such {what} file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt pickles/zips
        raise KANFileError(f"{path}: not a readable kandisco {what} file ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict):
        raise KANFileError(f"{path}: not a kandisco {what} file")
    return payload


def check_version(payload: Mapping[str, Any], path: Path, version: int, what: str) -> None:
    """Refuse a payload of another format version (naming the file and both versions)."""
    if payload.get("version") != version:
        raise KANFileError(
            f"{path}: {what} format version {payload.get('version')} is not supported "
            f"(this kandisco reads version {version})"
        )


def read_payload(path: Path, format_name: str, version: int, what: str) -> dict[str, Any]:
    """The dict a kandisco ``save`` wrote to ``path`` (torch weights_only: no code runs), checked for
    format and version; every problem is a :class:`KANFileError` naming the file."""
    payload = read_file(path, what)
    if payload.get("format") != format_name:
        raise KANFileError(f"{path}: not a kandisco {what} file")
    check_version(payload, path, version, what)
    return payload


class KAN(nn.Module):
    """A Kolmogorov–Arnold network with sum and multiplication nodes.

    Args:
        width: nodes per level, e.g. ``[2, 5, 1]`` or ``[2, [0, 1], 1]`` (one product node).
        grid: spline intervals per edge; k: spline degree.
        mult_arity: arity of multiplication nodes (int, or per level a list per node).
        base_fun: ``"silu"`` (default), ``"identity"`` or ``"zero"``.
        grid_range: fixed initial input range; ``None`` fits every grid to the data on first fit.
        seed: seeds the initialisation.
        dtype: parameter dtype (float64 default: symbolic regression wants the digits).
        noise_scale: size of the initial spline noise.
    """

    grids_initialized: torch.Tensor  # buffer: True once the grids sit on the data's range

    def __init__(
        self,
        width: Sequence[int | Sequence[int]],
        grid: int = 5,
        k: int = 3,
        mult_arity: int | Sequence[Sequence[int]] = 2,
        base_fun: str = "silu",
        grid_range: tuple[float, float] | None = None,
        seed: int = 0,
        dtype: torch.dtype = torch.float64,
        noise_scale: float = 0.3,
    ) -> None:
        super().__init__()
        if grid < 1 or k < 0:
            raise ValueError(f"need grid >= 1 and k >= 0, got grid={grid}, k={k}")
        self.n_sum, self.mult_arity = parse_width(width, mult_arity)
        self.width = [[s, len(a)] for s, a in zip(self.n_sum, self.mult_arity)]
        self.grid_size, self.k, self.base_fun = int(grid), int(k), base_fun
        self.grid_range = (grid_range[0], grid_range[1]) if grid_range is not None else None
        self.seed, self.dtype, self.noise_scale = int(seed), dtype, float(noise_scale)
        gen = torch.Generator().manual_seed(int(seed))
        rng = self.grid_range or (-1.0, 1.0)
        layers = []
        for lvl in range(len(self.n_sum) - 1):
            n_in = self.n_nodes(lvl)
            n_out = self.n_sum[lvl + 1] + sum(self.mult_arity[lvl + 1])
            layers.append(KANLayer(n_in, n_out, grid, k, base_fun, rng, noise_scale, gen, dtype))
        self.layers = KANLayers(layers)
        self.node_scale = nn.ParameterList(
            [nn.Parameter(torch.ones(self.n_nodes(l + 1), dtype=dtype)) for l in range(self.depth)]
        )
        self.node_bias = nn.ParameterList(
            [nn.Parameter(torch.zeros(self.n_nodes(l + 1), dtype=dtype)) for l in range(self.depth)]
        )
        self.register_buffer("grids_initialized", torch.tensor(grid_range is not None))
        self.library: SymbolicLibrary | None = None  # the functions on symbolic edges (saved with the model)
        self.train_inputs: torch.Tensor | None = None  # set by fit(): default data for symbolic fitting

    # ------------------------------------------------------------ structure
    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def n_inputs(self) -> int:
        return self.n_nodes(0)

    @property
    def n_outputs(self) -> int:
        return self.n_nodes(self.depth)

    def n_nodes(self, level: int) -> int:
        return self.n_sum[level] + len(self.mult_arity[level])

    def config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-able values (for save/load and results)."""
        return {
            "width": self.width,
            "grid": self.grid_size,
            "k": self.k,
            "mult_arity": self.mult_arity,
            "base_fun": self.base_fun,
            "grid_range": list(self.grid_range) if self.grid_range else None,
            "seed": self.seed,
            "dtype": str(self.dtype).replace("torch.", ""),
            "noise_scale": self.noise_scale,
            "layer_grids": [layer.grid_size for layer in self.layers],
            "symbolic_names": [list(layer.sym_names) for layer in self.layers],
        }

    # -------------------------------------------------------------- forward
    def _combine(self, level: int, sub: torch.Tensor) -> torch.Tensor:
        """Subnodes (batch, n_sub) of ``level`` -> nodes (batch, n_nodes): products for mult nodes."""
        n_sum, arity = self.n_sum[level], self.mult_arity[level]
        if not arity:
            return sub
        parts = [sub[:, :n_sum]]
        if len(set(arity)) == 1:
            # a chain of multiplications, not prod(): prod's backward divides and checks for zeros
            # (for arity 2 that backward costs more than the whole rest of this function)
            factors = sub[:, n_sum:].reshape(sub.shape[0], len(arity), arity[0])
            product = factors[..., 0]
            for r in range(1, arity[0]):
                product = product * factors[..., r]
            parts.append(product)
        else:
            start = n_sum
            cols = []
            for a in arity:
                cols.append(sub[:, start : start + a].prod(-1, keepdim=True))
                start += a
            parts.append(torch.cat(cols, dim=1))
        return torch.cat(parts, dim=1)

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(f"expected input of shape (batch, {self.n_inputs}), got {tuple(x.shape)}")
        return x.to(self.dtype)

    def forward(self, x: torch.Tensor, return_activations: bool = False):
        """(batch, n_in) -> (batch, n_out); with ``return_activations`` also an :class:`Activations`."""
        if return_activations:
            acts = self.activations(x)
            return acts.output, acts
        x = self._check_input(x)
        compiled = fused_network.plan(self, x)
        if compiled is not None:  # the whole network in two C++ calls (same values)
            return fused_network.run(self, x, compiled)
        for l, layer in enumerate(self.layers):
            x = self._combine(l + 1, layer(x)) * self.node_scale[l] + self.node_bias[l]
        return x

    def activations(self, x: torch.Tensor) -> Activations:
        """Run ``x`` through the network keeping every layer's inputs, edge values and subnodes."""
        x = self._check_input(x)
        inputs, edges, subs = [], [], []
        for l, layer in enumerate(self.layers):
            inputs.append(x)
            phi = layer.edge_values(x)  # (batch, out, in)
            edges.append(phi)
            sub = phi.sum(-1)  # (batch, out)
            subs.append(sub)
            x = self._combine(l + 1, sub) * self.node_scale[l] + self.node_bias[l]
        return Activations(inputs, edges, subs, x)

    def layer_inputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """What reaches each layer, computed with the fast path (no edge tensor)."""
        x = self._check_input(x)
        out = []
        for l, layer in enumerate(self.layers):
            out.append(x)
            x = self._combine(l + 1, layer(x)) * self.node_scale[l] + self.node_bias[l]
        return out

    # ----------------------------------------------------------------- grids
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02) -> None:
        """Fit every layer's knots to the values that reach it, layer by layer, keeping functions."""
        x = self._check_input(x)
        for l, layer in enumerate(self.layers):
            layer.update_grid(x, grid_eps=grid_eps)
            x = self._combine(l + 1, layer(x)) * self.node_scale[l] + self.node_bias[l]
        self.grids_initialized.fill_(True)

    @torch.no_grad()
    def initialize_grids(self, x: torch.Tensor, grid_eps: float = 1.0) -> None:
        """Put each grid on the range of the data that reaches it (done by the first fit)."""
        self.update_grid(x, grid_eps=grid_eps)

    @torch.no_grad()
    def refine(self, new_grid: int, x: torch.Tensor | None = None, grid_eps: float = 0.02) -> "KAN":
        """Grid extension: re-express every spline on ``new_grid`` intervals (on data ``x`` if given)."""
        if x is None:
            for layer in self.layers:
                layer.refine(new_grid)
        else:
            x = self._check_input(x)
            for l, layer in enumerate(self.layers):
                layer.refine(new_grid, x, grid_eps)
                x = self._combine(l + 1, layer(x)) * self.node_scale[l] + self.node_bias[l]
        self.grid_size = int(new_grid)
        return self

    # ---------------------------------------------------------- attribution
    @torch.no_grad()
    def attribute(self, x: torch.Tensor) -> Attribution:
        """KAN 2.0 edge/node importance on data ``x``.

        An edge's score is the std of its output over the data divided by the std of the subnode
        it feeds, times that subnode's score; a node's score is the sum of its outgoing edges'
        scores; each output starts at 1. Scores are therefore scale-free.
        """
        acts = self.activations(x)
        node_score = torch.ones(self.n_outputs, dtype=self.dtype)
        edge_scores: list[torch.Tensor] = [torch.empty(0)] * self.depth
        node_scores: list[torch.Tensor] = [torch.empty(0)] * (self.depth + 1)
        node_scores[self.depth] = node_score
        for l in reversed(range(self.depth)):
            level = l + 1
            n_sum, arity = self.n_sum[level], self.mult_arity[level]
            sub_score = torch.cat(
                [node_score[:n_sum]]
                + [node_score[n_sum + m].repeat(a) for m, a in enumerate(arity)]
            )  # (n_sub,)
            edge_std = acts.edges[l].std(dim=0) if x.shape[0] > 1 else acts.edges[l].abs()[0]  # (out, in)
            sub_std = acts.subnodes[l].std(dim=0) if x.shape[0] > 1 else acts.subnodes[l].abs()[0]
            tiny = 1e-12 * (sub_std.max() if sub_std.numel() else 1.0) + 1e-300
            scores = edge_std * (sub_score / (sub_std + tiny))[:, None]  # (out, in)
            edge_scores[l] = scores
            node_score = scores.sum(dim=0)  # (in,)
            node_scores[l] = node_score
        return Attribution(edge_scores, node_scores)

    @torch.no_grad()
    def prune(
        self, x: torch.Tensor, edge_threshold: float = 3e-2, node_threshold: float = 1e-2
    ) -> Attribution:
        """Prune edges whose score is below ``edge_threshold`` and hidden nodes below ``node_threshold``.

        A pruned hidden node has all its incoming and outgoing edges pruned (the shapes stay, so
        saved models and formulas keep their indices). Returns the attribution used.
        """
        att = self.attribute(x)
        for l, layer in enumerate(self.layers):
            low = (att.edge_scores[l] < edge_threshold) & (layer.state != EDGE_PRUNED)
            layer.prune_edge(*low.nonzero(as_tuple=True))
        for level in range(1, self.depth):
            weak = att.node_scores[level] < node_threshold
            if not bool(weak.any()):
                continue
            self._prune_nodes(level, weak)
        return att

    def _prune_nodes(self, level: int, weak: torch.Tensor) -> None:
        n_sum, arity = self.n_sum[level], self.mult_arity[level]
        into = self.layers[level - 1]
        sub_of_node: list[list[int]] = [[j] for j in range(n_sum)]
        start = n_sum
        for a in arity:
            sub_of_node.append(list(range(start, start + a)))
            start += a
        for node in weak.nonzero().flatten().tolist():
            for j in sub_of_node[node]:
                into.prune_edge(j, slice(None))  # every edge into the node's subnodes
            self.layers[level].prune_edge(slice(None), node)  # and every edge out of it

    def input_scores(self, x: Any, output: int = 0) -> torch.Tensor:
        """Importance of each input for output ``output`` on data ``x``: mean |df/dx_i| * std(x_i), summing to 1.

        The measure :meth:`GraphModule.input_scores` uses, so the scores of both model kinds compare;
        the per-edge KAN 2.0 scores (which also drive pruning) are :meth:`attribute`.
        """
        return torch.as_tensor(module_input_importance(self, self._check_input(x), output))

    def edge_states(self) -> list[torch.Tensor]:
        """Per layer, the (out, in) tensor of EDGE_SPLINE / EDGE_SYMBOLIC / EDGE_PRUNED codes."""
        return [layer.state.clone() for layer in self.layers]

    # ------------------------------------------------------------- training
    def fit(self, X: Any, y: Any, **kwargs: Any) -> History:
        """Train in place; see :func:`kandisco.kan.train.fit` for the arguments. Returns a History."""
        return train_fit(self, X, y, **kwargs)

    # -------------------------------------------------------- symbolic edges
    def suggest_symbolic(self, l: int, i: int, j: int, X: Any = None, topk: int = 5, library: Any = None, **kw: Any):
        """Best library functions for edge ``(l, i, j)``; see :mod:`kandisco.kan.symbolic_edges`."""
        return symbolic_edges.suggest_symbolic(self, l, i, j, X, topk, library, **kw)

    def fix_symbolic(self, l: int, i: int, j: int, name: str, X: Any = None, **kw: Any):
        """Make edge ``(l, i, j)`` the library function ``name`` with fitted (or given) parameters."""
        return symbolic_edges.fix_symbolic(self, l, i, j, name, X, **kw)

    def unfix_symbolic(self, l: int, i: int, j: int) -> None:
        """Return a symbolic edge to its spline."""
        symbolic_edges.unfix_symbolic(self, l, i, j)

    def auto_symbolic(self, X: Any = None, library: Any = None, **kw: Any):
        """Fix every active spline edge to its best library function (one batched fit)."""
        return symbolic_edges.auto_symbolic(self, X, library, **kw)

    def output_formulas(self, symbols: Sequence[sympy.Symbol] | None = None) -> list[sympy.Expr]:
        """Every output as sympy in ``symbols`` (default ``x0, x1, ...``); all active edges must be symbolic."""
        return network_formula(self, symbols)

    # ------------------------------------------------------------- drawing
    def plot(self, X: Any = None, input_names: Sequence[str] | None = None, output_name: str = "y") -> Figure:
        """The network as a matplotlib Figure, one small panel per active edge function
        (:func:`kandisco.plot.plot_model`; ``X`` defaults to the training inputs, else a grid sweep)."""
        from ..plot import plot_model  # here, not at the top: importing kandisco.kan never loads matplotlib

        return plot_model(self, X, input_names, output_name)

    # ---------------------------------------------------------- persistence
    def payload(self) -> dict[str, Any]:
        """Config (JSON text) + state tensors: what :meth:`save` writes and :meth:`from_payload` reads."""
        config = self.config()
        if self.library is not None:
            config["library"] = self.library.to_spec()
        return {
            "config": json.dumps(config),
            "state_dict": {k: v.detach().clone() for k, v in self.state_dict().items()},
        }

    def save(self, path: str | Path) -> Path:
        """Write config + state to ``path`` in a format that cannot run code when loaded."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"format": FORMAT_NAME, "version": FORMAT_VERSION, **self.payload()}, path)
        return path

    @classmethod
    def load(cls, path: str | Path, library: Any = None) -> "KAN":
        """Read a model written by :meth:`save`; ``library`` supplies custom symbolic functions."""
        path = Path(path)
        payload = read_payload(path, FORMAT_NAME, FORMAT_VERSION, "model")
        return cls.from_payload(payload, library=library, source=str(path))

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], library: Any = None, source: str = "model") -> "KAN":
        """Rebuild a model from :meth:`payload`'s dict; errors are :class:`KANFileError` naming ``source``."""
        try:
            config = json.loads(payload["config"])
            state = payload["state_dict"]
            model = cls(
                config["width"],
                grid=config["grid"],
                k=config["k"],
                mult_arity=config["mult_arity"],
                base_fun=config["base_fun"],
                grid_range=tuple(config["grid_range"]) if config["grid_range"] else None,
                seed=config["seed"],
                dtype=getattr(torch, config["dtype"]),
                noise_scale=config["noise_scale"],
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise KANFileError(f"{source}: incompatible model configuration ({exc})") from None
        for layer, g in zip(model.layers, config["layer_grids"]):
            if g != layer.grid_size:
                layer.grid_size = g
                layer.grid = torch.zeros(layer.n_in, g + 2 * layer.k + 1, dtype=layer.grid.dtype)
                layer.coef = nn.Parameter(torch.zeros(layer.n_out, layer.n_in, g + layer.k, dtype=layer.coef.dtype))
        if any(config.get("symbolic_names", [])):
            lib = model._attach_library(config.get("library"), library, source)
            for layer, names in zip(model.layers, config["symbolic_names"]):
                layer.sym_names = list(names)
                layer.sym_functions = {n: lib[n] for n in names}
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise KANFileError(f"{source}: state does not match the configuration ({exc})") from None
        return model

    def _attach_library(self, spec: Any, extra: Any, source: Any) -> SymbolicLibrary:
        """Set (and return) :attr:`library` from a saved spec plus the caller's extra functions."""
        try:
            self.library = SymbolicLibrary.from_spec(spec, extra)
        except UnknownFunctionError as exc:
            raise KANFileError(f"{source}: {exc}") from None
        return self.library

