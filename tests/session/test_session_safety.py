"""Session files are input: what they hold is exported exactly, and what nl.fit would not take
is refused on load with an error naming the field (issue 16, item 8)."""

import json
import os

import nbformat
import pytest

import nlme_lab as nl
from nlme_lab.session.cells import read_session, session_cells, write_session_notebook
from nlme_lab.session.state import SessionError, SessionState, covariance_name

DATA = str(nl.example_path("theo_sd.csv"))
THEO = nl.Model.from_file(nl.example_path("theo_sd.nlm")).text


def _model_cell_text(cell: str) -> str:
    namespace: dict = {}
    exec(compile(cell.replace("nl.Model(", "str(", 1), "<cell>", "exec"), {}, namespace)
    return namespace["model"]


def test_a_carriage_return_in_the_model_text_is_exported_exactly():
    """Written raw into a triple-quoted literal, a CR came back from Python as a new line: the
    comment's tail became a line of its own (a parameter ``tq``, where the session's lexer read a
    comment). The export is exact whatever the lexer makes of line ends."""
    text = THEO.replace("add_sd = 0.7", "add_sd = 0.7  # label\rtq = 5")
    assert "\r" in text
    cell = session_cells(SessionState(data_path=DATA, model_text=text))[2]
    assert "\r" not in cell and "\\r" in cell
    assert _model_cell_text(cell) == text


@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x0c", "\x1b", "\x85", "\u2028", "\u2029", "\ud800", "\xa0"])
def test_control_and_separator_characters_are_escaped_and_exact(char, tmp_path):
    text = f"# a comment {char} here\n[ini]\ntcl = 1\n"
    state = SessionState(data_path=DATA, model_text=text)
    cell = session_cells(state)[2]
    assert cell == f"model = nl.Model({text!r})"
    assert _model_cell_text(cell) == text
    if char != "\ud800":  # a lone surrogate cannot be written as UTF-8: the escape is what is written
        path = write_session_notebook(state, tmp_path / "s.ipynb")
        code = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert _model_cell_text(code[2]) == text and read_session(path).model_text == text


def test_plain_text_stays_readable():
    cell = session_cells(SessionState(data_path=DATA, model_text=THEO))[2]
    assert cell.startswith('model = nl.Model("""\\\n# Theophylline')
    assert _model_cell_text(cell) == THEO
    tabbed = "[ini]\n\ttcl = 1  # ünïcode µg/L\n"
    assert session_cells(SessionState(data_path=DATA, model_text=tabbed))[2].startswith('model = nl.Model("""')


def _session(tmp_path, name="s.json", **changes) -> str:
    raw = {"kind": "nlme_lab.session", "version": 1, "data_path": DATA, "model_text": THEO,
           "fit": {"method": "focei", "seed": 1, "covariance": "default", "options": ""}, "vpc": None}
    for key, value in changes.items():
        if "." in key:
            outer, inner = key.split(".")
            raw[outer] = {**raw[outer], inner: value}
        else:
            raw[key] = value
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize("changes, words", [
    ({"fit.method": "__import__('os').system('echo hi')"}, "field 'fit'.method: unknown estimation method"),
    ({"fit.method": "bogus"}, "field 'fit'.method: unknown estimation method 'bogus'; available: fo, foce"),
    ({"version": 2}, "unsupported session version 2"),
    ({"version": "1"}, "unsupported session version '1'"),
    ({"version": True}, "unsupported session version True"),
    ({"kind": "nlme_lab.report"}, "field 'kind' is 'nlme_lab.report', not an nlme_lab session"),
    ({"code": "print(1)"}, "unknown field(s) code"),
    ({"fit.covariance": "bogus"}, "field 'fit'.covariance: unknown covariance kind 'bogus'"),
    ({"fit.covariance": ""}, "field 'fit'.covariance: unknown covariance kind ''"),
    ({"fit.options": "n_burn=__import__('os')"}, "field 'fit'.options: option n_burn"),
    ({"fit.options": "n_burn=10"}, "field 'fit'.options: focei has no option 'n_burn'"),
    ({"fit.seed": -1}, "field 'fit'.seed: expected a seed >= 0 or null, got -1"),
    ({"vpc": {"bins": "weird"}}, "field 'vpc'.bins: bins='weird': expected"),
    ({"vpc": {"bins": "edges"}}, "field 'vpc'.bins: 'edges' is not a binning name"),
    ({"vpc": {"n": 0}}, "field 'vpc'.n: expected at least 1"),
])
def test_what_nl_fit_would_not_take_is_refused_on_load(tmp_path, changes, words):
    with pytest.raises(SessionError) as err:
        read_session(_session(tmp_path, **changes))
    assert words in str(err.value) and str(tmp_path / "s.json") in str(err.value)


def test_known_spellings_load_and_map_to_the_fit_panels_names(tmp_path):
    state = read_session(_session(tmp_path, **{"fit.method": "SAEM", "fit.covariance": "R,S"}))
    assert state.fit.method == "saem" and state.fit.covariance == "R,S"
    names = [covariance_name(v) for v in (None, "default", "sandwich", "R,S", "r", "S", "fim", "none")]
    assert names == ["none", "default", "sandwich", "sandwich", "r", "s", "fim", "none"]


def test_a_session_nested_ten_thousand_deep_is_refused(tmp_path):
    deep = "[" * 10_000 + "]" * 10_000
    path = tmp_path / "deep.json"
    path.write_text('{"version": 1, "data_path": "d", "model_text": "m", "fit": ' + deep + "}")
    with pytest.raises(SessionError, match="deep.json: the JSON is nested too deeply to read"):
        read_session(path)
    notebook = tmp_path / "deep.ipynb"
    notebook.write_text('{"metadata": {"nlme_lab": ' + deep + "}}")
    with pytest.raises(SessionError, match="nested too deeply"):
        read_session(notebook)


def test_a_huge_value_is_not_echoed_whole(tmp_path):
    with pytest.raises(SessionError) as err:
        read_session(_session(tmp_path, **{"fit.method": "x" * 1_000_000}))
    assert len(str(err.value)) < 600 and "characters)" in str(err.value)
    with pytest.raises(SessionError) as err:
        read_session(_session(tmp_path, **{"fit.seed": list(range(100_000))}))
    assert len(str(err.value)) < 600 and "expected int | None" in str(err.value)


def test_a_data_path_that_is_missing_a_folder_or_not_a_file_is_refused_by_name(tmp_path):
    missing = tmp_path / "nowhere" / "theo.csv"
    with pytest.raises(SessionError, match=f"field 'data_path': the data file {missing} does not exist"):
        read_session(_session(tmp_path, data_path=str(missing)))
    with pytest.raises(SessionError, match=f"field 'data_path': {tmp_path} is a folder, not a data file"):
        read_session(_session(tmp_path, data_path=str(tmp_path)))
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)  # opening it to read would block
    with pytest.raises(SessionError, match="pipe.csv is not a regular file"):
        read_session(_session(tmp_path, data_path=str(fifo)))
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET first line\n")
    state = read_session(_session(tmp_path, data_path="secret.txt"))  # relative: to the session's folder
    assert state.data_path == str(secret)  # the file is not read on load: nothing of it can be echoed
