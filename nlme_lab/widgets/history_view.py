"""``HistoryView``: the Lab's History tab, a table of the session's fits and two of them compared.

An ipywidgets composite (no front end of its own). Every number comes from ``RunHistory``
(``session/history.py``): the table from ``history.table()``, the side-by-side parameters and
the likelihood-ratio verdict from ``history.comparison(i, j)``; this module only formats them.

* ``reference`` (Dropdown): the run ΔOFV is measured from; it sets ``history.reference``.
* ``run_a``, ``run_b`` (Dropdowns): the two runs compared. They follow the two latest runs
  until the user picks one; a pick is kept across refreshes.
* ``table``, ``comparison_html`` (HTML): what is shown; ``rows()`` and ``comparison`` are the
  same content as data, for tests and for code.

Each row says what its OFV is ("OFV kind": FOCEI, IS ± its Monte-Carlo SE, linearised, NUTS
posterior, ...); the ΔOFV cell holds a number only when the run's OFV and the reference's are
comparable (same kind, same data), else the short reason ``RunHistory.table()`` gives.

The Lab calls ``refresh()`` after each fit (from the fit's thread).
"""

from __future__ import annotations

import html
import math
import threading

import ipywidgets as w

from nlme_lab.estimation.results import OFVKind, Termination
from nlme_lab.session.history import KIND_LABELS, RunComparison, RunHistory, ofv_mismatch

# (column of RunHistory.table(), header shown, format)
TABLE_COLUMNS = (
    ("index", "#", "{:d}"),
    ("label", "label", "{}"),
    ("model_hash", "model", "{}"),
    ("method", "method", "{}"),
    ("ofv_kind", "OFV kind", "{}"),
    ("ofv", "OFV", "{:.4f}"),
    ("delta_ofv", "ΔOFV", "{:+.4f}"),
    ("aic", "AIC", "{:.2f}"),
    ("bic", "BIC", "{:.2f}"),
    ("n_parameters", "n par", "{:d}"),
    ("condition_number", "cond. number", "{:.4g}"),
    ("elapsed_s", "time (s)", "{:.1f}"),
    ("termination", "status", "{}"),
)

CSS = """<style>
.nlme-history table { border-collapse: collapse; font-size: 12px; font-family: var(--jp-ui-font-family, sans-serif); }
.nlme-history th, .nlme-history td { padding: 2px 5px; text-align: right; white-space: nowrap;
  border-bottom: 1px solid var(--jp-border-color2, #ddd); }
.nlme-history th, .nlme-history td.nlme-note { white-space: normal; }
.nlme-history .nlme-history-table .widget-html-content { min-width: 0; flex: 1 1 auto; }
.nlme-history .nlme-history-scroll { max-width: 100%; overflow-x: auto; }
.nlme-history th { font-weight: 600; }
.nlme-history td.nlme-text { text-align: left; }
.nlme-history td.nlme-note { text-align: left; font-style: italic; color: var(--jp-ui-font-color2, #666); }
.nlme-history tr.nlme-history-reference td { font-weight: 600; }
.nlme-history .nlme-lrt[data-status="nested"] { color: var(--jp-success-color1, #2e7d32); }
.nlme-history .nlme-lrt[data-status="not nested"],
.nlme-history .nlme-lrt[data-status="OFVs not comparable"] { color: var(--jp-error-color1, #c62828); }
.nlme-history .nlme-history-kinds { font-size: 11px; color: var(--jp-ui-font-color2, #666); }
</style>"""


