"""docs/tutorial.ipynb runs from top to bottom in a fresh kernel, and its outputs show what it promises:
Kepler's law as LaTeX, a Pareto table, the exports and the figures. Executed in CI so it cannot rot."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "tutorial.ipynb"
KEPLER_LATEX = r"T_{years} = a_{AU}^{\frac{3}{2}}"


@pytest.fixture(scope="module")
def executed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # "python3" is the kernel of the interpreter running the tests (jupyter_client starts sys.executable)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()  # raises CellExecutionError naming the cell on any error
    return nb


def _outputs(nb, mime):
    """Every output of type ``mime`` (text/html, text/latex, text/plain, image/png), as text, in cell order."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if mime in data:
                found.append("".join(data[mime]) if isinstance(data[mime], list) else data[mime])
            if mime == "text/plain" and out.get("output_type") == "stream":
                found.append(out["text"])
    return found


def test_tutorial_shows_keplers_law_as_latex_and_a_pareto_table(executed):
    latex = _outputs(executed, "text/latex")
    assert any(f"${KEPLER_LATEX}$" == text for text in latex), latex
    pages = [p for p in _outputs(executed, "text/html") if "kandisco-result" in p]
    kepler = next(p for p in pages if KEPLER_LATEX in p)
    assert f"$${KEPLER_LATEX}$$" in kepler
    assert '<table class="kandisco-pareto">' in kepler and '<tr class="chosen"' in kepler
    chosen_row = kepler.split('<tr class="chosen"')[1].split("</tr>")[0]
    assert "a_AU**(3/2)" in chosen_row


def test_tutorial_outputs_the_other_sections(executed):
    text = "\n".join(_outputs(executed, "text/plain"))
    assert "a_{AU}^{\\frac{3}{2}}" in text  # kepler.latex() printed
    assert "LawModule(" in text and "trainable constants=1" in text  # the spring law as a torch module
    assert "max |u - sin(pi x)| =" in text and "test R^2 =" in text
    pages = "\n".join(_outputs(executed, "text/html"))
    assert "k_{spring} x^{2}" in pages  # the Feynman law, found through the noise
    assert len(_outputs(executed, "image/png")) >= 3  # the fit, the Pareto front, the graph (inline figures)
