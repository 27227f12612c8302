"""SessionState: JSON round trip, versioning and errors that name the field."""

import json

import pytest

from nlme_lab.session.state import FitSpec, SessionError, SessionState, VPCSpec

TEXT = "[ini]\ntcl = log(2) # \"quoted\" \\ backslash\n"


def test_json_round_trip_keeps_every_field():
    state = SessionState(data_path="/data/theo.csv", model_text=TEXT, fit=FitSpec("saem", seed=7, covariance=None),
                         vpc=VPCSpec(n=50, seed=3, bins="equal", pred_corrected=True, stratify_by="DVID"))
    back = SessionState.from_json(state.to_json())
    assert back == state
    assert back.fit.covariance is None and back.vpc.stratify_by == "DVID" and back.model_text == TEXT
    raw = json.loads(state.to_json())
    assert raw["version"] == 1 and raw["kind"] == "nlme_lab.session"


def test_json_round_trip_without_fit_or_vpc():
    state = SessionState(data_path="d.csv", model_text="x")
    assert SessionState.from_json(state.to_json()) == state


def test_states_are_frozen():
    state = SessionState(data_path="d.csv", model_text="x")
    with pytest.raises(AttributeError):
        state.data_path = "e.csv"


@pytest.mark.parametrize("raw, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"version": 99, "data_path": "d", "model_text": "m"}', "unsupported session version 99"),
    ('{"version": 1, "data_path": 3, "model_text": "m"}', "'data_path' must be a string"),
    ('{"version": 1, "data_path": "d", "model_text": "m", "fit": {"method": "focei", "sed": 1}}',
     "unknown field(s) sed"),
    ('{"version": 1, "data_path": "d", "model_text": "m", "fit": {"method": "focei", "seed": "one"}}',
     "fit'.seed: expected int | None"),
    ('{"version": 1, "data_path": "d", "model_text": "m", "vpc": {"n": true}}', "vpc'.n: expected int"),
    ('{"version": 1, "data_path": "d", "model_text": "m", "fit": {"seed": 1}}', "fit'"),
])
def test_bad_json_names_the_problem(raw, words):
    with pytest.raises(SessionError) as err:
        SessionState.from_json(raw, where="s.json")
    assert words in str(err.value) and "s.json" in str(err.value)
