"""The units core: pint parsing, Buckingham pi groups against hand-worked cases, the consistency
check on right and wrong formulas, the constants table, and units in tables (headers, files, maps)."""

import re
from fractions import Fraction

import numpy as np
import pytest
import scipy.constants as sc
import sympy

from kandisco.data import DataError, load_dataset, read_units_file, with_constants
from kandisco.units import (
    Dimension,
    DimensionError,
    UnitError,
    buckingham,
    check_consistency,
    expression_dimension,
    feynman_dimension,
    get_constants,
    parse_unit,
    split_header,
)

P = parse_unit


def _dims(**units):
    return {sympy.Symbol(n, positive=True): P(u) for n, u in units.items()}


def _group(pi, k, names):
    return pi.group_exprs([sympy.Symbol(n, positive=True) for n in names])[k]


# ------------------------------------------------------------------ parsing
def test_units_parse_with_pint_into_base_dimensions():
    assert P("m/s") == Dimension.of(m=1, s=-1)
    assert P("kg/m^3") == Dimension.of(kg=1, m=-3)
    assert P("J") == P("kg*m**2/s**2") == P("eV") == P("N m")  # scale factors do not matter, dimensions do
    assert P("J s") == P("J Hz^-1") == Dimension.of(kg=1, m=2, s=-1)  # scipy's spelling
    assert P("C") == Dimension.of(A=1, s=1)
    assert all(P(t).dimensionless for t in ("", "1", "-", "dimensionless", "rad", "%"))
    assert str(P("N")) == "m kg s^-2" and str(P("")) == "1" and str(P("m^(1/2)")) == "m^1/2"


@pytest.mark.parametrize("bad", ["foo", "m/", "kg**", "meter per"])
def test_an_unknown_or_malformed_unit_is_a_unit_error_naming_it(bad):
    with pytest.raises(UnitError, match="unit"):
        P(bad)


def test_header_cells_split_into_name_and_unit():
    assert split_header("v [m/s]") == ("v", "m/s")
    assert split_header("theta [1]") == ("theta", "1")
    assert split_header("theta []") == ("theta", "")
    assert split_header("rho[kg/m^3]") == ("rho", "kg/m^3")
    assert split_header("v") == ("v", None)
    assert split_header("[m]") == ("[m]", None)  # no name: left as it is


def test_feynman_units_use_the_volt_for_electrical_quantities():
    assert feynman_dimension(2, -2, 1, 0, -1) == P("C")  # charge = J/V
    assert feynman_dimension(2, -3, 1, 0, -1) == P("A")  # current = W/V
    assert feynman_dimension(0, 0, 0, 1, 0) == P("K")


# ------------------------------------------------------------------ Buckingham pi
def test_pendulum_has_no_group_and_the_target_group_t_sqrt_g_over_l():
    pi = buckingham([("L", P("m")), ("g", P("m/s^2")), ("m", P("kg"))], ("T", P("s")))
    assert pi.groups == ()  # the mass cannot enter: nothing else carries kg
    assert pi.target_exponents == (Fraction(1, 2), Fraction(-1, 2), Fraction(0))
    assert pi.describe()["target_group"] == "T*sqrt(g)/sqrt(L)"
    assert pi.describe()["law"] == "T*sqrt(g)/sqrt(L) = f()"


def test_drag_has_one_group_the_reynolds_number():
    names = ["rho", "v", "L", "mu"]
    inputs = list(zip(names, [P("kg/m^3"), P("m/s"), P("m"), P("Pa*s")]))
    pi = buckingham(inputs, ("F", P("N")))
    syms = [sympy.Symbol(n, positive=True) for n in names]
    rho, v, L, mu = syms
    reynolds = rho * v * L / mu
    assert pi.n_groups == 1 and _group(pi, 0, names) in (reynolds, 1 / reynolds)
    # the target group is F/(rho v^2 L^2) up to a power of Re (here F*rho/mu^2: two variables, integer powers)
    ratio = sympy.simplify((1 / pi.monomial(syms)) / (1 / (rho * v**2 * L**2)))
    assert any(sympy.simplify(ratio - reynolds**k) == 0 for k in range(-3, 4)), ratio
    assert expression_dimension(pi.monomial(syms), dict(zip(syms, [d for _, d in inputs]))) == P("N")
    alternatives = [pi.with_target(e).monomial(syms) for e in pi.alternatives]
    assert rho * v**2 * L**2 in alternatives and mu * v * L in alternatives  # the textbook form is planned too
    assert type(pi).from_dict(pi.to_dict()) == pi


