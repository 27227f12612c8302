"""Hand-written numpy prediction problems for the estimation tests (the kernels' stand-ins).

Each implements ``nlme_lab.estimation.PredictionProblem``: predictions of all observations of all
subjects at once and exact derivatives (analytic for Wang 2007, complex step elsewhere, which is
exact to rounding).
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from nlme_lab.estimation import Evaluation

from tests.conftest import DATA


def _observations(df: pd.DataFrame):
    obs = df[(df.EVID == 0) & (df.MDV == 0)]
    ids = obs.ID.to_numpy()
    uniq = np.unique(df.ID.to_numpy())
    subject = np.searchsorted(uniq, ids)
    return obs, subject, len(uniq)


class _Base:
    n_theta: int

    def _setup(self, obs, subject, n_sub):
        self.n_subjects = n_sub
        self.obs_subject = subject
        self.dv = obs.DV.to_numpy(dtype=float)
        self.cens = np.zeros(len(self.dv), dtype=int)
        self.limit = np.full(len(self.dv), np.nan)
        self.endpoint = np.zeros(len(self.dv), dtype=int)
        self.n_calls = 0

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        """Complex-step derivatives of ``_predict`` in every eta (and theta)."""
        self.n_calls += 1
        theta = np.asarray(theta, dtype=float)
        etas = np.asarray(etas, dtype=float)
        f = self._predict(theta.astype(complex), etas.astype(complex)).real
        if not derivs:
            return Evaluation(f)
        h = 1e-30
        g = np.empty((len(f), self.n_eta))
        for m in range(self.n_eta):
            e = etas.astype(complex)
            e[:, m] += 1j * h
            g[:, m] = self._predict(theta.astype(complex), e).imag / h
        dth = None
        if theta_derivs:
            dth = np.empty((len(f), self.n_theta))
            for k in range(self.n_theta):
                t = theta.astype(complex)
                t[k] += 1j * h
                dth[:, k] = self._predict(t, etas.astype(complex)).imag / h
        return Evaluation(f, g, dth)


class Wang2007(_Base):
    """f = 10 exp(-ke t), ke = theta exp(eta). Exact first derivatives, analytic."""

    n_eta = 1
    n_theta = 1

    def __init__(self):
        obs, subject, n_sub = _observations(pd.read_csv(DATA / "wang2007.csv"))
        self._setup(obs, subject, n_sub)
        self.time = obs.TIME.to_numpy(dtype=float)

    def _predict(self, theta, etas):
        ke = theta[0] * np.exp(etas[self.obs_subject, 0])
        return 10.0 * np.exp(-ke * self.time)

    def evaluate(self, theta, etas, derivs=True, theta_derivs=False):
        self.n_calls += 1
        ke = theta[0] * np.exp(etas[self.obs_subject, 0])
        f = 10.0 * np.exp(-ke * self.time)
        if not derivs:
            return Evaluation(f)
        g = (-f * ke * self.time)[:, None]
        dth = (-f * self.time * np.exp(etas[self.obs_subject, 0]))[:, None] if theta_derivs else None
        return Evaluation(f, g, dth)


class Theophylline(_Base):
    """One compartment, first-order absorption; ka, cl, v = exp(theta + eta)."""

    n_eta = 3
    n_theta = 3

    def __init__(self):
        df = pd.read_csv(DATA / "theo_sd.csv")
        obs, subject, n_sub = _observations(df)
        self._setup(obs, subject, n_sub)
        self.time = obs.TIME.to_numpy(dtype=float)
        dose = df[df.EVID == 1].groupby("ID").AMT.sum()
        self.dose = dose.loc[obs.ID].to_numpy(dtype=float)

    def _predict(self, theta, etas):
        e = etas[self.obs_subject]
        ka = np.exp(theta[0] + e[:, 0])
        cl = np.exp(theta[1] + e[:, 1])
        v = np.exp(theta[2] + e[:, 2])
        k = cl / v
        return self.dose * ka / (v * (ka - k)) * (np.exp(-k * self.time) - np.exp(-ka * self.time))


class Phenobarbital(_Base):
    """One compartment IV bolus, repeated doses by superposition; proportional error.

    CL = tvcl WT exp(eta1), V = tvv WT (1 + apgr_v (APGR < 5)) exp(eta2).
    """

    n_eta = 2
    n_theta = 3

    def __init__(self):
        df = pd.read_csv(DATA / "pheno.csv")
        obs, subject, n_sub = _observations(df)
        self._setup(obs, subject, n_sub)
        self.wt = obs.WT.to_numpy(dtype=float)
        self.low_apgar = (obs.APGR.to_numpy() < 5).astype(float)
        rows = []
        for i, r in obs.iterrows():
            prior = df[(df.ID == r.ID) & (df.EVID == 1) & (df.index < i)]
            rows.append((r.TIME - prior.TIME.to_numpy(), prior.AMT.to_numpy()))
        width = max(len(a) for _, a in rows)
        self.dt = np.zeros((len(rows), width))
        self.amt = np.zeros((len(rows), width))
        for j, (dt, amt) in enumerate(rows):
            self.dt[j, :len(dt)] = dt
            self.amt[j, :len(amt)] = amt

    def _predict(self, theta, etas):
        e = etas[self.obs_subject]
        cl = theta[0] * self.wt * np.exp(e[:, 0])
        v = theta[1] * self.wt * (1 + theta[2] * self.low_apgar) * np.exp(e[:, 1])
        k = cl / v
        return np.sum(self.amt * np.exp(-k[:, None] * self.dt), axis=1) / v


class Wang2007Censored(Wang2007):
    """Wang 2007 with censored records: two M3 below a limit of quantification, one M3 above,
    one M4 interval (the value lies between DV and LIMIT)."""

    def __init__(self):
        super().__init__()
        self.dv = self.dv.copy()
        self.cens = self.cens.copy()
        self.limit = self.limit.copy()
        self.cens[[1, 3]] = 1  # below DV (DV holds the LOQ)
        self.dv[[1, 3]] = 6.0
        self.cens[5] = -1  # above DV
        self.dv[5] = 6.0
        self.cens[7] = 1  # between DV and LIMIT
        self.dv[7], self.limit[7] = 6.0, 5.0
