"""The notebooks in notebooks/: each .ipynb is its .py source, executed.

The jupytext "percent" ``.py`` files are the source; ``make notebooks``
turns each into an ``.ipynb`` and runs it (full mode, outputs kept). The
tests check that the committed ``.ipynb`` still holds its ``.py``'s cells
(no one edited one without regenerating), that it carries its outputs and
stays small, and that every notebook runs in quick mode (``TFNN_QUICK=1``,
the slow tier) on a copy, so the committed file is left alone.
"""

import os
import pathlib

import pytest

jupytext = pytest.importorskip("jupytext")
nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("*.py"))
GENERATED = sorted(NOTEBOOKS.glob("*.ipynb"))
MAX_BYTES = 3 * 1024 * 1024  # each committed .ipynb, figures included
# A cell's limit in the quick run: generous, the machine may be busy; the
# run is expected to take well under a minute.
CELL_TIMEOUT_S = 600


def _cells(notebook):
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_every_source_has_its_notebook_and_back():
    assert SOURCES, "notebooks/ holds no .py source"
    assert {p.stem for p in SOURCES} == {p.stem for p in GENERATED}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_committed_notebook_matches_its_source(source):
    """The drift test: same cells, same order, same code and text."""
    generated = source.with_suffix(".ipynb")
    assert generated.is_file(), f"{generated.name} missing: make notebooks"
    from_py = _cells(jupytext.read(source))
    from_ipynb = _cells(jupytext.read(generated))
    code = [s for kind, s in from_py if kind == "code"]
    assert code, f"{source.name} has no code cell"
    assert from_ipynb == from_py, (
        f"{generated.name} differs from {source.name}: run make notebooks")


def test_drift_is_detected(tmp_path):
    """The comparison above fails when one code cell changes."""
    source = SOURCES[0]
    notebook = jupytext.read(source)
    edited = jupytext.read(source)
    index = next(i for i, c in enumerate(edited.cells)
                 if c.cell_type == "code")
    edited.cells[index].source += "\nx = 1"
    path = tmp_path / "edited.ipynb"
    nbformat.write(edited, path)
    assert _cells(jupytext.read(path)) != _cells(notebook)


@pytest.mark.parametrize("generated", GENERATED, ids=lambda p: p.stem)
def test_committed_notebook_has_outputs_and_is_small(generated):
    assert generated.stat().st_size < MAX_BYTES
    notebook = nbformat.read(generated, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code
    assert all(c.execution_count is not None for c in code), (
        f"{generated.name} has cells that never ran: make notebooks")
    ran = [c for c in code if c.outputs]
    # Most cells print or plot; a cell that only defines may stay silent.
    assert len(ran) >= len(code) // 2
    errors = [o for c in code for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    images = [o for c in code for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, f"{generated.name} shows no figure"


@pytest.mark.slow
@pytest.mark.parametrize("generated", GENERATED, ids=lambda p: p.stem)
def test_notebook_runs_in_quick_mode(generated, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("TFNN_QUICK", "1")
    # The kernel imports this checkout's tfnn, as the test process does.
    root = str(NOTEBOOKS.parent)
    paths = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH",
                       root + (os.pathsep + paths if paths else ""))
    committed = generated.read_bytes()
    copy = tmp_path / generated.name
    copy.write_bytes(committed)
    notebook = nbformat.read(copy, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs
              if o.output_type == "error"]
    assert not errors
    assert generated.read_bytes() == committed  # the copy ran, not this