def test_planck_law_has_the_single_group_hbar_omega_over_kb_t():
    names = ["omega", "T", "hbar", "kB", "c"]
    inputs = list(zip(names, [P("1/s"), P("K"), P("J s"), P("J/K"), P("m/s")]))
    pi = buckingham(inputs, ("u", P("J s/m^3")))  # spectral energy density per angular frequency
    omega, T, hbar, kB, c = (sympy.Symbol(n, positive=True) for n in names)
    assert pi.n_groups == 1
    assert _group(pi, 0, names) in (hbar * omega / (kB * T), kB * T / (hbar * omega))
    assert pi.describe()["target_group"] == "c**3*u/(hbar*omega**3)"


def test_groups_are_dimensionless_small_integer_and_independent():
    names = ["a", "b", "L1", "L2", "t", "v"]
    inputs = list(zip(names, [P("1"), P(""), P("m"), P("m"), P("s"), P("m/s")]))
    pi = buckingham(inputs, ("x", P("m")))
    dims = dict(zip([sympy.Symbol(n, positive=True) for n in names], [d for _, d in inputs]))
    assert pi.n_groups == 4  # a, b, L2/L1 (or L1/L2), and v*t/L
    assert {str(g) for g in pi.group_exprs(list(dims))[:2]} == {"a", "b"}  # dimensionless inputs are groups alone
    for g in pi.group_exprs(list(dims)):
        assert expression_dimension(g, dims).dimensionless
    assert all(e.denominator == 1 and abs(e) <= 2 for g in pi.groups for e in g)
    assert np.linalg.matrix_rank(np.array([[float(e) for e in g] for g in pi.groups])) == 4
    assert pi.describe()["target_group"] == "x/L1"


def test_constants_enter_a_group_only_where_needed():
    inputs = [("L", P("m")), ("g", P("m/s^2")), ("m", P("kg")), ("c", P("m/s")), ("G", P("m^3/(kg s^2)"))]
    pi = buckingham(inputs, ("T", P("s")), constants=["c", "G"])
    assert pi.describe()["target_group"] == "T*sqrt(g)/sqrt(L)"  # not T*c/L, though that has integer powers
    assert pi.n_groups == 2


def test_when_the_inputs_cannot_make_the_target_units_the_error_says_what_is_missing():
    with pytest.raises(DimensionError, match=r"cannot make the units of T \[s\]: no input carries s.*missing"):
        buckingham([("L", P("m")), ("m", P("kg"))], ("T", P("s")))
    with pytest.raises(DimensionError, match="variable or a physical constant"):
        buckingham([("v", P("m/s")), ("m", P("kg"))], ("E", P("J/m")))


def test_pi_groups_evaluate_and_round_trip_through_a_dict():
    pi = buckingham([("L", P("m")), ("g", P("m/s^2")), ("L2", P("m"))], ("T", P("s")))
    X = np.array([[1.0, 4.0, 2.0], [9.0, 1.0, 3.0]])
    np.testing.assert_allclose(pi.monomial_values(X), [0.5, 3.0])
    assert pi.group_values(X).shape == (2, 1)
    assert type(pi).from_dict(pi.to_dict()) == pi


# ------------------------------------------------------------------ consistency
PENDULUM = _dims(L="m", g="m/s^2", m="kg", L2="m")
L, g, m, L2 = PENDULUM