def _cell(value, fmt: str) -> str:
    """A table value as text; None / NaN as an en dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if fmt == "{:d}":
        return fmt.format(int(value))
    return fmt.format(value)


# how a run ended, in a few characters (the full text is the cell's tooltip)
STATUS_LABELS = {Termination.MAX_ITERATIONS.value: "max. iterations", Termination.ROUNDING_ERRORS.value:
                 "rounding errors", Termination.STOPPED.value: "stopped", Termination.FAILED.value: "failed"}


def _termination(row: dict) -> str:
    return "✓" if row["converged"] else STATUS_LABELS.get(row["termination"], row["termination"])


def _kind(row: dict) -> str:
    """The OFV kind, with the Monte-Carlo SE of an importance-sampling OFV."""
    se = row["ofv_se"]
    if se is None or (isinstance(se, float) and math.isnan(se)):
        return row["ofv_kind"]
    return f"{row['ofv_kind']} ± {se:.3f}"


def _delta(row: dict) -> str:
    """ΔOFV, or the reason there is none."""
    if row["delta_note"]:
        return row["delta_note"]
    return _cell(row["delta_ofv"], "{:+.4f}")


class HistoryView(w.VBox):
    """The run history as a table, and two runs compared (parameters, likelihood-ratio test).

    >>> view = HistoryView(lab.history)   # the Lab builds one; after each fit: view.refresh()
    """

    def __init__(self, history: RunHistory):
        if not isinstance(history, RunHistory):
            raise TypeError(f"HistoryView(history) takes a RunHistory, got {type(history).__name__}")
        self.history = history
        self.comparison: RunComparison | None = None
        self._lock = threading.RLock()  # refresh() runs in the fit's thread, the dropdowns in the kernel's
        self._updating = False  # set while refresh() rewrites the dropdowns (not a user pick)
        self._picked = False  # the user chose run_a / run_b: keep them
        self.reference = w.Dropdown(description="ΔOFV vs", layout=w.Layout(width="320px"))
        self.run_a = w.Dropdown(description="compare", layout=w.Layout(width="320px"))
        self.run_b = w.Dropdown(description="with", layout=w.Layout(width="320px"))
        for widget, css in ((self.reference, "nlme-history-reference"), (self.run_a, "nlme-history-a"),
                            (self.run_b, "nlme-history-b")):
            widget.add_class(css)
        self.table = w.HTML()
        self.table.add_class("nlme-history-table")
        self.comparison_html = w.HTML()
        self.comparison_html.add_class("nlme-history-comparison")
        self.reference.observe(self._on_reference, "value")
        self.run_a.observe(self._on_pick, "value")
        self.run_b.observe(self._on_pick, "value")
        super().__init__([w.HTML(CSS), self.reference, self.table, w.HBox([self.run_a, self.run_b]),
                          self.comparison_html])
        self.add_class("nlme-history")
        self.refresh()

    # ------------------------------------------------------------------ public
    def refresh(self) -> None:
        """Show the history as it is now (the Lab calls this after each fit)."""
        with self._lock:
            options = [(f"[{r.index}] {r.label}", r.index) for r in self.history.records]
            self._updating = True
            try:
                self.reference.options = options
                self.reference.value = self.history.reference
                a, b = self._pair(options)
                self.run_a.options, self.run_b.options = options, options
                self.run_a.value, self.run_b.value = a, b
            finally:
                self._updating = False
            self._show()

    def rows(self) -> list[dict[str, str]]:
        """The table as shown: one dict per run, header -> text."""
        frame = self.history.table()
        out = []
        for row in frame.to_dict("records"):
            shown = {header: _cell(row[key], fmt) for key, header, fmt in TABLE_COLUMNS}
            shown.update({"OFV kind": _kind(row), "ΔOFV": _delta(row), "status": _termination(row)})
            out.append(shown)
        return out

    # ------------------------------------------------------------------ events
    def _on_reference(self, change) -> None:
        if self._updating or change["new"] is None:
            return
        with self._lock:
            self.history.reference = change["new"]
            self._show()

    def _on_pick(self, change) -> None:
        if self._updating:
            return
        with self._lock:
            self._picked = True
            self._show_comparison()

    # ------------------------------------------------------------------ drawing
    def _pair(self, options) -> tuple[int | None, int | None]:
        """The runs to compare: the user's picks while they exist, else the two latest."""
        n = len(options)
        if n == 0:
            return None, None
        if self._picked and self.run_a.value is not None and self.run_b.value is not None \
                and max(self.run_a.value, self.run_b.value) < n:
            return self.run_a.value, self.run_b.value
        return max(n - 2, 0), n - 1

    def _show(self) -> None:
        self.table.value = self._table_html()
        self._show_comparison()

    def _table_html(self) -> str:
        rows = self.rows()
        if not rows:
            return "<i>no fits yet: each fit of the Lab adds a row here</i>"
        records = self.history.records
        ref = self.history.reference
        head = "".join(f"<th>{html.escape(h)}</th>" for _k, h, _f in TABLE_COLUMNS)
        body = []
        for k, row in enumerate(rows):
            marker = ' class="nlme-history-reference" title="the ΔOFV reference"' if k == ref else ""
            mismatch = ofv_mismatch(records[ref], records[k])
            tips = {"ΔOFV": mismatch.reason if mismatch else "", "status": records[k].termination,
                    "model": "model structure and fixed parameters (hash)"}
            cells = "".join(self._td(header, text, tips.get(header, ""))
                            for (_k, header, _f), text in zip(TABLE_COLUMNS, row.values()))
            body.append(f"<tr data-run=\"{k}\"{marker}>{cells}</tr>")
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        return f'<div class="nlme-history-scroll">{table}</div>' + _kinds_note(records)

    @staticmethod
    def _td(header: str, text: str, title: str = "") -> str:
        if header == "ΔOFV" and not _is_number(text):
            css = ' class="nlme-note"'
        elif header in ("label", "model", "method", "OFV kind", "status"):
            css = ' class="nlme-text"'
        else:
            css = ""
        tip = f' title="{html.escape(title)}"' if title else ""
        return f"<td{css}{tip}>{html.escape(text)}</td>"

    def _show_comparison(self) -> None:
        a, b = self.run_a.value, self.run_b.value
        if a is None or b is None or len(self.history) < 2:
            self.comparison = None
            self.comparison_html.value = (f"<i>a comparison needs two runs ({len(self.history)} so far): "
                                          "fit another model or method</i>")
            return
        self.comparison = self.history.comparison(a, b)
        self.comparison_html.value = comparison_html(self.comparison)


