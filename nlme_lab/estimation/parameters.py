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
from functools import cached_property

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
        n_th, (segments, src, dest) = len(self.thetas), self._omega_plan
        z = np.asarray(z, dtype=float)
        omega = np.zeros((self.n_eta, self.n_eta))
        omega.flat[dest] = z[src]
        blocks = tuple(np.array(z[lo:hi]) for lo, hi in segments)
        return ModelValues(np.array(z[:n_th]), omega, np.array(z[segments[-1][1] if segments else n_th:]), blocks)

    @cached_property
    def _omega_plan(self):
        """Each block's segment of the reported vector, and for every omega element (both
        triangles, every placement) the reported index it is copied from."""
        k, segments, src, dest = len(self.thetas), [], [], []
        for b, places in zip(self.omega, self.placements):
            segments.append((k, k + len(b.values)))
            rows, cols = tril(b.size)
            for p in places:
                idx = np.asarray(p)
                for r, c, j in zip(rows, cols, range(k, k + len(b.values))):
                    dest += [idx[r] * self.n_eta + idx[c], idx[c] * self.n_eta + idx[r]]
                    src += [j, j]
            k += len(b.values)
        return segments, np.array(src, dtype=np.intp), np.array(dest, dtype=np.intp)


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

    def theta_moves(self, v: np.ndarray, h: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """(2, n, n_theta): ``to_reported(v +- h_k e_k)[:n_theta] - theta`` for every free
        component k that is a theta (rows of the others unused), ``theta`` the thetas at ``v``."""
        n_th = len(theta)
        out = np.zeros((2, self.n, n_th))
        for k in np.flatnonzero(self.affects_theta):
            for i, sign in enumerate((1.0, -1.0)):
                w = np.array(v, dtype=float)
                w[k] += sign * h[k]
                out[i, k] = self.to_reported(w)[:n_th] - theta
        return out

    @cached_property
    def component_roles(self) -> tuple:
        """Per free component, what a move of it alone changes when that is one number the
        objective's gradient can update in place: ``("sd", i)`` residual SD ``i``; ``("omega",
        cols)`` the variance of a one-element omega block (on eta columns ``cols``, every
        placement); None for thetas and for elements of larger blocks (their moves rebuild
        omega). ``component_moves`` gives the moved values."""
        space = self.space
        segments, src, dest = space._omega_plan
        n_th = len(space.thetas)
        sd_start = segments[-1][1] if segments else n_th
        roles = []
        for r in np.flatnonzero(self.free):
            if r < n_th:
                roles.append(None)
            elif r >= sd_start:
                roles.append(("sd", int(r - sd_start)))
            elif any(lo == r and hi == r + 1 for lo, hi in segments):
                roles.append(("omega", np.unique(dest[src == r] // space.n_eta)))
            else:
                roles.append(None)
        return tuple(roles)

    def component_moves(self, v: np.ndarray, h: np.ndarray) -> np.ndarray:
        """(2, n): ``to_reported(v +- h_k e_k)`` at component k's own reported element, for the
        components with a ``component_roles`` entry (others: anything)."""
        out = np.empty((2, self.n))
        idx = np.flatnonzero(self.free)
        for k in range(self.n):
            for i, sign in enumerate((1.0, -1.0)):
                w = np.array(v, dtype=float)
                w[k] += sign * h[k]
                out[i, k] = self.to_reported(w)[idx[k]]
        return out

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

    def theta_moves(self, v, h, theta):
        return _one_theta_moves(self, np.asarray(v, dtype=float), h, theta, lambda x: x)

    def component_moves(self, v, h):
        v = np.asarray(v, dtype=float)
        return np.stack([v + h, v - h])


class Unconstrained(Parameterization):
    """Bounded transforms for thetas and SDs; log-Cholesky for omega blocks."""

    step_floor = 1.0

    def __init__(self, space: ParameterSpace):
        super().__init__(space)
        self.lower, self.upper = space.reported_bounds()
        self._segments = self._omega_segments()
        # what ``to_reported`` needs, computed once (it runs hundreds of times per fit)
        sf = self._scalar_mask() & self.free
        self._scalar_free, self._scalar_free_in_v = sf, sf[self.free]
        self._scalar_bounds = _BoundClasses(self.lower[sf], self.upper[sf])
        self._free_segments = [(lo, hi, b.size) for lo, hi, b in self._segments if not b.fixed]

    def _omega_segments(self):
        seg, k = [], len(self.space.thetas)
        for b in self.space.omega:
            seg.append((k, k + len(b.values), b))
            k += len(b.values)
        return seg

    def to_reported(self, v):
        z = self.base.copy()
        v = np.asarray(v, dtype=float)
        z[self._scalar_free] = self._scalar_bounds.from_unbounded(v[self._scalar_free_in_v])
        if self._free_segments:
            u = np.full(len(z), np.nan)
            u[self.free] = v
            for lo, hi, size in self._free_segments:
                z[lo:hi] = _cholesky_to_values(u[lo:hi], size)
        return z

    def from_reported(self, z):
        z = np.asarray(z, dtype=float)
        u = np.zeros(len(z))
        scalar = self._scalar_mask()
        u[scalar] = _to_unbounded(z[scalar], self.lower[scalar], self.upper[scalar])
        for lo, hi, b in self._segments:
            u[lo:hi] = _values_to_cholesky(z[lo:hi], b)
        return u[self.free]

    def theta_moves(self, v, h, theta):
        # a theta's transform is elementwise: only component k moves, computed as ``to_reported`` does
        return _one_theta_moves(self, np.asarray(v, dtype=float)[self._scalar_free_in_v], h[self._scalar_free_in_v],
                                theta, self._scalar_bounds.from_unbounded)

    def component_moves(self, v, h):
        # elementwise, as ``to_reported`` computes them: scalars through their bounds, a
        # one-element block's variance exp(2 u); elements of larger blocks are left at nan
        v, h = np.asarray(v, dtype=float), np.asarray(h, dtype=float)
        out = np.full((2, self.n), np.nan)
        sf = self._scalar_free_in_v
        for i, sign in enumerate((1.0, -1.0)):
            out[i, sf] = self._scalar_bounds.from_unbounded(v[sf] + sign * h[sf])
            for q in self._one_element_blocks:
                out[i, q] = np.exp(2.0 * (v[q] + sign * h[q]))
        return out

    @cached_property
    def _one_element_blocks(self) -> list[int]:
        """Free-vector positions of the free one-element omega blocks."""
        pos = np.cumsum(self.free) - 1
        return [int(pos[lo]) for lo, hi, size in self._free_segments if size == 1]

    def _scalar_mask(self):
        mask = np.ones(len(self.base), dtype=bool)
        for lo, hi, _ in self._segments:
            mask[lo:hi] = False
        return mask


def _one_theta_moves(param: Parameterization, vs, hs, theta, transform) -> np.ndarray:
    """``Parameterization.theta_moves`` where free theta k maps to reported theta ``index[k]`` by an
    elementwise ``transform`` of ``vs`` (the free scalars, thetas first, in free order)."""
    n_th = len(theta)
    out = np.zeros((2, param.n, n_th))
    ks = np.flatnonzero(param.affects_theta)
    cols = np.flatnonzero(param.free)[ks]
    for i, sign in enumerate((1.0, -1.0)):
        moved = transform(vs + sign * hs)  # each element as if it alone moved
        out[i, ks, cols] = moved[ks] - theta[cols]
    return out


class _BoundClasses:
    """Unbounded -> bounded (logit between two bounds, log above a lower or below an upper one) for
    fixed bounds, their classes found once; the inverse of ``_to_unbounded``."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi
        self.both = np.isfinite(lo) & np.isfinite(hi)
        self.low = np.isfinite(lo) & ~np.isfinite(hi)
        self.up = ~np.isfinite(lo) & np.isfinite(hi)
        self.any_both, self.any_low, self.any_up = self.both.any(), self.low.any(), self.up.any()
        self.lo_both, self.width = lo[self.both], hi[self.both] - lo[self.both]
        self.lo_low, self.hi_up = lo[self.low], hi[self.up]

    def from_unbounded(self, u):
        """The bounded values of ``u``."""
        out = u.copy()
        if self.any_both:
            out[self.both] = self.lo_both + self.width * expit(u[self.both])
        if self.any_low:
            out[self.low] = self.lo_low + np.exp(u[self.low])
        if self.any_up:
            out[self.up] = self.hi_up - np.exp(u[self.up])
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
    if block.size == 1:  # sqrt(v) is what LAPACK's Cholesky computes for 1 x 1 (correctly rounded): the same bits
        x = np.asarray(v, dtype=float).reshape(-1)
        if x[0] <= 0:  # as numpy's Cholesky: an error when not positive (NaN goes through, to NaN)
            raise NlmeError(f"omega block {', '.join(block.names)} is not positive definite")
        return np.log(np.sqrt(x[:1]))
    try:
        L = np.linalg.cholesky(block_matrix(v, block.size))
    except np.linalg.LinAlgError:
        raise NlmeError(f"omega block {', '.join(block.names)} is not positive definite") from None
    L[np.diag_indices(block.size)] = np.log(np.diag(L))
    return L[tril(block.size)]
