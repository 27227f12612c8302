"""``DataView``: the dataset at a glance, with the live prediction overlay.

* per endpoint (DVID), a spaghetti plot of every subject's observations (log/linear toggle)
  with the current IPRED and PRED of each subject drawn under them (``set_predictions``); a
  model with several endpoints gets one plot per endpoint, each with its own axes and scale;
* a subject picker and that subject's event timeline: doses with their amounts (ADDL
  expanded, SS doses labelled "SS"), infusions as bars, and under them each endpoint's
  observations on an axis of their own, all on one time axis;
* a covariate summary (one value per subject: the first record's).
"""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd

from nlme_lab.plots.common import flow
from nlme_lab.plots.lab import event_timeline, lab_spaghetti, spaghetti_sources


def subject_events(dataset, i: int, record_endpoint=None, endpoints=(None,)) -> tuple[dict, dict, dict]:
    """Doses (ADDL expanded), infusions and observations of subject ``i`` as plot columns.

    ``record_endpoint``: the endpoint index of every record (``BoundModel.endpoint``) and
    ``endpoints`` their names; the observations come back per endpoint name (one key, None,
    without them)."""
    from nlme_lab.data.addl import expand_addl

    doses = expand_addl(dataset)
    doses = doses[doses["SUBJECT"] == i]
    amt, rate, start = doses["AMT"].to_numpy(float), doses["RATE"].to_numpy(float), doses["TIME"].to_numpy(float)
    labels = [f"{a:g}" + (" SS" if ss else "") for a, ss in zip(amt, doses["SS"].to_numpy())]
    infused = rate > 0
    sl = dataset.subject_slice(i)
    obs = np.asarray(dataset.observed[sl], dtype=bool)
    kind = np.zeros(obs.size, dtype=int) if record_endpoint is None else np.asarray(record_endpoint)[sl]
    t, dv = np.asarray(dataset.time[sl], dtype=float), np.asarray(dataset.dv[sl], dtype=float)
    observations = {name: {"TIME": t[obs & (kind == k)], "DV": dv[obs & (kind == k)]}
                    for k, name in enumerate(endpoints)}
    return ({"TIME": start, "AMT": amt, "LABEL": labels},
            {"START": start[infused], "END": start[infused] + amt[infused] / rate[infused], "AMT": amt[infused]},
            observations)


def covariate_summary(dataset) -> pd.DataFrame:
    """Per-subject covariates (first record of each subject) summarised: n, mean, SD, min,
    median, max, number of distinct values."""
    if not dataset.covariate_names:
        return pd.DataFrame()
    first = dataset.covariates[dataset.offsets[:-1]]
    frame = pd.DataFrame(first, columns=list(dataset.covariate_names))
    out = frame.describe().T[["count", "mean", "std", "min", "50%", "max"]]
    out["distinct"] = frame.nunique()
    return out.rename(columns={"50%": "median", "std": "SD", "count": "n"})


class DataView(w.VBox):
    """Spaghetti plots (+ overlay) per endpoint, subject timeline and covariate summary.

    ``observed``: endpoint name -> (times, DV), each a list of one array per subject, at that
    endpoint's observations; ``ipred``/``pred``: endpoint name -> list of arrays, the same
    shape. ``record_endpoint``: the endpoint index of every record (for the timeline)."""

    def __init__(self, dataset, observed: dict, ipred: dict, pred: dict, record_endpoint=None):
        from jupyter_bokeh import BokehModel

        self.dataset = dataset
        self.endpoints = list(observed)
        self.record_endpoint = record_endpoint
        several = len(self.endpoints) > 1
        self.sources = {name: spaghetti_sources(dataset.ids, *observed[name], ipred[name], pred[name],
                                                suffix=name if several else None) for name in self.endpoints}
        self.log_toggle = w.ToggleButtons(options=["linear", "log"], value="linear", description="y axis")
        self.figures = {scale: self._spaghetti(scale == "log") for scale in ("linear", "log")}
        self.figures["log"].visible = False  # one document holds both: the toggle switches visibility
        from bokeh.layouts import column

        self.plot = BokehModel(column(self.figures["linear"], self.figures["log"], sizing_mode="stretch_width"))
        self.log_toggle.observe(self._on_log, "value")
        self.subject = w.Dropdown(options=[(str(s), k) for k, s in enumerate(dataset.ids)], value=0,
                                  description="subject")
        self.timeline = self._timeline(0)
        self.subject.observe(self._on_subject, "value")
        table = covariate_summary(dataset)
        cov_html = (table.to_html(float_format=lambda v: f"{v:.4g}") if len(table)
                    else "<i>no covariates in this dataset</i>")
        self.covariates = w.HTML(f"<b>Covariates</b> ({html.escape(str(dataset.n_subjects))} subjects){cov_html}")
        super().__init__([self.log_toggle, self.plot, self.subject, self.timeline, self.covariates])

    def _spaghetti(self, log: bool):
        figs = [lab_spaghetti(self.sources[name], label=name, log=log) for name in self.endpoints]
        return figs[0] if len(figs) == 1 else flow(figs)

    def _timeline(self, i: int):
        from jupyter_bokeh import BokehModel

        events = subject_events(self.dataset, i, self.record_endpoint, self.endpoints)
        self.timeline_layout = event_timeline(self.dataset.ids[i], *events)  # the bokeh layout shown
        return BokehModel(self.timeline_layout)

    def set_predictions(self, ipred: dict, pred: dict) -> None:
        """Replace the overlay curves (per endpoint: one array per subject, at the observation times)."""
        for name in self.endpoints:
            src = self.sources[name]
            src["ipred"].data = {**src["ipred"].data, "IPRED": [np.asarray(v).tolist() for v in ipred[name]]}
            src["pred"].data = {**src["pred"].data, "PRED": [np.asarray(v).tolist() for v in pred[name]]}

    def _on_log(self, change) -> None:
        self.figures["linear"].visible = change["new"] == "linear"
        self.figures["log"].visible = change["new"] == "log"

    def _on_subject(self, change) -> None:
        self.timeline = self._timeline(int(change["new"]))
        children = list(self.children)
        children[3] = self.timeline
        self.children = children
