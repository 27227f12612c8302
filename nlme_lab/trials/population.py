"""Virtual populations (covariate vectors) and population-parameter draws for virtual trials.

``Population``: resample subjects' covariate vectors jointly from a dataset (one vector per ID,
first record), or draw them per covariate (``normal``, ``lognormal``, ``categorical``, a
constant) with a Gaussian copula for a given correlation matrix of the continuous ones.
``parameter_draws``: population values for each trial: none (the estimates), from a fit's
covariance (thetas and residual SDs normal, kept in bounds; every omega block inverse-Wishart
around its estimate, so it stays positive definite), or a bootstrap's replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from nlme_lab.errors import NlmeError
from nlme_lab.model.parameter_table import ParameterKind, block_matrix, tril
from nlme_lab.trials.regimen import mvn_draws

KINDS = ("normal", "lognormal", "categorical")


@dataclass(frozen=True)
class Population:
    """Where simulated subjects' covariates come from: ``table`` (resampled rows) or ``spec``."""

    table: pd.DataFrame | None = None
    spec: dict | None = None
    correlation: np.ndarray | None = None

    @classmethod
    def of(cls, population, covariates: tuple[str, ...] = ()) -> "Population":
        """From a Population, a Dataset/DataFrame (one row per ID), a dict of per-covariate
        distributions (``{"WT": {"lognormal": [70, 0.25]}, "SEX": {"categorical": {"F": 0.5, "M": 0.5}},
        "correlation": [[...]]}``) or None (a model without covariates)."""
        if isinstance(population, Population):
            pop = population
        elif population is None:
            pop = cls(spec={})
        elif isinstance(population, dict):
            spec = dict(population)
            corr = spec.pop("correlation", None)
            pop = cls(spec=spec, correlation=None if corr is None else np.asarray(corr, dtype=float))
        else:
            frame = population.to_frame() if hasattr(population, "to_frame") else pd.DataFrame(population)
            idcol = next((c for c in frame.columns if str(c).upper() == "ID"), None)
            if idcol is not None:
                frame = frame.groupby(idcol, sort=False).first().reset_index(drop=True)
            pop = cls(table=frame.reset_index(drop=True))
        missing = [c for c in covariates if c not in pop.columns]
        if missing:
            raise NlmeError(f"the population has no covariate {', '.join(missing)} that the model uses "
                            f"(it has {', '.join(pop.columns) or 'none'})")
        return pop

    @property
    def columns(self) -> list[str]:
        return list(self.table.columns) if self.table is not None else list(self.spec)

    def sample(self, rng: np.random.Generator, n: int, columns=None) -> pd.DataFrame:
        cols = list(columns) if columns is not None else self.columns
        if self.table is not None:
            rows = rng.integers(0, len(self.table), n)
            return self.table.iloc[rows][cols].reset_index(drop=True)
        cont = [c for c in self.spec if _kind(c, self.spec[c]) in ("normal", "lognormal")]
        z = rng.standard_normal((n, len(cont)))
        if self.correlation is not None and cont:
            R = np.asarray(self.correlation, dtype=float)
            if R.shape != (len(cont), len(cont)):
                raise NlmeError(f"the correlation matrix is {R.shape}; it orders the continuous covariates "
                                f"{', '.join(cont)}")
            z = z @ np.linalg.cholesky(R).T
        out = {}
        for c, s in self.spec.items():
            kind = _kind(c, s)
            if kind == "constant":
                out[c] = np.full(n, float(s))
            elif kind == "categorical":
                levels = list(s["categorical"])
                p = np.array([float(s["categorical"][v]) for v in levels])
                idx = rng.choice(len(levels), size=n, p=p / p.sum())
                out[c] = np.array([_number(v) for v in levels])[idx]
            else:
                zc = z[:, cont.index(c)]
                a, b = s[kind]
                x = a + b * zc if kind == "normal" else a * np.exp(np.sqrt(np.log1p(b * b)) * zc)  # median, CV
                out[c] = np.clip(x, s.get("min", -np.inf), s.get("max", np.inf))
        frame = pd.DataFrame(out)
        return frame[cols] if cols else frame


