"""``TrialTab``: the Lab's Trial tab, a virtual trial of candidate regimens and the label.

Regimens (``name: dose, interval[, duration]``), the target window and subgroups
(``label: query`` on the covariates, e.g. ``under 50 kg: WT < 50``) typed in; Run simulates
``nl.virtual_trial`` (population values: the Lab's last fit, else the working model's [ini];
covariates resampled from the Lab's data) and shows the PTA per regimen and subgroup as a bokeh
heat map and ``nl.recommend_dose``'s label text. Nothing is computed here.
"""

from __future__ import annotations

import html

import ipywidgets as w

from nlme_lab.errors import NlmeError
from nlme_lab.widgets.patient_tab import CSS, METRICS, parse_rows, target_code


def make_trial_tab(lab) -> TrialTab:
    """The Lab's tool-tab factory (``TOOL_TABS``)."""
    return TrialTab(lab)


def parse_regimens(text: str) -> dict:
    out = {}
    for k, line in enumerate(text.splitlines(), start=1):
        if not line.split("#")[0].strip():
            continue
        name, sep, rest = line.partition(":")
        if not sep or not name.strip():
            raise NlmeError(f"regimens, line {k}: write 'name: dose, interval[, duration]'")
        nums = parse_rows(rest, f"regimen {name.strip()!r}", 1, 3)[0]
        spec = {"dose": nums[0], "interval": nums[1] if len(nums) > 1 and nums[1] > 0 else None}
        if len(nums) > 2:
            spec["duration"] = nums[2]
        out[name.strip()] = spec
    if not out:
        raise NlmeError("regimens: give at least one line 'name: dose, interval'")
    return out


def parse_subgroups(text: str) -> dict:
    levels = {}
    for k, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, query = line.partition(":")
        if not sep or not query.strip():
            raise NlmeError(f"subgroups, line {k}: write 'label: condition' (e.g. under 50 kg: WT < 50)")
        levels[label.strip()] = query.strip()
    return {"subgroup": levels} if levels else {}


