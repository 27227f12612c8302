"""``PatientTab``: the Lab's Patient tab, MAP dosing of one new patient.

Doses (``time, amount[, duration]``) and levels (``time, level``) typed in two text areas, the
patient's covariates in text boxes; every edit re-runs ``nl.map_estimate`` (population values:
the Lab's last fit, else the working model's [ini] values) and redraws the posterior curve with
its band; the suggested dose is ``nl.individual_dose`` for the target window and regimen form
chosen below. Nothing is computed here: the numbers are the trials package's.
"""

from __future__ import annotations

import html

import ipywidgets as w
import numpy as np
import pandas as pd

from nlme_lab.errors import NlmeError

CSS = """<style>
.nlme-patient textarea, .nlme-trial textarea { font-family: var(--jp-code-font-family, monospace); font-size: 12px; }
.nlme-patient-message { font-size: 12px; white-space: normal; }
.nlme-patient-message[data-kind="error"] { color: var(--jp-error-color1, #c62828); }
</style>"""

METRICS = ["auc", "cmin", "cmax", "conc", "time_above"]


def make_patient_tab(lab) -> PatientTab:
    """The Lab's tool-tab factory (``TOOL_TABS``)."""
    return PatientTab(lab)


def parse_rows(text: str, what: str, n_min: int, n_max: int) -> list[list[float]]:
    """Lines of comma- or space-separated numbers (``#`` comments, blank lines skipped)."""
    rows = []
    for k, line in enumerate(text.splitlines(), start=1):
        line = line.split("#")[0].strip()
        if not line:
            continue
        parts = [p for p in line.replace(",", " ").split() if p]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise NlmeError(f"{what}, line {k}: {line!r} is not numbers") from None
        if not n_min <= len(nums) <= n_max:
            raise NlmeError(f"{what}, line {k}: give {n_min}{'-' + str(n_max) if n_max > n_min else ''} numbers")
        rows.append(nums)
    return rows


def target_code(target) -> str:
    """``nl.Target(...)`` as code."""
    return f"nl.Target({target.metric!r}, {target.low!r}, {target.high!r}, at={target.at!r})"


