"""kernels.inner_newton: the inner Newton iteration's per-subject linear algebra gives the
numpy code's numbers to the bit (np.linalg.solve, einsum's summation order) for every n_eta
up to MAX_ETA."""

import numpy as np
import pytest

from nlme_lab.estimation.individual import _newton_steps, _secant_update
from nlme_lab.kernels.inner_newton import MAX_ETA, newton_steps, secant_update


def _spd(rng, n_sub, n_e):
    X = rng.normal(size=(n_sub, n_e, n_e))
    return X @ X.transpose(0, 2, 1) + 0.1 * np.eye(n_e)


@pytest.mark.parametrize("n_e", range(1, MAX_ETA + 1))
def test_newton_steps_equal_numpy_to_the_bit(n_e):
    rng = np.random.default_rng(n_e)
    n_sub = 40
    for _ in range(20):
        A, H, grad = _spd(rng, n_sub, n_e), _spd(rng, n_sub, n_e), rng.normal(size=(n_sub, n_e))
        use = rng.random(n_sub) < 0.5
        gn = -np.linalg.solve(2.0 * A, grad[..., None])[..., 0]
        dec = -np.einsum("ne,ne->n", grad, gn)
        step = -np.linalg.solve(np.where(use[:, None, None], H, 2.0 * A), grad[..., None])[..., 0]
        slope = np.einsum("ne,ne->n", grad, step)
        out = [np.empty((n_sub, n_e)), np.empty((n_sub, n_e)), np.empty(n_sub), np.empty(n_sub)]
        newton_steps(grad, A, H, use, *out)
        for got, want in zip(out, (gn, step, dec, slope)):
            assert np.array_equal(got, want)
        for got, want in zip(_newton_steps(grad, A, (H, use)), (gn, step, dec, slope)):
            assert np.array_equal(got, want)


@pytest.mark.parametrize("n_e", range(1, MAX_ETA + 2))
def test_secant_update_equals_numpy_to_the_bit(n_e):
    rng = np.random.default_rng(10 + n_e)
    n_sub = 40
    for _ in range(20):
        H, s, y = _spd(rng, n_sub, n_e), rng.normal(size=(n_sub, n_e)), rng.normal(size=(n_sub, n_e))
        s[:3] *= 1e-9  # below SECANT_MIN_STEP: kept
        y[3:6] = -s[3:6]  # negative curvature: kept
        use = rng.random(n_sub) < 0.7
        want = H.copy()
        ss, sy = np.einsum("ne,ne->n", s, s), np.einsum("ne,ne->n", s, y)
        ok = use & (np.max(np.abs(s), axis=1) > 1e-8) & (sy > 1e-10 * np.sqrt(ss * np.einsum("ne,ne->n", y, y)))
        Hs = np.einsum("nij,nj->ni", want[ok], s[ok])
        sHs = np.einsum("ni,ni->n", s[ok], Hs)
        yk = y[ok]
        want[ok] += yk[:, :, None] * yk[:, None, :] / sy[ok][:, None, None] - Hs[:, :, None] * Hs[:, None, :] / sHs[:, None, None]
        got = H.copy()
        _secant_update((got, use), s, y)  # the kernel up to MAX_ETA, numpy above
        assert np.array_equal(got, want)
        if n_e <= MAX_ETA:
            got = H.copy()
            secant_update(got, use, s, y, 1e-8)
            assert np.array_equal(got, want)
