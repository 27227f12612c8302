"""The exact per-subject likelihood and what FO / FOCE / FOCEI / Laplace make of it.

Checked against: the published Wang (2007) objectives (refs README section 4, with the
tolerances of tests/estimation/test_wang2007.py), the engine's own OFV from ``nl.fit`` at the
same (fixed) parameters, a closed-form marginal likelihood (a model linear in eta, where every
method is exact), and brute-force grid integrals of independently coded models (numpy).
"""

import numpy as np
import pytest
from tests.conftest import DATA, MODELS

import nlme_lab as nl
from nlme_lab.diagnostics.approximations import APPROXIMATIONS, ApproximationProblem
from nlme_lab.errors import NlmeError
from nlme_lab.estimation import MethodKind
from tests.reference.refcheck import check_abs

# refs README section 4: (error) -> method -> (reference, tolerance)
WANG = {
    "prop": {"fo": (39.213, 1e-3), "foce": (39.207, 1e-3), "focei": (39.458, 1e-3), "laplace": (39.2268, 2e-3),
             "exact": (39.3548, 1e-3)},
    "add": {"fo": (0.026, 1e-3), "foce": (-2.059, 1e-3), "focei": (-2.059, 1e-3), "laplace": (-1.9361, 2e-3),
            "exact": (-1.9896, 1e-3)},
}
LINEAR = """[ini]
ta = 10
tb = -2
eta_a ~ 0.5
eta_b ~ 0.3
add_sd = 0.5
[model]
f = ta + eta_a + (tb + eta_b) * t
f ~ add(add_sd)
"""
THEO_2ETA = """[ini]
tka = 0.46
tcl = 1.01
tv = 3.46
eta_ka ~ 0.40
eta_cl ~ 0.07
add_sd = 0.69
[model]
ka = exp(tka + eta_ka)
cl = exp(tcl + eta_cl)
v = exp(tv)
cp = linCmt()
cp ~ add(add_sd)
"""


@pytest.fixture(scope="module")
def wang_ap():
    return {e: ApproximationProblem(MODELS / f"wang2007_{e}.nlm", DATA / "wang2007.csv") for e in ("prop", "add")}


@pytest.fixture(scope="module")
def linear_ap():
    return ApproximationProblem(nl.Model(LINEAR), nl.read_nonmem(DATA / "wang2007.csv"))


@pytest.fixture(scope="module")
def wang_pop(wang_ap):
    return {e: ap.population() for e, ap in wang_ap.items()}


@pytest.mark.parametrize("error", ["prop", "add"])
def test_sum_of_each_approximation_is_the_engines_ofv(wang_pop, error):
    """At the (fixed) Wang parameters nl.fit evaluates the objective: the per-subject
    approximations add up to it, and to the published values."""
    model, data = nl.Model.from_file(MODELS / f"wang2007_{error}.nlm"), nl.read_nonmem(DATA / "wang2007.csv")
    for kind in APPROXIMATIONS:
        total = wang_pop[error].total(kind)
        engine = nl.fit(model, data, kind.value).ofv
        assert total == pytest.approx(engine, abs=1e-8), f"{kind.value} {error}: {total} vs nl.fit {engine}"
        ref, tol = WANG[error][kind.value]
        check_abs(f"wang2007 {error} {kind.value}", total, ref, tol)


@pytest.mark.parametrize("error", ["prop", "add"])
def test_exact_marginal_matches_the_published_integral(wang_pop, error):
    ref, tol = WANG[error]["exact"]
    check_abs(f"wang2007 {error} exact marginal -2LL", wang_pop[error].total(), ref, tol)


def _wang_grid_ofv(t, y, error, omega=0.04, var=0.1, tke=0.5):
    """-2 log of the integral of p(y | eta) N(eta; 0, omega), brute force on a fine grid (numpy)."""
    eta = np.linspace(-12 * np.sqrt(omega), 12 * np.sqrt(omega), 40001)
    f = 10 * np.exp(-tke * np.exp(eta)[:, None] * t[None, :])
    V = var * f**2 if error == "prop" else np.full_like(f, var)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):  # f underflows to 0 at large eta
        l = np.sum(np.log(V) + (y - f) ** 2 / V, axis=1)  # -2 log p(y | eta) without 2 pi
    prior = np.exp(-0.5 * eta**2 / omega) / np.sqrt(2 * np.pi * omega)
    integrand = np.where(np.isfinite(l), np.exp(-0.5 * l), 0.0) * prior  # no likelihood where V = 0
    return -2 * np.log(np.trapezoid(integrand, eta))  # l has no 2 pi terms: the OFV convention


