"""``nlme-lab warmup``: the steps it runs, their times, and what it refuses."""

import json

import pytest

from nlme_lab.cli.main import main
from nlme_lab.errors import NlmeError
from nlme_lab.session.warmup import BUNDLED_MODELS, warmup


def test_warmup_one_model_reports_each_step(tmp_path, capsys):
    out = tmp_path / "warmup.json"
    assert main(["warmup", "--models", "theo_sd.nlm", "--no-saem", "--no-estimation", "--json", str(out)]) == 0
    payload = json.loads(out.read_text())
    assert [step["name"] for step in payload["steps"]] == ["engine", "model theo_sd.nlm and its simulation"]
    assert all(step["seconds"] >= 0 for step in payload["steps"])
    assert payload["total_seconds"] == pytest.approx(sum(step["seconds"] for step in payload["steps"]))
    printed = capsys.readouterr().out
    assert "model theo_sd.nlm and its simulation" in printed and "total" in printed


def test_warmup_knows_every_bundled_model_and_refuses_others():
    import nlme_lab as nl

    for model_name, data_name in BUNDLED_MODELS.items():  # every name points at a bundled file
        assert nl.example_path(model_name).exists() and nl.example_path(data_name).exists()
    with pytest.raises(NlmeError, match="unknown bundled model.*nope.nlm"):
        warmup(("nope.nlm",))


def test_warmup_cli_names_an_unknown_model(capsys):
    assert main(["warmup", "--models", "nope.nlm"]) == 1
    assert "unknown bundled model(s) nope.nlm" in capsys.readouterr().err
