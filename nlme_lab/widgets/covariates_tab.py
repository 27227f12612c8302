"""``CovariatesTab``: the Lab's Covariates tab, a stepwise covariate search (``nl.scm``) on the
Lab's working model and data.

An ipywidgets composite (no front end of its own):

* ``relations``: one checkbox per (model variable with a random effect, covariate column), e.g.
  ``cl-WT``; ``forms``: a form per covariate (linear unless changed; categorical for a column
  with few levels);
* ``p_forward`` / ``p_backward``, ``scheduler`` (this process or the local Dask cluster);
* ``start_button`` runs ``nl.scm`` in a background thread; ``table`` fills in live with each
  candidate (dOFV, p, status) as it ends; ``stop_button`` ends the search after the running
  candidates; ``adopt_button`` puts the final model's text into the Lab's editor.

Nothing is computed here: the search is ``nl.scm``'s, the check of the adopted text the editor's.
"""

from __future__ import annotations

import html
import threading

import ipywidgets as w
import numpy as np

from nlme_lab.covariates import FORMS, covariate_relations
from nlme_lab.model import ast
from nlme_lab.model.parser import parse

MODEL_TAB = 1  # the Lab's "Model & parameters" tab
CATEGORICAL_LEVELS = 5  # a column with at most this many levels is offered as categorical first

CSS = """<style>
.nlme-covariates table { border-collapse: collapse; font-size: 12px; }
.nlme-covariates td, .nlme-covariates th { padding: 2px 8px; text-align: right; border-bottom: 1px solid #ddd; }
.nlme-covariates tr[data-chosen="true"] { background: #e3f2e1; font-weight: bold; }
.nlme-covariates .nlme-covariates-message { font-size: 12px; }
.nlme-covariates .nlme-covariates-message[data-kind="error"] { color: #c62828; }
</style>"""


def make_covariates_tab(lab) -> CovariatesTab:
    """The Lab's tool-tab factory (``TOOL_TABS``)."""
    return CovariatesTab(lab)


def random_effect_variables(model) -> list[str]:
    """The model variables whose assignment carries a random effect (``cl``, ``v``), in order,
    without the covariate factors ``cov_*``."""
    etas = {e.name for e in model.etas}
    out = []
    for stmt in parse(model.text).model:
        if isinstance(stmt, ast.Assign) and not stmt.name.startswith("cov_"):
            if any(n.id in etas for n in ast.names_in(stmt.value)):
                out.append(stmt.name)
    return out


