"""The tutorial notebooks: committed without outputs, and each runs top to bottom offline on the bundled
model (in a scratch folder, so the figures they write land there)."""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TUTORIALS = [
    "01_quickstart.ipynb",
    "02_compare_phrasings.ipynb",
    "03_heads_and_neurons.ipynb",
    "04_what_heads_write.ipynb",
    "05_interventions.ipynb",
    "06_generation.ipynb",
    "07_encoder_decoder.ipynb",
]


@pytest.mark.parametrize("name", [*TUTORIALS, "dev.ipynb"])
def test_committed_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs: clear them"
    markdown = sum(len(c.source) for c in notebook.cells if c.cell_type == "markdown")
    assert markdown > 300, f"{name} should explain what the reader is looking at"


@pytest.mark.slow
@pytest.mark.parametrize("name", TUTORIALS)
def test_tutorial_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    print(f"{name}: {elapsed:.0f} s")
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
    widgets = [
        o for c in notebook.cells for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]  # fmt: skip
    assert widgets, f"{name} shows no widget"
