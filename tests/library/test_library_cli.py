"""nlme-lab library: the listing, a template's text with options and values, JSON, errors."""

import json

import nlme_lab as nl
from nlme_lab.cli.main import main


def test_the_listing_names_every_template(capsys, tmp_path):
    assert main(["library", "--json", str(tmp_path / "lib.json")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(nl.library.list()) and out[0].startswith("one_compartment  ")
    listing = json.loads((tmp_path / "lib.json").read_text())
    assert [t["name"] for t in listing["templates"]] == list(nl.library.list().names)


def test_a_template_prints_its_text_with_options_and_values(capsys):
    assert main(["library", "tmdd_qss", "--set", "route=sc", "--set", "compartments=2", "--value", "cl=0.3"]) == 0
    text = capsys.readouterr().out
    assert text == nl.library.tmdd_qss(route="sc", compartments=2, values={"cl": 0.3}).text
    assert "tcl = log(0.3)" in text


def test_a_template_written_to_a_file_is_a_model_file(capsys, tmp_path):
    target, summary = tmp_path / "lob.nlm", tmp_path / "lob.json"
    code = main(["library", "asymptotic", "--set", "x=AGE", "--set", "random=asym,lrc", "--out", str(target),
                 "--json", str(summary)])
    assert code == 0 and f"model written to {target}" in capsys.readouterr().out
    model = nl.Model.from_file(target)
    assert model.covariates == ("AGE",) and [e.name for e in model.etas] == ["eta_asym", "eta_lrc"]
    payload = json.loads(summary.read_text())
    assert payload["options"] == {"x": "AGE", "random": ["asym", "lrc"]} and payload["text"] == model.text


def test_bad_requests_are_one_line_errors(capsys):
    for argv, message in (
        (["library", "tmdd_qs"], "no template 'tmdd_qs' in the library; did you mean tmdd_qss?"),
        (["library", "emax", "--set", "sigmoidal=true"], "emax has no option 'sigmoidal'"),
        (["library", "emax", "--set", "sigmoid=maybe"], "option sigmoid='maybe': give true or false"),
        (["library", "emax", "--set", "sigmoid"], "--set 'sigmoid': write NAME=VALUE"),
        (["library", "emax", "--value", "ec50=high"], "--value ec50='high': not a number"),
        (["library", "--set", "route=iv"], "need a template NAME"),
    ):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert err.startswith("nlme-lab: error: ") and message in err and err.count("\n") == 1, (argv, err)
