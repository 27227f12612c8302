"""The estimated parameters: their declaration, their reported scale and the optimizer's scale.

Three scales:

* **reported**: thetas as declared, omega entries as variances/covariances (by eta name and by
  ``"eta_a,eta_b"``), residual SDs. The covariance step differentiates on this scale.
* **unconstrained** (what the outer quasi-Newton moves): a theta bounded on both sides is
  ``lower + (upper - lower) * expit(u)``, bounded below ``lower + exp(u)``, above
  ``upper - exp(u)``, unbounded ``u``; each free omega block is its Cholesky factor with the
  log of the diagonal (always positive definite); residual SDs as thetas (default lower 0).
* fixed parameters appear in neither free vector.

``Parameterization`` maps a free vector to ``ModelValues`` (theta, full expanded omega, SDs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.special import expit, logit

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.problem import ResidualModel


@dataclass(frozen=True)
class Theta:
    name: str
    init: float
    lower: float = float("-inf")
    upper: float = float("inf")
    fixed: bool = False


@dataclass(frozen=True)
class OmegaBlock:
    """A diagonal entry or a block of omega; ``values`` is the lower triangle by rows.

    ``placements`` lists the eta columns that each copy of the block occupies (occasion kappas
    have one copy per occasion, all sharing these values). Empty: one copy, placed after the
    previous block.
    """

    names: tuple[str, ...]
    values: tuple[float, ...]
    fixed: bool = False
    placements: tuple[tuple[int, ...], ...] = ()

    @property
    def size(self) -> int:
        return len(self.names)

    def matrix(self, values=None) -> np.ndarray:
        v = np.asarray(self.values if values is None else values, dtype=float)
        n = self.size
        m = np.zeros((n, n))
        rows, cols = _tril(n)
        m[rows, cols] = v
        m[cols, rows] = v
        return m

    def element_names(self) -> list[str]:
        rows, cols = np.tril_indices(self.size)
        return [self.names[i] if i == j else f"{self.names[j]},{self.names[i]}" for i, j in zip(rows, cols)]


@dataclass(frozen=True)
class ModelValues:
    """One point of parameter space on the model's scales."""

    theta: np.ndarray  # (n_theta,) structural thetas
    omega: np.ndarray  # (n_eta, n_eta), placements expanded
    sd: np.ndarray  # (n_sd,) residual SDs
    block_values: tuple[np.ndarray, ...]  # lower triangles of each block


@dataclass(frozen=True)
class ParameterSpace:
    """Declared parameters of a problem, with ``n_eta`` the expanded eta count."""

    thetas: tuple[Theta, ...]
    omega: tuple[OmegaBlock, ...]
    residual: ResidualModel
    n_eta: int
    _placements: tuple[tuple[tuple[int, ...], ...], ...] = field(init=False, repr=False)

    def __post_init__(self):
        self.residual.check()
        for t in self.thetas:
            if not t.lower <= t.init <= t.upper or (t.init in (t.lower, t.upper) and not t.fixed):
                raise NlmeError(f"theta {t.name}: initial value {t.init} is not inside its bounds ({t.lower}, {t.upper})")
        object.__setattr__(self, "_placements", self._place_blocks())
        for b in self.omega:
            if len(b.values) != b.size * (b.size + 1) // 2:
                raise NlmeError(f"omega block {', '.join(b.names)}: {len(b.values)} values, expected {b.size * (b.size + 1) // 2}")
            if np.any(np.linalg.eigvalsh(b.matrix()) <= 0):
                raise NlmeError(f"omega block {', '.join(b.names)} is not positive definite at its initial values")

    def _place_blocks(self):
        out, nxt, used = [], 0, []
        for b in self.omega:
            places = b.placements or (tuple(range(nxt, nxt + b.size)),)
            for p in places:
                if len(p) != b.size:
                    raise NlmeError(f"omega block {', '.join(b.names)}: a placement has {len(p)} columns, expected {b.size}")
                used.extend(p)
            nxt = max(max(p) for p in places) + 1
            out.append(tuple(places))
        if sorted(used) != list(range(self.n_eta)):
            raise NlmeError(f"omega blocks cover eta columns {sorted(used)}; the problem has {self.n_eta} etas, each covered exactly once")
        return tuple(out)

    @property
    def placements(self) -> tuple[tuple[tuple[int, ...], ...], ...]:
        """The eta columns of every copy of every omega block, in block order: one copy per
        block, or one per occasion for a kappa block (all copies share the block's values)."""
        return self._placements

    # --- names ---------------------------------------------------------------------------
    @property
    def eta_labels(self) -> list[str]:
        """One label per eta column (copies of a block get #k)."""
        labels = [""] * self.n_eta
        for b, places in zip(self.omega, self._placements):
            for k, p in enumerate(places):
                for name, col in zip(b.names, p):
                    labels[col] = name if len(places) == 1 else f"{name}#{k + 1}"
        return labels

    def reported_names(self) -> list[str]:
        names = [t.name for t in self.thetas]
        for b in self.omega:
            names += b.element_names()
        return names + list(self.residual.sd_names)

    def reported_kinds(self) -> list[str]:
        """'theta', 'omega_var', 'omega_cov' or 'sd' for each reported name."""
        kinds = ["theta"] * len(self.thetas)
        for b in self.omega:
            rows, cols = np.tril_indices(b.size)
            kinds += ["omega_var" if i == j else "omega_cov" for i, j in zip(rows, cols)]
        return kinds + ["sd"] * len(self.residual.sds)

    def reported_fixed(self) -> np.ndarray:
        fixed = [t.fixed for t in self.thetas]
        for b in self.omega:
            fixed += [b.fixed] * len(b.values)
        return np.array(fixed + [s.fixed for s in self.residual.sds], dtype=bool)

    def reported_initial(self) -> np.ndarray:
        vals = [t.init for t in self.thetas]
        for b in self.omega:
            vals += list(b.values)
        return np.array(vals + [s.init for s in self.residual.sds], dtype=float)

    def reported_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lo = [t.lower for t in self.thetas]
        hi = [t.upper for t in self.thetas]
        for b in self.omega:
            for i, j in zip(*np.tril_indices(b.size)):
                lo.append(0.0 if i == j else -np.inf)
                hi.append(np.inf)
        lo += [s.lower for s in self.residual.sds]
        hi += [s.upper for s in self.residual.sds]
        return np.array(lo), np.array(hi)

    # --- values ------------------------------------------------------------------------------
    def values_from_reported(self, z: np.ndarray) -> ModelValues:
        n_th = len(self.thetas)
        theta = np.array(z[:n_th], dtype=float)
        k, blocks = n_th, []
        omega = np.zeros((self.n_eta, self.n_eta))
        for b, places in zip(self.omega, self._placements):
            v = np.array(z[k:k + len(b.values)], dtype=float)
            k += len(b.values)
            blocks.append(v)
            m = b.matrix(v)
            for p in places:
                idx = np.asarray(p)
                omega[idx[:, None], idx[None, :]] = m
        return ModelValues(theta, omega, np.array(z[k:], dtype=float), tuple(blocks))


