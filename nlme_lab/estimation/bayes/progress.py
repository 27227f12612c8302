"""The live trace of a NUTS run: an ``IterationEvent`` each time the sampler's trace is read.

``run._sample`` reads the trace every ``run.PROGRESS_S`` seconds while the chains run (nutpie's
non-blocking sampler, ``inspect()``), and once more at the end. Each reading becomes one
event (and one ``HistoryEntry``) over ``trace.live_window``: the kept draws so far, or, while
every chain is still tuning, the later half of the tuning draws. In an event:

* ``iteration``: draws recorded so far, summed over the chains, tuning included (the run ends
  at ``chains * (tune + draws)``);
* ``ofv``: the mean over the window of each draw's complete-data -2 log-likelihood
  ``-2 log p(y, eta | theta, Omega, sd)`` (no constants), the value SAEM's trace shows, hence
  ``objective=ObjectiveKind.COMPLETE_DATA``. It is not the marginal -2LL of FOCEI or of the
  final importance sampling (the etas are not integrated out: on theo_sd it sits near -9
  where the final OFV is ~117); it settles as the chains reach the posterior, which is what a
  trace should show;
* ``estimates``: posterior medians over the window by reported name (fixed parameters at their
  values), the numbers the result will report when the run ends;
* ``gradient_norm``: nan (a sampler has none); ``n_evaluations``: log-density calls so far.

The history therefore depends on timing (how many readings there were). Its last entry is
the final reading: for a run that ran to the end, the result's medians; a stopped run's result
may leave out draws of faster chains (``trace.kept_draws``).
"""

from __future__ import annotations

import time

import numpy as np

from nlme_lab.estimation.bayes.trace import live_window
from nlme_lab.estimation.methods import MethodKind
from nlme_lab.estimation.results import HistoryEntry, IterationEvent, ObjectiveKind


class LiveTrace:
    """Turns trace readings into events for ``callback`` (may be None) and the history."""

    def __init__(self, post, callback, t0: float):
        self.post, self.callback, self.t0 = post, callback, t0
        space = post.space
        self.names = space.reported_names()
        self.free = ~space.reported_fixed()
        self.values = space.reported_initial()
        self.history: list[HistoryEntry] = []
        self.seconds = 0.0  # spent here (reading the trace is not free: the sampler's threads wait for the GIL)
        self._last = -1

    def __call__(self, trace) -> None:
        t = time.perf_counter()
        try:
            window = live_window(trace)
            if window.n_done <= self._last or window.complete.size == 0:
                return
            self._last = window.n_done
            entry = self._entry(window)
        finally:
            self.seconds += time.perf_counter() - t
        self.history.append(entry)
        if self.callback is not None:
            self.callback(IterationEvent(entry.iteration, entry.ofv, entry.estimates, float("nan"),
                                         self.post.n_evaluations, time.perf_counter() - self.t0, MethodKind.NUTS,
                                         ObjectiveKind.COMPLETE_DATA))

    def _entry(self, window) -> HistoryEntry:
        values = self.values.copy()
        values[self.free] = np.median(window.parameters, axis=0)
        ofv = float(np.mean(window.complete))
        return HistoryEntry(window.n_done, ofv, dict(zip(self.names, map(float, values))))