@pytest.mark.parametrize("expr", [
    2 * sympy.pi * sympy.sqrt(L / g),
    6.2832 * sympy.sqrt(L) * g**-0.5,  # numbers are dimensionless; a float exponent is read as a fraction
    sympy.sqrt(L / g) * (1 + sympy.Rational(1, 16) * sympy.sin(L2 / L) ** 2),
    sympy.sqrt(L / g) * (sympy.log(L) - sympy.log(L2) + 3),  # log a - log b = log(a/b)
    sympy.sqrt(L / g) * sympy.exp(-L2 / L) + sympy.sqrt(L2 / g),
    sympy.Abs(L - L2) ** sympy.Rational(1, 2) / sympy.sqrt(g),
])
def test_consistent_formulas_pass(expr):
    verdict = check_consistency(expr, PENDULUM, P("s"))
    assert verdict and verdict.reason == ""


@pytest.mark.parametrize("expr, why", [
    (2 * sympy.sqrt(L), r"units m\^1/2, the target s"),  # g folded into the constant
    (sympy.sqrt(L / g) + L, "adds"),
    (sympy.sqrt(L / g) * sympy.exp(L), "argument of exp"),
    (sympy.sqrt(L / g) * sympy.sin(m * g), "argument of sin"),
    (sympy.sqrt(L / g) * sympy.log(L), "log"),
    (sympy.sqrt(L / g) * sympy.log(L / m), "argument of log"),
    (L**1.503 / g, "the target s"),
    (sympy.sqrt(L / g) * 2 ** L, "raised to the power|exponent"),
    (L ** (L2 / L), "raised to the power"),
])
def test_inconsistent_formulas_fail_with_a_reason(expr, why):
    verdict = check_consistency(expr, PENDULUM, P("s"))
    assert not verdict
    assert re.search(why, verdict.reason), verdict.reason


def test_a_symbol_without_a_unit_is_not_consistent():
    assert "no unit for q" in check_consistency(sympy.Symbol("q") * L, PENDULUM, P("m")).reason


def test_every_feynman_law_is_consistent_with_its_units_and_a_wrong_unit_is_caught():
    from kandisco.bench.tasks import feynman_units, load_tasks

    units = feynman_units()
    wrong = {**units, "c": "m"}  # the speed of light without its time exponent
    caught = 0
    for task in load_tasks("feynman"):
        dims = {sympy.Symbol(n, real=True): P(units[n]) for n in task.features}
        assert check_consistency(task.truth(), dims, P(units[task.target])), task.id
        bad = {sympy.Symbol(n, real=True): P(wrong[n]) for n in task.features}
        caught += not check_consistency(task.truth(), bad, P(wrong[task.target]))
    assert caught >= 10


# ------------------------------------------------------------------ constants
def test_constants_come_from_scipy_with_their_units():
    table = {c.name: c for c in get_constants("c,G,h,hbar,kB,e,eps0,mu0")}
    assert list(table) == ["c", "G", "h", "hbar", "kB", "e", "eps0", "mu0"]
    assert table["c"].value == sc.c and table["G"].value == sc.G and table["h"].value == sc.h
    assert table["hbar"].value == sc.hbar and table["kB"].value == sc.k and table["e"].value == sc.e
    assert table["eps0"].value == sc.epsilon_0 and table["mu0"].value == sc.mu_0
    assert table["c"].dimension == P("m/s") and table["G"].dimension == P("m^3/(kg s^2)")
    assert table["h"].dimension == table["hbar"].dimension == P("J s") and table["kB"].dimension == P("J/K")
    assert table["e"].dimension == P("A s") and table["eps0"].dimension == P("F/m") and table["mu0"].dimension == P("H/m")
    with pytest.raises(UnitError, match="unknown constant 'speed'.*known constants: c, G"):
        get_constants(["speed"])


