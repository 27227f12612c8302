"""Every figure's data sources hold exactly the numbers of the diagnostics they draw."""

import numpy as np
import pytest

pytest.importorskip("bokeh")

from bokeh.models import ColumnDataSource, HoverTool  # noqa: E402

from nlme_lab import plots  # noqa: E402
from nlme_lab.diagnostics import gof, residuals, vpc  # noqa: E402
from nlme_lab.diagnostics.curves import prediction_curves  # noqa: E402
from nlme_lab.diagnostics.smooth import loess  # noqa: E402


@pytest.fixture(scope="module")
def theo(theo_focei, shared_models, shared_data):
    model, data = shared_models["theo_sd"], shared_data["theo_sd.csv"]
    table = residuals(theo_focei, data, model=model, n_sim=200, seed=1)
    return {"fit": theo_focei, "model": model, "data": data, "table": table}


def cds(layout, name) -> dict:
    found = list(layout.select({"type": ColumnDataSource, "name": name}))
    assert len(found) == 1, f"{len(found)} sources named {name}"
    return found[0].data


def names(layout) -> set[str]:
    return {s.name for s in layout.select({"type": ColumnDataSource})}


def assert_col(data, key, expected):
    np.testing.assert_allclose(np.asarray(data[key], dtype=float), np.asarray(expected, dtype=float), rtol=1e-12)


@pytest.mark.parametrize("func,key,xcol,ycol", [
    (plots.dv_vs_pred, "dv_pred", "PRED", "DV"), (plots.dv_vs_ipred, "dv_ipred", "IPRED", "DV"),
    (plots.cwres_vs_time, "cwres_time", "TIME", "CWRES"), (plots.cwres_vs_pred, "cwres_pred", "PRED", "CWRES"),
    (plots.iwres_vs_ipred, "iwres_ipred", "IPRED", "IWRES"),
])
def test_gof_scatter_sources_hold_the_residual_table(theo, func, key, xcol, ycol):
    rec = theo["table"].records
    fig = func(theo["table"])
    pts = cds(fig, f"{key}_points")
    assert_col(pts, "X", rec[xcol])
    assert_col(pts, "Y", rec[ycol])
    assert list(pts["ID"]) == rec["ID"].tolist()
    assert_col(pts, "TIME", rec["TIME"])
    s = loess(rec[xcol], rec[ycol])
    assert_col(cds(fig, f"{key}_smooth"), "y", s.y)
    ref = cds(fig, f"{key}_reference")
    if key.startswith("dv"):
        np.testing.assert_allclose(ref["x"], ref["y"])  # identity
    else:
        np.testing.assert_allclose(ref["y"], 0.0)
    tips = [t for tool in fig.select({"type": HoverTool}) for t in tool.tooltips]
    assert ("ID", "@{ID}") in tips and any(label == "TIME" for label, _ in tips)


def test_log_axes_drop_non_positive_values(theo):
    fig = plots.dv_vs_pred(theo["table"], log=True)
    rec = theo["table"].records
    keep = (rec["PRED"] > 0) & (rec["DV"] > 0)
    assert_col(cds(fig, "dv_pred_points"), "X", rec["PRED"][keep])
    assert fig.x_scale.__class__.__name__ == "LogScale"


@pytest.mark.parametrize("column", ["CWRES", "NPDE"])
def test_qq_plot_source_is_sorted_values_against_normal_quantiles(theo, column):
    values = theo["table"].records[column].to_numpy()
    q = gof.qq_points(values)
    data = cds(plots.qq_plot(theo["table"], column), f"qq_{column.lower()}_points")
    assert_col(data, "Y", np.sort(values))
    assert_col(data, "X", q.theoretical)
    from scipy.stats import norm

    assert data["X"][0] == pytest.approx(norm.ppf(0.5 / len(values)))


def test_gof_panel_contains_every_figure(theo):
    got = names(plots.gof_panel(theo["table"]))
    for key in ("dv_pred", "dv_ipred", "cwres_time", "cwres_pred", "iwres_ipred", "qq_cwres", "qq_npde"):
        assert f"{key}_points" in got


