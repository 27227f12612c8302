"""Every tutorial notebook runs headless from top to bottom (nbclient), as in CI, and the numbers
it prints on its last line (``RESULT key=value ...``) are checked: against the published
references (tests/shared/refs, with the tolerances of tests/reference), or against independent
recomputations (a brute-force integral, a fit on one subject, counts read from the data).

Each notebook is executed once per session; a check cell may be appended to recompute a
number in the tutorial's own kernel. Runtimes are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import numpy as np
import pytest

nbformat = pytest.importorskip("nbformat", reason="the jupyter extra is not installed")
nbclient = pytest.importorskip("nbclient", reason="the jupyter extra is not installed")

from tests.conftest import DATA  # noqa: E402
from tests.reference.refcheck import check_abs, check_rel, reference  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("*.ipynb"))
BUDGET_S = 300.0  # a tutorial should take about 2 minutes on 2 cores; timings here are noisy

THEO = reference("theo_sd.nlmixr2.focei")
PHENO = reference("pheno.nonmem.focei.pheno_real")
WARFARIN_PK = reference("warfarin_pk.nonmem.focei.1cpt_combined")
WANG = {"fo": (39.213, 1e-3), "foce": (39.207, 1e-3), "focei": (39.458, 1e-3), "laplace": (39.2268, 2e-3),
        "exact": (39.3548, 1e-3)}  # refs README section 4, proportional error

# check cells, run in the tutorial's kernel after its own cells
REPLAY_CELLS = ("ns = {}\n"
                "for code in cells[:4]:  # import, data, model, fit\n"
                "    exec(code, ns)\n"
                "print('CHECK ' + repr({'replayed_ofv': ns['fit'].ofv}))")
EVALUATE_PKPD = ("_fixed = pkpd.model.with_initial(**pkpd.estimates).fix(*pkpd.model.parameter_names())\n"
                 "print('CHECK ' + repr({'evaluated_ofv': nl.fit(_fixed, data, 'focei', covariance=None).ofv}))")
CHECK_CELLS = {"01_theophylline_lab.ipynb": REPLAY_CELLS, "02_warfarin_pkpd.ipynb": EVALUATE_PKPD}

_RUNS: dict[str, tuple[dict, dict, float]] = {}
_STDERR: dict[str, list[str]] = {}


def _stdout(nb, name: str = "stdout") -> list[str]:
    return [line for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
            if o.output_type == "stream" and o.name == name for line in o.text.splitlines()]


def parse_result(line: str) -> dict:
    """``RESULT a=1.5 b='x'`` -> {"a": 1.5, "b": "x"} (each value a Python literal)."""
    out = {}
    for item in line.removeprefix("RESULT ").split():
        key, _, value = item.partition("=")
        out[key] = ast.literal_eval(value)
    return out


def run(name: str) -> tuple[dict, dict, float]:
    """Execute tutorial ``name`` (once per session): (RESULT values, CHECK values, seconds)."""
    if name not in _RUNS:
        path = ROOT / "tutorials" / name
        nb = nbformat.read(path, as_version=4)
        if name in CHECK_CELLS:
            nb.cells.append(nbformat.v4.new_code_cell(CHECK_CELLS[name]))
        t0 = time.perf_counter()
        nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - t0
        errors = [f"{o.ename}: {o.evalue}" for c in nb.cells if c.cell_type == "code"
                  for o in c.get("outputs", []) if o.output_type == "error"]
        assert not errors, f"{name}: {errors}"
        lines = _stdout(nb)
        results = [ln for ln in lines if ln.startswith("RESULT ")]
        assert results, f"{name} printed no RESULT line"
        checks = {}
        for ln in lines:
            if ln.startswith("CHECK "):
                checks.update(ast.literal_eval(ln.removeprefix("CHECK ")))
        print(f"\n{name}: {seconds:.1f} s")
        _STDERR[name] = _stdout(nb, "stderr")
        _RUNS[name] = (parse_result(results[-1]), checks, seconds)
    return _RUNS[name]


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs_within_budget(path):
    _, _, seconds = run(path.name)
    assert seconds < BUDGET_S, f"{path.name} took {seconds:.0f} s (budget {BUDGET_S:.0f} s)"


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_prints_no_warning(path):
    """A reader sees no library warning (pandas deprecations, numerical noise) under the cells."""
    run(path.name)
    assert not [line for line in _STDERR[path.name] if "Warning" in line], _STDERR[path.name]


@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_text_has_no_raw_latex(path):
    """Formulas in markdown are between $...$ (rendered); outside them and code spans no TeX
    markup shows as raw text (``e^{...}``, ``L_{min}``, ``\\min``)."""
    import re

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        plain = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`", "", cell.source, flags=re.S)
        assert not re.search(r"[\^_]\{|\\[A-Za-z]+", plain), f"{path.name}, cell {cell.id}: {plain}"


def test_the_tutorials_are_there():
    names = {p.name[:2] for p in TUTORIALS}
    assert {"00", "01", "02", "03", "04"} <= names


def _check_theo_focei(r: dict, label: str) -> None:
    check_abs(f"{label} OFV", r["ofv"], THEO["objective"]["value"], 0.01)
    for name in ("tka", "tcl", "tv"):
        check_rel(f"{label} {name}", r[name], THEO["theta"][name]["value"], 0.01)
    check_rel(f"{label} add_sd", r["add_sd"], THEO["theta"]["add.sd"]["value"], 0.01)
    for name, ref in THEO["omega2_derived"].items():
        if name.startswith("eta."):
            check_rel(f"{label} omega^2 {name}", r[name.replace(".", "_")], ref, 0.01)


def test_quick_start_fit_matches_nlmixr2():
    r, _, _ = run("00_quick_start.ipynb")
    _check_theo_focei(r, "00 quick start")


def test_lab_fit_matches_nlmixr2_and_its_cells_replay_it():
    r, checks, _ = run("01_theophylline_lab.ipynb")
    _check_theo_focei(r, "01 Lab")
    for name, ref in THEO["omega_published_as"]["shrinkage_SD_percent"].items():
        check_abs(f"01 Lab shrinkage {name}", r[f"shrink_{name.replace('.', '_')}"], ref, 1.0)
    assert checks["replayed_ofv"] == pytest.approx(r["ofv"], abs=1e-6), "lab.to_cells() does not reproduce the fit"


def test_warfarin_pk_step_matches_nonmem():
    r, _, _ = run("02_warfarin_pkpd.ipynb")
    check_abs("02 warfarin PK OFV", r["pk_ofv"], WARFARIN_PK["objective"]["value"], 0.01)
    for name, key in {"tka": "log_ka", "tcl": "log_cl", "tv": "log_v"}.items():
        check_rel(f"02 warfarin PK exp({name})", float(np.exp(r[f"pk_{name}"])),
                  float(np.exp(WARFARIN_PK["theta"][key]["value"])), 0.002)
    for name in ("prop_sd", "add_sd"):
        check_rel(f"02 warfarin PK {name}", r[f"pk_{name}"], WARFARIN_PK["theta"][name]["value"], 0.01)
    for name in ("ka", "cl", "v"):
        check_rel(f"02 warfarin PK omega^2 {name}", r[f"pk_eta_{name}"], WARFARIN_PK["omega2"][name]["value"], 0.01)


def test_warfarin_pkpd_fit_is_consistent_with_its_data_and_the_pk_reference():
    import pandas as pd

    r, checks, _ = run("02_warfarin_pkpd.ipynb")
    assert r["pkpd_converged"] == "converged"
    frame = pd.read_csv(DATA / "warfarin.csv")
    obs = frame[frame["MDV"] == 0]
    assert (r["n_cp"], r["n_effect"]) == (int((obs["DVID"] == 1).sum()), int((obs["DVID"] == 2).sum()))
    # the reported OFV is the objective at the reported estimates, evaluated afresh from eta = 0
    assert checks["evaluated_ofv"] == pytest.approx(r["pkpd_ofv"], abs=1e-3)
    # PCA joining the fit leaves clearance and volume where the NONMEM PK-only fit has them
    for name, key in {"tcl": "log_cl", "tv": "log_v"}.items():
        check_rel(f"02 PK/PD exp({name}) vs NONMEM PK only", float(np.exp(r[f"pkpd_{name}"])),
                  float(np.exp(WARFARIN_PK["theta"][key]["value"])), 0.05)
    baseline = obs[(obs["DVID"] == 2) & (obs["TIME"] == 0)]["DV"].median()
    assert r["pca0_median"] == baseline
    check_rel("02 PK/PD baseline PCA exp(te0) vs observed median at t = 0", float(np.exp(r["pkpd_te0"])),
              float(baseline), 0.05)


def test_phenobarbital_fit_matches_nonmem():
    r, _, _ = run("03_phenobarbital_covariates.ipynb")
    check_abs("03 pheno OFV", r["ofv"], PHENO["objective"]["value"], 0.01)
    thetas = {"tvcl": "TH1_CL_per_kg", "tvv": "TH2_V_per_kg", "apgr_v": "TH3_APGR_lt5_V_fraction"}
    for name, key in thetas.items():
        check_rel(f"03 pheno {name}", r[name], PHENO["theta"][key]["value"], 0.002)
        check_rel(f"03 pheno SE {name}", r[f"se_{name}"], PHENO["theta"][key]["se"], 0.05)
    for name, key in {"eta_cl": "ETA1_CL", "eta_v": "ETA2_V"}.items():
        check_rel(f"03 pheno omega^2 {name}", r[name], PHENO["omega2"][key]["value"], 0.01)
    check_rel("03 pheno prop_sd", r["prop_sd"], float(np.sqrt(PHENO["sigma2"]["EPS1_prop"]["value"])), 0.01)
    shrink = PHENO["diagnostics"]
    for name, ref in zip(("eta_cl", "eta_v"), shrink["eta_shrinkage_sd_percent"]):
        check_abs(f"03 pheno shrinkage {name}", r[f"shrink_{name}"], ref, 1.0)
    check_abs("03 pheno eps shrinkage", r["shrink_eps"], shrink["eps_shrinkage_sd_percent"], 1.0)


def test_phenobarbital_covariate_steps_are_nested_improvements():
    """The weight model is nested in the reference model (apgr_v = 0) and contains the
    no-covariate model's fit quality by far: the OFVs must fall in that order."""
    r, _, _ = run("03_phenobarbital_covariates.ipynb")
    assert r["base_ofv"] - r["wt_ofv"] > 3.84
    assert r["wt_ofv"] >= r["ofv"] - 1e-6


