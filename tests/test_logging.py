"""Notices go to the ``kandisco`` logger at their level, never to stdout; the CLI's -v / -vv and
:func:`kandisco.progress.verbosity` set how much of it is shown, and put it back afterwards."""

import logging
from types import SimpleNamespace

import pytest
import torch

from kandisco import cli
from kandisco.kan import KAN, native
from kandisco.progress import level_for


def _always_nan(model, xb, yb):
    return torch.mean((model(xb) - yb) ** 2) * float("nan")


@pytest.mark.parametrize("verbose, level", [(True, logging.WARNING), (False, logging.DEBUG)])
def test_a_fit_that_keeps_turning_nan_logs_that_it_stopped(caplog, capsys, verbose, level):
    X = torch.linspace(-1, 1, 50, dtype=torch.float64)[:, None]
    with caplog.at_level(logging.DEBUG, logger="kandisco"):
        hist = KAN([1, 1], seed=0).fit(X, X**2, opt="Adam", steps=30, loss_fn=_always_nan, update_grid=False, verbose=verbose)
    assert hist.nan_recoveries == 21 and not hist.train_loss
    records = [r for r in caplog.records if "training stopped" in r.getMessage()]
    assert len(records) == 1
    assert records[0].name == "kandisco.kan.train" and records[0].levelno == level
    assert capsys.readouterr() == ("", "")  # logged, not printed


def test_a_fresh_kernel_compile_is_an_info_record_not_a_print(caplog, capsys, monkeypatch, tmp_path):
    from torch.utils import cpp_extension

    clock = iter([100.0, 142.0])  # the build "took" 42 s: a fresh compile, not a cache hit
    monkeypatch.setattr(native, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    monkeypatch.setattr(cpp_extension, "load_inline", lambda **kw: SimpleNamespace(name=kw["name"]))
    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    with caplog.at_level(logging.INFO, logger="kandisco"):
        native._build()
    (record,) = [r for r in caplog.records if r.name == "kandisco.kan.native"]
    assert record.levelno == logging.INFO
    assert record.getMessage() == "building the B-spline kernel took 42 s (once per Python environment; cached)"
    assert capsys.readouterr() == ("", "")


def test_a_kernel_that_cannot_be_built_says_why_at_debug(caplog, capsys, monkeypatch):
    def broken():
        raise OSError("no compiler\nninja: not found")

    monkeypatch.setattr(native, "_state", {})  # the cached kernel comes back when the test ends
    monkeypatch.setattr(native, "_build", broken)
    monkeypatch.delenv("KANDISCO_NATIVE", raising=False)
    with caplog.at_level(logging.DEBUG, logger="kandisco"):
        assert native.kernel() is None
    (record,) = [r for r in caplog.records if r.name == "kandisco.kan.native"]
    assert record.levelno == logging.DEBUG and "OSError: ninja: not found" in record.getMessage()
    assert capsys.readouterr() == ("", "")


def test_the_library_never_prints():
    """Every notice of the engine, the plots and the exports goes through logging (the CLI prints: its job)."""
    import ast
    from pathlib import Path

    import kandisco

    root = Path(kandisco.__file__).parent
    files = [*root.joinpath("kan").rglob("*.py"), *root.joinpath("export").rglob("*.py"), root / "plot.py", root / "display.py",
             root / "progress.py"]
    printing = [f"{path.relative_to(root)}:{node.lineno}" for path in files for node in ast.walk(ast.parse(path.read_text()))
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]
    assert not printing, printing


@pytest.mark.parametrize("command", ["fit", "discover"])
@pytest.mark.parametrize("flags, level", [([], logging.WARNING), (["-v"], logging.INFO), (["-vv"], logging.DEBUG), (["-v", "-v"], logging.DEBUG)])
def test_cli_verbose_count_sets_the_kandisco_logger_level(monkeypatch, command, flags, level):
    seen = []

    def fake_command(args):
        seen.append((args.verbose, logging.getLogger("kandisco.kan.train").getEffectiveLevel()))
        return 0

    monkeypatch.setattr(cli, f"_cmd_{command}", fake_command)
    logger = logging.getLogger("kandisco")
    before = logger.level
    assert cli.main([command, "data.csv", *flags]) == 0
    assert seen == [(sum(f.count("v") for f in flags), level)]
    assert logger.level == before  # main() leaves the caller's logging as it found it


def test_cli_verbose_after_a_user_error_still_puts_the_level_back(monkeypatch, capsys):
    logger = logging.getLogger("kandisco")
    before = logger.level
    assert cli.main(["fit", "no-such-file.csv", "-vv"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert logger.level == before


def test_level_for_each_verbosity():
    assert [level_for(v) for v in (-1, 0, 1, 2, 5)] == [logging.WARNING, logging.WARNING, logging.INFO, logging.DEBUG, logging.DEBUG]


def test_verbosity_adds_a_stderr_handler_only_where_nobody_listens(run_snippet):
    """In a fresh interpreter (no handler anywhere, unlike under pytest): -v shows info as
    ``INFO: message``, not debug; afterwards the logger is as before. With the application's own
    handler on the root logger, no second copy."""
    code = (
        "import io, logging\n"
        "from kandisco.progress import verbosity\n"
        "out = io.StringIO()\n"
        "child = logging.getLogger('kandisco.kan.train')\n"
        "with verbosity(1, stream=out):\n"
        "    child.info('shown'); child.debug('hidden')\n"
        "child.warning('after')  # no handler of ours left: Python's last resort (stderr), not out\n"
        "top = logging.getLogger('kandisco')\n"
        "print(repr(out.getvalue()), top.handlers, top.level)\n"
        "app = io.StringIO()\n"
        "logging.basicConfig(stream=app, format='app %(message)s')\n"
        "with verbosity(2, stream=out):\n"
        "    child.debug('once')\n"
        "print(repr(app.getvalue()), 'once' in out.getvalue())\n"
    )
    first, second = run_snippet(code).splitlines()
    assert first == "'INFO: shown\\n' [] 0"
    assert second == "'app once\\n' False"
