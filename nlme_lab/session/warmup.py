"""Compile ahead of time: the engine, the bundled models and the estimation kernels, timed.

``nlme-lab warmup`` (and Binder's ``postBuild``) call ``warmup()`` once per machine or image so
that a user's first ``simulate`` or ``fit`` loads compiled code from numba's on-disk caches (the
engine beside its sources, models under ``~/.cache/nlme_lab``) instead of compiling it for one to
two minutes. It lives in ``session`` because it drives simulation and estimation alike (the
lowest layer that sees both is above them), and the CLI and the Lab can both call it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from nlme_lab.errors import NlmeError

# bundled model -> the bundled dataset it describes
BUNDLED_MODELS: dict[str, str] = {
    "theo_sd.nlm": "theo_sd.csv",
    "warfarin_pk.nlm": "warfarin_pk.csv",
    "warfarin_pkpd.nlm": "warfarin.csv",
    "pheno.nlm": "pheno.csv",
    "wang2007_prop.nlm": "wang2007.csv",
    "wang2007_add.nlm": "wang2007.csv",
}


@dataclass(frozen=True)
class WarmupStep:
    """One thing compiled (or loaded from the caches) and how long it took."""

    name: str
    seconds: float


@dataclass(frozen=True)
class WarmupReport:
    steps: tuple[WarmupStep, ...]

    @property
    def total_seconds(self) -> float:
        return sum(step.seconds for step in self.steps)

    def to_dict(self) -> dict:
        return {"steps": [{"name": s.name, "seconds": s.seconds} for s in self.steps],
                "total_seconds": self.total_seconds}


def warmup(models: tuple[str, ...] | None = None, *, estimation: bool = True, saem: bool = True,
           on_step: Callable[[WarmupStep], object] | None = None) -> WarmupReport:
    """Compile the engine, each bundled model (``models``: names of ``BUNDLED_MODELS``, default
    all) with its simulation, then the FOCE-family and SAEM kernels by two tiny fits of the
    theophylline example. ``on_step(step)`` is called as each step ends (the CLI prints it)."""
    import nlme_lab as nl
    from nlme_lab.estimation.methods import SAEMOptions
    from nlme_lab.problem.compiling import warm_engine

    names = tuple(BUNDLED_MODELS) if models is None else tuple(models)
    unknown = [name for name in names if name not in BUNDLED_MODELS]
    if unknown:
        raise NlmeError(f"unknown bundled model(s) {', '.join(unknown)}; known: {', '.join(BUNDLED_MODELS)}")
    steps: list[WarmupStep] = []

    def timed(name: str, work: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        work()
        step = WarmupStep(name, time.perf_counter() - t0)
        steps.append(step)
        if on_step is not None:
            on_step(step)

    timed("engine", warm_engine)
    for model_name in names:
        def compile_model(model_name=model_name):
            model = nl.Model.from_file(nl.example_path(model_name))
            model.compiled.compile_all()
            nl.simulate(model, nl.read_nonmem(nl.example_path(BUNDLED_MODELS[model_name])), n=1, seed=1)

        timed(f"model {model_name} and its simulation", compile_model)
    if estimation or saem:
        model = nl.Model.from_file(nl.example_path("theo_sd.nlm"))
        data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
        if estimation:
            timed("FOCE-family estimation (FOCEI, covariance step)", lambda: nl.fit(model, data, "focei"))
        if saem:
            options = SAEMOptions(n_burn=2, n_em=2, n_anneal=1, is_samples=10)
            timed("SAEM (sampler, importance sampling, Fisher information)",
                  lambda: nl.fit(model, data, "saem", options=options))
    return WarmupReport(tuple(steps))
