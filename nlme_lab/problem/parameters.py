"""Parameter values of a model: thetas (residual SDs included), omega and kappa-omega matrices.

``ParameterSet`` is the numeric view of ``[ini]`` that simulation and estimation share. Names
follow the reported convention: thetas by name, variances by eta/kappa name, covariances by
``"eta_a,eta_b"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.model.ir import ModelIR


@dataclass(frozen=True)
class ParameterSet:
    theta_names: tuple[str, ...]
    theta: np.ndarray  # (n_theta,)
    eta_names: tuple[str, ...]
    omega: np.ndarray  # (n_eta, n_eta)
    kappa_names: tuple[str, ...]
    omega_kappa: np.ndarray  # (n_kappa, n_kappa)

    @classmethod
    def from_ir(cls, ir: ModelIR) -> "ParameterSet":
        eta_names = tuple(r.name for r in ir.etas)
        kappa_names = tuple(r.name for r in ir.kappas)
        return cls(
            theta_names=tuple(t.name for t in ir.thetas),
            theta=np.array([t.init for t in ir.thetas], dtype=float),
            eta_names=eta_names,
            omega=_matrix_from_blocks(ir, eta_names),
            kappa_names=kappa_names,
            omega_kappa=_matrix_from_blocks(ir, kappa_names),
        )

    def as_dict(self) -> dict[str, float]:
        """Every value by its reported name (thetas, variances, non-zero covariances)."""
        out = {n: float(v) for n, v in zip(self.theta_names, self.theta)}
        for names, mat in ((self.eta_names, self.omega), (self.kappa_names, self.omega_kappa)):
            for i, a in enumerate(names):
                out[a] = float(mat[i, i])
                for j in range(i):
                    if mat[i, j] != 0.0:
                        out[f"{names[j]},{a}"] = float(mat[i, j])
        return out

    def with_values(self, values: dict[str, float] | None) -> "ParameterSet":
        """A copy with some values replaced; unknown names are an error that lists the known."""
        if not values:
            return self
        theta = self.theta.copy()
        omega = self.omega.copy()
        omega_kappa = self.omega_kappa.copy()
        for name, value in values.items():
            if not _assign(name, float(value), self, theta, omega, omega_kappa):
                known = ", ".join(self.as_dict_keys())
                raise NlmeError(f"unknown parameter {name!r}; the model's parameters are: {known}")
        return ParameterSet(self.theta_names, theta, self.eta_names, omega, self.kappa_names, omega_kappa)

    def as_dict_keys(self) -> list[str]:
        keys = list(self.theta_names) + list(self.eta_names) + list(self.kappa_names)
        for names in (self.eta_names, self.kappa_names):
            keys += [f"{names[j]},{names[i]}" for i in range(len(names)) for j in range(i)]
        return keys


def _assign(name, value, ps, theta, omega, omega_kappa) -> bool:
    if name in ps.theta_names:
        theta[ps.theta_names.index(name)] = value
        return True
    for names, mat in ((ps.eta_names, omega), (ps.kappa_names, omega_kappa)):
        parts = [s.strip() for s in name.split(",")]
        if all(p in names for p in parts) and len(parts) in (1, 2):
            i, j = names.index(parts[-1]), names.index(parts[0])
            mat[i, j] = mat[j, i] = value
            return True
    return False


def _matrix_from_blocks(ir: ModelIR, names: tuple[str, ...]) -> np.ndarray:
    mat = np.zeros((len(names), len(names)))
    for block in ir.omega:
        if not block.names or block.names[0] not in names:
            continue
        idx = [names.index(n) for n in block.names]
        k = 0
        for a in range(len(idx)):
            for b in range(a + 1):
                mat[idx[a], idx[b]] = mat[idx[b], idx[a]] = block.values[k]
                k += 1
    return mat
