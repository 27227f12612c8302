"""The precomputed paths of the FOCE-family hot loop (issue 17, small fits against R nlme) give
the numbers of the plain computations they replace: ``Parameterization.theta_moves`` (every
theta step of the outer gradient at once), ``ParameterSpace.values_from_reported`` (omega from
an index plan), ``omega_inverse`` (kept results) and the inner solve's secant update."""

import numpy as np
import pytest
from tests.estimation.spaces import make_space, pheno_space, theo_space

from nlme_lab.estimation import EndpointError, ResidualModel
from nlme_lab.estimation.individual import _secant_update, omega_inverse
from nlme_lab.estimation.parameters import Parameterization, ReportedScale, Unconstrained
from nlme_lab.model.ir import OmegaBlock, Theta
from nlme_lab.model.parameter_table import block_matrix


def _mixed_space():
    """Bounds of every kind, a fixed theta, a 2x2 block placed twice (occasions) and an SD."""
    res = ResidualModel((Theta("add_sd", 0.7),), (EndpointError(add=0),))
    thetas = (Theta("a", 1.0, lower=0.0), Theta("b", 0.5, lower=0.0, upper=2.0), Theta("c", 1.0, fixed=True),
              Theta("d", -1.0, upper=0.0), Theta("e", 2.0))
    omega = (OmegaBlock(("e1",), (0.2,)), OmegaBlock(("k1", "k2"), (0.1, 0.01, 0.2)))
    return make_space(thetas, omega, res, 5, placements=((), ((1, 2), (3, 4))))


SPACES = [theo_space(), theo_space(block=True), pheno_space(), _mixed_space()]


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("kind", [Unconstrained, ReportedScale])
def test_theta_moves_equal_the_one_at_a_time_steps(space, kind):
    param, rng = kind(space), np.random.default_rng(3)
    for _ in range(20):
        v = rng.normal(size=param.n)
        h = 1e-5 * np.maximum(np.abs(v), 1.0)
        theta = param.values(v).theta
        assert np.array_equal(param.theta_moves(v, h, theta), Parameterization.theta_moves(param, v, h, theta))


@pytest.mark.parametrize("space", SPACES)
def test_values_from_reported_places_every_block_copy(space):
    z = np.random.default_rng(4).normal(size=len(space.reported_names()))
    values = space.values_from_reported(z)
    n_th, k = len(space.thetas), len(space.thetas)
    expected = np.zeros((space.n_eta, space.n_eta))
    for b, places in zip(space.omega, space.placements):
        m = block_matrix(z[k:k + len(b.values)], b.size)
        for p in places:
            expected[np.ix_(p, p)] = m
        k += len(b.values)
    assert np.array_equal(values.omega, expected)
    assert np.array_equal(values.theta, z[:n_th]) and np.array_equal(values.sd, z[k:])


def test_omega_inverse_kept_results_equal_fresh_ones():
    omega = np.array([[0.4, 0.05], [0.05, 0.2]])
    first = omega_inverse(omega)
    again = omega_inverse(omega.copy())
    assert again[0] is first[0] and again[1] == first[1]
    np.testing.assert_allclose(first[0] @ omega, np.eye(2), atol=1e-14)
    assert first[1] == pytest.approx(np.log(np.linalg.det(omega)), rel=1e-14)
    bad = omega_inverse(np.array([[1.0, 2.0], [2.0, 1.0]]))
    assert np.isinf(bad[1]) and np.all(np.isnan(bad[0]))


def test_secant_update_meets_the_secant_equation_where_it_applies():
    rng = np.random.default_rng(5)
    H = np.stack([np.eye(3) * 2.0, np.eye(3), np.eye(3)])
    s = rng.normal(size=(3, 3)) * 1e-3
    A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.1], [0.0, 0.1, 1.0]])  # the true Hessian
    y = s @ A
    y[2] = -y[2]  # negative curvature: left alone
    use = np.array([True, False, True])
    before = H.copy()
    _secant_update((H, use), s, y)
    np.testing.assert_allclose(H[0] @ s[0], y[0], rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(H[0]) > 0)
    assert np.array_equal(H[1], before[1]) and np.array_equal(H[2], before[2])


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("kind", [Unconstrained, ReportedScale])
def test_component_moves_update_in_place_what_a_rebuild_gives(space, kind):
    """The gradient's in-place moves of one SD or one one-element omega block (the value, the
    inverse omega and log det omega) equal the values rebuilt from the moved vector."""
    param, rng = kind(space), np.random.default_rng(5)
    roles = param.component_roles
    assert any(r is not None for r in roles)
    assert all(r is None for r, th in zip(roles, param.affects_theta) if th)
    for _ in range(5):
        v0 = param.from_reported(space.reported_initial())
        v = v0 + 0.3 * rng.normal(size=param.n) if kind is Unconstrained else v0 * np.exp(0.1 * rng.normal(size=param.n))
        h = 1e-5 * np.maximum(np.abs(v), 1.0)
        base = param.values(v)
        oi, ldo = omega_inverse(base.omega)
        moves = param.component_moves(v, h)
        for k, role in enumerate(roles):
            if role is None:
                continue
            for i, sign in enumerate((1.0, -1.0)):
                w = v.copy()
                w[k] += sign * h[k]
                moved = param.values(w)
                if role[0] == "sd":
                    sd = base.sd.copy()
                    sd[role[1]] = moves[i, k]
                    assert np.array_equal(sd, moved.sd) and np.array_equal(moved.omega, base.omega)
                else:
                    cols = role[1]
                    new_oi = oi.copy()
                    new_oi[cols, cols] = 1.0 / moves[i, k]
                    new_ldo = ldo + len(cols) * (np.log(moves[i, k]) - np.log(base.omega[cols[0], cols[0]]))
                    ref_oi, ref_ldo = omega_inverse(moved.omega)
                    np.testing.assert_allclose(new_oi, ref_oi, rtol=1e-14, atol=0)
                    assert new_ldo == pytest.approx(ref_ldo, rel=1e-14, abs=1e-14)
                    assert np.array_equal(moved.sd, base.sd)