class CovariatesTab(w.VBox):
    """Relations to tick, forms, p-values, Start/Stop, the live candidate table and Adopt."""

    def __init__(self, lab):
        self.lab = lab
        self.result = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        data = lab.dataset
        self.parameters = random_effect_variables(lab.model)
        self.covariates = list(data.covariate_names)
        present = set(covariate_relations(lab.model))
        self.checks = {}
        for p in self.parameters:
            for c in self.covariates:
                box = w.Checkbox(value=False, description=f"{p}-{c}", indent=False, disabled=f"{p}-{c}" in present,
                                 layout=w.Layout(width="120px"))
                box.add_class(f"nlme-covariates-relation-{p}-{c}")
                self.checks[(p, c)] = box
        self.forms = {}
        for k, c in enumerate(self.covariates):
            levels = np.unique(np.asarray(data.covariates[:, k], float))
            default = "categorical" if 1 < levels.size <= CATEGORICAL_LEVELS else "linear"
            self.forms[c] = w.Dropdown(options=list(FORMS), value=default, description=c,
                                       style={"description_width": "60px"}, layout=w.Layout(width="230px"))
        self.p_forward = w.BoundedFloatText(value=0.05, min=1e-12, max=0.999, step=0.01, description="forward p",
                                            style={"description_width": "80px"}, layout=w.Layout(width="180px"))
        self.p_backward = w.BoundedFloatText(value=0.001, min=1e-12, max=0.999, step=0.001, description="backward p",
                                             style={"description_width": "80px"}, layout=w.Layout(width="180px"))
        self.scheduler = w.Dropdown(options=[("this process", "serial"), ("local Dask cluster", None)],
                                    value="serial", description="run on", style={"description_width": "60px"},
                                    layout=w.Layout(width="230px"))
        self.start_button = w.Button(description="Start search", icon="play", button_style="primary",
                                     layout=w.Layout(width="130px"))
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True, layout=w.Layout(width="80px"))
        self.adopt_button = w.Button(description="Adopt final model", icon="arrow-right", disabled=True,
                                     tooltip="Put the final model's text into the model editor",
                                     layout=w.Layout(width="170px"))
        self.status = w.HTML()
        self.table = w.HTML()
        self.code = w.HTML()  # the nl.scm call that reproduces the last search
        self._export: tuple[str, str] | None = None  # (base model text, the nl.scm call) of the last search
        for widget, name in ((self.start_button, "start"), (self.stop_button, "stop"), (self.adopt_button, "adopt"),
                             (self.status, "status"), (self.table, "table"), (self.code, "code")):
            widget.add_class(f"nlme-covariates-{name}")
        self.start_button.on_click(lambda _b: self.start())
        self.stop_button.on_click(lambda _b: self.stop())
        self.adopt_button.on_click(lambda _b: self.adopt())
        grid = w.GridBox(list(self.checks.values()),
                         layout=w.Layout(grid_template_columns=f"repeat({max(len(self.covariates), 1)}, 130px)"))
        left = w.VBox([w.HTML("<b>Relations</b> (model variable - covariate)"), grid,
                       w.HTML("<b>Forms</b>"), *self.forms.values()], layout=w.Layout(flex="0 0 auto"))
        right = w.VBox([self.p_forward, self.p_backward, self.scheduler,
                        w.HBox([self.start_button, self.stop_button, self.adopt_button]), self.status],
                       layout=w.Layout(flex="0 0 auto", margin="0 0 0 16px"))
        super().__init__([w.HTML(CSS), w.HBox([left, right], layout=w.Layout(flex_flow="row wrap")),
                          w.HTML("<b>Candidates</b>"), self.table, self.code])
        self.add_class("nlme-covariates")
        self._say("Tick relations, then Start search.")

    # ------------------------------------------------------------------ the search
    def relations(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for (p, c), box in self.checks.items():
            if box.value:
                out.setdefault(p, []).append(c)
        return out

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, wait: bool = False) -> None:
        """Run ``nl.scm`` on the Lab's working model in a background thread (``wait``: join it)."""
        if self.running:
            return
        relations = self.relations()
        if not relations:
            self._say("Tick at least one relation.", "error")
            return
        covs = {c for cs in relations.values() for c in cs}
        forms = {c: self.forms[c].value for c in covs}
        self._stop = threading.Event()
        self.result = None
        self.adopt_button.disabled = True
        self.start_button.disabled, self.stop_button.disabled = True, False
        self.table.value = ""
        self._say("Fitting the base model and the first candidates…")
        args = (self.lab.model, self.lab.dataset, relations, forms)
        self._thread = threading.Thread(target=self._run, args=args, daemon=True, name="nlme-scm")
        self._thread.start()
        if wait:
            self.wait()

    def _run(self, model, data, relations, forms) -> None:
        from nlme_lab.covariates import scm

        try:
            result = scm(model, data, relations, forms=forms, p_forward=float(self.p_forward.value),
                         p_backward=float(self.p_backward.value), method=self._method(), scheduler=self.scheduler.value,
                         on_step=self._show, stop=self._stop, on_fit=self._to_history)
        except Exception as err:  # shown in the tab, not lost in a thread
            self._say(f"✗ {err}", "error")
        else:
            self.result = result
            self._show(result.steps)
            if not result.stopped:
                label = f"SCM final: {', '.join(result.final_relations) or 'no covariate'}"
                self.lab.history.add(result.final_fit, label=label)
                self.lab.history_view.refresh()
                self.code.value = f"<pre>{html.escape(self.search_code(relations, forms))}</pre>"
                self._export = (model.text, self.search_code(relations, forms, model_name="scm_base"))
            if result.stopped:
                self._say(f"Stopped after {len(result.steps)} candidates; Start again to search anew.", "error")
            else:
                self.adopt_button.disabled = False
                self._say(f"Done in {result.elapsed_s:.1f} s: final relations "
                          f"{', '.join(result.final_relations) or 'none'}; OFV {result.base_ofv:.3f} → "
                          f"{result.final_fit.ofv:.3f}.")
        finally:
            self.start_button.disabled, self.stop_button.disabled = False, True

    def _to_history(self, label: str, fit) -> None:
        """Every fit of the search lands in the Lab's run History as its step's table completes
        (``nl.scm``'s ``on_fit``): the base model, then each candidate, labelled
        ``"scm step 2: +cl-WT (linear)"``."""
        self.lab.history.add(fit, label=label)
        self.lab.history_view.refresh()

    def search_code(self, relations, forms, model_name: str = "model") -> str:
        """The code of the search just run (the Lab's data path; the model as the Lab's)."""
        p_f, p_b = float(self.p_forward.value), float(self.p_backward.value)
        return (f"search = nl.scm({model_name}, data, {relations!r}, forms={forms!r},\n"
                f"                p_forward={p_f!r}, p_backward={p_b!r}, method={self._method()!r}"
                + (f", scheduler={self.scheduler.value!r})" if self.scheduler.value is not None else ")"))

    def to_cells(self) -> list[str]:
        """The Lab's export: the last finished search, from the model it started from (written out:
        the Lab's working model may since be the adopted final one); none before a search."""
        if self._export is None:
            return []
        text, code = self._export
        return [f"scm_base = nl.Model({text!r})\n{code}\nsearch.steps"]

    def _method(self) -> str:
        panel = getattr(self.lab, "fit_panel", None)
        method = getattr(getattr(panel, "method", None), "value", None)
        return method if method in ("fo", "foce", "focei", "laplace") else "focei"

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """End the search after the candidates now running."""
        if self.running:
            self._stop.set()
            self._say("Stopping after the running candidates…")

    def adopt(self) -> None:
        """Put the final model's text into the Lab's editor and show it."""
        if self.result is None or self.result.stopped:
            return
        editor = self.lab.editor
        editor.value = self.result.final_model.text
        self.lab.tabs.selected_index = MODEL_TAB
        self._say(f"Final model in the editor: {editor.status}")

    # ------------------------------------------------------------------ display
    def _show(self, steps) -> None:
        head = "".join(f"<th>{h}</th>" for h in ("step", "direction", "relation", "form", "df", "OFV", "dOFV", "p",
                                                 "status"))
        rows = []
        for r in steps.itertuples():
            cells = (r.step, r.direction, r.relation, r.form, r.df or "", _f(r.ofv, 3), _f(r.dofv, 3),
                     _f(r.p_value, 3, "g"), r.status)
            rows.append(f"<tr data-chosen='{str(bool(r.chosen)).lower()}'>"
                        + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
        self.table.value = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if self.running and len(steps):
            last = steps.iloc[-1]
            self._say(f"Step {last['step']}: {len(steps)} candidates fitted so far…")

    def _say(self, text: str, kind: str = "info") -> None:
        self.status.value = (f"<div class='nlme-covariates-message' data-kind='{kind}'>{html.escape(text)}</div>")


def _f(x, digits: int, kind: str = "f") -> str:
    x = float(x)
    if np.isnan(x):
        return ""
    return f"{x:.{digits}{kind}}" if kind == "f" else f"{x:.{digits}g}"