# ------------------------------------------------------------------ units in tables
def _csv(tmp_path, header, rows=6, name="t.csv"):
    path = tmp_path / name
    lines = [",".join(header)] + [",".join(str((r + 1) * (k + 2) + k * k) for k in range(len(header))) for r in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_units_in_the_header_name_the_columns_and_are_kept(tmp_path):
    path = _csv(tmp_path, ["v [m/s]", "rho [kg/m^3]", "theta [1]", "phi []", "E [J]"])
    data = load_dataset(path)
    assert data.feature_names == ["v", "rho", "theta", "phi"] and data.target_name == "E"
    assert data.units == {"v": "m/s", "rho": "kg/m^3", "theta": "1", "phi": "", "E": "J"}
    assert load_dataset(_csv(tmp_path, ["a", "b"], name="plain.csv")).units == {}


def test_an_unknown_unit_in_the_header_is_a_data_error_naming_the_column(tmp_path):
    with pytest.raises(DataError, match=r"t.csv: column 'rho': unknown unit 'kilo'"):
        load_dataset(_csv(tmp_path, ["v [m/s]", "rho [kilo]", "E [J]"]))
    with pytest.raises(DataError, match="duplicate column name 'v'"):
        load_dataset(_csv(tmp_path, ["v [m/s]", "v [km/h]", "E [J]"], name="dup.csv"))


def test_units_from_a_file_or_a_mapping_add_to_and_override_the_header(tmp_path):
    path = _csv(tmp_path, ["L [m]", "g", "T"])
    units_file = tmp_path / "units.csv"
    units_file.write_text("name,unit\ng,m/s^2\n# a comment\nT,s\n")
    assert read_units_file(units_file) == {"g": "m/s^2", "T": "s"}
    assert load_dataset(path, units=units_file).units == {"L": "m", "g": "m/s^2", "T": "s"}
    assert load_dataset(path, units={"L": "cm", "T": "min"}).units == {"L": "cm", "T": "min"}
    with pytest.raises(DataError, match="units given for 'x', which the table does not have"):
        load_dataset(path, units={"x": "m"})
    with pytest.raises(DataError, match="column 'T': unknown unit 'sec0nds'"):
        load_dataset(path, units={"T": "sec0nds"})
    bad = tmp_path / "bad.csv"
    bad.write_text("g,m/s^2\nT\n")
    with pytest.raises(DataError, match=r"bad.csv: line 2: expected 'name,unit'"):
        read_units_file(bad)
    bad.write_text("g,m/s^2\nT,furlongs of cheese\n")
    with pytest.raises(DataError, match=r"bad.csv: line 2: column 'T'"):
        read_units_file(bad)


def test_arrays_take_units_and_constants_become_columns_with_units():
    X = np.random.default_rng(0).uniform(1, 2, size=(20, 2))
    data = load_dataset((X, X[:, 0]), feature_names=["v", "m"], target_name="p", units={"v": "m/s", "m": "kg", "p": "kg m/s"})
    assert data.units["p"] == "kg m/s"
    with_c = with_constants(data, "c,hbar")
    assert with_c.feature_names == ["v", "m", "c", "hbar"] and with_c.constants == {"c": sc.c, "hbar": sc.hbar}
    np.testing.assert_array_equal(with_c.X[:, 2], sc.c)
    assert P(with_c.units["c"]) == P("m/s") and data.feature_names == ["v", "m"]  # the original is unchanged
    with pytest.raises(DataError, match="unknown constant"):
        with_constants(data, "c,warp")
    clash = load_dataset((X, X[:, 0]), feature_names=["c", "m"], target_name="p")
    with pytest.raises(DataError, match="constant 'c' has the name of a column"):
        with_constants(clash, "c")


def test_symbols_are_matched_by_name_whatever_their_assumptions():
    real_L, real_g = sympy.Symbol("L", real=True), sympy.Symbol("g")
    assert check_consistency(2 * sympy.pi * sympy.sqrt(real_L / real_g), PENDULUM, P("s"))
    assert check_consistency(sympy.sqrt(L / g), {"L": P("m"), "g": P("m/s^2")}, P("s"))
