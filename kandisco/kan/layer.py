"""One KAN layer: ``n_in * n_out`` learnable edge functions, summed into ``n_out`` outputs.

Every edge is in exactly one state (the design's "one edge, one state"):

* **spline**: ``phi(x) = w_b * b(x) + w_s * spline(x)`` with ``b`` = silu (or identity / zero);
* **symbolic**: ``phi(x) = c * f(a*x + b) + d`` with ``f`` from the symbolic library and trainable
  ``(a, b, c, d)``; the spline weights of the edge are masked out;
* **pruned**: ``phi = 0`` (mask 0).

The spline path is one matmul of the masked coefficients against the knot-major bases
``(n_in * (G + k), batch)``, as efficient-kan does (:mod:`kandisco.kan.spline_linear`, fused with
the compiled kernel where available); the ``(batch, n_out, n_in)`` tensor of edge values is only
built when asked for (:meth:`KANLayer.edge_values`). Symbolic edges are evaluated only for the
edges that are symbolic, grouped by function. ``forward`` never writes to the module's parameters,
buffers or settings (it only memoises knot tables of the current grid).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple, cast, overload

import torch
from torch import nn

from . import spline
from .spline_linear import BASE_FUNCTIONS, spline_linear

if TYPE_CHECKING:
    from ..symbolic.library import SymbolicFunction

__all__ = ["BASE_FUNCTIONS", "EDGE_PRUNED", "EDGE_SPLINE", "EDGE_SYMBOLIC", "KANLayer", "KANLayers"]

EDGE_SPLINE, EDGE_SYMBOLIC, EDGE_PRUNED = 0, 1, 2


class EdgeLayout(NamedTuple):
    """A summary of a layer's edge states."""

    spline_mask: torch.Tensor | None  # (out, in) 1.0 on spline edges; None when every edge is one
    any_spline: bool
    any_symbolic: bool


