"""Benchmark harness: tasks (Feynman, Kepler, user tables), method adapters, runner, report.

``kandisco bench`` and ``experiments/bench_compare.py`` drive it; see README "Benchmarks". Scoring
follows SRBench (La Cava et al. 2021): a *symbolic solution* is a formula equal to the truth up to an
additive or multiplicative constant (:mod:`kandisco.symbolic.equivalence`), an *accuracy solution*
has test R^2 > 0.999 on noise-free test rows. Every run writes ``manifest.json`` beside its results
(:mod:`kandisco.bench.provenance`: commit, packages, machine, command line), every row carries the
commit, and committed runs live in ``experiments/results/<suite>/<date>_<commit>/``. Nothing here
imports a third-party tool at import time.
"""

from ..symbolic.parse import parse_formula
from .methods import DEFAULT_METHODS, METHODS, Method, get_method
from .runner import Job, load_results, make_jobs, run_bench, run_job
from .tasks import BenchError, Task, TaskData, load_tasks, sample_feynman_ids

__all__ = ["BenchError", "DEFAULT_METHODS", "Job", "METHODS", "Method", "Task", "TaskData", "get_method",
           "load_results", "load_tasks", "make_jobs", "parse_formula", "run_bench", "run_job", "sample_feynman_ids"]
