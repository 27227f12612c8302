"""``nlme-lab fit``: the estimates table, the JSON fields, --no-cov, progress and errors."""

import io
import json
import subprocess
import sys

import pytest

from nlme_lab.cli.main import _Progress, main
from tests.conftest import DATA, MODELS

REQUIRED = {"method", "ofv", "loglik", "aic", "bic", "n_subjects", "n_observations", "converged",
            "termination", "estimates", "se", "shrinkage", "elapsed_s", "model", "data_fingerprint"}


@pytest.fixture(scope="module")
def theo_json(tmp_path_factory):
    target = tmp_path_factory.mktemp("fit") / "theo.json"
    out = subprocess.run([sys.executable, "-m", "nlme_lab.cli.main", "fit", MODELS / "theo_sd.nlm",
                          DATA / "theo_sd.csv", "--method", "focei", "--seed", "3", "--json", target],
                         capture_output=True, text=True)
    return out, json.loads(target.read_text()) if target.exists() else None


def test_fit_prints_the_estimates_table(theo_json):
    out, _ = theo_json
    assert out.returncode == 0, out.stderr
    for word in ("FOCEI", "OFV 116.80", "tka", "eta_ka", "add_sd", "SE", "RSE%", "95% CI", "CV", "shrinkage",
                 "12 subjects", "132 observations"):
        assert word in out.stdout, word


def test_fit_json_carries_every_field(theo_json):
    _, doc = theo_json
    assert REQUIRED <= set(doc)
    assert doc["method"] == "focei" and doc["converged"] is True and doc["termination"] == "converged"
    assert abs(doc["ofv"] - 116.804) < 0.01
    assert doc["n_subjects"] == 12 and doc["n_observations"] == 132 and doc["seed"] == 3
    names = ["tka", "tcl", "tv", "add_sd", "eta_ka", "eta_cl", "eta_v"]
    assert list(doc["estimates"]) == names and set(doc["se"]) == set(names)
    assert set(doc["shrinkage"]["eta_sd"]) == {"eta_ka", "eta_cl", "eta_v"} and doc["shrinkage"]["epsilon_sd"] > 0
    assert abs(doc["shrinkage"]["eta_sd"]["eta_cl"] - 3.968) < 1.0
    assert doc["aic"] == pytest.approx(doc["ofv"] + 132 * 1.8378770664093453 + 2 * 7, abs=1e-6)
    assert doc["elapsed_s"] > 0


def test_fit_of_a_fully_fixed_model_evaluates_without_covariance(tmp_path, capsys):
    target = tmp_path / "wang.json"
    code = main(["fit", str(MODELS / "wang2007_prop.nlm"), str(DATA / "wang2007.csv"), "--method", "fo",
                 "--no-cov", "--json", str(target)])
    assert code == 0
    doc = json.loads(target.read_text())
    assert doc["termination"] == "evaluated" and doc["converged"] is True and doc["se"] == {}
    assert abs(doc["ofv"] - 39.213) < 0.001
    assert "(fixed)" in capsys.readouterr().out


def test_no_cov_skips_the_standard_errors(tmp_path, capsys):
    target = tmp_path / "wang.json"
    model = tmp_path / "wang_est.nlm"
    model.write_text((MODELS / "wang2007_add.nlm").read_text().replace("fix(0.5)", "0.5"))
    assert main(["fit", str(model), str(DATA / "wang2007.csv"), "--no-cov", "--json", str(target)]) == 0
    doc = json.loads(target.read_text())
    assert doc["se"] == {} and doc["covariance"] is None and doc["fixed"] == ["eta_ke", "add_sd"]
    assert doc["termination"] == "converged" and doc["iterations"] >= 1


def test_progress_writes_one_rewritten_line_per_iteration():
    from nlme_lab.estimation import IterationEvent, MethodKind

    stream = io.StringIO()
    progress = _Progress(stream)
    for k in range(3):
        progress(IterationEvent(k, 100.0 - k, {}, 0.5, 10 * k, 0.1 * k, MethodKind.FOCEI))
    progress.close()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and "FOCEI iteration   2  OFV 98.0000" in text


def test_fit_errors_are_one_line(tmp_path, capsys):
    assert main(["fit", str(MODELS / "theo_sd.nlm"), str(tmp_path / "missing.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("nlme-lab: error:") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exc:
        main(["fit", str(MODELS / "theo_sd.nlm"), str(DATA / "theo_sd.csv"), "--method", "no_such_method"])
    assert exc.value.code == 2


def test_report_writes_an_offline_html_page_and_the_json(tmp_path):
    import json
    import subprocess
    import sys

    from tests.conftest import DATA, MODELS

    html, js = tmp_path / "r.html", tmp_path / "r.json"
    out = subprocess.run([sys.executable, "-m", "nlme_lab.cli.main", "report", str(MODELS / "theo_sd.nlm"),
                          str(DATA / "theo_sd.csv"), "--n-vpc", "50", "--out", str(html), "--json", str(js)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    page = html.read_text()
    assert "cdn.bokeh.org" not in page and "Bokeh" in page  # BokehJS inlined: works offline
    assert "116.80" in page  # the estimates table with the OFV
    assert abs(json.loads(js.read_text())["ofv"] - 116.804) < 0.01
