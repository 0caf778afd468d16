"""Physics-informed KANs: a PDE on a box, solved by a KAN and read back as a formula.

>>> import math, torch
>>> from kandisco.pde import Problem, laplacian, solve
>>> f = lambda x: -2 * math.pi**2 * torch.sin(math.pi * x[:, 0]) * torch.sin(math.pi * x[:, 1])
>>> problem = Problem(lambda u, x: laplacian(u, x) - f(x), {"x": (-1, 1), "y": (-1, 1)}, boundary=0.0)
>>> solution = solve(problem, width=[2, [0, 1]], grids=(5, 10, 20, 40))  # doctest: +SKIP
>>> solution.formula  # doctest: +SKIP
sin(pi*x)*sin(pi*y)
"""

from .errors import PDEError
from .operators import divergence, gradient, laplacian, partial, time_derivative
from .problem import Box, Face, Problem
from .sampling import grid_points, resample_by_residual, sample_box, sample_face
from .solve import Collocation, Solution, collocation, count_parameters, physics_loss, solve

__all__ = [
    "Box", "Collocation", "Face", "PDEError", "Problem", "Solution", "collocation", "count_parameters", "divergence",
    "gradient", "grid_points", "laplacian", "partial", "physics_loss", "resample_by_residual", "sample_box", "sample_face",
    "solve", "time_derivative",
]
