"""Modular KAN graphs: named inputs, named KAN modules, sum and multiplication nodes, named outputs.

A :class:`KANGraph` is the *structure* (a networkx ``MultiDiGraph``; modules carry their KAN);
:meth:`KANGraph.compile` turns it into one :class:`GraphModule` (an ``nn.Module`` evaluated in
topological order) that trains with :func:`kandisco.kan.train.fit` like a flat KAN. Formulas come
per module (in the module's port symbols) and for the whole graph (module outputs are named
intermediate symbols, then substituted).

Signals are named ``"node"`` (inputs, sum, mult nodes, single-output modules) or
``"module.port"`` (a module output port); module input ports are addressed as ``"module.port"``.
"""

from __future__ import annotations

import json
from collections.abc import ItemsView, Mapping, Sequence, ValuesView
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import networkx as nx
import sympy
import torch
from torch import nn

from ..errors import KandiscoError
from .attribution import module_input_importance
from .formula import network_formula
from .layer import KANLayer
from .network import KAN, KANFileError, check_version, read_payload
from .train import History
from .train import fit as train_fit

if TYPE_CHECKING:  # the return type only: matplotlib is imported when plot() runs
    from matplotlib.figure import Figure

__all__ = ["KANGraph", "GraphModule", "GraphError", "GraphActivations", "INPUT", "MODULE", "SUM", "MULT", "OUTPUT"]

INPUT, MODULE, SUM, MULT, OUTPUT = "input", "module", "sum", "mult", "output"
GRAPH_FORMAT, GRAPH_VERSION = "kandisco-graph", 1


class GraphError(KandiscoError, ValueError):
    """The graph is malformed (the message names the node or port)."""


@dataclass
class GraphActivations:
    """Per-layer edge values of every module, in :attr:`GraphModule.layers` order, and the output."""

    edges: list[torch.Tensor]
    output: torch.Tensor