def test_eta_histograms_carry_counts_and_shrinkage(theo):
    table = theo["table"]
    lay = plots.eta_histograms(table)
    for name in table.eta_names:
        counts, edges = np.histogram(table.subjects[name], bins="auto")
        data = cds(lay, f"eta_hist_{name}")
        assert_col(data, "count", counts)
        assert_col(data, "left", edges[:-1])
    from bokeh.plotting import figure

    titles = [f.title.text for f in lay.select({"type": figure})]
    shrink = table.shrinkage.eta_sd
    assert any(f"shrinkage {shrink['eta_v']:.1f}%" in t for t in titles)


def test_eta_covariate_panels_scatter_and_boxes(theo):
    table = theo["table"]
    lay = plots.eta_covariates(table)
    rec = table.records.drop_duplicates("ID")
    data = cds(lay, "eta_cov_eta_cl_WT_points")
    assert_col(data, "X", rec["WT"])
    assert_col(data, "Y", table.subjects["eta_cl"])
    assert_col(cds(lay, "eta_cov_eta_cl_WT_smooth"), "y", loess(rec["WT"], table.subjects["eta_cl"]).y)
    # a categorical covariate gets boxes with numpy quartiles
    frame = table.records.copy()
    frame["SEXLIKE"] = (frame["WT"] > 70).astype(float)
    from dataclasses import replace

    t2 = replace(table, records=frame, covariate_names=table.covariate_names + ("SEXLIKE",))
    boxes = cds(plots.eta_covariates(t2, ["SEXLIKE"]), "eta_cov_eta_cl_SEXLIKE_boxes")
    heavy = table.subjects["eta_cl"].to_numpy()[(rec["WT"] > 70).to_numpy()]
    assert list(boxes["level"]) == ["0", "1"]
    assert boxes["median"][1] == pytest.approx(np.median(heavy))
    assert boxes["q3"][1] == pytest.approx(np.percentile(heavy, 75))


def test_individual_fits_pages_and_curves(theo):
    table = theo["table"]
    curves = prediction_curves(theo["fit"], theo["data"], model=theo["model"], n_points=40)
    lay = plots.individual_fits(table, curves, per_page=5, page=2)
    assert names(lay) == {f"indiv_{i}_{k}" for i in (11, 12) for k in ("obs", "curve")}
    rec = table.records[table.records["ID"] == 12]
    obs = cds(lay, "indiv_12_obs")
    assert_col(obs, "DV", rec["DV"])
    assert_col(obs, "IPRED", rec["IPRED"])
    c = curves[curves["ID"] == 12]
    assert_col(cds(lay, "indiv_12_curve"), "IPRED", c["IPRED"])
    with pytest.raises(IndexError, match="3 page"):
        plots.individual_fits(table, per_page=5, page=3)


def test_prediction_curves_match_the_closed_form(theo):
    fit = theo["fit"]
    curves = prediction_curves(fit, theo["data"], model=theo["model"], n_points=25)
    c = curves[curves["ID"] == 1]
    est, eta = fit.estimates, fit.etas[0]
    ka, cl, v = np.exp([est["tka"] + eta[0], est["tcl"] + eta[1], est["tv"] + eta[2]])
    amt, t = theo["data"].amt[0], c["TIME"].to_numpy()
    k = cl / v
    expected = amt * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))
    np.testing.assert_allclose(c["IPRED"], expected, rtol=1e-6, atol=1e-9)
    assert t[0] == 0 and t[-1] == pytest.approx(theo["data"].time[theo["data"].offsets[1] - 1])


def test_spaghetti_has_one_line_per_subject(theo):
    rec = theo["table"].records
    data = cds(plots.spaghetti(theo["table"]), "spaghetti_lines")
    assert len(data["TIME"]) == 12
    for sid, xs, ys in zip(data["ID"], data["TIME"], data["DV"]):
        sub = rec[rec["ID"].astype(str) == str(sid)]
        np.testing.assert_allclose(xs, sub["TIME"])
        np.testing.assert_allclose(ys, sub["DV"])


def test_convergence_traces_follow_the_history(theo):
    fit = theo["fit"]
    data = cds(plots.convergence_traces(fit), "convergence")
    assert_col(data, "OFV", [h.ofv for h in fit.history])
    assert_col(data, "tcl", [h.estimates["tcl"] for h in fit.history])
    assert list(data["ITERATION"]) == [h.iteration for h in fit.history]


