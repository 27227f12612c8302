"""A fit's progress on stderr (stdout keeps only the results, so ``--json`` and pipes stay clean).

On a terminal one line is rewritten in place per iteration. Elsewhere (a log file, CI, a pipe)
a plain line is written for the first iteration and then at most every ``PLAIN_EVERY_S``
seconds, and the last iteration's line at the end, so a log shows the run without thousands of
lines. Between iterations a heartbeat thread writes how long the run has been working after
``HEARTBEAT_S`` seconds without news (compiling, the first point of a large model, the
covariance step), then every tenth of the time so far (at most ``HEARTBEAT_MAX_S``), so a long
fit is never silent and a long compile does not flood a log.
"""

from __future__ import annotations

import math
import threading
import time

PLAIN_EVERY_S = 2.0
HEARTBEAT_S = 5.0  # the first heartbeat; later ones every tenth of the time so far, at most
HEARTBEAT_MAX_S = 30.0


def event_line(event) -> str:
    """``FOCEI iteration  12  OFV 123.4567  gradient 1.2e-03  3.4 s``; a sampler's complete-data
    trace is named as such, and a missing gradient left out."""
    from nlme_lab.estimation.results import ObjectiveKind

    label = "OFV" if getattr(event, "objective", ObjectiveKind.OFV) is ObjectiveKind.OFV else "-2LL(complete data)"
    line = f"{event.method.value.upper()} iteration {event.iteration:3d}  {label} {event.ofv:.4f}  "
    if math.isfinite(event.gradient_norm):
        line += f"gradient {event.gradient_norm:.2e}  "
    return line + f"{event.elapsed_s:.1f} s "


class Progress:
    """The fit's ``callback``: see the module docstring. ``rewrite``: one line rewritten in place
    (a terminal). ``heartbeat``: start the thread that reports silence (``close()`` ends it).
    ``clock``: seconds, for the intervals."""

    def __init__(self, stream, rewrite: bool = True, heartbeat: bool = False, clock=time.monotonic):
        self.stream, self.rewrite, self.clock = stream, rewrite, clock
        self.used = False
        self._lock = threading.Lock()
        self._t0 = self._written_at = clock()
        self._last_event, self._last_shown, self._n_events = None, True, 0
        self._done = threading.Event()
        self._thread = None
        if heartbeat:
            self._thread = threading.Thread(target=self._beat, daemon=True, name="nlme_lab-progress")
            self._thread.start()

    def __call__(self, event) -> None:
        with self._lock:
            self._last_event = event
            now = self.clock()
            if self.rewrite or self._n_events == 0 or now - self._written_at >= PLAIN_EVERY_S:
                self._write(event_line(event))
                self._last_shown = True
            else:
                self._last_shown = False
            self.used = True
            self._n_events += 1

    def note(self, text: str) -> None:
        """A line of its own (e.g. that the engine is compiling)."""
        with self._lock:
            if self.rewrite and self.used:
                self.stream.write("\n")
            self.stream.write(text + "\n")
            self.stream.flush()
            self._written_at = self.clock()
            self.used = self.used and not self.rewrite

    def _write(self, line: str) -> None:
        self.stream.write(f"\r{line}\033[K" if self.rewrite else line.rstrip() + "\n")
        self.stream.flush()
        self._written_at = self.clock()

    def _beat(self) -> None:
        while not self._done.wait(0.5):
            with self._lock:
                now = self.clock()
                if now - self._written_at < min(HEARTBEAT_MAX_S, max(HEARTBEAT_S, 0.1 * (now - self._t0))):
                    continue
                event, working = self._last_event, f"still working, {now - self._t0:.0f} s"
                if event is None:
                    self._write(f"... {working} (no iteration yet)")
                elif self.rewrite:  # keep the last iteration's numbers on the line
                    self._write(f"{event_line(event)}({working})")
                else:
                    self._write(f"... {working} (last: {event.method.value.upper()} iteration {event.iteration})")
                self.used = True

    def close(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if not self.rewrite and not self._last_shown and self._last_event is not None:
                self._write(event_line(self._last_event))
            elif self.rewrite and self.used:
                self.stream.write("\n")
                self.stream.flush()