def _kind(name, s) -> str:
    if isinstance(s, (int, float)):
        return "constant"
    kinds = [k for k in KINDS if isinstance(s, dict) and k in s]
    if len(kinds) != 1:
        raise NlmeError(f"covariate {name}: give one of {{'normal': [mean, sd]}}, {{'lognormal': [median, cv]}}, "
                        f"{{'categorical': {{value: proportion}}}} or a number, not {s!r}")
    return kinds[0]


def _number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        raise NlmeError(f"categorical covariate levels must be numbers (the model computes with them), not {v!r}")


def parameter_draws(table, params: dict, uncertainty, n: int, rng: np.random.Generator, *,
                    covariance=None, n_subjects: int | None = None) -> list[dict]:
    """``n`` population-value dicts (reported names) for ``uncertainty`` = ``"none"``,
    ``"covariance"`` (``covariance``: a fit's ``CovarianceResult``; ``n_subjects``: the fit's
    subjects, the inverse-Wishart's degrees of freedom where SEs do not say) or a bootstrap
    result (anything with a ``replicates`` DataFrame of estimates by name)."""
    base = table.vector(params)
    if isinstance(uncertainty, str) and uncertainty == "none":
        return [table.as_dict(base) for _ in range(n)]
    if isinstance(uncertainty, str) and uncertainty == "covariance":
        if covariance is None or getattr(covariance, "covariance", None) is None:
            raise NlmeError('uncertainty="covariance" needs a fit with a covariance step (fit.covariance)')
        return [table.as_dict(v) for v in _covariance_draws(table, base, covariance, n, rng, n_subjects)]
    reps = getattr(uncertainty, "replicates", None)
    if isinstance(reps, pd.DataFrame):  # a BootstrapResult (duck-typed: validation sits above trials)
        if callable(getattr(uncertainty, "included", None)):
            reps = uncertainty.included()  # the replicates its intervals use (converged ones)
        if len(reps) == 0:
            raise NlmeError("the bootstrap has no usable replicate to draw population values from")
        cols = [c for c in reps.columns if table.canonical(str(c)) is not None]
        rows = rng.integers(0, len(reps), n)
        return [table.as_dict(table.vector({c: float(reps.iloc[r][c]) for c in cols}, base=base)) for r in rows]
    raise NlmeError(f'uncertainty must be "none", "covariance" or a bootstrap result, not {uncertainty!r}')


def _covariance_draws(table, base, cov, n, rng, n_subjects):
    names = [table.canonical(x) for x in cov.names]
    idx = np.array([table.index(x) for x in names])
    C = np.asarray(cov.covariance, dtype=float)
    entries = table.entries
    is_var = np.array([entries[i].kind in (ParameterKind.OMEGA, ParameterKind.KAPPA) for i in idx], dtype=bool)
    fixed_part = ~is_var
    sub = C[np.ix_(fixed_part, fixed_part)]
    lo, hi = table.lower[idx[fixed_part]], table.upper[idx[fixed_part]]
    se = dict(zip(idx, np.sqrt(np.clip(np.diag(C), 0.0, None))))
    out = []
    for _ in range(n):
        v = base.copy()
        x = mvn_draws(rng, base[idx[fixed_part]], sub, 1)[0]
        v[idx[fixed_part]] = np.clip(x, lo, hi)
        for b, sl in zip(table.blocks, table.block_slices):
            if b.fixed:
                continue
            M = block_matrix(base[sl], b.size)
            p = b.size
            # degrees of freedom from the variances' SEs (Var(w) = 2 w^2 / (nu - p - 3) for an
            # inverse-Wishart of mean w), the least certain variance deciding; else the fit's subjects
            nus = []
            for k, i in enumerate(tril(p)[0]):
                j = tril(p)[1][k]
                pos = sl.start + k
                if i == j and pos in se and se[pos] > 0:
                    nus.append(2.0 * M[i, i] ** 2 / se[pos] ** 2 + p + 3)
            nu = min(nus) if nus else float(n_subjects or 50) + p + 1
            nu = max(nu, p + 2.0)
            draw = stats.invwishart.rvs(df=nu, scale=(nu - p - 1) * M, random_state=rng)
            draw = np.atleast_2d(draw)
            r, c = tril(p)
            v[sl] = draw[r, c]
        out.append(v)
    return out