def test_approximations_match_wang2007_and_independent_integrals():
    import nlme_lab as nl
    from tests.diagnostics.test_approximations import THEO_2ETA, _theo_grid_ofv, _wang_grid_ofv

    r, _, _ = run("04_estimation_approximations.ipynb")
    for name, (ref, tol) in WANG.items():
        check_abs(f"04 wang2007 prop {name}", r[f"wang_{name}"], ref, tol)
    # the view moved to subject 5 with prop_sd 0.1 and omega 0.4: brute force and a one-subject fit
    data = nl.read_nonmem(DATA / "wang2007.csv")
    i = [data.subject_id(k) for k in range(data.n_subjects)].index(r["moved_id"])
    sl = data.subject_slice(i)
    grid = _wang_grid_ofv(data.time[sl], data.dv[sl], "prop", omega=0.4, var=0.01)
    assert r["moved_exact"] == pytest.approx(grid, abs=1e-7)
    one = nl.read_nonmem(DATA / "wang2007.csv", filter={"accept": [f"ID.EQ.{r['moved_id']}"]})
    model = nl.Model.from_file(nl.example_path("wang2007_prop.nlm")).with_initial(prop_sd=0.1, eta_ke=0.4)
    for method in ("fo", "foce", "focei", "laplace"):
        assert r[f"moved_{method}"] == pytest.approx(nl.fit(model, one, method).ofv, abs=1e-7), method
    # theophylline, two etas, subject 1: brute-force 2-D grid and one-subject evaluations
    theo = nl.Model(THEO_2ETA)
    theo_data = nl.read_nonmem(nl.example_path("theo_sd.csv"))
    assert r["theo_exact"] == pytest.approx(_theo_grid_ofv(theo_data, 0, theo.initial_values()), abs=1e-5)
    fixed = theo.fix(*theo.parameter_names())
    subject1 = nl.read_nonmem(nl.example_path("theo_sd.csv"), filter={"accept": ["ID.EQ.1"]})
    for method in ("fo", "focei", "laplace"):
        assert r[f"theo_{method}"] == pytest.approx(nl.fit(fixed, subject1, method).ofv, abs=1e-6), method


