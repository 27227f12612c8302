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
    assert row[:2] == ["0", "base"] and float(row[4]) == pytest.approx(fits[0].ofv, abs=5e-5)
    assert view.comparison is None and "needs two runs (1 so far)" in view.comparison_html.value


def test_the_table_shows_every_run_with_its_numbers(view, fits):
    table = _table(view)
    assert table[0] == ["#", "label", "model", "method", "OFV", "ΔOFV", "AIC", "BIC", "n par", "cond. number",
                        "time (s)", "status"]
    assert table[1:] == [list(row.values()) for row in view.rows()]
    history = view.history
    for row, fit, record in zip(table[1:], fits, history.records):
        assert row[2] == record.model_hash and len(row[2]) == 12
        assert row[3] == "focei"
        assert float(row[4]) == pytest.approx(fit.ofv, abs=5e-5)
        assert float(row[5]) == pytest.approx(fit.ofv - fits[0].ofv, abs=5e-5)
        assert float(row[6]) == pytest.approx(fit.aic, abs=5e-3) and float(row[7]) == pytest.approx(fit.bic, abs=5e-3)
        assert int(row[8]) == fit.n_parameters
        assert float(row[9]) == pytest.approx(fit.condition_number, rel=1e-3)
        assert row[11] == "✓"
    assert [int(r[8]) for r in table[1:]] == [7, 6, 6]
    assert len({r[2] for r in table[1:]}) == 3  # fixing tka changes the hash, as removing eta_v does
    assert table[1][5] == "+0.0000" and float(table[2][5]) > 1  # fixing tka costs OFV


def test_the_reference_dropdown_moves_delta_ofv(view, fits):
    assert view.reference.value == 0 and 'data-run="0" class="nlme-history-reference"' in view.table.value
    view.reference.value = 2
    assert view.history.reference == 2
    delta = [float(r[5]) for r in _table(view)[1:]]
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