@pytest.mark.parametrize("error", ["prop", "add"])
def test_quadrature_equals_a_brute_force_grid_per_subject(wang_pop, error):
    data = nl.read_nonmem(DATA / "wang2007.csv")
    for i in range(data.n_subjects):
        sl = data.subject_slice(i)
        ref = _wang_grid_ofv(data.time[sl], data.dv[sl], error)
        assert wang_pop[error].exact[i] == pytest.approx(ref, abs=1e-8), f"subject {data.subject_id(i)}"


def test_a_model_linear_in_eta_makes_every_method_exact(linear_ap):
    """f = ta + eta_a + (tb + eta_b) t with additive error: y ~ N(X theta, Z Omega Z' + s^2 I)
    exactly, so the 2-D cubature and all four methods give log det C + r' C^-1 r."""
    data = linear_ap.dataset
    pop = linear_ap.population()
    for i in range(data.n_subjects):
        sl = data.subject_slice(i)
        t, y = data.time[sl], data.dv[sl]
        Z = np.column_stack([np.ones_like(t), t])
        C = Z @ np.diag([0.5, 0.3]) @ Z.T + 0.25 * np.eye(len(t))
        r = y - (10 - 2 * t)
        ref = np.linalg.slogdet(C)[1] + r @ np.linalg.solve(C, r)
        assert pop.exact[i] == pytest.approx(ref, abs=1e-7)
        for kind in APPROXIMATIONS:
            assert pop.methods[kind][i] == pytest.approx(ref, abs=1e-6), kind.value


def _theo_grid_ofv(data, i, p):
    """Subject i of theo_sd with etas on ka and cl: brute-force 2-D grid, closed-form
    one-compartment oral model in numpy (independent of the engine)."""
    sl = data.subject_slice(i)
    dose = float(data.amt[sl][data.evid[sl] == 1][0])
    obs = (data.evid[sl] == 0) & (data.mdv[sl] == 0)
    t, y = data.time[sl][obs], data.dv[sl][obs]
    wa, wc = np.sqrt(p["eta_ka"]), np.sqrt(p["eta_cl"])
    ea = np.linspace(-9 * wa, 9 * wa, 1201)
    ec = np.linspace(-9 * wc, 9 * wc, 1201)
    ka = np.exp(p["tka"] + ea)[:, None, None]
    cl = np.exp(p["tcl"] + ec)[None, :, None]
    v = np.exp(p["tv"])
    k = cl / v
    cp = dose * ka / (v * (ka - k)) * (np.exp(-k * t) - np.exp(-ka * t))
    l = np.sum((y - cp) ** 2, axis=2) / p["add_sd"] ** 2 + len(t) * np.log(p["add_sd"] ** 2)
    prior = np.exp(-0.5 * (ea[:, None] ** 2 / p["eta_ka"] + ec[None, :] ** 2 / p["eta_cl"])) / (2 * np.pi * wa * wc)
    inner = np.trapezoid(np.exp(-0.5 * (l - l.min())) * prior, ec, axis=1)
    return -2 * np.log(np.trapezoid(inner, ea)) + l.min()


def test_two_eta_quadrature_equals_a_brute_force_grid_on_theophylline():
    model = nl.Model(THEO_2ETA)
    data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
    ap = ApproximationProblem(model, data)
    p = model.initial_values()
    for i in (0, 4):
        s = ap.subject(index=i)
        assert s.exact_ofv == pytest.approx(_theo_grid_ofv(data, i, p), abs=1e-5), f"subject {s.subject_id}"
        assert abs(s.methods[MethodKind.LAPLACE].ofv - s.exact_ofv) < 1.0  # a smooth, peaked integrand


@pytest.mark.parametrize("error", ["prop", "add"])
def test_each_curve_integrates_to_its_methods_likelihood(wang_ap, error):
    """What the plot draws: the area under each Gaussian (and the exact curve) is the method's
    (the exact) likelihood, up to the common factor exp(-L_min / 2) and the prior's constant."""
    ap = wang_ap[error]
    s = ap.subject(subject_id=3)
    prof = ap.profile(s, n=4001, width=12.0)
    const = s.inner_min + np.log(2 * np.pi) + np.log(0.04)
    assert -2 * np.log(np.trapezoid(prof.exact, prof.eta)) + const == pytest.approx(s.exact_ofv, abs=1e-6)
    for kind, y in prof.gaussians.items():
        assert -2 * np.log(np.trapezoid(y, prof.eta)) + const == pytest.approx(s.methods[kind].ofv, abs=1e-6)
    assert 1 - 1e-4 < np.max(prof.exact) <= 1 + 1e-9  # drawn relative to the mode, where L is least


