"""One error model: every place that computes a residual variance or a Gaussian -2LL term gives
the numbers of ``kernels.error_model`` for the same inputs, for additive, proportional, combined
and log-normal errors, with and without censored observations.

The places: ``estimation.likelihood`` (``ResidualLayout.variance``, ``observation_terms``: the
FOCE family, SAEM's censored passes and M-steps, NUTS), the compiled kernels
(``subject_terms.gaussian_pieces``; ``metropolis.gaussian_terms``, the SAEM accept and the
importance weights through ``mh_accept_gaussian``), the evaluation API
(``Evaluator.residual_variance``) and the simulation (``simulation.residual``). The reference is
the definition evaluated one observation at a time in plain Python floats.
"""

import math

import numpy as np
import pytest
from scipy import stats

from nlme_lab.estimation import EndpointError, ResidualModel
from nlme_lab.model.ir import Theta
from nlme_lab.estimation.likelihood import ResidualLayout, observation_terms
from nlme_lab.kernels import error_model as em

KINDS = {"add": EndpointError(add=0), "prop": EndpointError(prop=1), "combined": EndpointError(add=0, prop=1),
         "lnorm": EndpointError(lnorm=2)}
SDS = (Theta("a", 0.3, lower=0.0), Theta("p", 0.2, lower=0.0), Theta("l", 0.4, lower=0.0))
N_OBS = 60


def _case(kinds, censored: bool, seed: int = 3):
    """A layout mixing the endpoints ``kinds``, predictions ``f`` (3 points) and SDs."""
    rng = np.random.default_rng(seed)
    residual = ResidualModel(SDS, tuple(KINDS[k] for k in kinds))
    endpoint = rng.integers(0, len(kinds), N_OBS)
    dv = rng.uniform(0.5, 5.0, N_OBS)
    cens = np.zeros(N_OBS, dtype=int)
    limit = np.full(N_OBS, np.nan)
    if censored:
        cens = np.where(rng.random(N_OBS) < 0.3, rng.choice([1, -1], N_OBS), 0)
        limit = np.where((cens != 0) & (rng.random(N_OBS) < 0.5), dv + 1.0, np.nan)  # M4 intervals too
    layout = ResidualLayout.build(residual, endpoint, dv, cens, limit)
    f_nat = rng.uniform(0.3, 6.0, (3, N_OBS))
    f, _ = layout.to_log_scale(f_nat, None)
    sd = np.array([s.init for s in SDS]) * rng.uniform(0.8, 1.25, 3)
    return residual, layout, f, sd


def _definition(layout, f, sd):
    """V, dV/dx and the Gaussian pieces of every observation, one at a time, in Python floats."""
    shape = f.shape
    out = {k: np.empty(shape) for k in ("V", "dV", "l", "l_f", "l_V", "m00", "m11")}
    for b in range(shape[0]):
        for o in range(shape[1]):
            a = float(sd[layout.add[o]]) if layout.add[o] >= 0 else 0.0
            p = float(sd[layout.prop[o]]) if layout.prop[o] >= 0 else 0.0
            x = 0.0 if layout.log_scale[o] else float(f[b, o])
            V = em.residual_variance(a, p, x)
            r = float(layout.y[o]) - float(f[b, o])
            l_f, l_V, m00, m11 = em.gaussian_slopes(r, V)
            values = (V, em.variance_slope(p, x), em.gaussian_term(math.log(V), r, V), l_f, l_V, m00, m11)
            for key, v in zip(out, values):
                out[key][b, o] = v
    return out


def _same(a, b, what):
    np.testing.assert_array_equal(a, b, err_msg=what)


CASES = [(("add",), False), (("prop",), False), (("combined",), False), (("lnorm",), False),
         (("add", "prop", "combined", "lnorm"), False), (("add", "prop", "combined"), True),
         (("combined", "lnorm"), True)]
IDS = ["add", "prop", "combined", "lnorm", "mixed", "mixed-censored", "combined-lnorm-censored"]


