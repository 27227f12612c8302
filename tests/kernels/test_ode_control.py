"""The step-size control both ODE methods share (ode_common.StepControl, plan_step,
judge_step) against its documented rules, written out by hand."""

from __future__ import annotations

import math

import pytest

from nlme_lab.kernels.ode_common import (
    FAC_MIN,
    NONFINITE_CUT,
    ODE_MAX_STEPS,
    ODE_NONFINITE,
    ODE_OK,
    ODE_STEP_UNDERFLOW,
    SAFETY,
    TAKE_STEP,
    StepControl,
    judge_step,
    plan_step,
    retry_control,
    start_control,
)


def test_plan_step_cuts_the_last_step_and_ends_runs():
    ctl = start_control(0.3)
    assert tuple(ctl) == (0.3, 0.3, False, False)
    assert plan_step(ctl, 0.0, 1.0, 1.0, 0, 10) == (TAKE_STEP, 0.3, False)
    assert plan_step(ctl, 0.8, 1.0, 1.0, 0, 10) == (TAKE_STEP, 1.0 - 0.8, True)
    assert plan_step(start_control(-0.3), 1.0, 0.9, -1.0, 0, 10) == (TAKE_STEP, 0.9 - 1.0, True)
    assert plan_step(ctl, 1.0, 1.0, 1.0, 0, 10)[0] == ODE_OK
    assert plan_step(ctl, 0.0, 1.0, 1.0, 10, 10)[0] == ODE_MAX_STEPS
    tiny = StepControl(1e-20, 0.1, True, False)
    assert plan_step(tiny, 5.0, 6.0, 1.0, 0, 10)[0] == ODE_STEP_UNDERFLOW
    assert plan_step(tiny._replace(last_nonfinite=True), 5.0, 6.0, 1.0, 0, 10)[0] == ODE_NONFINITE


@pytest.mark.parametrize("expo, fac_max", [(0.2, 10.0), (0.25, 6.0)])
def test_judge_step_follows_the_controller_formula(expo, fac_max):
    ctl = StepControl(0.5, 0.4, False, False)
    for err in (1e-14, 1e-6, 0.3, 1.0):
        ok, nxt, fac = judge_step(ctl, 0.5, False, err, True, expo, fac_max)
        want = min(fac_max, max(FAC_MIN, SAFETY * max(err, 1e-10) ** -expo))
        assert ok and fac == want and nxt.h == 0.5 * want
        assert (nxt.h_last, nxt.after_reject, nxt.last_nonfinite) == (0.5, False, False)
    # right after a rejection the step does not grow
    ok, nxt, fac = judge_step(ctl._replace(after_reject=True), 0.5, False, 1e-6, True, expo, fac_max)
    assert ok and fac == 1.0 and nxt.h == 0.5
    # a last step cut short hands the planned step on
    ok, nxt, _ = judge_step(ctl, 0.01, True, 0.9, True, expo, fac_max)
    assert ok and nxt.h == 0.5
    # rejected: error too large, or not finite
    ok, nxt, _ = judge_step(ctl, 0.5, False, 30.0, True, expo, fac_max)
    assert not ok and nxt.h == 0.5 * max(FAC_MIN, SAFETY * 30.0 ** -expo)
    assert (nxt.h_last, nxt.after_reject, nxt.last_nonfinite) == (0.4, True, False)
    ok, nxt, _ = judge_step(ctl, 0.5, False, math.nan, False, expo, fac_max)
    assert not ok and nxt.h == 0.5 * NONFINITE_CUT and nxt.after_reject and nxt.last_nonfinite


def test_retry_control_changes_only_the_step():
    ctl = StepControl(0.5, 0.4, True, False)
    assert tuple(retry_control(ctl, 0.125)) == (0.125, 0.4, True, False)
