"""Estimation methods: a registry of kinds with frozen, typed options.

Every method is a Laplace-type approximation of the marginal likelihood around the individual
mode eta-hat of ``L(eta) = sum_j l_j(eta) + eta' Omega^-1 eta``; they differ in the prediction,
the residual variance basis and the curvature (``A``, half the Hessian of L):

============  ======================  ==================  ===========================================
method        prediction f(eta)       variance basis      A
============  ======================  ==================  ===========================================
fo            f(0) + G(0) eta         f(0)                Omega^-1 + sum g g'/V (exact: linear model)
foce          f(eta)                  f(0)                Omega^-1 + sum g g'/V  (no interaction)
focei         f(eta)                  f(eta)              Omega^-1 + sum g g'/V + 1/2 dV dV'/V^2
laplace       f(eta)                  f(eta)              half the exact Hessian of L at eta-hat
============  ======================  ==================  ===========================================

OFV_i = L(eta-hat_i) + log det Omega + log det A_i; for uncensored data fo and foce equal
NONMEM's ``log det C + r' C^-1 r`` forms (matrix determinant lemma and Woodbury at the mode).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.option_limits import Checked, InstanceOf, IntTuple, Limit, OptionsError


class MethodKind(enum.Enum):
    FO = "fo"
    FOCE = "foce"
    FOCEI = "focei"
    LAPLACE = "laplace"
    SAEM = "saem"
    NUTS = "nuts"


class CovarianceKind(enum.Enum):
    SANDWICH = "r,s"  # R^-1 S R^-1 (NONMEM default)
    R = "r"  # 2 R^-1
    S = "s"  # 4 S^-1
    FIM = "fim"  # inverse of the linearized model's expected information (``estimation.linearized_fim``)
    NONE = "none"


_STEP = Limit(low=0, high=1, open_low=True, open_high=True, meaning="a finite-difference step")
_COUNT = Limit(integer=True, low=0)
_POSITIVE = Limit(low=0, open_low=True)


@dataclass(frozen=True)
class OuterOptions(Checked):
    """The outer quasi-Newton (BFGS on unconstrained parameters, see ``estimation.outer``)."""

    LIMITS = {"max_iterations": _COUNT, "ofv_tolerance": _POSITIVE,
              "relative_tolerance": Limit(low=0, high=1, open_high=True), "max_step": _POSITIVE,
              "param_step": _STEP, "eta_step": _STEP}

    max_iterations: int = 500
    ofv_tolerance: float = 1e-7  # converged when the predicted OFV decrease is below this
    relative_tolerance: float = 1e-12  # ... or below this times |OFV| (rounding of large objectives)
    max_step: float = 0.5  # largest change of an unconstrained parameter in one step (a log-scale
    # theta or log sqrt(omega): a factor e^0.5 / e); larger first steps let BHHH collapse an omega
    param_step: float = 1e-5  # relative central-difference step at fixed eta-hat
    eta_step: float = 1e-4  # central-difference step in eta (Hessian of L, d log det A / d eta)


@dataclass(frozen=True)
class InnerOptions(Checked):
    """The individual (eta-hat) problem: damped Newton, batched over subjects."""

    LIMITS = {"max_iterations": Limit(integer=True, low=1, meaning="Newton steps per subject"),
              "step_tolerance": _POSITIVE, "switch": Limit(low=0), "hessian_step": _STEP,
              "max_halvings": Limit(integer=True, low=1)}

    max_iterations: int = 100
    step_tolerance: float = 1e-9  # largest |eta step| at which a subject is done
    switch: float = 1e-6  # Newton decrement below which the exact eta-Hessian is used
    hessian_step: float = 1e-4  # central-difference step for the exact eta-Hessian
    max_halvings: int = 40


@dataclass(frozen=True)
class MethodOptions(Checked):
    LIMITS = {"outer": InstanceOf((OuterOptions,), "an OuterOptions"),
              "inner": InstanceOf((InnerOptions,), "an InnerOptions"),
              "covariance": InstanceOf((CovarianceKind,), "a CovarianceKind"),
              "covariance_step": Limit(low=0, high=1, open_low=True, open_high=True,
                                       meaning="the relative step of the covariance step's differences")}

    outer: OuterOptions = field(default_factory=OuterOptions)
    inner: InnerOptions = field(default_factory=InnerOptions)
    covariance: CovarianceKind = CovarianceKind.SANDWICH
    covariance_step: float = 1e-3  # relative step for R = d(gradient)/d(parameter)


@dataclass(frozen=True)
class FOOptions(MethodOptions):
    pass


@dataclass(frozen=True)
class FOCEOptions(MethodOptions):
    pass


@dataclass(frozen=True)
class FOCEIOptions(MethodOptions):
    pass


@dataclass(frozen=True)
class LaplaceOptions(MethodOptions):
    LIMITS = {"hessian_step": _STEP}

    hessian_step: float = 1e-4  # central differences of the exact eta-gradient


@dataclass(frozen=True)
class SAEMOptions(MethodOptions):
    """SAEM (``estimation.saem``): ``n_burn`` iterations with step 1 (annealing of the variances
    during the first ``n_anneal``), then ``n_em`` with step 1/k. ``n_chains`` None: enough chains
    for 50 subject-chains. ``n_kernel``: MH passes per iteration of the prior, all-component and
    single-component kernels. ``mu_reference``: eta column -> theta index (-1 none), None = from
    the model (``saem.mu``). ``is_samples``: importance samples per subject for the final OFV
    (0: skip; then ``ofv`` is the linearized one). ``ode_rtol`` / ``ode_atol``: the ODE
    tolerances of the sampling and M-steps (Monolix's defaults; far below the Monte-Carlo noise
    of a step, and about half the integration work of the 1e-8 / 1e-10 the final OFVs and
    Fisher information keep)."""

    LIMITS = {"n_burn": _COUNT, "n_em": _COUNT, "n_anneal": _COUNT, "n_pure_mh": _COUNT,
              "anneal": Limit(low=0, high=1, open_low=True,
                              meaning="the factor by which a variance may shrink per annealing iteration"),
              "n_chains": Limit(integer=True, low=1, optional=True),
              "n_kernel": IntTuple(length=3, positive_sum=True, meaning="MH passes per iteration of the prior, "
                                   "all-component and single-component kernels"),
              "mu_reference": IntTuple(low=-1, optional=True, meaning="a theta index per eta column, -1 for none"),
              "is_samples": _COUNT, "is_df": _POSITIVE,
              "ode_rtol": Limit(low=0, high=1, open_low=True, open_high=True),
              "ode_atol": Limit(low=0, high=1, open_low=True, open_high=True)}

    covariance: CovarianceKind = CovarianceKind.FIM  # Monolix's linearization (see ``linearized_fim``)
    n_burn: int = 200
    n_em: int = 300
    n_anneal: int = 100
    anneal: float = 0.95
    n_pure_mh: int = 5
    n_chains: int | None = None
    n_kernel: tuple[int, int, int] = (2, 2, 2)
    mu_reference: tuple[int, ...] | None = None
    is_samples: int = 2000
    is_df: float = 5.0
    ode_rtol: float = 1e-6
    ode_atol: float = 1e-9


@dataclass(frozen=True)
class NUTSOptions(MethodOptions):
    """NUTS (``estimation.bayes``, sampled by nutpie): ``chains`` chains of ``tune`` adaptation and
    ``draws`` kept draws each; ``cores`` None: min(chains, CPUs). ``priors``: name -> ``Normal`` /
    ``HalfNormal`` / ``LKJ`` (``estimation.bayes.priors``; None: the printed defaults).
    ``jitter``: half-width of the uniform start jitter on the unconstrained scale.
    ``is_samples``: importance samples per subject for ``ofv`` at the posterior medians (0: the
    linearized FOCEI objective there)."""

    LIMITS = {"draws": Limit(integer=True, low=1), "tune": _COUNT, "chains": Limit(integer=True, low=1),
              "cores": Limit(integer=True, low=1, optional=True),
              "target_accept": Limit(low=0, high=1, open_low=True, open_high=True),
              "max_depth": Limit(integer=True, low=1, high=30, meaning="at most 2^max_depth steps per draw"), "jitter": Limit(low=0),
              "is_samples": _COUNT, "is_df": _POSITIVE}

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int | None = None
    target_accept: float = 0.8
    max_depth: int = 10
    priors: dict | None = None
    jitter: float = 0.1
    is_samples: int = 2000
    is_df: float = 5.0

    def check_together(self) -> None:
        if self.priors is None:
            return
        from nlme_lab.estimation.bayes.priors import LKJ, HalfNormal, Normal

        families = (Normal, HalfNormal, LKJ)
        ok = isinstance(self.priors, dict) and all(
            isinstance(k, str) and isinstance(v, families) for k, v in self.priors.items())
        if not ok:
            raise OptionsError("NUTSOptions", "priors", "None or a dict of parameter name -> Normal(...), "
                               "HalfNormal(...) or LKJ(...) (from nlme_lab.estimation.bayes)", self.priors)


@dataclass(frozen=True)
class MethodSpec:
    kind: MethodKind
    options_type: type
    interaction: bool  # residual variance evaluated at f(eta) (else at f(0))
    linearized: bool  # prediction f(0) + G(0) eta
    exact_hessian: bool
    description: str
    supports_censoring: bool = True
    # "module:function" that runs the method: ``runner(problem, space, spec, options, *, callback,
    # stop, seed) -> FitResult`` (see ``estimation.fit.run_laplace_family``). Looked up at call
    # time so a method's module (SAEM, NUTS, ...) loads only when it is used.
    runner: str = "nlme_lab.estimation.fit:run_laplace_family"


METHODS: dict[MethodKind, MethodSpec] = {
    MethodKind.FO: MethodSpec(MethodKind.FO, FOOptions, False, True, False,
                              "first order: linearized in eta around 0"),
    MethodKind.FOCE: MethodSpec(MethodKind.FOCE, FOCEOptions, False, False, False,
                                "first-order conditional estimation, no interaction"),
    MethodKind.FOCEI: MethodSpec(MethodKind.FOCEI, FOCEIOptions, True, False, False,
                                 "first-order conditional estimation with interaction"),
    MethodKind.LAPLACE: MethodSpec(MethodKind.LAPLACE, LaplaceOptions, True, False, True,
                                   "Laplace with the exact Hessian in eta"),
    MethodKind.SAEM: MethodSpec(MethodKind.SAEM, SAEMOptions, True, False, False,
                                "stochastic approximation EM (Metropolis-Hastings E-step)",
                                runner="nlme_lab.estimation.saem.run:run_saem"),
    MethodKind.NUTS: MethodSpec(MethodKind.NUTS, NUTSOptions, True, False, False,
                                "full Bayesian posterior by the No-U-Turn sampler (nutpie)",
                                runner="nlme_lab.estimation.bayes.run:run_nuts"),
}


def load_runner(spec: MethodSpec):
    """The function that runs ``spec``'s method (imported on first use)."""
    import importlib

    module, _, name = spec.runner.partition(":")
    return getattr(importlib.import_module(module), name)


def get_method(method) -> MethodSpec:
    """The registry entry for a method given as ``MethodKind`` or its name."""
    if isinstance(method, MethodKind):
        return METHODS[method]
    try:
        return METHODS[MethodKind(str(method).lower())]
    except ValueError:
        names = ", ".join(k.value for k in MethodKind)
        raise NlmeError(f"unknown estimation method {method!r}; available: {names}") from None


def resolve_options(spec: MethodSpec, options) -> MethodOptions:
    """``options`` checked against the method's own options type (None: its defaults): another
    method's options would be read for fields they do not have, or their fields ignored."""
    if options is None:
        return spec.options_type()
    if not isinstance(options, spec.options_type):
        raise OptionsError(spec.kind.value, "options", f"{spec.options_type.__name__}(...) (from "
                           "nlme_lab.estimation)", options, where=f"the options of method {spec.kind.value!r}")
    return options


def covariance_kind(value) -> CovarianceKind:
    if isinstance(value, CovarianceKind):
        return value
    try:
        return CovarianceKind(str(value).lower().replace(" ", ""))
    except ValueError:
        names = ", ".join(k.value for k in CovarianceKind)
        raise NlmeError(f"unknown covariance kind {value!r}; available: {names}") from None
