"""nl.report(fit, path) writes the report from the fit alone (the fit carries its model and data)."""

import nlme_lab as nl
from tests.conftest import DATA, MODELS


def test_fit_carries_model_and_data_and_writes_its_report(tmp_path):
    model = nl.Model.from_file(MODELS / "wang2007_prop.nlm")
    data = nl.read_nonmem(DATA / "wang2007.csv")
    fit = nl.fit(model, data, method="focei")
    assert fit.model is model and fit.data is data
    vpc = nl.vpc(fit, n=20, seed=3)  # no model=/data= needed any more
    assert vpc.percentiles["OBSERVED"].notna().any()
    path = nl.report(fit, tmp_path / "wang.html", n_vpc=20, n_sim=50)
    assert not hasattr(fit, "report")  # the estimation layer does not reach up to the plots
    page = path.read_text()
    assert "39.457" in page and "<script" in page