class Parameterization:
    """Free vector <-> reported vector. Subclasses: ``ReportedScale``, ``Unconstrained``."""

    def __init__(self, space: ParameterSpace):
        self.space = space
        self.free = ~space.reported_fixed()
        self.base = space.reported_initial()
        self.n = int(self.free.sum())
        n_th = len(space.thetas)
        self.affects_theta = np.arange(len(self.free))[self.free] < n_th  # per free component

    def to_reported(self, v: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def from_reported(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def values(self, v: np.ndarray) -> ModelValues:
        return self.space.values_from_reported(self.to_reported(v))

    def with_base(self, z: np.ndarray) -> "Parameterization":
        """The same kind of map, fixed parameters and starting point taken from ``z``."""
        other = type(self)(self.space)
        other.base = np.array(z, dtype=float)
        return other


class ReportedScale(Parameterization):
    """The free components of the reported vector, as they are."""

    step_floor = 1e-2  # finite-difference steps are relative, at least this times the step

    def to_reported(self, v):
        z = self.base.copy()
        z[self.free] = v
        return z

    def from_reported(self, z):
        return np.asarray(z, dtype=float)[self.free].copy()


class Unconstrained(Parameterization):
    """Bounded transforms for thetas and SDs; log-Cholesky for omega blocks."""

    step_floor = 1.0

    def __init__(self, space: ParameterSpace):
        super().__init__(space)
        self.lower, self.upper = space.reported_bounds()
        self._segments = self._omega_segments()

    def _omega_segments(self):
        seg, k = [], len(self.space.thetas)
        for b in self.space.omega:
            seg.append((k, k + len(b.values), b))
            k += len(b.values)
        return seg

    def to_reported(self, v):
        z = self.base.copy()
        u = np.full(len(z), np.nan)
        u[self.free] = v
        scalar = self._scalar_mask()
        z[scalar & self.free] = _from_unbounded(u[scalar & self.free], self.lower[scalar & self.free],
                                                self.upper[scalar & self.free])
        for lo, hi, b in self._segments:
            if not b.fixed:
                z[lo:hi] = _cholesky_to_values(u[lo:hi], b.size)
        return z

    def from_reported(self, z):
        z = np.asarray(z, dtype=float)
        u = np.zeros(len(z))
        scalar = self._scalar_mask()
        u[scalar] = _to_unbounded(z[scalar], self.lower[scalar], self.upper[scalar])
        for lo, hi, b in self._segments:
            u[lo:hi] = _values_to_cholesky(z[lo:hi], b)
        return u[self.free]

    def _scalar_mask(self):
        mask = np.ones(len(self.base), dtype=bool)
        for lo, hi, _ in self._segments:
            mask[lo:hi] = False
        return mask


def _from_unbounded(u, lo, hi):
    out = u.copy()
    both = np.isfinite(lo) & np.isfinite(hi)
    low = np.isfinite(lo) & ~np.isfinite(hi)
    up = ~np.isfinite(lo) & np.isfinite(hi)
    out[both] = lo[both] + (hi[both] - lo[both]) * expit(u[both])
    out[low] = lo[low] + np.exp(u[low])
    out[up] = hi[up] - np.exp(u[up])
    return out


def _to_unbounded(z, lo, hi):
    out = z.copy()
    both = np.isfinite(lo) & np.isfinite(hi)
    low = np.isfinite(lo) & ~np.isfinite(hi)
    up = ~np.isfinite(lo) & np.isfinite(hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[both] = logit((z[both] - lo[both]) / (hi[both] - lo[both]))
        out[low] = np.log(z[low] - lo[low])
        out[up] = np.log(hi[up] - z[up])
    return out


@lru_cache(maxsize=None)
def _tril(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(n)


def _cholesky_to_values(u, n):
    if n == 1:
        return np.exp(2.0 * np.asarray(u, dtype=float))
    L = np.zeros((n, n))
    L[_tril(n)] = u
    d = np.arange(n)
    L[d, d] = np.exp(L[d, d])
    return (L @ L.T)[_tril(n)]


def _values_to_cholesky(v, block: OmegaBlock):
    try:
        L = np.linalg.cholesky(block.matrix(v))
    except np.linalg.LinAlgError:
        raise NlmeError(f"omega block {', '.join(block.names)} is not positive definite") from None
    L[np.diag_indices(block.size)] = np.log(np.diag(L))
    return L[np.tril_indices(block.size)]