class TrialTab(w.VBox):
    """Regimens, target and subgroups in; the PTA heat map and the label text out."""

    def __init__(self, lab=None, model=None, fit=None, population=None):
        self.lab = lab
        self._model, self._fit, self._population = model, fit, population
        self.regimens = w.Textarea(value="50 mg q24h: 50, 24\n100 mg q24h: 100, 24\n200 mg q24h: 200, 24",
                                   description="regimens", layout=w.Layout(width="300px", height="100px"))
        self.subgroups = w.Textarea(value="", description="subgroups", placeholder="label: condition",
                                    layout=w.Layout(width="300px", height="70px"))
        self.metric = w.Dropdown(options=METRICS, value="auc", description="target", layout=w.Layout(width="200px"))
        self.low = w.FloatText(value=0.0, description="low", layout=w.Layout(width="160px"))
        self.high = w.FloatText(value=0.0, description="high", layout=w.Layout(width="160px"))
        self.at = w.FloatText(value=0.0, description="at", layout=w.Layout(width="160px"))
        self.min_pta = w.BoundedFloatText(value=0.8, min=0.01, max=0.99, step=0.05, description="min PTA",
                                          layout=w.Layout(width="160px"))
        self.n_subjects = w.BoundedIntText(value=500, min=1, max=100000, description="subjects",
                                           layout=w.Layout(width="180px"))
        self.n_trials = w.BoundedIntText(value=10, min=1, max=1000, description="trials", layout=w.Layout(width="180px"))
        self.run_button = w.Button(description="Run trial", icon="play", button_style="primary")
        self.status = w.HTML()
        self.label = w.HTML()
        self.plot_box = w.VBox()
        for widget, name in ((self.regimens, "regimens"), (self.subgroups, "subgroups"), (self.status, "status"),
                             (self.label, "label"), (self.run_button, "run"), (self.plot_box, "plot"),
                             (self.low, "low"), (self.high, "high"), (self.n_subjects, "subjects"),
                             (self.n_trials, "trials"), (self.metric, "metric")):
            widget.add_class(f"nlme-trial-{name}")
        self.result = None
        self.recommendation = None
        self._last: dict | None = None  # the arguments of the last trial run (``to_cells``)
        self.figure = None
        self.run_button.on_click(lambda _b: self.run())
        left = w.VBox([w.HTML("<b>Regimens and subgroups</b>"), self.regimens, self.subgroups, self.n_subjects,
                       self.n_trials], layout=w.Layout(flex="0 0 auto"))
        mid = w.VBox([w.HTML("<b>Target</b>"), self.metric, self.low, self.high, self.at, self.min_pta,
                      self.run_button, self.status], layout=w.Layout(flex="0 0 auto", margin="0 12px"))
        right = w.VBox([self.plot_box, self.label], layout=w.Layout(flex="1 1 520px", min_width="0"))
        super().__init__([w.HTML(CSS), w.HBox([left, mid, right], layout=w.Layout(flex_flow="row wrap"))])
        self.add_class("nlme-trial")

    @property
    def fit(self):
        return self._fit if self._fit is not None else getattr(self.lab, "last_fit", None)

    @property
    def model(self):
        if self._model is not None:
            return self._model
        return self.fit.model if self.fit is not None and self.fit.model is not None else self.lab.model

    @property
    def population(self):
        if self._population is not None:
            return self._population
        return getattr(self.lab, "dataset", None)

    def _set_status(self, text: str, kind: str = "info") -> None:
        self.status.value = f"<div class='nlme-patient-message' data-kind='{kind}'>{html.escape(text)}</div>"

    def target(self):
        import nlme_lab as nl

        low = self.low.value if self.low.value > 0 else None
        high = self.high.value if self.high.value > 0 else None
        at = self.at.value if self.metric.value in ("conc", "time_above") else None
        return nl.Target(self.metric.value, low, high, at=at)

    def run(self):
        """Simulate the trial here (serial) and show the PTA and the label."""
        import nlme_lab as nl
        from jupyter_bokeh import BokehModel

        from nlme_lab.plots.dosing import pta_heatmap

        try:
            regimens = parse_regimens(self.regimens.value)
            groups = parse_subgroups(self.subgroups.value)
            target = self.target()
            self._set_status("Running...")
            pop_source = self.fit if self.fit is not None else self.model
            covs = self.model.ir.covariates
            self.result = nl.virtual_trial(pop_source, regimens, population=self.population if covs else None,
                                           n_subjects=int(self.n_subjects.value), n_trials=int(self.n_trials.value),
                                           scheduler="serial",
                                           threshold=target.at if target.metric == "time_above" else None,
                                           conc_at=target.at if target.metric == "conc" else None)
            self.recommendation = nl.recommend_dose(self.result, target, subgroups=groups,
                                                    min_pta=float(self.min_pta.value))
            self._last = {"prior": "fit" if self.fit is not None else "model", "regimens": regimens,
                          "population": bool(covs), "target": target, "groups": groups,
                          "min_pta": float(self.min_pta.value)}
        except (NlmeError, ValueError) as err:
            self._set_status(str(err), "error")
            return None
        table = self.recommendation.table
        self.figure = pta_heatmap(table.assign(subgroup=table["level"].astype(str)), "subgroup",
                                  title=f"PTA: {target.describe()}")
        self.plot_box.children = [BokehModel(self.figure)]
        self.label.value = f"<div class='nlme-trial-label-text'><b>Label</b>: {html.escape(self.recommendation.label)}</div>"
        self._set_status(f"{self.result.n_trials} trials x {self.result.n_subjects} subjects in "
                         f"{self.result.elapsed_s:.1f} s")
        return self.recommendation

    # ------------------------------------------------------------------ export
    def to_cells(self) -> list[str]:
        """The Lab's export: ``nl.virtual_trial`` of the typed regimens on the session's ``fit``
        (else ``model``; covariates resampled from ``data``), its PTA and ``nl.recommend_dose``'s
        label, as the tab ran them (none before a run)."""
        if self.result is None or self._last is None:
            return []
        last, res = self._last, self.result
        t = last["target"]
        population = "data" if last["population"] else "None"
        return [f"trial = nl.virtual_trial({last['prior']}, {last['regimens']!r}, population={population}, "
                f"n_subjects={res.n_subjects!r}, n_trials={res.n_trials!r}, scheduler='serial', "
                f"threshold={res.threshold!r}, conc_at={res.conc_at!r})\n"
                f"target = {target_code(t)}\n"
                "trial.target_attainment(target, by=['regimen'])",
                f"recommendation = nl.recommend_dose(trial, target, subgroups={last['groups']!r}, "
                f"min_pta={last['min_pta']!r})\nprint(recommendation.label)\nrecommendation.table"]
