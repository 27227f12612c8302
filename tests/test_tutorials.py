"""Every tutorial notebook runs headless from top to bottom (nbclient), as in CI."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.ipynb"))


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    html = " ".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "OFV" in html or "116.8" in html  # the estimates table rendered


def test_there_is_a_quick_start():
    assert any(p.name.startswith("00_") for p in TUTORIALS)
