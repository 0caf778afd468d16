"""Textbook ODE systems written from their definitions: states, parameters, exact right-hand sides.

Each :class:`ODESystem` holds the law of every state's derivative as a sympy expression in the
state symbols (parameters substituted: the exact law a discovery is scored against), the parameter
values, the range each initial state is drawn from and how long a trajectory runs. Non-autonomous
forcing (the driven oscillator) is written with a phase state ``phi' = omega``, so every system is
autonomous and every law is a function of the states alone.

Sources: Strogatz, *Nonlinear Dynamics and Chaos* (2nd ed., 2015) for the oscillators, pendulum,
Duffing, van der Pol, Lotka-Volterra, Brusselator, Sel'kov glycolysis, FitzHugh-Nagumo and Lorenz;
Kermack & McKendrick (1927) for SIR; Landau & Lifshitz, *Mechanics*, section 36, for Euler's
equations of a torque-free rigid body.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import sympy

from ..errors import KandiscoError

__all__ = ["ODESystem", "SYSTEMS", "SystemError", "get_system", "two_state_systems"]


class SystemError(KandiscoError, KeyError):  # noqa: A001 - kandisco's own, never the builtin's alias
    """An unknown system name."""


@dataclass(frozen=True)
class ODESystem:
    """One autonomous system ``d state / dt = rhs[state](states)``, parameters already substituted."""

    name: str
    states: tuple[str, ...]
    rhs_text: tuple[str, ...]  # each state's derivative in the state and parameter names
    parameters: dict[str, float] = field(default_factory=dict)
    initial: tuple[tuple[float, float], ...] = ()  # per state: the range initial values are drawn from
    t_end: float = 10.0
    description: str = ""

    def __post_init__(self) -> None:
        if len(self.rhs_text) != len(self.states) or len(self.initial) != len(self.states):
            raise ValueError(f"system {self.name}: one right-hand side and one initial range per state")

    @property
    def symbols(self) -> list[sympy.Symbol]:
        return [sympy.Symbol(s, real=True) for s in self.states]

    @property
    def laws(self) -> dict[str, sympy.Expr]:
        """State -> its derivative as sympy in the state symbols, the parameters' values substituted."""
        local: dict[str, object] = {s.name: s for s in self.symbols}
        params = {sympy.Symbol(k, real=True): sympy.nsimplify(v, rational=True) for k, v in self.parameters.items()}
        local.update({p.name: p for p in params})
        out = {}
        for state, text in zip(self.states, self.rhs_text):
            expr = sympy.sympify(text, locals=local)
            out[state] = sympy.expand(expr.xreplace(params)) if expr.is_polynomial(*self.symbols) else expr.xreplace(params)
        return out

    def rhs(self) -> Callable[[float, np.ndarray], np.ndarray]:
        """``f(t, y)`` for scipy's solve_ivp (numpy, vectorised over a second axis too)."""
        fns = [sympy.lambdify(self.symbols, law, modules="numpy") for law in self.laws.values()]

        def f(t: float, y: np.ndarray) -> np.ndarray:
            return np.array([np.broadcast_to(fn(*y), np.shape(y[0])) for fn in fns], dtype=float)

        return f

    def initial_conditions(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` initial states drawn uniformly from the ranges, shape (n, n_states)."""
        rng = np.random.default_rng(seed)
        lows, highs = np.array(self.initial, dtype=float).T
        return rng.uniform(lows, highs, size=(n, len(self.states)))


def _s(name: str, states: str, rhs: tuple[str, ...], params: dict[str, float], initial: tuple[tuple[float, float], ...],
       t_end: float, description: str) -> ODESystem:
    return ODESystem(name, tuple(states.split(",")), rhs, params, initial, t_end, description)


SYSTEMS: dict[str, ODESystem] = {s.name: s for s in [
    _s("decay", "x", ("-k*x",), {"k": 0.5}, ((1.0, 3.0),), 6.0, "exponential decay x' = -k x"),
    _s("harmonic", "x,v", ("v", "-w2*x"), {"w2": 4.0}, ((-1.0, 1.0), (-1.0, 1.0)), 8.0,
       "harmonic oscillator x'' = -omega^2 x"),
    _s("damped_oscillator", "x,v", ("v", "-k*x - c*v"), {"k": 2.0, "c": 0.3}, ((-2.0, 2.0), (-1.0, 1.0)), 12.0,
       "damped harmonic oscillator x'' = -k x - c x'"),
    _s("driven_oscillator", "x,v,phi", ("v", "-k*x - c*v + F*cos(phi)", "w"), {"k": 1.0, "c": 0.2, "F": 0.5, "w": 1.2},
       ((-1.0, 1.0), (-1.0, 1.0), (0.0, 3.0)), 15.0, "driven damped oscillator x'' = -k x - c x' + F cos(omega t), phase phi = omega t"),
    _s("pendulum", "theta,omega", ("omega", "-g_L*sin(theta)"), {"g_L": 2.0}, ((-2.0, 2.0), (-1.0, 1.0)), 10.0,
       "pendulum theta'' = -(g/L) sin(theta)"),
    _s("damped_pendulum", "theta,omega", ("omega", "-g_L*sin(theta) - b*omega"), {"g_L": 1.0, "b": 0.25},
       ((-2.5, 2.5), (-1.0, 1.0)), 15.0, "damped pendulum theta'' = -(g/L) sin(theta) - b theta'"),
    _s("duffing", "x,v", ("v", "-d*v - a*x - b*x**3"), {"d": 0.2, "a": -1.0, "b": 1.0}, ((-1.5, 1.5), (-1.0, 1.0)), 15.0,
       "unforced Duffing oscillator (double well) x'' = -delta x' - alpha x - beta x^3"),
    _s("van_der_pol", "x,v", ("v", "mu*(1 - x**2)*v - x"), {"mu": 1.0}, ((-2.0, 2.0), (-2.0, 2.0)), 15.0,
       "van der Pol oscillator x'' = mu (1 - x^2) x' - x"),
    _s("lotka_volterra", "x,y", ("a*x - b*x*y", "d*x*y - g*y"), {"a": 1.0, "b": 0.5, "d": 0.2, "g": 0.6},
       ((1.0, 5.0), (1.0, 3.0)), 15.0, "Lotka-Volterra predator-prey"),
    _s("sir", "s,i,r", ("-beta*s*i", "beta*s*i - gamma*i", "gamma*i"), {"beta": 0.5, "gamma": 0.1},
       ((0.9, 0.99), (0.01, 0.1), (0.0, 0.0)), 40.0, "SIR epidemic (Kermack-McKendrick), fractions of the population"),
    _s("brusselator", "x,y", ("a + x**2*y - (b + 1)*x", "b*x - x**2*y"), {"a": 1.0, "b": 3.0}, ((0.5, 2.0), (0.5, 3.0)), 15.0,
       "Brusselator (Prigogine-Lefever), a limit cycle for b > 1 + a^2"),
    _s("selkov", "x,y", ("-x + a*y + x**2*y", "b - a*y - x**2*y"), {"a": 0.08, "b": 0.6}, ((0.2, 1.5), (0.2, 1.5)), 30.0,
       "Sel'kov glycolysis oscillator"),
    _s("fitzhugh_nagumo", "v,w", ("v - v**3/3 - w + I_ext", "eps*(v + a - b*w)"), {"I_ext": 0.5, "eps": 0.08, "a": 0.7, "b": 0.8},
       ((-2.0, 2.0), (-1.0, 1.5)), 40.0, "FitzHugh-Nagumo neuron"),
    _s("lorenz", "x,y,z", ("sigma*(y - x)", "x*(rho - z) - y", "x*y - beta*z"), {"sigma": 10.0, "rho": 28.0, "beta": 8 / 3},
       ((-10.0, 10.0), (-10.0, 10.0), (15.0, 35.0)), 3.0, "Lorenz system (chaotic)"),
    _s("rigid_body", "w1,w2,w3", ("(I2 - I3)/I1*w2*w3", "(I3 - I1)/I2*w3*w1", "(I1 - I2)/I3*w1*w2"), {"I1": 1.0, "I2": 2.0, "I3": 3.0},
       ((-1.0, 1.0), (0.5, 1.5), (-1.0, 1.0)), 10.0, "Euler's equations of a torque-free rigid body"),
]}


def get_system(name: str) -> ODESystem:
    """The system of this name; SystemError naming the known ones otherwise."""
    try:
        return SYSTEMS[name]
    except KeyError:
        raise SystemError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}") from None


def two_state_systems() -> list[ODESystem]:
    """The systems with exactly two states (issue 18's trajectory-derivative suite)."""
    return [s for s in SYSTEMS.values() if len(s.states) == 2]