def test_vpc_plot_sources_hold_the_vpc_numbers(theo):
    r = vpc(theo["fit"], theo["data"], model=theo["model"], n=50, seed=4, lloq=1.0)
    lay = plots.vpc_plot(r)
    for level in (5, 50, 95):
        p = r.percentiles[r.percentiles["PERCENTILE"] == level]
        data = cds(lay, f"vpc_0_p{level}")
        for col in ("OBSERVED", "SIM_LOWER", "SIM_MEDIAN", "SIM_UPPER"):
            assert_col(data, col, p[col])
        assert_col(data, "X", r.bins["X_MEDIAN"])
    assert_col(cds(lay, "vpc_0_observations"), "DV", r.observations["DV"])
    assert_col(cds(lay, "vpc_0_blq"), "OBSERVED", r.blq["OBSERVED"])
    assert_col(cds(lay, "vpc_0_blq"), "SIM_UPPER", r.blq["SIM_UPPER"])


def test_stratified_vpc_draws_one_column_per_stratum(shared_models, shared_data):
    r = vpc(shared_models["warfarin_pkpd"], shared_data["warfarin.csv"], n=5, seed=1, stratify_by="DVID", n_bins=4)
    lay = plots.vpc_plot(r)
    for s, label in enumerate(r.strata):
        p = r.percentiles[(r.percentiles["STRATUM"] == label) & (r.percentiles["PERCENTILE"] == 50)]
        assert_col(cds(lay, f"vpc_{s}_p50"), "SIM_MEDIAN", p["SIM_MEDIAN"])


@pytest.fixture(scope="module")
def warfarin_pkpd(shared_models, shared_data):
    """Residuals and curves of the two-endpoint warfarin model (DVID 1 cp in mg/L, DVID 2 PCA in
    %) at its initial values."""
    import warnings

    model, data = shared_models["warfarin_pkpd"], shared_data["warfarin.csv"]
    with warnings.catch_warnings():  # the EBEs at the model's rough initial values
        warnings.simplefilter("ignore")
        table = residuals(model, data, npde=False)
    curves = prediction_curves(model, data, etas=table.subjects[list(table.eta_names)].to_numpy(), n_points=20)
    return table, curves


def _figures(layout):
    from bokeh.plotting import figure

    return list(layout.select({"type": figure}))


def test_gof_of_two_endpoints_never_pools_them(warfarin_pkpd):
    """One set of figures per endpoint, each with its own points, smoother and axis labels."""
    table, _ = warfarin_pkpd
    lay = plots.gof_panel(table)
    got = names(lay)
    assert not {"dv_pred_points", "dv_ipred_points", "qq_cwres_points"} & got  # nothing pooled
    assert table.endpoint_names == ("cp", "effect")
    for endpoint in ("cp", "effect"):
        rec = table.records[table.records["ENDPOINT"] == endpoint]
        assert len(rec) == {"cp": 251, "effect": 232}[endpoint]
        pts = cds(lay, f"dv_pred_{endpoint}_points")
        assert_col(pts, "X", rec["PRED"])
        assert_col(pts, "Y", rec["DV"])
        assert_col(cds(lay, f"dv_pred_{endpoint}_smooth"), "y", loess(rec["PRED"], rec["DV"]).y)
        assert_col(cds(lay, f"cwres_time_{endpoint}_points"), "Y", rec["CWRES"])
        assert_col(cds(lay, f"qq_cwres_{endpoint}_points"), "Y", np.sort(rec["CWRES"].to_numpy()))
    titles = {f.title.text: f for f in _figures(lay)}
    dv_pred = titles["cp (DVID 1): DV vs PRED"]
    assert dv_pred.yaxis[0].axis_label == "DV (cp)" and dv_pred.xaxis[0].axis_label == "PRED (cp)"
    assert titles["effect (DVID 2): DV vs PRED"].yaxis[0].axis_label == "DV (effect)"
    # one endpoint asked for: its figure under the plain names
    one = plots.dv_vs_pred(table, endpoint="effect")
    assert_col(cds(one, "dv_pred_points"), "Y", table.records[table.records["ENDPOINT"] == "effect"]["DV"])