# --------------------------------------------------------------------------- 11: NONMEM control streams
def test_nonmem_tutorial_fit_matches_nonmem_and_the_export_round_trips():
    r, _, _ = run("11_from_nonmem.ipynb")
    assert r["method"] == "focei"  # from $ESTIMATION METHOD=1 INTERACTION
    check_abs("11 pheno (control stream) OFV", r["ofv"], PHENO["objective"]["value"], 0.01)
    thetas = {"theta1": "TH1_CL_per_kg", "theta2": "TH2_V_per_kg", "theta3": "TH3_APGR_lt5_V_fraction"}
    for name, key in thetas.items():
        check_rel(f"11 pheno {name}", r[name], PHENO["theta"][key]["value"], 0.002)
        check_rel(f"11 pheno SE {name}", r[f"se_{name}"], PHENO["theta"][key]["se"], 0.05)
    check_rel("11 pheno prop_sd", r["prop_sd"], float(np.sqrt(PHENO["sigma2"]["EPS1_prop"]["value"])), 0.01)
    # the exported control stream, imported and evaluated at the estimates, gives the fit's OFV
    assert r["roundtrip_ofv"] == pytest.approx(r["ofv"], abs=1e-3)


# --------------------------------------------------------------------------- 10: immunology and ecology
LOBLOLLY = reference("loblolly.nlme.ml")
THINNED = {4: [3], 8: [3, 5], 10: [3, 5, 10]}  # the tutorial's units measured only young