def test_two_eta_marginal_curves_integrate_to_the_likelihood(linear_ap):
    s = linear_ap.subject(index=2)
    prof = linear_ap.profile(s, eta="eta_b", n=301, width=8.0)
    const = s.inner_min + 2 * np.log(2 * np.pi) + np.log(0.5 * 0.3)
    assert -2 * np.log(np.trapezoid(prof.exact, prof.eta)) + const == pytest.approx(s.exact_ofv, abs=1e-4)
    np.testing.assert_allclose(prof.gaussians[MethodKind.LAPLACE], prof.exact, rtol=1e-4, atol=1e-9)


def test_parameters_move_the_numbers_as_the_engine_says(wang_ap):
    """A changed omega: the sums still equal nl.fit at that omega."""
    ap = wang_ap["prop"]
    pop = ap.population({"eta_ke": 0.2})
    model = nl.Model.from_file(MODELS / "wang2007_prop.nlm").with_initial(eta_ke=0.2)
    data = nl.read_nonmem(DATA / "wang2007.csv")
    assert pop.total("focei") == pytest.approx(nl.fit(model, data, "focei").ofv, abs=1e-8)
    assert pop.total() != pytest.approx(WANG["prop"]["exact"][0], abs=0.1)


def test_a_block_covariance_is_named_in_either_order():
    """The model's parameter table reads a user's dict for every layer: "eta_b,eta_a" is the
    covariance reported as "eta_a,eta_b" (simulate accepted it, the approximations did not)."""
    ap = ApproximationProblem(nl.Model(LINEAR.replace("eta_a ~ 0.5\neta_b ~ 0.3", "eta_a + eta_b ~ [0.5, 0.1, 0.3]")),
                              nl.read_nonmem(DATA / "wang2007.csv"))
    given, reported = ap.values({"eta_b,eta_a": 0.05}), ap.values({"eta_a,eta_b": 0.05})
    np.testing.assert_array_equal(given.omega, reported.omega)
    np.testing.assert_array_equal(given.omega, [[0.5, 0.05], [0.05, 0.3]])


def test_errors_name_the_problem(wang_ap):
    with pytest.raises(NlmeError, match="unknown parameter 'tcl'.*tke"):
        wang_ap["prop"].values({"tcl": 1.0})
    with pytest.raises(NlmeError, match="no subject with ID 99"):
        wang_ap["prop"].subject(subject_id=99)
    theo = ApproximationProblem(nl.example_path("theo_sd.nlm"), nl.example_path("theo_sd.csv"))
    with pytest.raises(NlmeError, match="1 or 2 etas.*has 3 \\(eta_ka, eta_cl, eta_v\\)"):
        theo.subject(index=0)


def test_the_plot_shows_the_curves_and_log_likelihoods(wang_ap):
    pytest.importorskip("bokeh")
    from nlme_lab.plots.approximations import approximation_plot, update_approximation_plot

    ap = wang_ap["prop"]
    s = ap.subject(subject_id=1)
    prof = ap.profile(s)
    fig = approximation_plot(prof, s)
    np.testing.assert_array_equal(fig.select_one({"name": "approx_focei"}).data["Y"],
                                  prof.gaussians[MethodKind.FOCEI])
    labels = {item.name: item.label["value"] for item in fig.legend[0].items}
    assert labels["exact"].endswith(f"{-0.5 * s.exact_ofv:.4f}")
    assert labels["laplace"].endswith(f"{s.methods[MethodKind.LAPLACE].loglik:.4f}")
    s2 = ap.subject({"prop_sd": 0.5}, subject_id=2)
    prof2 = ap.profile(s2)
    update_approximation_plot(fig, prof2, s2)
    np.testing.assert_array_equal(fig.select_one({"name": "approx_exact"}).data["Y"], prof2.exact)
    labels = {item.name: item.label["value"] for item in fig.legend[0].items}
    assert labels["fo"].endswith(f"{s2.methods[MethodKind.FO].loglik:.4f}")
    assert "Subject 2" in fig.title.text
