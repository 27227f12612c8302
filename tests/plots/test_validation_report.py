"""nl.validation_report(result, path): the external validation's page (prediction OFV, PRED/IPRED
errors with CIs, NPDE, the VPC of the new data when the result has one), self-contained."""

import dataclasses
import re

import pytest

import nlme_lab as nl
from nlme_lab.plots.validation_report import fmt


@pytest.fixture(scope="module")
def result(theo_focei):
    table = theo_focei.data.table
    return nl.validate(theo_focei, table[table["ID"] > 6], n_sim=50, n_vpc=20, seed=2)


def test_page_shows_the_results_numbers_and_the_vpc(result, tmp_path):
    path = nl.validation_report(result, tmp_path / "val.html", data_name="theo_sd IDs 7-12")
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert f"{result.prediction_ofv:.4f}" in page and "6 subjects" in page
    for errors in (result.pred, result.ipred):
        for key in ("mpe", "mape", "rmse", "mpe_percent", "mape_percent", "rmse_percent"):
            assert f"<td>{fmt(getattr(errors, key))}</td>" in page
            lo, hi = errors.ci[key]
            assert f"{fmt(lo)} to {fmt(hi)}" in page
    for value in (result.npde.mean, result.npde.variance, result.npde.p_value):
        assert f"<td>{fmt(value)}</td>" in page
    for ofv in result.subjects["prediction_ofv"]:
        assert f"{ofv:.4f}" in page
    # the VPC of the new data, BokehJS inline (no CDN: works offline)
    assert "VPC of the new data" in page and "20 simulated replicates" in page
    assert "Bokeh" in page and "cdn.bokeh.org" not in page and re.search(r"<script[^>]*>\s*\S", page)


def test_page_escapes_text_and_leaves_out_the_vpc_when_there_is_none(result, tmp_path):
    plain = dataclasses.replace(result, vpc=None, npde=None, notes=("EBE of <subject 7> & co did not converge",))
    page = nl.validation_report(plain, tmp_path / "plain.html", title="<b>val</b>", data_name="a&b").read_text()
    assert "&lt;subject 7&gt; &amp; co" in page and "<subject 7>" not in page
    assert "&lt;b&gt;val&lt;/b&gt;" in page and "<b>val</b>" not in page and "a&amp;b" in page
    assert "VPC" not in page and "<script" not in page  # nothing to draw: no BokehJS either
    assert "not computed" in page and f"{result.prediction_ofv:.4f}" in page


def test_refuses_what_is_not_a_validation_result(theo_focei, tmp_path):
    with pytest.raises(TypeError, match="ValidationResult"):
        nl.validation_report(theo_focei, tmp_path / "x.html")