class KANGraph:
    """Structure of a modular KAN: build with ``add_*`` and :meth:`connect`, then :meth:`compile`."""

    def __init__(self) -> None:
        self.graph = nx.MultiDiGraph()
        self._order: list[str] = []  # insertion order: makes every traversal deterministic

    # ---------------------------------------------------------------- build
    def _add(self, name: str, kind: str, **attrs: Any) -> str:
        if not isinstance(name, str) or not name or "." in name:
            raise GraphError(f"node name {name!r} must be a non-empty string without '.'")
        if name in self.graph:
            raise GraphError(f"node {name!r} already exists")
        self.graph.add_node(name, kind=kind, **attrs)
        self._order.append(name)
        return name

    def add_input(self, name: str) -> str:
        """A named input variable (a column of the data, in the order inputs are added)."""
        return self._add(name, INPUT)

    def add_module(self, name: str, kan: KAN, inputs: Sequence[str] | None = None, outputs: Sequence[str] | None = None) -> str:
        """A KAN module with named input/output ports (default ``in0..``, ``out0..``)."""
        if not isinstance(kan, KAN):
            raise GraphError(f"module {name!r}: expected a KAN, got {type(kan).__name__}")
        inputs = list(inputs) if inputs is not None else [f"in{i}" for i in range(kan.n_inputs)]
        if outputs is None:
            outputs = ["out"] if kan.n_outputs == 1 else [f"out{i}" for i in range(kan.n_outputs)]
        outputs = list(outputs)
        if len(inputs) != kan.n_inputs or len(outputs) != kan.n_outputs:
            raise GraphError(
                f"module {name!r}: {len(inputs)} input / {len(outputs)} output port names for a KAN "
                f"with {kan.n_inputs} inputs and {kan.n_outputs} outputs"
            )
        for port in inputs + outputs:
            if not port or "." in port:
                raise GraphError(f"module {name!r}: port name {port!r} must be non-empty without '.'")
        if len(set(inputs)) != len(inputs) or len(set(outputs)) != len(outputs):
            raise GraphError(f"module {name!r}: duplicate port names")
        return self._add(name, MODULE, kan=kan, inputs=inputs, outputs=outputs)

    def add_sum(self, name: str) -> str:
        """A node adding every signal that reaches it."""
        return self._add(name, SUM)

    def add_mult(self, name: str) -> str:
        """A node multiplying every signal that reaches it (arity >= 2)."""
        return self._add(name, MULT)

    def add_output(self, name: str) -> str:
        """A named output; exactly one signal reaches it."""
        return self._add(name, OUTPUT)

    def _split(self, ref: str) -> tuple[str, str | None]:
        node, _, port = ref.partition(".")
        if node not in self.graph:
            raise GraphError(f"no node named {node!r} (in {ref!r})")
        return node, (port or None)

    def connect(self, src: str, dst: str) -> None:
        """Send signal ``src`` (``"node"`` or ``"module.port"``) to ``dst`` (``"node"`` or ``"module.port"``)."""
        s, s_port = self._split(src)
        d, d_port = self._split(dst)
        s_kind, d_kind = self.kind(s), self.kind(d)
        if s_kind == OUTPUT:
            raise GraphError(f"output {s!r} cannot feed another node")
        if d_kind == INPUT:
            raise GraphError(f"input {d!r} cannot receive a signal")
        s_port = self._port(s, s_port, src, "outputs")
        d_port = self._port(d, d_port, dst, "inputs")
        self.graph.add_edge(s, d, src_port=s_port, dst_port=d_port)

    def _port(self, node: str, port: str | None, ref: str, side: str) -> str | None:
        """The port ``ref`` names on ``node``'s ``side`` ("inputs"/"outputs"); a lone port may go unnamed."""
        kind = self.kind(node)
        if kind != MODULE:
            if port is not None:
                raise GraphError(f"{kind} node {node!r} has no ports (got {ref!r})")
            return None
        ports = self.graph.nodes[node][side]
        if port is None and len(ports) == 1:
            return ports[0]
        if port not in ports:
            raise GraphError(f"module {node!r} has no {side[:-1]} port {port!r} (ports: {', '.join(ports)})")
        return port

    # -------------------------------------------------------------- queries
    def kind(self, name: str) -> str:
        return self.graph.nodes[name]["kind"]

    @property
    def node_names(self) -> list[str]:
        """Every node's name, in the order the nodes were added."""
        return list(self._order)

    def nodes_of(self, kind: str) -> list[str]:
        return [n for n in self._order if self.kind(n) == kind]

    @property
    def inputs(self) -> list[str]:
        return self.nodes_of(INPUT)

    @property
    def outputs(self) -> list[str]:
        return self.nodes_of(OUTPUT)

    @property
    def modules(self) -> dict[str, KAN]:
        return {n: self.graph.nodes[n]["kan"] for n in self.nodes_of(MODULE)}

    def incoming(self, node: str) -> list[tuple[str, str | None, str | None]]:
        """``(source, source_port, destination_port)`` of every signal reaching ``node``, in insertion order."""
        return [(u, a["src_port"], a["dst_port"]) for u, _, a in self.graph.in_edges(node, data=True)]

    def topological_order(self) -> list[str]:
        index = {n: i for i, n in enumerate(self._order)}
        return list(nx.lexicographical_topological_sort(self.graph, key=index.__getitem__))

    # ----------------------------------------------------------- validation
    def validate(self) -> None:
        """Raise :class:`GraphError` naming the first node that breaks a rule."""
        if not nx.is_directed_acyclic_graph(self.graph):
            cycle = nx.find_cycle(self.graph)
            raise GraphError(f"the graph has a cycle through {' -> '.join(str(e[0]) for e in cycle)}")
        if not self.inputs:
            raise GraphError("the graph has no inputs")
        if not self.outputs:
            raise GraphError("the graph has no outputs")
        for n in self._order:
            kind, incoming = self.kind(n), self.incoming(n)
            n_out = self.graph.out_degree(n)
            if kind == INPUT and n_out == 0:
                raise GraphError(f"input {n!r} is not connected to anything")
            if kind == SUM and not incoming:
                raise GraphError(f"sum node {n!r} receives no signal")
            if kind == MULT and len(incoming) < 2:
                raise GraphError(f"mult node {n!r} needs at least 2 incoming signals, has {len(incoming)}")
            if kind == OUTPUT and len(incoming) != 1:
                raise GraphError(f"output {n!r} needs exactly 1 incoming signal, has {len(incoming)}")
            if kind in (SUM, MULT) and n_out == 0:
                raise GraphError(f"{kind} node {n!r} feeds nothing")
            if kind == MODULE:
                attrs = self.graph.nodes[n]
                got = [p for _, _, p in incoming]
                for port in attrs["inputs"]:
                    if got.count(port) != 1:
                        raise GraphError(f"module {n!r}: input port {port!r} has {got.count(port)} incoming signals, needs 1")
                used = {a["src_port"] for _, _, a in self.graph.out_edges(n, data=True)}
                for port in attrs["outputs"]:
                    if port not in used:
                        raise GraphError(f"module {n!r}: output port {port!r} is not connected")

    def compile(self) -> "GraphModule":
        """Validate and return the trainable module."""
        self.validate()
        return GraphModule(self)

    def plot(self, X: Any = None, input_names: Sequence[str] | None = None, output_name: str = "y") -> Figure:
        """The graph as a matplotlib Figure (drawn as its compiled module; :func:`kandisco.plot.plot_model`)."""
        from ..plot import plot_model  # here, not at the top: importing kandisco.kan never loads matplotlib

        return plot_model(self, X, input_names, output_name)

    # ---------------------------------------------------------- persistence
    def structure(self) -> dict[str, Any]:
        """JSON-able description of nodes and connections (module KANs by their config)."""
        nodes = []
        for n in self._order:
            attrs = self.graph.nodes[n]
            entry: dict[str, Any] = {"name": n, "kind": attrs["kind"]}
            if attrs["kind"] == MODULE:
                entry.update(inputs=attrs["inputs"], outputs=attrs["outputs"])
            nodes.append(entry)
        edges = [
            {"src": u, "src_port": a["src_port"], "dst": v, "dst_port": a["dst_port"]}
            for u, v, a in self.graph.edges(data=True)
        ]
        return {"nodes": nodes, "edges": edges}

    def payload(self, modules: Mapping[str, KAN] | None = None) -> dict[str, Any]:
        """Format tag, structure (JSON text) and every module's config and state: what :meth:`save` writes.

        ``modules`` replaces the graph's own KANs by name (a compiled module's, which are the same
        objects unless someone swapped one in).
        """
        kans = dict(self.modules)
        kans.update(modules or {})
        return {
            "format": GRAPH_FORMAT,
            "version": GRAPH_VERSION,
            "structure": json.dumps(self.structure()),
            "modules": {name: kan.payload() for name, kan in kans.items()},
        }

    def save(self, path: str | Path) -> Path:
        """Write structure + every module (config and state) to one file that cannot run code on load."""
        return _write(self.payload(), path)

    @classmethod
    def load(cls, path: str | Path, library: Any = None) -> "KANGraph":
        """Read a graph written by :meth:`save` (errors name the file)."""
        path = Path(path)
        return cls.from_payload(read_payload(path, GRAPH_FORMAT, GRAPH_VERSION, "graph"), library, path)

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any], library: Any = None, source: str | Path = "graph") -> "KANGraph":
        """Rebuild a graph from :meth:`payload`'s dict; errors are :class:`KANFileError` naming ``source``."""
        try:
            structure = json.loads(payload["structure"])
            graph = cls()
            for node in structure["nodes"]:
                name, kind = node["name"], node["kind"]
                if kind == MODULE:
                    kan = KAN.from_payload(payload["modules"][name], library=library, source=f"{source} (module {name!r})")
                    graph.add_module(name, kan, node["inputs"], node["outputs"])
                elif kind in (INPUT, SUM, MULT, OUTPUT):
                    graph._add(name, kind)
                else:
                    raise KANFileError(f"{source}: node {name!r} has unknown kind {kind!r}")
            for e in structure["edges"]:
                src = e["src"] + (f".{e['src_port']}" if e["src_port"] else "")
                dst = e["dst"] + (f".{e['dst_port']}" if e["dst_port"] else "")
                graph.connect(src, dst)
        except (KeyError, TypeError, GraphError) as exc:
            raise KANFileError(f"{source}: incompatible graph structure ({exc})") from None
        return graph