def _kinds_note(records) -> str:
    """What the OFV kinds in the table mean, and when a ΔOFV is shown."""
    kinds = dict.fromkeys(r.ofv_kind for r in records if r.ofv_kind is not None)
    if not kinds:
        return ""
    se = {OFVKind.IMPORTANCE_SAMPLING: " ± its Monte-Carlo SE"}
    meaning = "; ".join(f"{KIND_LABELS[k]}: {k.value}{se.get(k, '')}" for k in kinds)
    return (f'<p class="nlme-history-kinds">OFV kinds: {html.escape(meaning)}. ΔOFV and the likelihood-ratio '
            "test only between runs of the same kind on the same data.</p>")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def comparison_html(comparison: RunComparison) -> str:
    """The verdict line and the parameters side by side (estimate and SE of each run)."""
    status = html.escape(comparison.status.value)
    verdict = f'<p class="nlme-lrt" data-status="{status}"><b>Likelihood ratio</b>: ' \
              f"{html.escape(comparison.summary)}</p>"
    if comparison.parameters is None:
        return verdict
    frame = comparison.parameters
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        f"<tr><td class=\"nlme-text\">{html.escape(str(name))}</td>"
        + "".join(f"<td>{_cell(float(v), '{:.5g}')}</td>" for v in values) + "</tr>"
        for name, values in zip(frame.index, frame.to_numpy(float)))
    table = f"<table><thead><tr><th>parameter</th>{head}</tr></thead><tbody>{body}</tbody></table>"
    return verdict + table


__all__ = ["HistoryView", "comparison_html"]
