"""The estimated parameters: the model's ``ParameterTable`` (``model.parameter_table``: names,
kinds, bounds, fixed flags, initial values) plus what only estimation adds: where each omega
block sits among the engine's eta columns (``ParameterSpace``) and the optimizer's transforms
(``Parameterization``).

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

import numpy as np
from scipy.special import expit, logit

from nlme_lab.errors import NlmeError
from nlme_lab.estimation.problem import EndpointError, ResidualModel
from nlme_lab.model.parameter_table import ParameterTable, block_matrix, tril


@dataclass(frozen=True)
class ModelValues:
    """One point of parameter space on the model's scales."""

    theta: np.ndarray  # (n_theta,) structural thetas
    omega: np.ndarray  # (n_eta, n_eta), placements expanded
    sd: np.ndarray  # (n_sd,) residual SDs
    block_values: tuple[np.ndarray, ...]  # lower triangles of each block


@dataclass(frozen=True)
class ParameterSpace:
    """The estimation's view of a ``ParameterTable``: which residual SD plays which role in each
    endpoint's error, and where each omega block sits among the engine's ``n_eta`` eta columns.

    ``placements`` has one entry per block: the eta columns of each copy of the block (occasion
    kappas have one copy per occasion, all sharing the block's values); an empty entry (or an
    empty ``placements``) places one copy after the previous block.
    """

    table: ParameterTable
    endpoints: tuple[EndpointError, ...]
    n_eta: int
    placements: tuple[tuple[tuple[int, ...], ...], ...] = ()
    residual: ResidualModel = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "residual", ResidualModel(self.table.residual_thetas, tuple(self.endpoints)))
        self.residual.check()
        for t in self.thetas:
            if not t.lower <= t.init <= t.upper or (t.init in (t.lower, t.upper) and not t.fixed):
                raise NlmeError(f"theta {t.name}: initial value {t.init} is not inside its bounds ({t.lower}, {t.upper})")
        object.__setattr__(self, "placements", self._place_blocks())
        for b in self.omega:
            if np.any(np.linalg.eigvalsh(block_matrix(b.values, b.size)) <= 0):
                raise NlmeError(f"omega block {', '.join(b.names)} is not positive definite at its initial values")

    def _place_blocks(self):
        given = tuple(self.placements) or ((),) * len(self.omega)
        if len(given) != len(self.omega):
            raise NlmeError(f"{len(given)} placements for {len(self.omega)} omega blocks")
        out, nxt, used = [], 0, []
        for b, places in zip(self.omega, given):
            places = tuple(tuple(p) for p in places) or (tuple(range(nxt, nxt + b.size)),)
            for p in places:
                if len(p) != b.size:
                    raise NlmeError(f"omega block {', '.join(b.names)}: a placement has {len(p)} columns, expected {b.size}")
                used.extend(p)
            nxt = max(max(p) for p in places) + 1
            out.append(places)
        if sorted(used) != list(range(self.n_eta)):
            raise NlmeError(f"omega blocks cover eta columns {sorted(used)}; the problem has {self.n_eta} etas, each covered exactly once")
        return tuple(out)

    # --- the table's parts, as the estimation uses them --------------------------------------
    @property
    def thetas(self):
        """The structural thetas (residual SDs are in ``residual``)."""
        return self.table.structural

    @property
    def omega(self):
        return self.table.blocks

    @property
    def eta_labels(self) -> list[str]:
        """One label per eta column (copies of a block get #k)."""
        labels = [""] * self.n_eta
        for b, places in zip(self.omega, self.placements):
            for k, p in enumerate(places):
                for name, col in zip(b.names, p):
                    labels[col] = name if len(places) == 1 else f"{name}#{k + 1}"
        return labels

    def reported_names(self) -> list[str]:
        return list(self.table.names)

    def reported_fixed(self) -> np.ndarray:
        return self.table.fixed

    def reported_initial(self) -> np.ndarray:
        return self.table.initial

    def reported_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.table.lower, self.table.upper

    # --- values ------------------------------------------------------------------------------
    def values_from_reported(self, z: np.ndarray) -> ModelValues:
        n_th = len(self.thetas)
        theta = np.array(z[:n_th], dtype=float)
        k, blocks = n_th, []
        omega = np.zeros((self.n_eta, self.n_eta))
        for b, places in zip(self.omega, self.placements):
            v = np.array(z[k:k + len(b.values)], dtype=float)
            k += len(b.values)
            blocks.append(v)
            m = block_matrix(v, b.size)
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


def _cholesky_to_values(u, n):
    if n == 1:
        return np.exp(2.0 * np.asarray(u, dtype=float))
    L = np.zeros((n, n))
    L[tril(n)] = u
    d = np.arange(n)
    L[d, d] = np.exp(L[d, d])
    return (L @ L.T)[tril(n)]


def _values_to_cholesky(v, block):
    try:
        L = np.linalg.cholesky(block_matrix(v, block.size))
    except np.linalg.LinAlgError:
        raise NlmeError(f"omega block {', '.join(block.names)} is not positive definite") from None
    L[np.diag_indices(block.size)] = np.log(np.diag(L))
    return L[np.tril_indices(block.size)]