def test_individual_fits_and_spaghetti_of_two_endpoints_show_both(warfarin_pkpd):
    table, curves = warfarin_pkpd
    lay = plots.individual_fits(table, curves, per_page=4)
    assert names(lay) == {f"indiv_{i}_{e}_{k}" for i in (1, 2, 3, 4) for e in ("cp", "effect")
                          for k in ("obs", "curve")}
    for endpoint in ("cp", "effect"):
        rec = table.records[(table.records["ID"] == 1) & (table.records["ENDPOINT"] == endpoint)]
        assert_col(cds(lay, f"indiv_1_{endpoint}_obs"), "DV", rec["DV"])
        c = curves[(curves["ID"] == 1) & (curves["ENDPOINT"] == endpoint)]
        assert_col(cds(lay, f"indiv_1_{endpoint}_curve"), "IPRED", c["IPRED"])
        assert len(cds(plots.spaghetti(table), f"spaghetti_lines_{endpoint}")["ID"]) == 32
    titles = [f.title.text for f in lay.children]  # in page order
    assert titles[:3] == ["ID 1 · cp (DVID 1)", "ID 1 · effect (DVID 2)", "ID 2 · cp (DVID 1)"]
    one = plots.individual_fits(table, curves, per_page=4, endpoint="effect")  # one endpoint: plain names
    assert_col(cds(one, "indiv_1_obs"), "DV", table.records[(table.records["ID"] == 1)
                                                            & (table.records["ENDPOINT"] == "effect")]["DV"])
    with pytest.raises(KeyError, match="cp, effect"):
        plots.spaghetti(table, endpoint="pca")


def test_legends_sit_outside_the_plotted_data(theo, shared_models, shared_data):
    """The individual-fit and VPC legends are under the plot area, never over the data, and the
    VPC's names the observed and simulated percentiles and the intervals."""
    from bokeh.models import Legend

    lay = plots.individual_fits(theo["table"], per_page=2)
    for fig in _figures(lay):
        assert [type(m) for m in fig.center if isinstance(m, Legend)] == []
        (legend,) = [m for m in fig.below if isinstance(m, Legend)]
        assert [i.label.value for i in legend.items] == ["observed", "IPRED", "PRED"]
    r = vpc(theo["fit"], theo["data"], model=theo["model"], n=20, seed=4)
    (fig,) = _figures(plots.vpc_plot(r))
    assert not [m for m in fig.center if isinstance(m, Legend)]
    (legend,) = [m for m in fig.below if isinstance(m, Legend)]
    assert [i.label.value for i in legend.items] == [
        "observations", "observed median", "simulated median (median of replicates)",
        "95% interval of the simulated median", "observed 5th & 95th percentiles",
        "simulated 5th & 95th percentiles (median of replicates)", "95% interval of the simulated 5th & 95th percentiles"]


def test_figures_wrap_to_the_page_and_titles_wrap_not_cut(theo):
    """Rows of fixed-size figures wrap (flex-wrap) instead of a fixed grid cut at the page's edge;
    a title longer than its figure is broken onto lines, every word kept."""
    from bokeh.models import Row

    for lay in (plots.gof_panel(theo["table"]), plots.individual_fits(theo["table"]),
                plots.eta_histograms(theo["table"]), plots.convergence_traces(theo["fit"])):
        assert isinstance(lay, Row) and lay.styles["flex-wrap"] == "wrap" and lay.sizing_mode == "stretch_width"
    table = theo["table"]
    from dataclasses import replace

    shrunk = replace(table, shrinkage=replace(table.shrinkage, eta_sd={**table.shrinkage.eta_sd, "eta_cl": 36.6}))
    figs = _figures(plots.eta_covariates(shrunk, ["WT"]))
    title = next(f.title.text for f in figs if f.title.text.startswith("eta_cl"))
    assert title.replace("\n", " ") == "eta_cl: shrinkage 36.6% (high: relations may be hidden)"
    assert "\n" in title and max(len(line) for line in title.split("\n")) * 6.8 <= 300 - 80


