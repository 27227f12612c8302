"""``nlme-lab fit --method nuts --seed S --json``: FOCEI's JSON fields plus the OFV labels."""

import json

import pytest

from nlme_lab.cli.main import main
from tests.conftest import DATA, MODELS

pytest.importorskip("nutpie")


def _fit(tmp_path, name, *extra):
    out = tmp_path / f"{name}.json"
    args = ["fit", str(MODELS / "theo_sd.nlm"), str(DATA / "theo_sd.csv"), "--json", str(out), *extra]
    assert main(args) == 0
    return json.loads(out.read_text())


def test_nuts_json_has_focei_fields_and_ofv_labels(tmp_path, capsys):
    focei = _fit(tmp_path, "focei", "--method", "focei")
    short = ("--method", "nuts", "--draws", "100", "--tune", "150", "--chains", "2")
    a = _fit(tmp_path, "a", *short, "--seed", "4")
    b = _fit(tmp_path, "b", *short, "--seed", "4")
    assert set(focei) <= set(a)
    assert a["method"] == "nuts" and a["seed"] == 4 and a["ofv_method"].startswith("importance sampling")
    assert 0 <= a["ofv_linearization"] - focei["ofv"] < 2.0 and abs(a["ofv"] - focei["ofv"]) < 4.0
    assert a["estimates"] == b["estimates"] and a["ci"] == b["ci"]  # same seed, same numbers
    assert set(a["posterior"]["rhat"]) == set(a["estimates"])
    assert "priors:" in capsys.readouterr().out


def test_sampler_flags_are_refused_for_other_methods(tmp_path):
    with pytest.raises(SystemExit, match="only to --method nuts"):
        main(["fit", str(MODELS / "wang2007_prop.nlm"), str(DATA / "wang2007.csv"), "--draws", "10"])
