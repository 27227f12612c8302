"""The shared warfarin PK/PD model fits from the command line by FOCEI and SAEM (issue 15, item
1): before, FOCEI ended after 20 iterations (OFV 2020 -> 1470) in a ZeroDivisionError
traceback from the engine. FOCEI starts with ktr and ka equal and interchangeable (a transit
chain), so it ends on that symmetric ridge, and says in words that the data cannot tell them
apart; SAEM's sampling breaks the symmetry. Slow: minutes of CPU each."""

import json

import pytest

from nlme_lab.cli.main import main
from tests.conftest import DATA, MODELS

WARFARIN = (str(MODELS / "warfarin_pkpd.nlm"), str(DATA / "warfarin.csv"))


def _fit(tmp_path, capsys, *options):
    target = tmp_path / "fit.json"
    code = main(["fit", *WARFARIN, "--json", str(target), *options])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "Traceback" not in out.err and "error" not in out.err
    return json.loads(target.read_text()), out


@pytest.mark.slow
def test_warfarin_pkpd_fits_by_focei_from_the_cli(tmp_path, capsys):
    doc, out = _fit(tmp_path, capsys, "--method", "focei", "--no-cov")
    assert doc["termination"] == "converged" and doc["iterations"] > 20
    assert 1300 < doc["ofv"] < 1470  # past the point where the traceback ended it
    assert out.err.count("FOCEI iteration") >= 5  # progress on stderr, stdout for the results
    flat = [w for w in doc["warnings"] if w.startswith("the data cannot tell apart ")]
    assert len(flat) == 1, doc["warnings"]
    # the flat combination names ka and ktr (their thetas, and their etas where those dominate it)
    involved = flat[0].split(":")[0].removeprefix("the data cannot tell apart ").split(", ")
    assert {"tka", "tktr"} <= {name.split(" (")[0] for name in involved}, flat[0]


@pytest.mark.slow
def test_warfarin_pkpd_fits_by_saem_from_the_cli(tmp_path, capsys):
    doc, out = _fit(tmp_path, capsys, "--method", "saem", "--seed", "1")
    assert doc["termination"] == "converged" and doc["ofv_method"] == "importance sampling"
    assert 1300 < doc["ofv"] < 1400
    assert "SAEM iteration" in out.err and "-2LL(complete data)" in out.err
