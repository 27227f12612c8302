"""``DataView``: the dataset at a glance, with the live prediction overlay.

* the spaghetti plot of every subject's observations (log/linear toggle) with the current
  IPRED (thick) and PRED (dashed) of each subject drawn over it (``set_predictions``);
* a subject picker and that subject's event timeline: doses with their amounts (ADDL
  expanded, SS doses labelled "SS"), infusions as bars, observations;
* a covariate summary (one value per subject: the first record's).
"""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd

from nlme_lab.plots.lab import event_timeline, lab_spaghetti, spaghetti_sources


def subject_events(dataset, i: int) -> tuple[dict, dict, dict]:
    """Doses (ADDL expanded), infusions and observations of subject ``i`` as plot columns."""
    sl = dataset.subject_slice(i)
    t, amt, evid = dataset.time[sl], dataset.amt[sl], dataset.evid[sl]
    rate, ii, addl, ss = dataset.rate[sl], dataset.ii[sl], dataset.addl[sl], dataset.ss[sl]
    dose_t, dose_a, label, inf_s, inf_e, inf_a = [], [], [], [], [], []
    for k in np.flatnonzero((evid == 1) | (evid == 4)):
        for j in range(int(addl[k]) + 1):
            start = float(t[k] + j * ii[k])
            dose_t.append(start)
            dose_a.append(float(amt[k]))
            label.append(f"{amt[k]:g}" + (" SS" if ss[k] and j == 0 else ""))
            if rate[k] > 0:
                inf_s.append(start)
                inf_e.append(start + float(amt[k] / rate[k]))
                inf_a.append(float(amt[k]))
    obs = dataset.observed[sl]
    return ({"TIME": np.array(dose_t), "AMT": np.array(dose_a), "LABEL": label},
            {"START": np.array(inf_s), "END": np.array(inf_e), "AMT": np.array(inf_a)},
            {"TIME": t[obs].astype(float), "DV": dataset.dv[sl][obs].astype(float)})


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
    """Spaghetti (+ overlay), subject timeline and covariate summary of one dataset."""

    def __init__(self, dataset, observed_lists: tuple[list, list], ipred: list, pred: list):
        from jupyter_bokeh import BokehModel

        self.dataset = dataset
        times, dv = observed_lists
        self.sources = spaghetti_sources(dataset.ids, times, dv, ipred, pred)
        self.log_toggle = w.ToggleButtons(options=["linear", "log"], value="linear", description="y axis")
        from bokeh.layouts import column

        self.figures = {"linear": lab_spaghetti(self.sources), "log": lab_spaghetti(self.sources, log=True)}
        self.figures["log"].visible = False  # one document holds both: the toggle switches visibility
        self.plot = BokehModel(column(self.figures["linear"], self.figures["log"]))
        self.log_toggle.observe(self._on_log, "value")
        self.subject = w.Dropdown(options=[(str(s), k) for k, s in enumerate(dataset.ids)], value=0,
                                  description="subject")
        self.timeline = BokehModel(event_timeline(dataset.ids[0], *subject_events(dataset, 0)))
        self.subject.observe(self._on_subject, "value")
        table = covariate_summary(dataset)
        cov_html = (table.to_html(float_format=lambda v: f"{v:.4g}") if len(table)
                    else "<i>no covariates in this dataset</i>")
        self.covariates = w.HTML(f"<b>Covariates</b> ({html.escape(str(dataset.n_subjects))} subjects){cov_html}")
        super().__init__([self.log_toggle, self.plot, self.subject, self.timeline, self.covariates])

    def set_predictions(self, ipred: list, pred: list) -> None:
        """Replace the overlay curves (one array per subject, at the observation times)."""
        self.sources["ipred"].data = {**self.sources["ipred"].data, "IPRED": [np.asarray(v).tolist() for v in ipred]}
        self.sources["pred"].data = {**self.sources["pred"].data, "PRED": [np.asarray(v).tolist() for v in pred]}

    def _on_log(self, change) -> None:
        self.figures["linear"].visible = change["new"] == "linear"
        self.figures["log"].visible = change["new"] == "log"

    def _on_subject(self, change) -> None:
        from jupyter_bokeh import BokehModel

        i = int(change["new"])
        self.timeline = BokehModel(event_timeline(self.dataset.ids[i], *subject_events(self.dataset, i)))
        children = list(self.children)
        children[3] = self.timeline
        self.children = children
