"""kernels.inner_newton: the inner Newton iteration's per-subject bookkeeping gives the numpy
code's numbers to the bit (einsum's summation order) for every n_eta up to MAX_ETA."""

import numpy as np
import pytest

from nlme_lab.estimation.individual import _dots, _secant_update
from nlme_lab.kernels import inner_newton as K


def _spd(rng, n_sub, n_e):
    X = rng.normal(size=(n_sub, n_e, n_e))
    return X @ X.transpose(0, 2, 1) + 0.1 * np.eye(n_e)


@pytest.mark.parametrize("n_e", range(1, K.MAX_ETA + 1))
def test_decrements_slopes_and_status_equal_numpy_to_the_bit(n_e):
    rng = np.random.default_rng(n_e)
    n_sub = 40
    for _ in range(20):
        A, grad = _spd(rng, n_sub, n_e), rng.normal(size=(n_sub, n_e))
        grad[:4] *= 1e-9  # some converged
        gn = -np.linalg.solve(2.0 * A, grad[..., None])[..., 0]
        stuck = rng.random(n_sub) < 0.2
        dec = -np.einsum("ne,ne->n", grad, gn)
        converged = (np.max(np.abs(gn), axis=1) < 1e-6) | (dec < 1e-24)
        got = np.empty(n_sub), np.empty(n_sub, dtype=bool), np.empty(n_sub, dtype=bool)
        assert K.newton_status(grad, gn, 1e-6, stuck, *got) == bool((~converged & ~stuck).any())
        for x, want in zip(got, (dec, converged, ~converged & ~stuck)):
            assert np.array_equal(x, want)
        assert np.array_equal(_dots(grad, gn, True), np.einsum("ne,ne->n", grad, gn))
        assert np.array_equal(-dec, np.einsum("ne,ne->n", grad, gn))  # the slope of the Gauss-Newton step


@pytest.mark.parametrize("n_e", range(1, K.MAX_ETA + 2))
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


def test_line_search_steps_equal_the_numpy_expressions():
    rng = np.random.default_rng(3)
    n = 200
    active = rng.random(n) < 0.8
    slope = -np.abs(rng.normal(size=n)) * 10.0 ** rng.integers(-16, 0, n)
    inner = rng.normal(size=n) * 100
    t, noise, stalled = np.empty(n), np.empty(n), np.empty(n, dtype=bool)
    assert K.armijo_start(active, slope, inner, t, noise, stalled)
    assert np.array_equal(t, np.where(active, 1.0, 0.0))
    assert np.array_equal(noise, 1e-13 * (1.0 + np.abs(inner)))
    assert np.array_equal(stalled, active & (-slope < noise))
    todo = active.copy()
    inner_t = inner + rng.normal(size=n) * 1e-3
    inner_t[:5] = np.nan
    grad_t = rng.normal(size=(n, 3))
    grad_t[5:8, 1] = np.inf
    ok = np.empty(n, dtype=bool)
    want = (todo & np.isfinite(inner_t) & np.all(np.isfinite(grad_t), axis=1)
            & ((inner_t <= inner + 1e-4 * t * slope + noise) | stalled))
    assert K.armijo_accept(todo, stalled, t, slope, noise, inner, inner_t, grad_t, ok) == want.sum()
    assert np.array_equal(ok, want)
    damped = np.zeros(n, dtype=bool)
    w_todo = todo & ~ok
    w_t = np.where(w_todo, 0.5 * t, 0.0)
    tiny = w_todo & (-w_t * slope < noise)
    w_stalled = stalled | tiny
    left = K.armijo_advance(todo, ok, t, damped, slope, noise, stalled)
    assert np.array_equal(t, w_t) and np.array_equal(damped, w_todo) and np.array_equal(stalled, w_stalled)
    assert np.array_equal(todo, w_todo & ~tiny) and left == bool((w_todo & ~tiny).any())
