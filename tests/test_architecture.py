"""Layering: each module imports on its own, and dependencies run one way:
symbolic <- kan <- discovery <- (cli, estimator, bench, pde). Checked on the source (every import,
including those inside functions) and in a fresh interpreter.

One named exception (DRAW_METHODS): a model's ``plot`` method imports the plot layer inside its
body, so ``model.plot()`` works while importing the model's module never loads the plot layer or
matplotlib (tests/test_plot.py checks that in a fresh interpreter)."""

import ast
import pkgutil
from pathlib import Path

import kandisco

ROOT = Path(kandisco.__file__).parent
# lower number = lower layer; a module may import only modules of its own layer or below
LAYERS = {
    "kandisco.errors": 0, "kandisco._timeout": 0, "kandisco.arg_types": 0,
    "kandisco.symbolic": 1, "kandisco.export": 1,
    "kandisco.units": 1,
    "kandisco.kan": 2, "kandisco.data": 2, "kandisco.datasets": 2,
    "kandisco.discovery": 3, "kandisco.plot": 3, "kandisco.display": 3, "kandisco.progress": 3,
    "kandisco.estimator": 4, "kandisco.bench": 4, "kandisco.pde": 4, "kandisco.dynamics": 4, "kandisco.constraint_args": 4, "kandisco.cli": 5, "kandisco.__main__": 6,
}

# method name -> the module its body alone may import, whatever the layers (see the docstring)
DRAW_METHODS = {"plot": "kandisco.plot"}


def _layer(module: str) -> int:
    if module == "kandisco":
        return 0  # the package itself: __version__ and names that load lazily (importlib, not an import)
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    raise KeyError(f"{module} has no layer: add it to LAYERS")


def _modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages([str(ROOT)], prefix="kandisco."))


def _imports(module: str) -> set[str]:
    """Every kandisco module that ``module``'s source imports, anywhere in the file."""
    path = ROOT.joinpath(*module.split(".")[1:])
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
                   for n in ast.walk(block)}  # imports for annotations only: they never run
    drawing = {id(n): DRAW_METHODS[f.name] for c in ast.walk(tree) if isinstance(c, ast.ClassDef) for f in c.body
               if isinstance(f, ast.FunctionDef) and f.name in DRAW_METHODS for n in ast.walk(f)}  # run when the method is called
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kandisco")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("kandisco") and drawing.get(id(node)) != target:
                found.add(target)
    return found


def test_every_module_has_a_layer_and_imports_only_downwards():
    wrong = []
    for module in _modules():
        for target in _imports(module):
            if _layer(target) > _layer(module):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


def test_engine_and_symbolic_never_import_the_pipeline():
    for module in _modules():
        if module.startswith(("kandisco.kan", "kandisco.symbolic")):
            bad = [t for t in _imports(module) if t.startswith(("kandisco.discovery", "kandisco.cli", "kandisco.bench", "kandisco.estimator"))]
            assert not bad, f"{module} imports {bad}"
        if module.startswith("kandisco.symbolic"):
            assert not [t for t in _imports(module) if t.startswith("kandisco.kan")], module


def test_no_import_cycle_inside_the_package():
    graph = {m: {t for t in _imports(m) if t in set(_modules())} for m in _modules()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if nxt == node or (node.startswith(nxt + ".") and nxt in graph):
                continue  # a module importing its own package's __init__ (e.g. .strategies from a submodule's parent)
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path, node, nxt]))
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [])


def test_each_module_imports_on_its_own(run_snippet):
    """In one fresh interpreter, each module is imported with every kandisco module unloaded first,
    so a module that only works after another one was imported fails here."""
    modules = [m for m in _modules() if m != "kandisco.__main__"]
    code = (
        "import importlib, sys, torch, numpy, sympy\n"
        f"for name in {modules!r}:\n"
        "    for key in [k for k in sys.modules if k == 'kandisco' or k.startswith('kandisco.')]:\n"
        "        del sys.modules[key]\n"
        "    importlib.import_module(name)\n"
        "print('ok')\n"
    )
    assert run_snippet(code) == "ok"


def test_nothing_imports_the_pde_front_end():
    """kandisco.pde sits on top: it may use kan, symbolic and discovery, and no other module uses it."""
    users = [m for m in _modules() if not m.startswith("kandisco.pde") and any(t.startswith("kandisco.pde") for t in _imports(m))]
    assert not users, f"modules importing kandisco.pde: {users}"