def test_antibody_decay_recovers_the_simulating_values():
    """The simulated antibody data (seeded) give back the values they were simulated from,
    each within three standard errors; the half-life is log 2 / k."""
    r, _, _ = run("10_immunology_and_ecology.ipynb")
    for name, true in {"tbase": 100, "tplateau": 30, "tk": 0.02}.items():
        assert abs(r[f"ab_{name}"] - np.log(true)) < 3 * r[f"ab_se_{name}"], name
    assert r["ab_half_life"] == pytest.approx(np.log(2) / np.exp(r["ab_tk"]), rel=1e-12)
    assert 0.07 < r["ab_prop_sd"] < 0.13


def test_loblolly_one_stage_matches_r_nlme_and_per_unit_fits_match_nlslist():
    r, _, _ = run("10_immunology_and_ecology.ipynb")
    for name, key in {"tasym": "Asym", "tr0": "R0", "tlrc": "lrc"}.items():
        check_rel(f"10 Loblolly {name} vs R nlme", r[f"lob_{name}"], LOBLOLLY["fixed"][key], 0.01)
    assert r["lob_ofv"] + LOBLOLLY["m2ll_with_constant"] - (-2 * LOBLOLLY["loglik"]) < 229.486  # sanity of refs
    assert -0.2 < r["lob_ofv"] + 84 * np.log(2 * np.pi) - LOBLOLLY["m2ll_with_constant"] < -0.05
    nls = LOBLOLLY["per_unit_nls"]
    for k in range(14):
        for name, key in (("asym", "Asym"), ("r0", "R0"), ("lrc", "lrc")):
            check_rel(f"10 nls {name} of seed {nls['seed'][k]}", r[f"nls_{name}_{k + 1}"], nls[key][k], 1e-5)


