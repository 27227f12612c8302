"""ExportButton without a browser: the front end's messages are fed through ipywidgets' own
message handling (``_handle_msg``), as the kernel's comm delivers them; what Python sends back is
recorded. The fallback (no notebook context) writes a session notebook whose cells, run, give the
Lab's fit OFV again."""

from __future__ import annotations

import re
import types
from pathlib import Path

import nbformat
import pytest

import nlme_lab as nl

pytest.importorskip("anywidget")
pytest.importorskip("jupyter_bokeh")
from nlme_lab.estimation.results import Termination  # noqa: E402
from nlme_lab.session.cells import read_session, session_cells  # noqa: E402
from nlme_lab.session.state import FitSpec, SessionState  # noqa: E402
from nlme_lab.widgets.export import ExportButton, ExportStatus  # noqa: E402
from nlme_lab.widgets.history_view import HistoryView  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
STATE = SessionState(data_path=str(nl.example_path("theo_sd.csv")),
                     model_text=nl.Model.from_file(nl.example_path("theo_sd.nlm")).text,
                     fit=FitSpec("focei", seed=4))


def _from_browser(widget, content):
    """A custom message as ``model.send(content)`` in the front end sends it."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def _recording(widget):
    widget.sent = []
    widget.send = lambda content, buffers=None: widget.sent.append(content)
    return widget


@pytest.fixture
def button(tmp_path):
    return _recording(ExportButton(lambda: session_cells(STATE), lambda: STATE, directory=tmp_path))


@pytest.fixture(scope="module")
def lab():
    lab = nl.Lab(data=nl.example_path("theo_sd.csv"), model=nl.example_path("theo_sd.nlm"))
    lab.parameter_panel.set_values({"tcl": 1.1, "tv": 3.3})  # initial estimates moved, as in a session
    assert lab.fit("focei", seed=3) is not None, lab.fit_error
    return lab


def test_a_click_gets_the_session_cells_and_this_widgets_id(button):
    assert button.status_kind == ExportStatus.IDLE.value and button.last_result is None
    _from_browser(button, {"type": "export", "request": "r1"})
    cells = session_cells(STATE)
    assert button.sent == [{"type": "cells", "cells": cells, "model_id": button.model_id, "request": "r1"}]
    assert button.status_kind == "busy" and button.status == f"inserting {len(cells)} cells…"


def test_inserted_cells_are_reported_with_their_place_and_latency(button):
    _from_browser(button, {"type": "export"})
    _from_browser(button, {"type": "inserted", "n": 5, "index": 3, "latency_ms": 42.5})
    result = button.last_result
    assert (result.status, result.n_cells, result.index, result.path) == (ExportStatus.INSERTED, 5, 3, None)
    assert result.latency_s == pytest.approx(0.0425)
    assert button.status_kind == "inserted" and button.status == "✓ inserted 5 cells below this cell (cells 4-8)"
    assert list(button.directory.iterdir()) == []  # nothing written


def test_without_a_notebook_the_lab_writes_a_session_notebook_that_reproduces_the_ofv(lab, tmp_path, monkeypatch):
    import bokeh.io

    monkeypatch.chdir(tmp_path)  # the default place: the kernel's working directory
    button = _recording(lab.export_button)
    assert isinstance(button, ExportButton)
    _from_browser(button, {"type": "export"})
    assert button.sent[-1]["cells"] == lab.to_cells()
    reason = "this front end's widget manager has no notebook context"
    _from_browser(button, {"type": "no_notebook", "reason": reason, "latency_ms": 3})
    result = button.last_result
    assert result.status is ExportStatus.WRITTEN and result.latency_s == pytest.approx(0.003)
    assert re.fullmatch(r"session_\d{8}-\d{6}(-\d+)?\.ipynb", result.path.name) and result.path.parent == tmp_path
    assert button.status == f"✓ cannot insert cells here ({reason}): wrote {result.path}"
    assert read_session(result.path) == lab.state()
    code = [c.source for c in nbformat.read(result.path, as_version=4).cells if c.cell_type == "code"]
    assert code == lab.to_cells() and result.n_cells == len(code)
    assert "method='focei', seed=3" in code[3]
    monkeypatch.setattr(bokeh.io, "show", lambda *a, **k: None)
    namespace: dict = {}
    for source in code:  # run them as the notebook would
        exec(compile(source, str(result.path), "exec"), namespace)
    assert abs(namespace["fit"].ofv - lab.last_fit.ofv) <= 1e-6


def test_the_labs_history_view_has_a_row_per_fit(lab):
    assert isinstance(lab.history_view, HistoryView)
    rows = lab.history_view.rows()
    assert len(rows) == len(lab.history) >= 1
    assert rows[-1]["OFV"] == f"{lab.last_fit.ofv:.4f}" and rows[-1]["method"] == "focei"


def test_a_stopped_fit_is_warned_about(tmp_path):
    stopped = types.SimpleNamespace(termination=Termination.STOPPED)  # what the note reads of a fit
    button = _recording(ExportButton(lambda: ["x = 1"], lambda: STATE, last_fit=lambda: stopped, directory=tmp_path))
    _from_browser(button, {"type": "export"})
    _from_browser(button, {"type": "inserted", "n": 1, "index": 1})
    assert "stopped by the user" in button.last_result.note and "OFV will differ" in button.status
    assert button.last_result.latency_s is None
    done = types.SimpleNamespace(termination=Termination.CONVERGED)
    button._last_fit = lambda: done
    _from_browser(button, {"type": "export"})
    _from_browser(button, {"type": "inserted", "n": 1, "index": 1})
    assert button.last_result.note == "" and "note" not in button.status


def test_failures_say_where_and_send_nothing(tmp_path):
    def broken():
        raise ValueError("no data loaded")

    button = _recording(ExportButton(broken, lambda: STATE, directory=tmp_path))
    _from_browser(button, {"type": "export"})
    assert button.sent == [] and button.status_kind == "failed"
    assert button.status == "✗ export failed: making the cells failed: ValueError: no data loaded"
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    button = _recording(ExportButton(lambda: ["x"], lambda: STATE, directory=blocked))  # not a folder
    _from_browser(button, {"type": "no_notebook", "reason": "VS Code"})
    assert button.last_result.status is ExportStatus.FAILED
    assert button.status.startswith("✗ export failed: VS Code; writing the session notebook failed:")


def test_write_notebook_by_hand_and_messages_it_does_not_know(button, tmp_path, caplog):
    result = button.write_notebook(tmp_path / "mine.ipynb")
    assert result.status is ExportStatus.WRITTEN and result.path == (tmp_path / "mine.ipynb").resolve()
    assert read_session(result.path) == STATE and button.status == f"✓ wrote {result.path}"
    _from_browser(button, {"type": "frontend_error", "where": "msg:custom", "message": "boom", "stack": "s"})
    assert button.frontend_errors == [{"where": "msg:custom", "message": "boom", "stack": "s"}]
    _from_browser(button, {"type": "what"})
    assert "ignored a message" in caplog.text
    with pytest.raises(TypeError, match="cells=.*callable"):
        ExportButton(["x"], lambda: STATE)


def test_the_front_end_bundle_is_built_beside_the_editors():
    from nlme_lab.widgets import export

    bundle = ROOT / "nlme_lab" / "widgets" / "static" / "export.js"
    assert export._BUNDLE == bundle.resolve() and (bundle.parent / "editor.js").is_file()
    text = bundle.read_text()
    assert "insertCells" in text and "no_notebook" in text


def test_a_session_reopens_with_its_covariance_spelled_as_nl_fit_takes_it(tmp_path):
    """A covariance nl.fit accepts but the fit panel names otherwise ("R,S") raised
    ``traitlets.TraitError`` in ``Lab.from_session``; an unknown one is refused on load."""
    from nlme_lab.session.state import SessionError

    state = SessionState(data_path=STATE.data_path, model_text=STATE.model_text,
                         fit=FitSpec("FOCE", seed=2, covariance="R,S", options="outer.max_iterations=5"))
    path = tmp_path / "s.json"
    path.write_text(state.to_json())
    reopened = nl.Lab.from_session(path)
    panel = reopened.fit_panel
    assert (panel.method.value, panel.seed.value, panel.covariance.value) == ("foce", 2, "sandwich")
    assert panel.options.value == "outer.max_iterations=5" and reopened.model.text == STATE.model_text
    path.write_text(path.read_text().replace('"R,S"', '"bogus"'))
    with pytest.raises(SessionError, match=r"s.json: field 'fit'.covariance: unknown covariance kind 'bogus'"):
        nl.Lab.from_session(path)


def test_a_session_whose_data_path_is_not_data_names_the_path_not_the_content(tmp_path):
    """Reopening a session pointed at a file that is not a dataset (a system file, say): the
    error names the file and never echoes its content; a folder is refused on load."""
    from nlme_lab.errors import NlmeError
    from nlme_lab.session.state import SessionError

    secret = tmp_path / "passwd"
    secret.write_text("root:TOP-SECRET-LINE:0:0:root:/root:/bin/bash\n" * 3)
    for target, error in ((secret, NlmeError), (tmp_path, SessionError)):
        state = SessionState(data_path=str(target), model_text=STATE.model_text, fit=STATE.fit)
        path = tmp_path / "s.json"
        path.write_text(state.to_json())
        with pytest.raises(error) as err:
            nl.Lab.from_session(path)
        assert str(target) in str(err.value) and "TOP-SECRET" not in str(err.value)
