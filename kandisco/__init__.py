"""kandisco: measurements in, physical law out, with Kolmogorov-Arnold networks.

    import kandisco
    result = kandisco.discover("data.csv", target="T")
    print(result.formula, result.r2_test)

The names below load on first use, so ``import kandisco`` (and the ``kandisco`` command's
``--help``) does not pay for torch until something needs it.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from .errors import KandiscoError

try:
    __version__ = version("kandisco")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:  # what __getattr__ below loads, spelled out for type checkers and IDEs
    from .data import DataError as DataError
    from .data import Dataset as Dataset
    from .data import load_dataset as load_dataset
    from .discovery import DiscoveryResult as DiscoveryResult
    from .discovery import SearchConfig as SearchConfig
    from .discovery import discover as discover
    from .estimator import KANDiscoverer as KANDiscoverer
    from .kan import KAN as KAN
    from .kan import GraphModule as GraphModule
    from .kan import KANGraph as KANGraph
    from .kan.protocol import LawModel as LawModel
    from .kan.protocol import load_model as load_model

# public name -> the module that defines it
_EXPORTS = {
    "discover": "kandisco.discovery",
    "DiscoveryResult": "kandisco.discovery",
    "SearchConfig": "kandisco.discovery",
    "KANDiscoverer": "kandisco.estimator",
    "KAN": "kandisco.kan",
    "KANGraph": "kandisco.kan",
    "GraphModule": "kandisco.kan",
    "LawModel": "kandisco.kan.protocol",
    "load_model": "kandisco.kan.protocol",
    "DataError": "kandisco.data",
    "Dataset": "kandisco.data",
    "load_dataset": "kandisco.data",
}

__all__ = ["KandiscoError", "__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kandisco' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
