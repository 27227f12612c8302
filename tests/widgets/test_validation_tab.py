"""The Lab's Validation tab: a bootstrap and a cross-validation of the last fit, run here
(scheduler "serial"), with progress, running medians, Stop keeping the finished replicates,
the forest plot and the per-fold table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nlme_lab as nl

pytest.importorskip("anywidget")
pytest.importorskip("jupyter_bokeh")

ROOT = Path(__file__).resolve().parents[2]
THEO_DATA = ROOT / "nlme_lab" / "examples" / "theo_sd.csv"
THEO_MODEL = ROOT / "nlme_lab" / "examples" / "theo_sd.nlm"


@pytest.fixture(scope="module")
def lab():
    lab = nl.Lab(THEO_MODEL, THEO_DATA)
    assert lab.fit("focei") is not None
    return lab


def test_tab_is_a_tool_tab(lab):
    from nlme_lab.widgets.lab import TOOL_TABS
    from nlme_lab.widgets.validation_tab import ValidationTab

    assert "Validation" in dict(TOOL_TABS)
    assert isinstance(lab.tool("Validation"), ValidationTab)


def test_bootstrap_runs_with_progress_medians_and_forest_plot(lab):
    tab = lab.tool("Validation")
    tab.kind.value, tab.n.value, tab.seed.value, tab.where.value = "Bootstrap", 3, 2, "serial"
    res = tab.start(wait=True)
    assert tab.error is None and res is not None
    assert tab.progress.value == 3 and tab.progress.max == 3
    assert "running median" in tab.live.value and "tcl" in tab.live.value
    ok = res.replicates[res.replicates["status"] == "ok"]
    assert f"{np.median(ok['tcl']):.4g}" in tab.live.value
    table, plot, code = tab.results.children
    assert tab.code() == "boot = nl.bootstrap(fit, n=3, seed=2, scheduler='serial')" and "nl.bootstrap" in code.value
    assert "covariance_se" in table.value
    fig = plot._model
    assert fig.name == "forest_plot"
    assert {"bootstrap_intervals", "covariance_intervals"} <= {r.data_source.name for r in fig.renderers}
    # same as the API with the same seed
    again = nl.bootstrap(lab.last_fit, n=3, seed=2, scheduler="serial")
    assert again.replicates["ofv"].tolist() == res.replicates["ofv"].tolist()


def test_stop_keeps_the_finished_replicates(lab):
    tab = lab.tool("Validation")
    tab.kind.value, tab.n.value, tab.where.value = "Bootstrap", 6, "serial"
    done = tab._replicate_done

    def stop_after_two(row):
        done(row)
        if len(tab._rows) == 2:
            tab.stop()

    tab._replicate_done = stop_after_two
    try:
        res = tab.start(wait=True)
    finally:
        tab._replicate_done = done
    status = res.replicates["status"].tolist()
    assert status[2:] == ["cancelled"] * 4 and "cancelled" not in status[:2]
    assert "stopped" in tab.status.value


def test_crossvalidation_shows_the_fold_table(lab):
    tab = lab.tool("Validation")
    tab.kind.value, tab.folds.value, tab.where.value = "Cross-validation", 3, "serial"
    res = tab.start(wait=True)
    assert tab.error is None and len(res.folds) == 3
    table = tab.results.children[0].value
    assert "prediction_ofv" in table and f"{res.folds['prediction_ofv'].iloc[0]:.4g}" in table
    assert "summed prediction OFV" in tab.status.value
    assert "nl.crossvalidate(fit, folds=3" in tab.code()
    assert len(tab._rows) == 3 and tab.live.value == ""  # fold rows arrived live; the final table replaces them


def test_external_validation_shows_errors_vpc_and_writes_the_page(lab, tmp_path):
    import pandas as pd

    frame = pd.read_csv(THEO_DATA)
    new = tmp_path / "new.csv"
    frame[frame["ID"] > 8].to_csv(new, index=False)
    tab = lab.tool("Validation")
    tab.kind.value = "External validation"
    assert tab.count.children == (tab.new_data, tab.n_vpc)
    tab.new_data.value, tab.n_vpc.value, tab.seed.value = str(new), 10, 3
    res = tab.start(wait=True)
    assert tab.error is None and res.n_subjects == 4 and res.vpc is not None
    assert f"{res.prediction_ofv:.4f}" in tab.status.value
    kinds = [type(c).__name__ for c in tab.results.children]
    assert "BokehModel" in kinds and "rmse_percent" in tab.results.children[0].value
    assert tab.to_cells()[0].startswith("val = nl.validate(fit, ") and "n_vpc=10" in tab.to_cells()[0]
    tab.report_path.value = str(tmp_path / "val.html")
    page = tab.write_report().read_text()
    assert f"{res.prediction_ofv:.4f}" in page and "VPC of the new data" in page
    tab.report_path.value = str(tmp_path / "missing" / "val.html")
    assert tab.write_report() is None and "page not written" in tab.status.value
