"""session_cells reproduce a fit; session notebooks round-trip through nbformat and read_session."""

import json

import nbformat
import pytest

import nlme_lab as nl
from nlme_lab.session.cells import default_session_path, read_session, session_cells, write_session_notebook
from nlme_lab.session.state import FitSpec, SessionError, SessionState, VPCSpec


def _state(model, **kw):
    return SessionState(data_path=str(nl.example_path("theo_sd.csv")), model_text=model.text, **kw)


def _run(cells, monkeypatch):
    """Execute the cells in a fresh namespace, collecting what ``show`` would display."""
    import bokeh.io

    shown = []
    monkeypatch.setattr(bokeh.io, "show", shown.append)
    namespace: dict = {}
    for code in cells:
        exec(compile(code, "<session cell>", "exec"), namespace)
    return namespace, shown


def test_session_cells_reproduce_the_ofv_of_a_fit(theo, monkeypatch):
    data, model = theo
    start = model.with_initial(tcl=1.2, tv=3.3, add_sd=0.8)  # initial estimates as set in a Lab
    expected = nl.fit(start, data, method="focei", seed=5)
    state = _state(start, fit=FitSpec("focei", seed=5), vpc=VPCSpec(n=20, seed=2))
    ns, shown = _run(session_cells(state), monkeypatch)
    assert abs(ns["fit"].ofv - expected.ofv) <= 1e-6
    assert ns["fit"].seed == 5 and ns["model"].text == start.text
    assert ns["vpc"].n_replicates == 20 and ns["vpc"].seed == 2
    assert len(shown) == 2  # the GOF panel and the VPC
    assert len(ns["table"].records) == data.n_observations


def test_cells_without_a_fit_stop_at_the_model(theo, monkeypatch):
    _, model = theo
    cells = session_cells(_state(model))
    assert len(cells) == 3 and "nl.fit" not in "\n".join(cells)
    ns, _ = _run(cells, monkeypatch)
    assert ns["model"].text == model.text and ns["data"].n_subjects == 12


def test_model_text_with_quotes_and_backslashes_survives():
    state = SessionState(data_path="d.csv", model_text='# a """ quote \\ here\n[ini]\n')
    ns: dict = {}
    exec(session_cells(state)[2].replace("nl.Model(", "str("), {}, ns)
    assert ns["model"] == state.model_text


def test_written_notebook_opens_with_nbformat_and_reads_back(theo, tmp_path):
    _, model = theo
    state = _state(model, fit=FitSpec("foce", seed=None, covariance="r"), vpc=VPCSpec(stratify_by="DVID"))
    path = write_session_notebook(state, tmp_path / "s.ipynb")
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells if c.cell_type == "code"] == session_cells(state)
    assert read_session(path) == state
    json_path = tmp_path / "s.json"
    json_path.write_text(state.to_json())
    assert read_session(json_path) == state


def test_default_path_is_timestamped_in_the_working_directory(tmp_path, monkeypatch):
    import datetime

    monkeypatch.chdir(tmp_path)
    now = datetime.datetime(2026, 1, 2, 3, 4, 5)
    first = default_session_path(now=now)
    assert first == tmp_path / "session_20260102-030405.ipynb"
    first.write_text("{}")
    assert default_session_path(now=now).name == "session_20260102-030405-2.ipynb"
    written = write_session_notebook(SessionState(data_path="d.csv", model_text="m"))
    assert written.parent == tmp_path and written.name.startswith("session_")


def test_bad_session_files_say_what_is_wrong(tmp_path):
    with pytest.raises(SessionError, match="no such session file"):
        read_session(tmp_path / "missing.ipynb")
    plain = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), plain)
    with pytest.raises(SessionError, match=r"plain.ipynb: not an nlme_lab session notebook"):
        read_session(plain)
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{oops")
    with pytest.raises(SessionError, match="broken.ipynb: not a notebook"):
        read_session(broken)
    bad_field = tmp_path / "bad.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["nlme_lab"] = {"version": 1, "data_path": "d", "model_text": None}
    nbformat.write(nb, bad_field)
    with pytest.raises(SessionError, match=r"bad.ipynb: metadata.nlme_lab: field 'model_text' must be a string"):
        read_session(bad_field)
    other = tmp_path / "s.txt"
    other.write_text(json.dumps({}))
    with pytest.raises(SessionError, match="ends in .ipynb or .json"):
        read_session(other)


def test_non_default_options_are_spelled_out_and_reproduce_the_fit(theo, monkeypatch):
    from nlme_lab.estimation.option_text import options_from_text

    data, model = theo
    text = "outer.max_iterations=4"  # stops early: the OFV differs from the converged one
    expected = nl.fit(model, data, method="focei", options=options_from_text("focei", text))
    state = _state(model, fit=FitSpec("focei", seed=1, options=text))
    cells = session_cells(state)
    assert "options=FOCEIOptions(outer=OuterOptions(max_iterations=4))" in cells[3]
    ns, _ = _run(cells, monkeypatch)
    assert abs(ns["fit"].ofv - expected.ofv) <= 1e-6
    assert ns["fit"].ofv > nl.fit(model, data, method="focei").ofv + 1e-3
    assert SessionState.from_json(state.to_json()) == state