def test_loblolly_sparse_units_shrink_as_the_linear_model_says():
    """Asym_i enters linearly, so the one-stage EBE of a unit is A + w (own - A) exactly: recomputed
    here from the data and the printed population estimates, against the engine's EBEs."""
    import pandas as pd

    r, _, _ = run("10_immunology_and_ecology.ipynb")
    frame = pd.read_csv(DATA / "loblolly.csv")
    asym, r0, lrc, omega, sd = (r[f"thin_{k}"] for k in ("tasym", "tr0", "tlrc", "eta_asym", "add_sd"))
    weights = []
    for sid, ages in THINNED.items():
        unit = frame[(frame["ID"] == sid) & frame["AGE"].isin(ages)]
        z = 1 - np.exp(-np.exp(lrc) * unit["AGE"].to_numpy())
        y = unit["DV"].to_numpy() - r0 * (1 - z)
        posterior_mean = (np.sum(z * (y - asym * z)) / sd**2) / (np.sum(z * z) / sd**2 + 1 / omega)
        assert r[f"thin_ebe_{sid}"] == pytest.approx(asym + posterior_mean, abs=1e-4), sid
        weights.append(r[f"thin_weight_{sid}"])
    assert weights == sorted(weights) and weights[0] < 0.5  # more heights, more weight on the unit's own


def test_a_three_point_per_unit_fit_has_no_anchor():
    """Three heights, three parameters: the per-unit curve interpolates them (residual 0) with an
    asymptote far from anything the full data of that unit say."""
    r, _, _ = run("10_immunology_and_ecology.ipynb")
    assert r["three_point_asym"] > 5 * r["nls_asym_10"]


def test_covariate_search_keeps_weight_on_cl_and_v():
    """05: the SCM ends with WT on cl and v, at the OFVs tests/covariates/test_scm.py asserts."""
    r, _, _ = run("05_covariate_search.ipynb")
    assert r["cl_wt"] and r["v_wt"] and r["n_relations"] == 2
    assert r["base_ofv"] == pytest.approx(730.8947, abs=1e-3)
    assert r["final_ofv"] == pytest.approx(588.6545, abs=1e-3)
    assert r["allometry_ofv"] < r["base_ofv"]


def test_map_dosing_reproduces_mapbayr_and_doses_by_clearance():
    """mapbayr's README numbers; the AUC dose is the window's middle times the MAP CL, rounded."""
    r, _, _ = run("09_map_dosing.ipynb")
    assert r["eta_cl"] == pytest.approx(0.3872104, abs=1e-4) and r["eta_v1"] == pytest.approx(0.1569604, abs=1e-4)
    assert r["cl"] == pytest.approx(1.79217, abs=1e-4)
    for t, ipred, pred in ((6, 4.162, 5.174), (15, 1.087, 1.647), (24, 0.556, 0.959)):
        assert round(r[f"ipred_{t}"], 3) == ipred and round(r[f"pred_{t}"], 3) == pred
    assert r["dose"] == 5 * round(np.sqrt(40 * 60) * r["cl"] / 5)
    assert 0.5 < r["dose_probability"] < 0.9
    assert r["blq_eta_cl"] > r["eta_cl"]  # "< 1.5 at 15 h" allows a faster clearance than 1.1 did


def test_virtual_trial_pta_of_auc_matches_the_closed_form_over_the_weights():
    """AUC = dose / (tvcl WT exp(eta_cl)): PTA = mean over the 59 weights of a normal-CDF difference."""
    import pandas as pd
    from scipy.stats import norm
    r, _, _ = run("08_virtual_trial_and_label.ipynb")
    wt = pd.read_csv(DATA / "pheno.csv").groupby("ID")["WT"].first().to_numpy()
    sd = np.sqrt(r["eta_cl"])
    for dose in (2, 3, 4, 5):
        mu = np.log(dose / (r["tvcl"] * wt))  # log AUC of a typical neonate of each weight
        exact = np.mean(norm.cdf((mu - np.log(400)) / sd) - norm.cdf((mu - np.log(800)) / sd))
        se = np.sqrt(exact * (1 - exact) / r["n_total"])
        assert abs(r[f"pta_auc_{dose}"] - exact) < 4 * se, dose
    assert r["label_ok"] == 1.0
    assert r["ptau_2_light"] > r["ptau_2_heavy"] and r["ptau_5_light"] < r["ptau_5_heavy"]