def test_the_definition_is_the_textbook_formula():
    """V = a^2 + p^2 f^2 and -2 log N(y; f, V) = log V + (y - f)^2 / V + log 2 pi."""
    V = em.residual_variance(0.3, 0.2, 4.0)
    assert V == pytest.approx(0.09 + 0.04 * 16.0, rel=1e-15)
    assert em.variance_slope(0.2, 4.0) == pytest.approx(2 * 0.04 * 4.0, rel=1e-15)
    y, f = 3.1, 4.0
    l = em.gaussian_term(math.log(V), y - f, V)
    assert l + math.log(2 * math.pi) == pytest.approx(-2 * stats.norm.logpdf(y, f, math.sqrt(V)), rel=1e-14)
    l_f, l_V, m00, m11 = em.gaussian_slopes(y - f, V)
    h = 1e-6  # central differences of l in f and V
    assert l_f == pytest.approx((em.gaussian_term(math.log(V), y - f - h, V)
                                 - em.gaussian_term(math.log(V), y - f + h, V)) / (2 * h), rel=1e-8)
    assert l_V == pytest.approx((em.gaussian_term(math.log(V + h), y - f, V + h)
                                 - em.gaussian_term(math.log(V - h), y - f, V - h)) / (2 * h), rel=1e-7)
    assert (m00, m11) == (1 / V, 0.5 / V**2)


