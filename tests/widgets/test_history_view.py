"""HistoryView with real theophylline FOCEI fits: the table (read back from its HTML) against the
fits' numbers, ΔOFV to the chosen reference, and two runs compared with the likelihood-ratio test."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from scipy.stats import chi2

import nlme_lab as nl

pytest.importorskip("ipywidgets")
from nlme_lab.session.history import LRTStatus, RunHistory  # noqa: E402
from nlme_lab.widgets.history_view import HistoryView  # noqa: E402


class _Tables(HTMLParser):
    """Every <table> of an HTML fragment as rows of cell texts (header row included)."""

    def __init__(self, text: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def fits():
    """The full model, tka fixed (nested, a theta fixed), eta_v removed (nesting unverified)."""
    data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
    model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
    full = nl.fit(model, data, method="focei", seed=1)
    fixed = nl.fit(model.with_initial(tka=0.0).fix("tka"), data, method="focei", seed=1)
    text = model.text.replace("eta_v  ~ 0.1\n", "").replace("exp(tv + eta_v)", "exp(tv)")
    no_eta = nl.fit(nl.Model(text), data, method="focei", seed=1)
    return full, fixed, no_eta


@pytest.fixture()
def view(fits):
    history = RunHistory()
    view = HistoryView(history)
    for fit, label in zip(fits, ("base", "tka fixed", "no eta_v")):
        history.add(fit, label)
        view.refresh()
    return view


def _table(view) -> list[list[str]]:
    (table,) = _Tables(view.table.value).tables
    return table


def test_an_empty_history_says_so_and_a_bad_argument_is_refused():
    view = HistoryView(RunHistory())
    assert "no fits yet" in view.table.value and view.rows() == []
    assert view.comparison is None and "needs two runs (0 so far)" in view.comparison_html.value
    with pytest.raises(TypeError, match="RunHistory"):
        HistoryView([])


def test_one_run_is_a_row_and_nothing_to_compare(fits):
    history = RunHistory()
    view = HistoryView(history)
    history.add(fits[0], "base")
    view.refresh()
    (header, row) = _table(view)
    assert row[:2] == ["0", "base"] and float(row[5]) == pytest.approx(fits[0].ofv, abs=5e-5)
    assert row[4] == "FOCEI" and row[6] == "+0.0000"
    assert view.comparison is None and "needs two runs (1 so far)" in view.comparison_html.value


def test_the_table_shows_every_run_with_its_numbers(view, fits):
    table = _table(view)
    assert table[0] == ["#", "label", "model", "method", "OFV kind", "OFV", "ΔOFV", "AIC", "BIC", "n par",
                        "cond. number", "time (s)", "status"]
    assert table[1:] == [list(row.values()) for row in view.rows()]
    history = view.history
    for row, fit, record in zip(table[1:], fits, history.records):
        assert row[2] == record.model_hash and len(row[2]) == 12
        assert row[3] == "focei" and row[4] == "FOCEI"
        assert float(row[5]) == pytest.approx(fit.ofv, abs=5e-5)
        assert float(row[6]) == pytest.approx(fit.ofv - fits[0].ofv, abs=5e-5)
        assert float(row[7]) == pytest.approx(fit.aic, abs=5e-3) and float(row[8]) == pytest.approx(fit.bic, abs=5e-3)
        assert int(row[9]) == fit.n_parameters
        assert float(row[10]) == pytest.approx(fit.condition_number, rel=1e-3)
        assert row[12] == "✓"
    assert [int(r[9]) for r in table[1:]] == [7, 6, 6]
    assert len({r[2] for r in table[1:]}) == 3  # fixing tka changes the hash, as removing eta_v does
    assert table[1][6] == "+0.0000" and float(table[2][6]) > 1  # fixing tka costs OFV


def test_the_reference_dropdown_moves_delta_ofv(view, fits):
    assert view.reference.value == 0 and 'data-run="0" class="nlme-history-reference"' in view.table.value
    view.reference.value = 2
    assert view.history.reference == 2
    delta = [float(r[6]) for r in _table(view)[1:]]
    assert delta == pytest.approx([f.ofv - fits[2].ofv for f in fits], abs=5e-5)
    assert delta[2] == 0 and 'data-run="2" class="nlme-history-reference"' in view.table.value


def test_the_latest_two_runs_are_compared_until_the_user_picks(view, fits):
    assert (view.run_a.value, view.run_b.value) == (1, 2)
    assert view.comparison.status is LRTStatus.SAME_SIZE  # 6 and 6 parameters
    assert "same number of parameters (6): no likelihood-ratio test" in view.comparison_html.value
    view.run_a.value = 0
    view.run_b.value = 1
    view.history.add(fits[0], "again")
    view.refresh()  # a new run keeps the user's pick
    assert (view.run_a.value, view.run_b.value) == (0, 1) and len(view.run_a.options) == 4


def test_a_fixed_theta_shows_the_p_value_and_the_parameters_side_by_side(view, fits):
    full, fixed, _ = fits
    view.run_a.value, view.run_b.value = 0, 1
    c = view.comparison
    assert c.status is LRTStatus.NESTED and c.lrt.df == 1
    assert c.lrt.delta_ofv == pytest.approx(fixed.ofv - full.ofv, abs=1e-12)
    assert c.lrt.p_value == pytest.approx(chi2.sf(fixed.ofv - full.ofv, 1), rel=1e-12)
    shown = view.comparison_html.value
    assert 'data-status="nested"' in shown and f"p = {c.lrt.p_value:.4g}" in shown
    (table,) = _Tables(shown).tables
    assert table[0] == ["parameter", "estimate [0] base", "SE [0] base", "estimate [1] tka fixed",
                        "SE [1] tka fixed", "difference"]
    rows = {r[0]: r[1:] for r in table[1:]}
    assert list(rows) == list(full.estimates)
    for name in full.estimates:
        est_a, se_a, est_b, se_b, diff = rows[name]
        assert float(est_a) == pytest.approx(full.estimates[name], rel=1e-4)
        assert float(se_a) == pytest.approx(full.se[name], rel=1e-4)
        assert float(est_b) == pytest.approx(fixed.estimates[name], rel=1e-4, abs=1e-12)
        assert float(diff) == pytest.approx(fixed.estimates[name] - full.estimates[name], rel=1e-4, abs=1e-9)
    assert rows["tka"][3] == "–"  # fixed: no SE


def test_a_removed_eta_says_nesting_is_not_verified_and_lists_the_union(view, fits):
    full, _, no_eta = fits
    view.run_a.value, view.run_b.value = 2, 0
    c = view.comparison
    assert c.status is LRTStatus.UNVERIFIED
    assert c.lrt.p_value == pytest.approx(chi2.sf(no_eta.ofv - full.ofv, 1), rel=1e-12)
    assert "nesting not verified" in view.comparison_html.value
    (table,) = _Tables(view.comparison_html.value).tables
    rows = {r[0]: r[1:] for r in table[1:]}
    assert set(rows) == set(full.estimates) | set(no_eta.estimates)
    assert rows["eta_v"][0] == "–" and float(rows["eta_v"][2]) == pytest.approx(full.estimates["eta_v"], rel=1e-4)
    view.run_b.value = 2
    assert view.comparison.status is LRTStatus.SAME_RUN and "same run" in view.comparison_html.value


def _saem(model, data, text, stop_after=None):
    from nlme_lab.estimation.option_text import options_from_text
    from nlme_lab.estimation.results import StopToken

    token = StopToken()

    def callback(event):
        if stop_after is not None and event.iteration >= stop_after:
            token.stop()

    return nl.fit(model, data, "saem", seed=1, options=options_from_text("saem", text), callback=callback, stop=token)


@pytest.fixture(scope="module")
def mixed(fits):
    """FOCEI, a finished SAEM (importance-sampling OFV) and one stopped after 3 iterations (linearised)."""
    data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
    model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
    short = "n_burn=40, n_em=40, is_samples=300"
    history = RunHistory()
    for fit, label in ((fits[0], "focei"), (_saem(model, data, short), "saem"),
                       (_saem(model, data, short, stop_after=3), "saem stopped")):
        history.add(fit, label)
    return HistoryView(history)


def test_each_row_says_its_ofv_kind_and_delta_ofv_only_where_comparable(mixed):
    view = mixed
    saem = view.history[1].fit
    table = _table(view)
    kinds, deltas, status = ([r[k] for r in table[1:]] for k in (4, 6, 12))
    assert kinds == ["FOCEI", f"IS ± {saem.ofv_mc_se:.3f}", "linearised"]
    assert deltas == ["+0.0000", "n/a: IS vs FOCEI", "n/a: linearised vs FOCEI"]
    assert status == ["✓", "✓", "stopped"]
    assert view.table.value.count('class="nlme-note" title="the OFVs are of different kinds') == 2
    assert 'title="stopped by the user">stopped</td>' in view.table.value
    assert ("OFV kinds: FOCEI: FOCEI objective; IS: importance sampling ± its Monte-Carlo SE; linearised: the "
            "FOCEI objective at the estimates.") in view.table.value
    view.reference.value = 1
    assert [r[6] for r in _table(view)[1:]] == ["n/a: FOCEI vs IS", "+0.0000", "n/a: linearised vs IS"]
    assert (view.run_a.value, view.run_b.value) == (1, 2)
    assert view.comparison.status is LRTStatus.NOT_COMPARABLE
    assert 'data-status="OFVs not comparable"' in view.comparison_html.value
    assert "no likelihood-ratio test: the OFVs are of different kinds" in view.comparison_html.value


@pytest.mark.parametrize("method, iterations", [("saem", 0), ("focei", 0), ("saem", 3)])
def test_a_fit_stopped_before_its_estimates_moved_adds_no_row(method, iterations, monkeypatch):
    """Stopping before the first iteration, or within SAEM's first iterations (n_pure_mh = 5: they
    only sample the etas), used to add a row with the starting point's OFV (for SAEM the FOCEI
    objective at the previous fit's estimates: a copy of that row)."""
    from nlme_lab.estimation import results

    class Stop(results.StopToken):  # the user pressed Stop after `iterations` iterations
        def __init__(self):
            super().__init__()
            self.checks = 0

        def is_set(self):
            self.checks += 1
            return self.checks > iterations or super().is_set()

    lab = nl.Lab(data=nl.example_path("theo_sd.csv"), model=nl.example_path("theo_sd.nlm"))
    first = lab.fit("focei", seed=1)
    assert first is not None and len(lab.history) == 1
    monkeypatch.setattr(results, "StopToken", Stop)
    lab.fit(method, seed=1, options="n_burn=20, n_em=20" if method == "saem" else "")
    assert len(lab.history) == 1 and len(lab.history_view.rows()) == 1
    assert lab.last_fit is first and lab.fit_error is None
    assert "stopped by the user before the estimates moved" in lab.fit_panel.status.value
    assert not lab.fit_panel.start_button.disabled and lab.fit_panel.stop_button.disabled


def test_a_saem_stopped_after_its_estimates_moved_adds_a_linearised_row(monkeypatch):
    from nlme_lab.estimation import results

    class Stop(results.StopToken):  # Stop after 8 iterations: 5 sampling only, then 3 M-steps
        checks = 0

        def is_set(self):
            self.checks += 1
            return self.checks > 8

    lab = nl.Lab(data=nl.example_path("theo_sd.csv"), model=nl.example_path("theo_sd.nlm"))
    monkeypatch.setattr(results, "StopToken", Stop)
    stopped = lab.fit("saem", seed=1, options="n_burn=20, n_em=20")
    assert stopped.termination is results.Termination.STOPPED and stopped.iterations == 8
    assert len(lab.history) == 1 and lab.last_fit is stopped
    row = lab.history_view.rows()[0]
    assert (row["OFV kind"], row["status"], row["ΔOFV"]) == ("linearised", "stopped", "+0.0000")