class PatientTab(w.VBox):
    """Doses, levels and covariates in; the MAP curve with its band and the suggested dose out."""

    def __init__(self, lab=None, model=None, fit=None):
        self.lab = lab
        self._model, self._fit = model, fit
        m = self.model
        covs = list(m.ir.covariates)
        typical = self._typical(covs)
        self.doses = w.Textarea(value="0, 100", description="doses", placeholder="time, amount[, duration]",
                                layout=w.Layout(width="260px", height="90px"))
        self.levels = w.Textarea(value="", description="levels", placeholder="time, level",
                                 layout=w.Layout(width="260px", height="90px"))
        self.covariates = {c: w.FloatText(value=typical.get(c, 0.0), description=c, layout=w.Layout(width="200px"))
                           for c in covs}
        self.cmt = w.BoundedIntText(value=1, min=1, max=20, description="dose CMT", layout=w.Layout(width="160px"))
        self.horizon = w.FloatText(value=48.0, description="until t", layout=w.Layout(width="160px"))
        self.metric = w.Dropdown(options=METRICS, value="auc", description="target", layout=w.Layout(width="200px"))
        self.low = w.FloatText(value=0.0, description="low", layout=w.Layout(width="160px"))
        self.high = w.FloatText(value=0.0, description="high", layout=w.Layout(width="160px"))
        self.at = w.FloatText(value=0.0, description="at", tooltip="threshold (time_above) or time (conc)",
                              layout=w.Layout(width="160px"))
        self.interval = w.FloatText(value=24.0, description="every (h)", layout=w.Layout(width="160px"))
        self.duration = w.FloatText(value=0.0, description="infusion (h)", layout=w.Layout(width="160px"))
        self.adjust = w.Dropdown(options=[("dose", "dose"), ("interval (6, 8, 12, 24 h)", "interval")], value="dose",
                                 description="adjust", layout=w.Layout(width="260px"))
        self.suggest_button = w.Button(description="Suggest dose", icon="calculator", button_style="primary")
        self.status = w.HTML()
        self.estimate = w.HTML()
        self.suggestion = w.HTML()
        for widget, name in ((self.doses, "doses"), (self.levels, "levels"), (self.status, "status"),
                             (self.estimate, "estimate"), (self.suggestion, "suggestion"),
                             (self.suggest_button, "suggest"), (self.metric, "metric"), (self.low, "low"),
                             (self.high, "high"), (self.interval, "interval"), (self.duration, "duration"), (self.adjust, "adjust"),
                             *((cw, f"cov-{c}") for c, cw in self.covariates.items())):
            widget.add_class(f"nlme-patient-{name}")
        self.post = None
        self.dose_result = None
        self._last: dict | None = None  # what the last estimate was made from (``to_cells``)
        from jupyter_bokeh import BokehModel

        from nlme_lab.plots.dosing import posterior_figure

        self.figure = posterior_figure()
        self.plot = BokehModel(self.figure)
        for widget in (self.doses, self.levels, self.cmt, self.horizon, *self.covariates.values()):
            widget.observe(lambda _c: self.update(), names="value")
        self.suggest_button.on_click(lambda _b: self.suggest())
        inputs = w.VBox([w.HTML("<b>Patient</b>"), self.doses, self.levels, *self.covariates.values(), self.cmt,
                         self.horizon, self.status], layout=w.Layout(flex="0 0 auto"))
        target = w.VBox([w.HTML("<b>Target and regimen</b>"), self.metric, self.low, self.high, self.at,
                         self.interval, self.duration, self.adjust, self.suggest_button, self.suggestion],
                        layout=w.Layout(flex="0 0 auto", margin="0 12px"))
        right = w.VBox([self.plot, self.estimate], layout=w.Layout(flex="1 1 520px", min_width="0"))
        super().__init__([w.HTML(CSS), w.HBox([inputs, target, right], layout=w.Layout(flex_flow="row wrap"))])
        self.add_class("nlme-patient")

    # ------------------------------------------------------------------ where the population is
    @property
    def model(self):
        if self._model is not None:
            return self._model
        fit = self.fit
        if fit is not None and fit.model is not None:
            return fit.model
        return self.lab.model

    @property
    def fit(self):
        if self._fit is not None:
            return self._fit
        return getattr(self.lab, "last_fit", None) if self.lab is not None else None

    def _typical(self, covs) -> dict:
        ds = getattr(self.lab, "dataset", None) if self.lab is not None else None
        if ds is None:
            return {}
        frame = ds.to_frame()
        return {c: float(np.nanmedian(frame[c])) for c in covs if c in frame}

    # ------------------------------------------------------------------ the patient's records
    def records(self) -> pd.DataFrame:
        doses = parse_rows(self.doses.value, "doses", 2, 3)
        levels = parse_rows(self.levels.value, "levels", 2, 2)
        if not doses:
            raise NlmeError("doses: give at least one line 'time, amount'")
        rows = []
        for d in doses:
            dur = d[2] if len(d) > 2 else 0.0
            rows.append({"TIME": d[0], "DV": 0.0, "AMT": d[1], "RATE": d[1] / dur if dur > 0 else 0.0,
                         "EVID": 1, "MDV": 1, "CMT": self.cmt.value})
        for t, y in levels:
            rows.append({"TIME": t, "DV": y, "AMT": 0.0, "RATE": 0.0, "EVID": 0, "MDV": 0, "CMT": self.cmt.value})
        frame = pd.DataFrame(rows).sort_values(["TIME", "EVID"], ascending=[True, False], kind="stable")
        frame.insert(0, "ID", 1)
        for c, widget in self.covariates.items():
            frame[c] = float(widget.value)
        return frame.reset_index(drop=True)

    def _set_status(self, text: str, kind: str = "info") -> None:
        self.status.value = f"<div class='nlme-patient-message' data-kind='{kind}'>{html.escape(text)}</div>"

    def update(self) -> None:
        """Re-estimate from the current entries and redraw (called on every edit)."""
        import nlme_lab as nl
        from nlme_lab.plots.dosing import update_posterior_figure

        try:
            frame = self.records()
            if not (frame["EVID"] == 0).any():
                self._set_status("Type levels (time, level) to estimate this patient.")
                return
            times = np.linspace(0.0, max(float(self.horizon.value), float(frame["TIME"].max())), 97)
            times = times[~np.isin(times, frame["TIME"].to_numpy())]
            self.post = nl.map_estimate(self.fit if self.fit is not None else self.model, frame, times=times)
            self._last = {"frame": frame, "horizon": float(self.horizon.value), "dose_call": None}
        except (NlmeError, ValueError) as err:
            self._set_status(str(err), "error")
            return
        update_posterior_figure(self.figure, self.post)
        etas = ", ".join(f"{k} = {v:.3g} (SD {s:.2g})" for (k, v), s in zip(self.post.eta.items(),
                                                                            self.post.eta_sd.values()))
        ind = ", ".join(f"{k} = {v:.4g}" for k, v in self.post.individual.items())
        self.estimate.value = (f"<div><b>MAP</b>: {html.escape(etas)}<br>{html.escape(ind)}<br>objective "
                               f"{self.post.ofv:.4f}; {html.escape(self.post.message)}</div>")
        self._set_status(f"Estimated from {int((frame['EVID'] == 0).sum())} levels.")

    def suggest(self):
        """The dose of the regimen form below that puts the patient's exposure in the window."""
        import nlme_lab as nl

        if self.post is None:
            self.suggestion.value = "<i>Estimate the patient first (type levels).</i>"
            return None
        try:
            low = self.low.value if self.low.value > 0 else None
            high = self.high.value if self.high.value > 0 else None
            at = self.at.value if self.metric.value in ("conc", "time_above") else None
            target = nl.Target(self.metric.value, low, high, at=at)
            first = self.records().query("EVID == 1")["AMT"].iloc[0]
            interval = self.interval.value if self.interval.value > 0 else None
            regimen = nl.Regimen("suggested", float(first), interval=interval, duration=float(self.duration.value),
                                 cmt=int(self.cmt.value))
            adjust = self.adjust.value
            if adjust == "interval" and interval is None:
                raise NlmeError("adjust interval: give the regimen's interval (every (h) > 0) as a starting form")
            self.dose_result = nl.individual_dose(self.post, target, regimen, adjust=adjust)
            self._last["dose_call"] = (f"dose = nl.individual_dose(post, {target_code(target)}, nl.Regimen("
                                       f"'suggested', {float(first)!r}, interval={interval!r}, "
                                       f"duration={float(self.duration.value)!r}, cmt={int(self.cmt.value)!r}), "
                                       f"adjust={adjust!r})\n"
                                       "print(dose)")
        except (NlmeError, ValueError) as err:
            self.suggestion.value = f"<div class='nlme-patient-message' data-kind='error'>{html.escape(str(err))}</div>"
            return None
        r = self.dose_result
        self.suggestion.value = (f"<div><b>Suggested: {r.regimen.dose:.3g}</b> ({html.escape(r.regimen.describe())})"
                                 f"<br>predicted {html.escape(target.metric)} {r.predicted:.4g}, probability in "
                                 f"window {r.probability:.0%}</div>")
        return r

    # ------------------------------------------------------------------ export
    def to_cells(self) -> list[str]:
        """The Lab's export: the patient's records written out, ``nl.map_estimate`` on the
        session's ``fit`` (else ``model``) as the tab ran it, and the last suggested dose's
        ``nl.individual_dose`` (none before an estimate)."""
        if self.post is None or self._last is None:
            return []
        frame = self._last["frame"]
        columns = ",\n    ".join(f"{c!r}: {[v.item() if hasattr(v, 'item') else v for v in frame[c]]!r}"
                                  for c in frame.columns)
        prior = "fit" if self.fit is not None else "model"
        cells = ["import numpy as np\nimport pandas as pd\n\n"
                 f"patient = pd.DataFrame({{\n    {columns},\n}})\n"
                 f"times = np.linspace(0.0, max({self._last['horizon']!r}, float(patient['TIME'].max())), 97)\n"
                 "times = times[~np.isin(times, patient['TIME'].to_numpy())]\n"
                 f"post = nl.map_estimate({prior}, patient, times=times)\nprint(post)"]
        if self._last["dose_call"] is not None:
            cells.append(self._last["dose_call"])
        return cells
