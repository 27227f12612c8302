"""The fit panel says what happened truthfully (issue 15, items 1 and 9): warnings once, a fit
that ended early shows its estimates as the best so far, a failure says whether earlier results
exist and shows the last estimates the run reached, and a coming compile is announced at Start
and when Stop is pressed before the first iteration."""

import pytest

pytest.importorskip("anywidget")
pytest.importorskip("jupyter_bokeh")

from tests.estimation.problems import Theophylline  # noqa: E402
from tests.estimation.spaces import theo_space  # noqa: E402

from nlme_lab.estimation import (CovarianceKind, FOCEIOptions, IterationEvent, MethodKind, OuterOptions,  # noqa: E402
                                 fit_problem)
from nlme_lab.problem import compiling  # noqa: E402
from nlme_lab.widgets.fit_panel import FitPanel, FitStatus  # noqa: E402

NAMES = ["tka", "tcl", "tv"]


@pytest.fixture(scope="module")
def short_fit():
    """Two iterations from tka = 0: 'maximum number of iterations reached', with its warning."""
    opts = FOCEIOptions(outer=OuterOptions(max_iterations=2), covariance=CovarianceKind.NONE)
    return fit_problem(Theophylline(), theo_space(tka=0.0), "focei", opts)


def test_warnings_are_shown_once_and_an_early_end_is_named(short_fit):
    panel = FitPanel(NAMES)
    panel.show_result(short_fit)
    assert short_fit.warnings
    for warning in short_fit.warnings:
        assert panel.results.value.count(warning) == 1
    status = panel.status.value
    assert "maximum number of iterations reached after 2 iteration(s)" in status
    assert "the estimates are the best so far" in status and panel.status_kind is FitStatus.DONE


def test_a_failure_says_whether_there_are_earlier_results_and_keeps_the_last_estimates(short_fit):
    panel = FitPanel(NAMES)
    panel.add_iteration(IterationEvent(7, 1470.25, {"tka": 0.25, "tcl": 1.5, "tv": 3.1}, 0.1, 9, 2.0,
                                       MethodKind.FOCEI))
    panel.show_error("ZeroDivisionError: division by zero")
    status = panel.status.value
    assert "the fit failed: ZeroDivisionError: division by zero; there are no previous results" in status
    assert "previous results are kept" not in status
    assert "the last estimates it reached (iteration 7, OFV 1470.2500)" in status and "<td>tcl</td><td>1.5</td>" in status
    panel.show_result(short_fit)
    panel.reset_trace()
    panel.show_error("no such method")
    assert "the previous results are kept" in panel.status.value and "last estimates" not in panel.status.value


def test_start_and_stop_say_that_the_engine_is_compiling(monkeypatch):
    monkeypatch.setattr(compiling, "pending", lambda method=None, ode=False: (compiling.SAMPLER,))
    panel = FitPanel(NAMES)
    panel.starting("saem")
    assert "starting saem…" in panel.status.value
    assert "compiling the SAEM sampler (first use on this machine, about" in panel.status.value
    panel.show_stopping()  # before any iteration: the compile cannot be interrupted
    assert "stopping…" in panel.status.value and "the fit stops as soon as the compile ends" in panel.status.value
    panel.add_iteration(IterationEvent(1, -12.0, {"tka": 0.4}, float("nan"), 1, 21.0, MethodKind.SAEM))
    panel.flush()
    assert "iteration 1" in panel.status.value and "stopping…" in panel.status.value  # the stop stays acknowledged
    monkeypatch.setattr(compiling, "pending", lambda method=None, ode=False: ())
    panel.reset_trace()
    panel.starting("focei")
    panel.show_stopping()
    assert panel.status.value == "<i>stopping…</i>"


@pytest.mark.slow
def test_the_lab_fits_warfarin_pkpd_past_the_engine_failure():
    """The Lab's FOCEI on warfarin PK/PD lost its 20 iterations to a ZeroDivisionError and said
    'the previous results are kept' with none; 25 iterations go past that point."""
    import nlme_lab as nl
    from tests.conftest import DATA, MODELS

    lab = nl.Lab(data=DATA / "warfarin.csv", model=MODELS / "warfarin_pkpd.nlm")
    fit = lab.fit("focei", seed=1, options="outer.max_iterations=25")
    assert fit is not None, lab.fit_error
    assert fit.termination.value == "maximum number of iterations reached" and len(fit.history) == 26
    assert fit.ofv < 1470 and lab.last_fit is fit
    status = lab.fit_panel.status.value
    assert "after 25 iteration(s)" in status and "the estimates are the best so far" in status
    assert "failed" not in status