class KANLayer(nn.Module):
    """A layer of ``n_in x n_out`` edges with per-input knot vectors.

    Args:
        n_in, n_out: numbers of input and output nodes.
        grid: number of spline intervals G; k: spline degree.
        base_fun: name in :data:`BASE_FUNCTIONS`.
        grid_range: initial ``(low, high)`` of every input's grid (the network re-fits it to data).
        noise_scale: std of the initial spline values (the paper initialises splines near zero).
        generator: seeded RNG for the initialisation.
    """

    # buffers (registered in __init__; declared here for the type checker)
    grid: torch.Tensor  # (in, G + 2k + 1) knots per input
    state: torch.Tensor  # (out, in) EDGE_* codes
    sym_index: torch.Tensor  # (out, in) index into sym_names, -1 when not symbolic

    def __init__(
        self,
        n_in: int,
        n_out: int,
        grid: int = 5,
        k: int = 3,
        base_fun: str = "silu",
        grid_range: tuple[float, float] = (-1.0, 1.0),
        noise_scale: float = 0.3,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if base_fun not in BASE_FUNCTIONS:
            raise ValueError(f"unknown base_fun {base_fun!r}; choose one of {sorted(BASE_FUNCTIONS)}")
        self.n_in, self.n_out, self.grid_size, self.k = n_in, n_out, grid, k
        self.base_fun_name = base_fun
        self.base_fun = BASE_FUNCTIONS[base_fun]
        low = torch.full((n_in,), float(grid_range[0]), dtype=dtype)
        high = torch.full((n_in,), float(grid_range[1]), dtype=dtype)
        self.register_buffer("grid", spline.uniform_grid(low, high, grid, k))  # (in, G+2k+1)

        # the paper's initialisation: spline ~ small noise, w_b ~ U(-1,1)/sqrt(n_in), w_s = 1
        pts = torch.linspace(-1, 1, grid + 1, dtype=dtype)[:, None].expand(grid + 1, n_in)
        noise = (torch.rand(grid + 1, n_out, n_in, generator=generator, dtype=dtype) - 0.5)
        noise = noise * noise_scale / grid
        x_init = low + (pts + 1) / 2 * (high - low)  # (G+1, in)
        coef = spline.curve_to_coef(x_init, noise, self.grid, k)  # (out, in, G+k)
        self.coef = nn.Parameter(coef)
        bound = 1.0 / n_in**0.5
        w_b = (torch.rand(n_out, n_in, generator=generator, dtype=dtype) * 2 - 1) * bound
        self.scale_base = nn.Parameter(w_b if base_fun != "zero" else torch.zeros_like(w_b))
        self.scale_sp = nn.Parameter(torch.ones(n_out, n_in, dtype=dtype))
        # symbolic state: (a, b, c, d) per edge, and which library function the edge uses
        self.sym_params = nn.Parameter(
            torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=dtype).repeat(n_out, n_in, 1)
        )  # (out, in, 4)
        self.register_buffer("state", torch.zeros(n_out, n_in, dtype=torch.long))  # EDGE_* codes
        self.register_buffer("sym_index", torch.full((n_out, n_in), -1, dtype=torch.long))
        self.sym_names: list[str] = []  # index -> function name, for sym_index
        self.sym_functions: dict[str, SymbolicFunction] = {}  # name -> library function
        self.__dict__["_knot_cache"] = None  # memo of knot tables (see _knot_tables), not state
        self.__dict__["_layout_cache"] = None  # memo of the edge states' summary (see _edge_layout)

    # ------------------------------------------------------------------ state
    @property
    def spline_mask(self) -> torch.Tensor:
        """(out, in) 1.0 where the edge is a spline, else 0.0."""
        return (self.state == EDGE_SPLINE).to(self.coef.dtype)

    @property
    def active_mask(self) -> torch.Tensor:
        """(out, in) 1.0 where the edge is not pruned."""
        return (self.state != EDGE_PRUNED).to(self.coef.dtype)

    def set_symbolic(self, j: int, i: int, function: SymbolicFunction, params: tuple[float, float, float, float]) -> None:
        """Make edge ``i -> j`` symbolic with ``function`` (a SymbolicFunction) and ``(a, b, c, d)``."""
        name = function.name
        if name not in self.sym_names:
            self.sym_names.append(name)
        self.sym_functions[name] = function
        with torch.no_grad():
            self.sym_index[j, i] = self.sym_names.index(name)
            self.sym_params[j, i] = torch.tensor(params, dtype=self.sym_params.dtype)
            self.state[j, i] = EDGE_SYMBOLIC

    def set_spline(self, j: int, i: int) -> None:
        """Return edge ``i -> j`` to its spline (its coefficients were kept while it was symbolic)."""
        with torch.no_grad():
            self.state[j, i] = EDGE_SPLINE
            self.sym_index[j, i] = -1

    def prune_edge(self, j, i) -> None:
        """Prune edge(s) ``i -> j``; ``j``/``i`` may be ints, slices or index tensors."""
        with torch.no_grad():
            self.state[j, i] = EDGE_PRUNED
            self.sym_index[j, i] = -1

    # ---------------------------------------------------------------- forward
    def _memo(self, slot: str, source: torch.Tensor, extra: object, compute):
        """``compute()``, recomputed only when ``source`` (the tensor object or its version counter)
        or ``extra`` changes: in-place writes (``load_state_dict``, edge state setters) and
        replacements (grid updates) both invalidate it. A cache, not state."""
        cache = self.__dict__.get(slot)
        if cache is None or cache[0] is not source or cache[1] != (source._version, extra):
            cache = (source, (source._version, extra), compute())
            self.__dict__[slot] = cache
        return cache[2]

    def _knot_tables(self) -> spline.KnotTables:
        """:func:`spline.knot_tables` of the current grid (memoised)."""
        return self._memo("_knot_cache", self.grid, self.k, lambda: spline.knot_tables(self.grid, self.k))

    def _edge_layout(self) -> EdgeLayout:
        """Which edge states the layer has (memoised: the answers need a device-to-host read,
        which costs more than a small layer's arithmetic)."""

        def compute():
            has_other = bool(self.state.any())  # any symbolic or pruned edge?
            spline_w = self.spline_mask if has_other else None
            any_symbolic = has_other and bool((self.state == EDGE_SYMBOLIC).any())
            return EdgeLayout(spline_w, spline_w is None or bool(spline_w.any()), any_symbolic)

        return self._memo("_layout_cache", self.state, self.coef.dtype, compute)

    def spline_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(w_sp, w_base)`` with symbolic and pruned edges masked out (the parameters themselves
        when every edge is a spline)."""
        spline_w = self._edge_layout().spline_mask
        if spline_w is None:
            return self.scale_sp, self.scale_base
        return self.scale_sp * spline_w, self.scale_base * spline_w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, n_in) -> (batch, n_out): the sum over inputs of every active edge."""
        batch = x.shape[0]
        out = None
        layout = self._edge_layout()
        if layout.any_spline:
            w_sp, w_base = self.spline_weights()
            out = spline_linear(x, self.coef, w_sp, w_base, self._knot_tables(), self.base_fun_name)
        if out is None:
            out = x.new_zeros(batch, self.n_out)
        if layout.any_symbolic:
            for js, _, values in self._symbolic_terms(x):
                out = out.index_add(1, js, values)
        return out

    def _symbolic_terms(self, x: torch.Tensor):
        """Yield ``(out_idx, in_idx, values (batch, n_edges))`` per library function used."""
        for f_idx, name in enumerate(self.sym_names):
            sel = (self.state == EDGE_SYMBOLIC) & (self.sym_index == f_idx)  # (out, in)
            if not bool(sel.any()):
                continue
            js, is_ = sel.nonzero(as_tuple=True)
            p = self.sym_params[js, is_]  # (n_edges, 4)
            z = p[:, 0] * x[:, is_] + p[:, 1]  # (batch, n_edges)
            fn = self.sym_functions[name].safe_torch_fn
            yield js, is_, p[:, 2] * fn(z) + p[:, 3]

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """Every edge's output phi_{j,i}(x_i): (batch, n_in) -> (batch, n_out, n_in).

        Builds the full tensor the fast forward avoids; used for attribution, regularisation,
        plots and symbolic fitting. ``edge_values(x).sum(-1)`` equals ``forward(x)``.
        """
        spline_w = self.spline_mask  # (out, in)
        base = self.base_fun(x)[:, None, :] * self.scale_base[None]  # (batch, out, in)
        curve = spline.coef_to_curve(x, self.grid, self.coef, self.k)  # (batch, out, in)
        values = (base + curve * self.scale_sp[None]) * spline_w[None]  # (batch, out, in)
        if self.sym_names:
            for js, is_, sym in self._symbolic_terms(x):
                values = values.index_put((torch.arange(x.shape[0])[:, None], js[None], is_[None]), sym)
        return values

    def spline_values(self, x: torch.Tensor) -> torch.Tensor:
        """Spline part of every edge, unscaled: (batch, n_in) -> (batch, n_out, n_in)."""
        return spline.coef_to_curve(x, self.grid, self.coef, self.k)

    # ------------------------------------------------------------------- grid
    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02, num: int | None = None) -> None:
        """Move the knots to samples ``x`` (batch, n_in), keeping every spline edge's function.

        ``num`` changes the number of intervals (grid extension); ``grid_eps`` mixes the quantile
        grid with a uniform one (1 = uniform on the data range).
        """
        num = self.grid_size if num is None else int(num)
        new_grid = spline.grid_from_samples(x, num, self.k, grid_eps).to(self.grid.dtype)
        coef = spline.refit_coef(x, self.grid, self.coef, new_grid, self.k)
        if coef.shape == self.coef.shape:
            self.coef.data = coef
        else:  # a new shape needs a new Parameter (autograd remembers the old one's shape)
            self.coef = nn.Parameter(coef)
        self.grid = new_grid
        self.grid_size = num

    @torch.no_grad()
    def refine(self, new_grid: int, x: torch.Tensor | None = None, grid_eps: float = 0.02) -> None:
        """Grid extension to ``new_grid`` intervals, preserving each spline edge on the data range.

        Without samples the new grid is uniform on the current grid range and the old splines are
        sampled densely there.
        """
        if x is None:
            lo, hi = self.grid[:, self.k], self.grid[:, -self.k - 1]  # (in,)
            n = 8 * (max(new_grid, self.grid_size) + self.k) + 1
            ts = torch.linspace(0, 1, n, dtype=self.grid.dtype, device=self.grid.device)
            x = lo[None, :] + ts[:, None] * (hi - lo)[None, :]  # (n, in)
            grid_eps = 1.0
        self.update_grid(x, grid_eps=grid_eps, num=new_grid)

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}, grid={self.grid_size}, k={self.k}, base_fun={self.base_fun_name}"


class KANLayers(nn.ModuleList):
    """An ``nn.ModuleList`` of :class:`KANLayer`: the same module and state-dict keys, with indexing
    and iteration typed as layers (torch types them as ``Module``)."""

    @overload
    def __getitem__(self, idx: slice) -> nn.ModuleList: ...

    @overload
    def __getitem__(self, idx: int) -> KANLayer: ...

    def __getitem__(self, idx: int | slice) -> KANLayer | nn.ModuleList:
        return cast("KANLayer | nn.ModuleList", super().__getitem__(idx))

    def __iter__(self) -> Iterator[KANLayer]:
        return cast("Iterator[KANLayer]", super().__iter__())
