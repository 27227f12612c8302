"""The outer problem: a quasi-Newton (BFGS) minimization of the OFV over the unconstrained
parameters, written for this objective.

* Initial Hessian: half the sum over subjects of the outer products of the per-subject
  gradients (BHHH; for an OFV = -2 log L this estimates the Hessian, so the first step is
  already scaled), with a small ridge. The same matrix restarts BFGS when its direction is
  not a descent direction or the line search fails.
* Line search: backtracking on values only (an Armijo decrease; quadratic interpolation), so
  a rejected trial point costs an inner solve, never a gradient; the gradient is computed at
  the accepted point only. The step is capped (``OuterOptions.max_step`` in unconstrained units).
* Convergence, in OFV units whatever the size of the problem: the predicted decrease
  g' B^-1 g / 2 below ``OuterOptions.ofv_tolerance`` (plus ``relative_tolerance`` |OFV| for
  rounding in very large objectives), with the last step's actual decrease below ten times
  that. OFV differences have the same statistical meaning for 10 or 10 000 subjects (a
  parameter off by sqrt(2 tol) standard errors), so the criterion does not tighten with size
  as an absolute gradient tolerance does.
* No acceptable step: converged when the predicted decrease is within 100 tolerances,
  otherwise rounding errors (NONMEM's wording).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.estimation.methods import OuterOptions
from nlme_lab.estimation.objective import GradientResult, Objective
from nlme_lab.estimation.results import Termination

ARMIJO = 1e-4
MAX_BACKTRACKS = 30


@dataclass
class Point:
    v: np.ndarray
    g: GradientResult

    @property
    def ofv(self) -> float:
        return self.g.ofv


def bhhh(per_subject: np.ndarray) -> np.ndarray:
    """Half the outer-product sum of per-subject gradients, ridged to be positive definite."""
    B = 0.5 * per_subject.T @ per_subject
    d = np.diag(B).copy()
    scale = max(float(np.max(d)) if d.size else 1.0, 1e-8)
    d = np.maximum(d, 1e-6 * scale)
    return B + np.diag(1e-4 * d + 1e-10 * scale)


def _inverse(B: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.inv(B)
    except np.linalg.LinAlgError:
        return np.diag(1.0 / np.maximum(np.diag(B), 1e-12))


class QuasiNewton:
    """``run(v0)`` minimizes ``obj``; ``on_iteration(iteration, point)`` is called after every
    accepted step; ``check_stop()`` may raise to end the run."""

    def __init__(self, obj: Objective, options: OuterOptions, on_iteration, check_stop):
        self.obj, self.opts = obj, options
        self.on_iteration, self.check_stop = on_iteration, check_stop
        self.point: Point | None = None

    def tolerance(self, ofv: float) -> float:
        return max(self.opts.ofv_tolerance, self.opts.relative_tolerance * abs(ofv))

    def run(self, v0: np.ndarray) -> tuple[Termination, str]:
        g0 = self.obj.value_and_gradient(v0)
        if not (np.isfinite(g0.ofv) and np.all(np.isfinite(g0.gradient))):
            return Termination.FAILED, "the objective is not finite at the initial estimates"
        self.point = Point(np.array(v0, dtype=float), g0)
        self.on_iteration(0, self.point)
        Hinv = _inverse(bhhh(g0.per_subject))
        last_decrease = np.inf
        for it in range(1, self.opts.max_iterations + 1):
            pt = self.point
            d = -Hinv @ pt.g.gradient
            if not pt.g.gradient @ d < 0:
                Hinv = _inverse(bhhh(pt.g.per_subject))
                d = -Hinv @ pt.g.gradient
            predicted = -0.5 * float(pt.g.gradient @ d)
            tol = self.tolerance(pt.ofv)
            if predicted < tol and last_decrease < 10 * tol:
                return Termination.CONVERGED, f"converged after {it - 1} iterations"
            new = self._line_search(pt, d)
            if new is None and not np.allclose(Hinv, _inverse(bhhh(pt.g.per_subject))):
                Hinv = _inverse(bhhh(pt.g.per_subject))  # restart from the BHHH matrix once
                new = self._line_search(pt, -Hinv @ pt.g.gradient)
            if new is None:
                if predicted < 100 * tol:
                    return Termination.CONVERGED, (f"converged after {it - 1} iterations (no further decrease; "
                                                   f"predicted decrease {predicted:.2g})")
                return Termination.ROUNDING_ERRORS, (
                    f"the line search could not decrease the objective further (predicted decrease "
                    f"{predicted:.3g}, largest gradient component {np.max(np.abs(pt.g.gradient)):.3g})")
            last_decrease = pt.ofv - new.ofv
            Hinv = _bfgs_update(Hinv, new.v - pt.v, new.g.gradient - pt.g.gradient)
            self.point = new
            self.on_iteration(it, new)
        return Termination.MAX_ITERATIONS, f"no convergence in {self.opts.max_iterations} iterations"

    def _line_search(self, pt: Point, d: np.ndarray) -> Point | None:
        big = float(np.max(np.abs(d))) if d.size else 0.0
        if big > self.opts.max_step:
            d = d * (self.opts.max_step / big)
            big = self.opts.max_step
        slope = float(pt.g.gradient @ d)
        if not slope < 0:
            return None
        noise = 1e-12 * max(abs(pt.ofv), 1.0)
        t = 1.0
        for _ in range(MAX_BACKTRACKS):
            self.check_stop()
            v = pt.v + t * d
            f = self.obj.value(v)
            if np.isfinite(f) and f <= pt.ofv + ARMIJO * t * slope + noise:
                g = self.obj.gradient(v, f)
                if np.all(np.isfinite(g.gradient)):
                    return Point(v, g)
                f = np.inf
            if np.isfinite(f):
                t_q = -slope * t * t / (2.0 * (f - pt.ofv - slope * t))
                t = float(np.clip(t_q, 0.1 * t, 0.5 * t))
            else:
                t *= 0.1
            if t * big < 1e-14 * max(1.0, float(np.max(np.abs(pt.v)))):
                break
        return None


def _bfgs_update(Hinv: np.ndarray, s: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Inverse BFGS update; skipped when the curvature s'y is not clearly positive."""
    sy = float(s @ y)
    if not sy > 1e-10 * np.linalg.norm(s) * np.linalg.norm(y):
        return Hinv
    rho = 1.0 / sy
    I = np.eye(len(s))
    V = I - rho * np.outer(s, y)
    return V @ Hinv @ V.T + rho * np.outer(s, s)
