"""Exported cells name their data portably: a bundled example as ``nl.example_path(...)``, a file
under the notebook's folder by its relative path; a session notebook moved with its data to
another folder runs (nbclient) to the same OFV (issue 15, item 7)."""

import shutil

import nbformat
import pytest

import nlme_lab as nl
from nlme_lab.session.cells import data_path_code, read_session, session_cells, write_session_notebook
from nlme_lab.session.state import FitSpec, SessionState

EXAMPLE = nl.example_path("theo_sd.csv")


def test_a_bundled_example_is_read_by_example_path(tmp_path):
    assert data_path_code(str(EXAMPLE), tmp_path) == "nl.example_path('theo_sd.csv')"
    assert data_path_code(str(EXAMPLE.resolve())) == "nl.example_path('theo_sd.csv')"
    cells = session_cells(SessionState(data_path=str(EXAMPLE), model_text="m"))
    assert cells[1] == "data = nl.read_nonmem(nl.example_path('theo_sd.csv'))\ndata"
    assert str(EXAMPLE.parent) not in "\n".join(cells)


def test_a_file_under_the_notebook_folder_is_relative_and_others_stay_absolute(tmp_path, monkeypatch):
    inner = tmp_path / "project" / "data" / "theo.csv"
    assert data_path_code(str(inner), tmp_path / "project") == "'data/theo.csv'"
    assert data_path_code(str(inner), tmp_path / "elsewhere") == repr(str(inner))
    assert data_path_code("data/theo.csv", tmp_path) == "'data/theo.csv'"  # relative already: as given
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    assert data_path_code(str(inner)) == "'data/theo.csv'"  # default: the working directory


def test_an_exported_notebook_moved_with_its_data_runs_to_the_same_ofv(tmp_path, theo):
    from nbclient import NotebookClient

    _, model = theo
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    shutil.copy(EXAMPLE, project / "data" / "theo.csv")
    start = model.with_initial(tcl=1.1, tv=3.3)
    state = SessionState(data_path=str((project / "data" / "theo.csv").resolve()), model_text=start.text,
                         fit=FitSpec("focei", seed=2))
    expected = nl.fit(start, nl.read_nonmem(project / "data" / "theo.csv"), "focei", seed=2)
    path = write_session_notebook(state, project / "session.ipynb")
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["nlme_lab"]["data_path"] == "data/theo.csv"
    assert "nl.read_nonmem('data/theo.csv')" in nb.cells[2].source and str(tmp_path) not in str(nb)

    moved = tmp_path / "somewhere" / "else"
    moved.parent.mkdir()
    shutil.move(project, moved)
    assert not project.exists()
    assert read_session(moved / "session.ipynb").data_path == str((moved / "data" / "theo.csv").resolve())
    nb = nbformat.read(moved / "session.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('OFV=' + repr(fit.ofv))"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(moved)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert abs(float(printed.split("OFV=")[1]) - expected.ofv) <= 1e-6


@pytest.mark.parametrize("where", ["example", "outside"])
def test_paths_outside_the_notebook_folder_keep_working_where_they_are(tmp_path, where):
    data = EXAMPLE if where == "example" else tmp_path / "shared" / "theo.csv"
    if where == "outside":
        data.parent.mkdir()
        shutil.copy(EXAMPLE, data)
    state = SessionState(data_path=str(data), model_text="m")
    path = write_session_notebook(state, tmp_path / "nb" / "s.ipynb")
    assert read_session(path) == state  # the metadata keeps the path; the cells say it portably
    expected = "nl.example_path('theo_sd.csv')" if where == "example" else repr(str(data))
    assert f"nl.read_nonmem({expected})" in nbformat.read(path, as_version=4).cells[2].source
