"""Priors of the NUTS posterior, and the weakly informative defaults built from ``[ini]``.

Every prior is stated on a named scale and printed (``PriorSet.text()``):

* a theta: ``Normal(mean, sd)`` on its unconstrained scale (the theta itself when unbounded,
  ``log(theta - lower)`` when bounded below, ``logit`` of its position when bounded on both
  sides). Default: centred on the ``[ini]`` value, SD 2 (``2 max(1, |ini|)`` when unbounded);
* a residual SD or an omega SD (``sqrt`` of a variance, by eta name): ``HalfNormal(scale)``.
  Default scale: twice the ``[ini]`` SD;
* the correlations of an omega block (key: the block's first covariance name,
  ``"eta_cl,eta_v"``, or ``"lkj"`` for every block): ``LKJ(eta)``. Default ``LKJ(2)``.

``priors`` given to ``nl.fit`` is a dict from those names to ``Normal`` / ``HalfNormal`` /
``LKJ``; names not given keep their defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.parameters import ParameterSpace
from nlme_lab.model.parameter_names import element_names
from nlme_lab.model.parameter_table import block_matrix


@dataclass(frozen=True)
class Normal:
    mean: float  # on the parameter's reported scale (converted to the unconstrained scale)
    sd: float  # on the unconstrained scale

    def __post_init__(self):
        if not (self.sd > 0 and math.isfinite(self.sd) and math.isfinite(self.mean)):
            raise NlmeError(f"Normal prior: mean must be finite and sd positive, got ({self.mean}, {self.sd})")


@dataclass(frozen=True)
class HalfNormal:
    scale: float

    def __post_init__(self):
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise NlmeError(f"HalfNormal prior: scale must be positive and finite, got {self.scale}")


@dataclass(frozen=True)
class LKJ:
    eta: float = 2.0

    def __post_init__(self):
        if not self.eta > 0:
            raise NlmeError(f"LKJ prior: eta must be positive, got {self.eta}")


@dataclass(frozen=True)
class PriorSet:
    """Resolved priors: per structural theta (Normal on the unconstrained scale: ``mu_u``, ``sd_u``),
    per residual SD and per block's SDs (HalfNormal scales), per block (LKJ eta)."""

    theta_mu: tuple[float, ...]  # unconstrained scale
    theta_sd: tuple[float, ...]
    sd_scale: tuple[float, ...]
    omega_scale: tuple[tuple[float, ...], ...]  # per block, per eta
    lkj: tuple[float, ...]  # per block
    lines: tuple[str, ...]

    def text(self) -> str:
        return "priors:\n" + "\n".join(f"  {line}" for line in self.lines)


def _scale_name(name: str, lo: float, hi: float) -> str:
    if math.isfinite(lo) and math.isfinite(hi):
        return f"logit(({name} - {lo:g}) / {hi - lo:g})"
    if math.isfinite(lo):
        return f"log({name})" if lo == 0 else f"log({name} - {lo:g})"
    if math.isfinite(hi):
        return f"log({hi:g} - {name})"
    return name


def to_unconstrained(z: float, lo: float, hi: float) -> float:
    if math.isfinite(lo) and math.isfinite(hi):
        p = (z - lo) / (hi - lo)
        return math.log(p / (1 - p))
    if math.isfinite(lo):
        return math.log(z - lo)
    if math.isfinite(hi):
        return math.log(hi - z)
    return z


def _get(priors: dict, name: str, kind: type, used: set):
    p = priors.get(name)
    if p is None:
        return None
    if not isinstance(p, kind):
        raise NlmeError(f"prior for {name} must be {kind.__name__}(...), got {type(p).__name__}")
    used.add(name)
    return p


def _theta_priors(space: ParameterSpace, priors: dict, used: set):
    mu, sd, lines = [], [], []
    for t in space.thetas:
        p = _get(priors, t.name, Normal, used)
        u0 = to_unconstrained(p.mean if p else t.init, t.lower, t.upper)
        if not math.isfinite(u0):
            raise NlmeError(f"prior for {t.name}: its mean must lie inside the bounds ({t.lower}, {t.upper})")
        bounded = math.isfinite(t.lower) or math.isfinite(t.upper)
        s = p.sd if p else (2.0 if bounded else 2.0 * max(1.0, abs(t.init)))
        mu.append(u0)
        sd.append(s)
        if not t.fixed:
            lines.append(f"{_scale_name(t.name, t.lower, t.upper)} ~ Normal({u0:.4g}, {s:.4g})"
                         + ("" if p else "   (default)"))
    return mu, sd, lines


def resolve_priors(space: ParameterSpace, priors: dict | None) -> PriorSet:
    """The priors of ``space``: the defaults, overridden by ``priors`` (errors name unknown keys)."""
    priors = {(space.table.canonical(k) or k): v for k, v in (priors or {}).items()}  # covariances either order
    used: set = set()
    mu, sd, lines = _theta_priors(space, priors, used)
    sd_scale = []
    for s in space.residual.sds:
        p = _get(priors, s.name, HalfNormal, used)
        scale = p.scale if p else 2.0 * s.init
        if not s.fixed and not scale > 0:
            raise NlmeError(f"residual SD {s.name}: [ini] value 0 gives no default prior scale; give HalfNormal(...)")
        sd_scale.append(scale)
        if not s.fixed:
            lines.append(f"{s.name} ~ HalfNormal({scale:.4g})" + ("" if p else "   (default)"))
    omega_scale, lkj = [], []
    for b in space.omega:
        diag = np.diag(block_matrix(b.values, b.size))
        scales = []
        for name, var in zip(b.names, diag):
            p = _get(priors, name, HalfNormal, used)
            scales.append(p.scale if p else 2.0 * math.sqrt(var))
            if not b.fixed:
                lines.append(f"sqrt({name}) ~ HalfNormal({scales[-1]:.4g})" + ("" if p else "   (default)"))
        omega_scale.append(tuple(scales))
        key = element_names(b.names)[1] if b.size > 1 else None
        p = (_get(priors, key, LKJ, used) or _get(priors, "lkj", LKJ, used)) if key else None
        lkj.append(p.eta if p else 2.0)
        if b.size > 1 and not b.fixed:
            lines.append(f"corr({', '.join(b.names)}) ~ LKJ({lkj[-1]:g})" + ("" if p else "   (default)"))
    unknown = sorted(set(priors) - used - {"lkj"})
    if unknown:
        raise NlmeError(f"priors given for unknown parameters {unknown}; known: "
                        + ", ".join([t.name for t in space.thetas] + list(space.residual.sd_names)
                                    + [n for b in space.omega for n in b.names]))
    return PriorSet(tuple(mu), tuple(sd), tuple(sd_scale), tuple(omega_scale), tuple(lkj), tuple(lines))