def load_graph_file(payload: Mapping[str, Any], path: Path, library: Any = None) -> "KANGraph":
    """A :class:`KANGraph` from a file's payload already known to be of the graph format (version checked here)."""
    check_version(payload, path, GRAPH_VERSION, "graph")
    return KANGraph.from_payload(payload, library, path)


def _write(payload: Mapping[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(dict(payload), path)
    return path


class KANModules(nn.ModuleDict):
    """An ``nn.ModuleDict`` of :class:`KAN` modules by name (same state-dict keys; values typed as KANs)."""

    def __getitem__(self, key: str) -> KAN:
        return cast(KAN, super().__getitem__(key))

    def values(self) -> ValuesView[KAN]:
        return cast("ValuesView[KAN]", super().values())

    def items(self) -> ItemsView[str, KAN]:
        return cast("ItemsView[str, KAN]", super().items())


def _signal(node: str, port: str | None) -> str:
    return f"{node}.{port}" if port is not None else node


class GraphModule(nn.Module):
    """A validated :class:`KANGraph` as one torch module: ``(batch, n_inputs) -> (batch, n_outputs)``.

    Has what :func:`kandisco.kan.train.fit` needs (``dtype``, ``n_inputs``, grids, ``layers``,
    ``activations``), so a graph trains, regularises and updates grids like a flat KAN.
    """

    def __init__(self, graph: KANGraph) -> None:
        super().__init__()
        self.spec = graph
        self.kans = KANModules(graph.modules)
        dtypes = {k.dtype for k in self.kans.values()}
        if len(dtypes) > 1:
            raise GraphError(f"modules mix dtypes {sorted(map(str, dtypes))}")
        self.dtype = dtypes.pop() if dtypes else torch.float64
        self.order = graph.topological_order()
        self.input_names = graph.inputs
        self.output_names = graph.outputs
        self._incoming = {n: graph.incoming(n) for n in self.order}
        self.train_inputs: torch.Tensor | None = None

    @property
    def n_inputs(self) -> int:
        return len(self.input_names)

    @property
    def n_outputs(self) -> int:
        return len(self.output_names)

    @property
    def layers(self) -> list[KANLayer]:
        return [layer for kan in self.kans.values() for layer in kan.layers]

    @property
    def grids_initialized(self) -> bool:
        return all(bool(k.grids_initialized) for k in self.kans.values())

    def _check_input(self, x: Any) -> torch.Tensor:
        x = torch.as_tensor(x)
        if x.dim() != 2 or x.shape[1] != self.n_inputs:
            raise ValueError(
                f"expected input of shape (batch, {self.n_inputs}) for inputs {self.input_names}, got {tuple(x.shape)}"
            )
        return x.to(self.dtype)

    def _module_input(self, name: str, values: Mapping[str, torch.Tensor]) -> torch.Tensor:
        by_port = {dst: values[_signal(src, sport)] for src, sport, dst in self._incoming[name]}
        return torch.stack([by_port[p] for p in self.spec.graph.nodes[name]["inputs"]], dim=1)

    def _run(self, x: torch.Tensor, visit: Any = None) -> dict[str, torch.Tensor]:
        """Every signal's values on ``x``; ``visit(name, kan, module_input)`` may replace a module's call."""
        x = self._check_input(x)
        values: dict[str, torch.Tensor] = {}
        for name in self.order:
            kind = self.spec.kind(name)
            incoming = [values[_signal(s, p)] for s, p, _ in self._incoming[name]]
            if kind == INPUT:
                values[name] = x[:, self.input_names.index(name)]
            elif kind == SUM:
                values[name] = torch.stack(incoming, 0).sum(0)
            elif kind == MULT:
                values[name] = torch.stack(incoming, 0).prod(0)
            elif kind == OUTPUT:
                values[name] = incoming[0]
            else:
                kan = self.kans[name]
                xin = self._module_input(name, values)
                out = visit(name, kan, xin) if visit is not None else kan(xin)
                for j, port in enumerate(self.spec.graph.nodes[name]["outputs"]):
                    values[f"{name}.{port}"] = out[:, j]
        return values

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = self._run(x)
        return torch.stack([values[o] for o in self.output_names], dim=1)

    def signals(self, x: Any) -> dict[str, torch.Tensor]:
        """Values of every named signal (inputs, module ports, sum/mult nodes, outputs) on ``x``."""
        with torch.no_grad():
            return self._run(x)

    def module_inputs(self, x: Any) -> dict[str, torch.Tensor]:
        """What reaches each module on data ``x`` (batch, n_module_inputs)."""
        seen: dict[str, torch.Tensor] = {}

        def visit(name: str, kan: KAN, xin: torch.Tensor) -> torch.Tensor:
            seen[name] = xin
            return kan(xin)

        with torch.no_grad():
            self._run(x, visit)
        return seen

    def activations(self, x: torch.Tensor) -> GraphActivations:
        """Edge values of every module layer (for the sparsity regulariser) and the output."""
        edges: dict[str, list[torch.Tensor]] = {}

        def visit(name: str, kan: KAN, xin: torch.Tensor) -> torch.Tensor:
            acts = kan.activations(xin)
            edges[name] = acts.edges
            return acts.output

        values = self._run(x, visit)
        ordered = [e for name in self.kans for e in edges[name]]
        return GraphActivations(ordered, torch.stack([values[o] for o in self.output_names], dim=1))

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor, grid_eps: float = 0.02) -> None:
        """Fit every module's grids to what reaches it, in topological order."""

        def visit(name: str, kan: KAN, xin: torch.Tensor) -> torch.Tensor:
            kan.update_grid(xin, grid_eps=grid_eps)
            return kan(xin)

        self._run(x, visit)

    @torch.no_grad()
    def initialize_grids(self, x: torch.Tensor, grid_eps: float = 1.0) -> None:
        self.update_grid(x, grid_eps=grid_eps)

    def fit(self, X: Any, y: Any, **kwargs: Any) -> History:
        """Train every module together (see :func:`kandisco.kan.train.fit`)."""
        return train_fit(self, X, y, **kwargs)

    def input_scores(self, x: Any, output: int = 0) -> torch.Tensor:
        """Importance of each graph input for an output (mean |df/dx_i| * std(x_i), summing to 1)."""
        return torch.as_tensor(module_input_importance(self, self._check_input(x), output))

    # ---------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the graph with its trained modules (the :class:`KANGraph` format; read back with
        :func:`kandisco.kan.load_model`, or ``KANGraph.load(path).compile()``)."""
        return _write(self.spec.payload(dict(self.kans.items())), path)

    # ------------------------------------------------------------- formulas
    def module_formulas(self, overrides: Mapping[str, Sequence[sympy.Expr]] | None = None) -> dict[str, list[sympy.Expr]]:
        """Each module's outputs in its own port symbols (symbolic edges, or ``overrides[module]``)."""
        overrides = overrides or {}
        out: dict[str, list[sympy.Expr]] = {}
        for name, kan in self.kans.items():
            if name in overrides:
                out[name] = list(overrides[name])
            else:
                ports = [sympy.Symbol(p, real=True) for p in self.spec.graph.nodes[name]["inputs"]]
                out[name] = network_formula(kan, ports)
        return out

    def formula(
        self,
        symbols: Sequence[sympy.Symbol] | None = None,
        overrides: Mapping[str, Sequence[sympy.Expr]] | None = None,
        substitute: bool = True,
    ) -> tuple[list[sympy.Expr], dict[sympy.Symbol, sympy.Expr]]:
        """Output formulas and the definitions of the intermediate symbols (``module_port``).

        With ``substitute`` the intermediate symbols are replaced, giving the outputs in the input
        symbols; without, outputs are written in the intermediates and ``definitions`` says what each is.
        """
        symbols = list(symbols) if symbols is not None else [sympy.Symbol(n, real=True) for n in self.input_names]
        if len(symbols) != self.n_inputs:
            raise ValueError(f"{len(symbols)} symbols for a graph with {self.n_inputs} inputs")
        per_module = self.module_formulas(overrides)
        exprs: dict[str, sympy.Expr] = {}
        definitions: dict[sympy.Symbol, sympy.Expr] = {}
        for name in self.order:
            kind = self.spec.kind(name)
            incoming = [exprs[_signal(s, p)] for s, p, _ in self._incoming[name]]
            if kind == INPUT:
                exprs[name] = symbols[self.input_names.index(name)]
            elif kind == SUM:
                exprs[name] = sympy.Add(*incoming)
            elif kind == MULT:
                exprs[name] = sympy.Mul(*incoming)
            elif kind == OUTPUT:
                exprs[name] = incoming[0]
            else:
                attrs = self.spec.graph.nodes[name]
                by_port = {dst: exprs[_signal(s, p)] for s, p, dst in self._incoming[name]}
                mapping = {sympy.Symbol(p, real=True): by_port[p] for p in attrs["inputs"]}
                for port, body in zip(attrs["outputs"], per_module[name]):
                    value = body.xreplace(mapping)
                    if substitute:
                        exprs[f"{name}.{port}"] = value
                    else:
                        inter = sympy.Symbol(f"{name}_{port}", real=True)
                        definitions[inter] = value
                        exprs[f"{name}.{port}"] = inter
        return [exprs[o] for o in self.output_names], definitions

    def output_formulas(self, symbols: Sequence[sympy.Symbol] | None = None) -> list[sympy.Expr]:
        """Every output as sympy in ``symbols`` (default: the input names); every module edge must be symbolic."""
        return self.formula(symbols)[0]

    # ------------------------------------------------------------- drawing
    def plot(self, X: Any = None, input_names: Sequence[str] | None = None, output_name: str = "y") -> Figure:
        """The graph as a matplotlib Figure: inputs, sum/mult nodes, outputs, and a box per module with
        its formula or width and panels of its first edge functions (:func:`kandisco.plot.plot_model`)."""
        from ..plot import plot_model  # here, not at the top: importing kandisco.kan never loads matplotlib

        return plot_model(self, X, input_names, output_name)