@pytest.mark.parametrize("kinds, censored", CASES, ids=IDS)
def test_numpy_layout_and_terms_are_the_definition(kinds, censored):
    """``ResidualLayout.variance`` and ``observation_terms`` (numpy, every non-compiled path)
    give the definition's bits on uncensored observations; censored ones get -2 log P."""
    _, layout, f, sd = _case(kinds, censored)
    ref = _definition(layout, f, sd)
    V, dV = layout.variance(sd, f)
    _same(V, ref["V"], "V")
    _same(dV, ref["dV"], "dV/dx")
    t = observation_terms(layout, f, V)
    ok = ~layout.censored
    np.testing.assert_allclose(t.l[:, ok], ref["l"][:, ok], rtol=1e-15, atol=1e-15)  # numpy's log vs libm's
    _same(t.l_f[:, ok], ref["l_f"][:, ok], "l_f")
    _same(t.l_V[:, ok], ref["l_V"][:, ok], "l_V")
    _same(t.M[:, ok, 0, 0], ref["m00"][:, ok], "M00")
    _same(t.M[:, ok, 1, 1], ref["m11"][:, ok], "M11")
    if censored:
        c = layout.censored
        s = np.sqrt(V[:, c])
        a, b = (layout.lo[c] - f[:, c]) / s, (layout.hi[c] - f[:, c]) / s
        with np.errstate(invalid="ignore"):  # the branches not taken
            log_p = np.where(np.isinf(a), stats.norm.logcdf(b), np.where(
                np.isinf(b), stats.norm.logsf(a),
                np.log(np.where(a > 0, stats.norm.sf(a) - stats.norm.sf(b), stats.norm.cdf(b) - stats.norm.cdf(a)))))
        np.testing.assert_allclose(t.l[:, c], -2 * log_p, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kinds, censored", CASES, ids=IDS)
def test_compiled_kernels_are_the_definition(kinds, censored):
    """The kernels inline the definition: ``gaussian_pieces`` (FOCE family) and
    ``gaussian_terms`` (SAEM, importance sampling) give its numbers on the uncensored
    observations, to the bit."""
    from nlme_lab.kernels.metropolis import gaussian_terms
    from nlme_lab.kernels.subject_terms import gaussian_pieces

    _, layout, f, sd = _case(kinds, censored)
    ref = _definition(layout, f, sd)
    sd_b = np.repeat(sd[None], f.shape[0], 0)
    pieces = [np.empty(f.shape) for _ in range(6)]
    gaussian_pieces(f, f, layout.y, layout.add, layout.prop, layout.log_scale, sd_b, *pieces)
    l, l_f, l_V, m00, m11, dV = pieces
    ok = ~layout.censored
    for got, key in ((l_f, "l_f"), (l_V, "l_V"), (m00, "m00"), (m11, "m11"), (dV, "dV")):
        _same(got[:, ok], ref[key][:, ok], key)
    _same(l[:, ok], ref["l"][:, ok], "l")  # numba's log is libm's, as math.log
    terms = np.empty(f.shape)
    gaussian_terms(f, layout.y, layout.add, layout.prop, layout.log_scale, sd, terms)
    _same(terms, l, "gaussian_terms vs gaussian_pieces")  # both numba: the same bits everywhere


def test_the_sampler_accept_sums_the_same_terms():
    """``mh_accept_gaussian`` (the compiled sweep's accept and the importance weights) sums
    exactly ``gaussian_terms`` per subject, in observation order."""
    from nlme_lab.kernels.metropolis import gaussian_terms, mh_accept_gaussian

    _, layout, f, sd = _case(("add", "prop", "combined", "lnorm"), False)
    starts, counts = np.array([0, 25, 40]), np.array([25, 15, 20])
    terms = np.empty(f.shape)
    gaussian_terms(f, layout.y, layout.add, layout.prop, layout.log_scale, sd, terms)
    n_b, n_sub = f.shape[0], 3
    etas, prop = np.zeros((n_b, n_sub, 1)), np.ones((n_b, n_sub, 1))
    l, f_old = np.full((n_b, n_sub), np.inf), np.zeros_like(f)
    log_u = np.full((n_b, n_sub), -np.inf)  # accept every finite proposal: l takes its -2LL
    n = mh_accept_gaussian(f, layout.y, layout.add, layout.prop, layout.log_scale, sd, starts, counts, prop,
                           log_u, np.eye(1), False, etas, l, f_old)
    assert n == n_b * n_sub
    for s in range(n_sub):
        acc = np.zeros(n_b)
        for o in range(starts[s], starts[s] + counts[s]):
            acc = acc + terms[:, o]
        _same(l[:, s], acc, f"subject {s}")


def test_a_zero_variance_is_rejected_not_an_exception():
    """SD 0 on an additive endpoint: the kernels compiled with numpy's error model give a
    non-finite term (the callers reject the point), never a ZeroDivisionError."""
    from nlme_lab.kernels.metropolis import gaussian_terms
    from nlme_lab.kernels.subject_terms import gaussian_pieces

    _, layout, f, sd = _case(("add",), False)
    sd = np.zeros(3)
    terms = np.empty(f.shape)
    gaussian_terms(f, layout.y, layout.add, layout.prop, layout.log_scale, sd, terms)
    assert np.all(terms == np.inf)
    pieces = [np.empty(f.shape) for _ in range(6)]
    gaussian_pieces(f, f, layout.y, layout.add, layout.prop, layout.log_scale, np.zeros((3, 3)), *pieces)
    assert not np.isfinite(pieces[0]).any()


MODEL = """[ini]
tk = 0.3
add_sd = 0.3
prop_sd = 0.2
e_sd = 0.4
eta_k ~ 0.1
[model]
k = exp(tk + eta_k)
cp = 10 * exp(-k * t)
ef = 5 * exp(-0.5 * k * t)
cp ~ add(add_sd) + prop(prop_sd)
ef ~ lnorm(e_sd)
"""


@pytest.fixture(scope="module")
def two_endpoints():
    """A combined and a log-normal endpoint, with the estimation's layout of its observations."""
    import pandas as pd

    import nlme_lab as nl
    from nlme_lab.estimation.evaluation import prepare

    rows = [(i, t, 1.0 + t, dvid) for i in (1, 2) for t in (0.5, 1.0, 2.0, 4.0) for dvid in (1, 2)]
    frame = pd.DataFrame(rows, columns=["ID", "TIME", "DV", "DVID"]).assign(AMT=0.0, EVID=0, MDV=0)
    model = nl.Model(MODEL)
    return model, prepare(model, nl.read_nonmem(frame))


def test_simulation_draws_with_the_estimations_variance(two_endpoints):
    """``simulation.residual``: SD = sqrt of the estimation's V (``Evaluator.residual_variance``)
    on every record, and a simulated DV is IPRED + SD eps (combined) or exp(log IPRED + SD eps)."""
    from nlme_lab.simulation.residual import residual_sd, simulate_observations

    model, ev = two_endpoints
    values = ev.values({"add_sd": 0.25, "prop_sd": 0.15, "e_sd": 0.35})
    params = model.parameters.values({"add_sd": 0.25, "prop_sd": 0.15, "e_sd": 0.35})
    obs = ev.observations
    ipred = np.random.default_rng(2).uniform(0.5, 8.0, obs.record.size)
    f = np.where(obs.log_scale, np.log(ipred), ipred)
    V = ev.residual_variance(values, f)
    sd = residual_sd(model.ir, params, ipred, obs.endpoint)
    _same(sd, np.sqrt(V), "simulation SD vs estimation variance")
    sim = simulate_observations(model.ir, ipred, sd, obs.endpoint, np.random.default_rng(7))
    eps = np.random.default_rng(7).standard_normal(ipred.shape)
    _same(sim, np.where(obs.log_scale, np.exp(np.log(ipred) + sd * eps), ipred + sd * eps), "simulated DV")
    assert obs.log_scale.any() and not obs.log_scale.all()


def test_the_evaluators_predictions_carry_the_definitions_variance(two_endpoints):
    _, ev = two_endpoints
    values = ev.values()
    p = ev.predictions(values, np.full((ev.n_subjects, ev.n_eta), 0.2))
    ref = _definition(ev.layout, p.f[None], values.sd)
    _same(p.variance, ref["V"][0], "ObservationPredictions.variance")
    _same(ev.residual_variance(values, p.f), ref["V"][0], "Evaluator.residual_variance")
