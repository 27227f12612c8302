"""Write the tutorial notebooks from the cell sources below (run: python tools/make_tutorials.py).

Notebooks are generated, not hand-edited, so their code stays reviewable as plain Python and
they are saved without outputs. tests/test_tutorials.py executes every one with nbclient and
checks the numbers each prints on its last line, ``RESULT key=value ...``, against the
published references (tests/shared/refs, copied from ../shared) or against independent recomputations.

Every tutorial reads only bundled files (``nl.example_path``), so it runs from any folder,
on Binder as in CI, and keeps under about two minutes on two cores.
"""

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parents[1] / "tutorials"

BOKEH = ("from bokeh.io import output_notebook, show\n"
         "from bokeh.resources import INLINE\n"
         "from nlme_lab import plots\n"
         "output_notebook(INLINE, hide_banner=True)  # BokehJS inline: works offline")


def result_line(source: str) -> str:
    """A cell that prints ``RESULT name=repr(value) ...`` for each ``name: expression`` pair."""
    return ("values = {\n" + source + "\n}\n"
            "print('RESULT ' + ' '.join(f'{k}={v!r}' for k, v in values.items()))  # read by tests/test_tutorials.py")


QUICK_START = [
    ("md", "# 00 · Quick start\n\nLoad the bundled theophylline data and model, fit them by "
           "FOCEI, and look at the estimates and a visual predictive check. Five lines of code."),
    ("code", "import nlme_lab as nl\n"
             "data = nl.read_nonmem(nl.example_path(\"theo_sd.csv\"))\n"
             "model = nl.Model.from_file(nl.example_path(\"theo_sd.nlm\"))\n"
             "fit = nl.fit(model, data, method=\"focei\")\n"
             "fit"),
    ("md", "The table shows each `[ini]` parameter on the scale it is declared (log-scale thetas "
           "stay on the log scale, with the median and mean of the log-normal parameter beside "
           "them), omega variances with CV%, the residual SD, standard errors from the "
           "R⁻¹SR⁻¹ sandwich, and eta/epsilon shrinkage."),
    ("code", BOKEH + "\n"
             "show(plots.vpc_plot(nl.vpc(fit, n=200, seed=1)))"),
    ("md", "Goodness of fit: observations against population and individual predictions, "
           "conditional weighted residuals and their QQ plot."),
    ("code", "table = nl.residuals(fit, seed=1)\n"
             "show(plots.gof_panel(table))"),
    ("md", "The model text is compiled to numba kernels; `model.source()` shows the generated "
           "Python (the model text itself never runs as Python)."),
    ("code", "print(model.source()[:600])"),
    ("code", result_line("    'ofv': fit.ofv,\n"
                             "    **{k: fit.estimates[k] for k in ('tka', 'tcl', 'tv', 'add_sd', 'eta_ka', 'eta_cl', 'eta_v')},")),
]

THEOPHYLLINE_LAB = [
    ("md", "# 01 · Theophylline in the Lab, end to end\n\n"
           "The Lab is the whole modelling loop in one widget: the data, the model editor, a slider "
           "per parameter with live predictions, the fit with its streamed OFV trace, the "
           "diagnostics, the run history and the export back to notebook cells.\n\n"
           "Data: 12 subjects given one oral dose of theophylline (Boeckmann, Sheiner & Beal; R's "
           "`datasets::Theoph`). Model: one compartment with first-order absorption, log-normal "
           "ka, CL and V, additive residual error."),
    ("code", "import nlme_lab as nl\n"
             "lab = nl.Lab(data=nl.example_path(\"theo_sd.csv\"), model=nl.example_path(\"theo_sd.nlm\"))\n"
             "lab"),
    ("md", "**Try it.** *Data* shows every subject with the current predictions. In *Model & "
           "parameters* edit the model (errors are underlined as you type; the last model that "
           "compiled stays the working one) and move a slider: IPRED and PRED redraw at once. *Fit* "
           "runs the estimation in the background; *Stop* keeps the best estimates so far.\n\n"
           "Everything the widgets do can be done from code, which is what this notebook does so "
           "that it also runs headless. Set two sliders at once:"),
    ("code", "lab.parameter_panel.set_values({\"tka\": 0.3, \"tv\": 3.3})\n"
             "{k: round(v, 4) for k, v in lab.parameters.items()}"),
    ("md", "The panels now show the predictions at these values. They are the engine's numbers: "
           "the first panel's PRED equals an independent `nl.simulate` at the same parameters."),
    ("code", "import numpy as np\n"
             "sim = nl.simulate(lab.model, lab.dataset, params=lab.parameters).table\n"
             "first = sim[(sim[\"EVID\"] == 0) & (sim[\"MDV\"] == 0) & (sim[\"ID\"] == lab.dataset.ids[0])]\n"
             "plotted = np.asarray(lab.individual_sources()[0].data[\"PRED\"])\n"
             "print(f\"largest |plotted PRED - nl.simulate PRED| in ID {lab.dataset.ids[0]:g}: \"\n"
             "      f\"{np.max(np.abs(plotted - first['PRED'].to_numpy())):.2e} mg/L\")"),
    ("md", "## Fit\n\n`lab.fit(method)` is the *Start* button: the fit starts from the slider values, "
           "runs in a background thread and streams each iteration into the *Fit* tab; `wait=True` "
           "(the default) returns the `FitResult` when it is done. Afterwards the sliders hold the "
           "estimates, IPRED uses each subject's empirical Bayes estimates (EBEs), the *Diagnostics* "
           "tab is refreshed and the run is added to *History*."),
    ("code", "fit = lab.fit(\"focei\")\n"
             "lab.diagnostics.wait()  # the Diagnostics tab computes in the background too\n"
             "fit"),
    ("md", "nlmixr2 reports OBJF 116.804 for this model and data (FOCEi; refs section 1a); the "
           "objective excludes the N·log(2π) constant, as NONMEM's does. ka varies most between "
           "subjects (ω² ≈ 0.40, a CV of 70 %).\n\n"
           "## Diagnostics\n\nThe *Diagnostics* tab of the Lab now shows the goodness-of-fit "
           "plots, the EBEs and a VPC of this fit. The numbers behind them come from "
           "`nl.residuals` (the figures from code: `plots.gof_panel(table)`, as in tutorial 00). "
           "CWRES and NPDE should look like standard normal draws when the model describes "
           "the data:"),
    ("code", "table = nl.residuals(fit, seed=1)\n"
             "rec = table.records\n"
             "for col in (\"CWRES\", \"NPDE\"):\n"
             "    print(f\"{col}: mean {rec[col].mean():+.3f}, SD {rec[col].std():.3f}, \"\n"
             "          f\"|{col}| > 2 in {100 * (rec[col].abs() > 2).mean():.1f} % of {len(rec)} observations\")\n"
             "table"),
    ("md", "## Back to code\n\n`lab.to_cells()` writes the session as notebook cells: the data, the "
           "model text with the initial values this fit started from, the fit call and the "
           "diagnostics. Run in order they reproduce this fit (the *Export* button inserts them "
           "below the Lab)."),
    ("code", "cells = lab.to_cells()\n"
             "print(\"\\n\\n# ----\\n\".join(cells))"),
    ("md", "## Exploring again\n\nAfter a fit IPRED follows each subject's EBEs. To compare "
           "typical-subject curves again (IPRED = PRED) while you move sliders, put the etas back to "
           "zero; the fit itself (`lab.last_fit`, *History*) is kept. The fit trace is cleared for "
           "the next run."),
    ("code", "lab.clear_etas()"),
    ("code", result_line("    'ofv': fit.ofv,\n"
                             "    **{k: fit.estimates[k] for k in ('tka', 'tcl', 'tv', 'add_sd', 'eta_ka', 'eta_cl', 'eta_v')},\n"
                             "    **{f'shrink_{k}': v for k, v in fit.shrinkage.eta_sd.items()},\n"
                             "    'cwres_mean': float(rec['CWRES'].mean()), 'cwres_sd': float(rec['CWRES'].std()),\n"
                             "    'n_cells': len(cells),")),
]

WARFARIN_PKPD = [
    ("md", "# 02 · Warfarin PK/PD: two endpoints in one model\n\n"
           "32 subjects, one oral dose of warfarin; plasma concentrations (`DVID = 1`) and the "
           "prothrombin complex activity, PCA, in % of normal (`DVID = 2`), the anticoagulant "
           "effect, which falls days after the concentration peak (O'Reilly & Aggeler 1968; "
           "nlmixr2data `warfarin`).\n\nStep 1 fits the concentrations alone; step 2 fits both "
           "endpoints at once with an indirect-response (turnover) model."),
    ("code", "import numpy as np\n"
             "import nlme_lab as nl\n" + BOKEH + "\n"
             "data = nl.read_nonmem(nl.example_path(\"warfarin.csv\"))\n"
             "data"),
    ("md", "## Step 1: the concentrations\n\nOne compartment with first-order absorption and a "
           "combined (additive + proportional) error, on the concentration records only "
           "(`warfarin_pk.csv`). NONMEM 7.4.3 FOCEI gives OFV 423.327 on these data (refs section 3a)."),
    ("code", "pk_data = nl.read_nonmem(nl.example_path(\"warfarin_pk.csv\"))\n"
             "pk = nl.fit(nl.example_path(\"warfarin_pk.nlm\"), pk_data, \"focei\")\n"
             "pk"),
    ("md", "## Step 2: concentration and PCA together\n\n"
           "With two `~` lines the dataset's `DVID` column says which endpoint each observation "
           "belongs to (`DVID = k` is the k-th `~` line). Warfarin inhibits the synthesis of "
           "clotting factors, so the drug acts on the *input* of the turnover of PCA: "
           "`d/dt(effect) = kin·(1 − C/(EC50 + C)) − kout·effect`, starting at the baseline "
           "`effect(0) = e0` with `kin = e0·kout`.\n\n"
           "The bundled `warfarin_pkpd.nlm` is the full model of the shared reference set (8 etas, an "
           "Emax and a transit compartment). Fitted to these data its Emax runs to its bound of 1 "
           "with a variance of 0, and the transit and absorption rates cannot be told apart per "
           "subject; it takes about three minutes on two cores. Here: full inhibition (Emax = 1), "
           "no eta on the transit rate, six etas, PK initial values from step 1."),
    ("code", "text = \"\"\"\n[ini]\n"
             "tktr = log(1.1)      # log transit rate (1/h)\n"
             "tka  = log(1.1)      # log ka (1/h)\n"
             "tcl  = log(0.134)    # log CL (L/h)\n"
             "tv   = log(7.84)     # log V (L)\n"
             "eta_ka  ~ 0.5\n"
             "eta_cl  ~ 0.08\n"
             "eta_v   ~ 0.05\n"
             "prop_sd  = 0.1       # PK proportional SD\n"
             "pkadd_sd = 0.5       # PK additive SD (mg/L)\n"
             "tec50 = log(1)       # log EC50 (mg/L)\n"
             "tkout = log(0.05)    # log kout (1/h)\n"
             "te0   = log(100)     # log baseline PCA (%)\n"
             "eta_ec50 ~ 0.2\n"
             "eta_kout ~ 0.05\n"
             "eta_e0   ~ 0.01\n"
             "pdadd_sd = 4         # PD additive SD (%)\n\n"
             "[model]\n"
             "ktr  = exp(tktr)\n"
             "ka   = exp(tka + eta_ka)\n"
             "cl   = exp(tcl + eta_cl)\n"
             "v    = exp(tv + eta_v)\n"
             "ec50 = exp(tec50 + eta_ec50)\n"
             "kout = exp(tkout + eta_kout)\n"
             "e0   = exp(te0 + eta_e0)\n"
             "dcp  = center / v\n"
             "kin  = e0 * kout\n"
             "d/dt(depot)  = -ktr * depot\n"
             "d/dt(gut)    =  ktr * depot - ka * gut\n"
             "d/dt(center) =  ka * gut - cl / v * center\n"
             "d/dt(effect) =  kin * (1 - dcp / (ec50 + dcp)) - kout * effect\n"
             "effect(0) = e0\n"
             "cp = center / v\n"
             "cp ~ add(pkadd_sd) + prop(prop_sd)\n"
             "effect ~ add(pdadd_sd)\n"
             "\"\"\"\n"
             "start = {k: pk.estimates[k] for k in (\"tcl\", \"tv\", \"eta_cl\", \"eta_v\", \"prop_sd\")}\n"
             "pkpd_model = nl.Model(text, name=\"warfarin_pkpd_emax1\").with_initial(**start)\n"
             "[(k + 1, e.variable) for k, e in enumerate(pkpd_model.endpoints)]  # DVID -> endpoint"),
    ("md", "The fit: FOCEI, no covariance step (it would double the time; add `covariance=\"sandwich\"` "
           "for standard errors)."),
    ("code", "pkpd = nl.fit(pkpd_model, data, \"focei\", covariance=None)\n"
             "pkpd"),
    ("md", "Clearance and volume barely move when PCA joins the fit (compare step 1): the PD "
           "data inform PD parameters. kout sets the delay: a turnover half-life of "
           "log(2)/kout hours."),
    ("code", "est = pkpd.estimates\n"
             "print(f\"CL {np.exp(est['tcl']):.4f} L/h (PK only {np.exp(pk.estimates['tcl']):.4f}), \"\n"
             "      f\"V {np.exp(est['tv']):.3f} L (PK only {np.exp(pk.estimates['tv']):.3f})\")\n"
             "print(f\"EC50 {np.exp(est['tec50']):.3f} mg/L, baseline PCA {np.exp(est['te0']):.1f} %, \"\n"
             "      f\"turnover half-life {np.log(2) / np.exp(est['tkout']):.1f} h\")"),
    ("md", "## Diagnostics per endpoint\n\nEvery residual table has an `ENDPOINT` column. The figures "
           "draw each endpoint on axes of its own (mg/L and % never share a plot or a smoother), and a "
           "VPC of a model with several endpoints is stratified by `DVID`, each endpoint binned at its "
           "own sampling times."),
    ("code", "table = nl.residuals(pkpd, npde=False)\n"
             "counts = {name: int((table.records[\"ENDPOINT\"] == name).sum()) for name in table.endpoint_names}\n"
             "counts"),
    ("code", "show(plots.gof_panel(table))"),
    ("code", "show(plots.individual_fits(table, per_page=4))"),
    ("md", "The VPC's bins follow the design: each nominal sampling time is a bin of its own unless it "
           "holds fewer than 10 observations (then it joins its nearer neighbour), and each bin is "
           "drawn at the median time of its observations."),
    ("code", "vpc = nl.vpc(pkpd, n=100, seed=1)\n"
             "show(plots.vpc_plot(vpc))\n"
             "vpc.bins[[\"STRATUM\", \"LOWER\", \"UPPER\", \"X_MEDIAN\", \"N_OBS\"]]"),
    ("code", "baseline = data.table\n"
             "pca0 = baseline[(baseline[\"DVID\"] == 2) & (baseline[\"TIME\"] == 0) & (baseline[\"MDV\"] == 0)][\"DV\"]\n"
             + result_line("    'pk_ofv': pk.ofv,\n"
                               "    **{f'pk_{k}': v for k, v in pk.estimates.items()},\n"
                               "    'pkpd_ofv': pkpd.ofv,\n"
                               "    'pkpd_converged': pkpd.termination.value,\n"
                               "    **{f'pkpd_{k}': v for k, v in pkpd.estimates.items()},\n"
                               "    'n_cp': counts['cp'], 'n_effect': counts['effect'],\n"
                               "    'pca0_median': float(pca0.median()),")),
]

PHENOBARBITAL = [
    ("md", "# 03 · Phenobarbital in neonates: covariates, and what shrinkage hides\n\n"
           "59 preterm neonates given phenobarbital IV; 1–6 concentrations each, 155 in all "
           "(Grasela & Donn 1985). Covariates: birth weight `WT` (kg) and the 5-minute Apgar score "
           "`APGR`. The reference model (`pheno.nlm`, NONMEM's `pheno_real`) has CL and V "
           "proportional to weight and a larger V when `APGR < 5`."),
    ("code", "import numpy as np\n"
             "import pandas as pd\n"
             "import nlme_lab as nl\n" + BOKEH + "\n"
             "data = nl.read_nonmem(nl.example_path(\"pheno.csv\"))\n"
             "data"),
    ("md", "## A model without covariates\n\nStart with typical CL and V for the whole population "
           "(a median neonate weighs 1.3 kg) and look for structure left in the EBEs."),
    ("code", "base_text = \"\"\"\n[ini]\n"
             "tcl = (0, 0.006)    # CL (L/h)\n"
             "tv  = (0, 1.3)      # V (L)\n"
             "eta_cl ~ 0.2\n"
             "eta_v  ~ 0.2\n"
             "prop_sd = (0, 0.1)\n\n"
             "[model]\n"
             "cl = tcl * exp(eta_cl)\n"
             "v  = tv * exp(eta_v)\n"
             "cp = linCmt()\n"
             "cp ~ prop(prop_sd)\n"
             "\"\"\"\n"
             "base = nl.fit(nl.Model(base_text, name=\"pheno_base\"), data, \"focei\", covariance=None)\n"
             "base_table = nl.residuals(base, npde=False)\n"
             "show(plots.eta_covariates(base_table, [\"WT\", \"APGR\"]))"),
    ("md", "Both EBEs climb with weight: bigger babies clear more and have more volume. But read "
           "the shrinkage in the panel titles first (below): where the data say little about a "
           "subject's eta, its EBE is pulled to 0 and a true covariate relation looks flatter than "
           "it is (or vanishes)."),
    ("code", "print({k: round(v, 1) for k, v in base.shrinkage.eta_sd.items()}, \"% eta shrinkage (SD) without covariates\")"),
    ("md", "## Weight: proportional or allometric\n\n`cl = tcl·WT` (CL per kg, the reference model) "
           "against the allometric `cl = tcl·(WT/1.3)^0.75`; V proportional to weight in both."),
    ("code", "def with_weight(cl_line):\n"
             "    return (base_text.replace(\"cl = tcl * exp(eta_cl)\", cl_line)\n"
             "            .replace(\"v  = tv * exp(eta_v)\", \"v  = tv * (WT / 1.3) * exp(eta_v)\"))\n"
             "\n"
             "weight_fits = {\n"
             "    \"CL ∝ WT\": nl.fit(nl.Model(with_weight(\"cl = tcl * (WT / 1.3) * exp(eta_cl)\")), data, \"focei\", covariance=None),\n"
             "    \"CL ∝ WT^0.75\": nl.fit(nl.Model(with_weight(\"cl = tcl * (WT / 1.3)**0.75 * exp(eta_cl)\")), data, \"focei\", covariance=None),\n"
             "}\n"
             "{name: round(f.ofv, 3) for name, f in weight_fits.items()}"),
    ("md", "## The reference model: weight and Apgar\n\n`pheno.nlm` adds the Apgar effect on V "
           "(`apgr_v`: the fractional change of V when `APGR < 5`). Fitted with the sandwich "
           "covariance step, as NONMEM's `$COV UNCONDITIONAL` (refs section 2a: OFV 586.276)."),
    ("code", "model = nl.Model.from_file(nl.example_path(\"pheno.nlm\"))\n"
             "print(model.text)\n"
             "fit = nl.fit(model, data, \"focei\")\n"
             "fit"),
    ("code", "table = pd.DataFrame({\n"
             "    \"model\": [\"no covariates\", *weight_fits, \"CL, V ∝ WT; APGR < 5 on V\"],\n"
             "    \"OFV\": [base.ofv, *(f.ofv for f in weight_fits.values()), fit.ofv],\n"
             "    \"parameters\": [base.n_parameters, *(f.n_parameters for f in weight_fits.values()), fit.n_parameters],\n"
             "})\n"
             "table[\"ΔOFV vs no covariates\"] = table[\"OFV\"] - base.ofv\n"
             "table.round(3)"),
    ("md", "Weight lowers the OFV by far more than the 3.84 a χ²₁ likelihood-ratio test asks for "
           "at 5 %. The Apgar term is borderline: it lowers the OFV a little more than 3.84, "
           "yet its Wald 95 % interval (from the sandwich standard error, below) reaches just "
           "past 0. Two tests that disagree at the margin: report both, and let the pharmacology "
           "decide (asphyxiated neonates are known to retain fluid)."),
    ("code", "print(f\"apgr_v = {fit.estimates['apgr_v']:.3f}, 95% CI {fit.ci['apgr_v'][0]:.3f} to {fit.ci['apgr_v'][1]:.3f}\")\n"
             "table_ref = nl.residuals(fit, npde=False)\n"
             "show(plots.eta_covariates(table_ref, [\"WT\", \"APGR\"]))"),
    ("md", "## Shrinkage: the caveat in numbers\n\n"
           "η-shrinkage (SD) is 1 − SD(EBEs)/ω: the share of the between-subject spread that the "
           "EBEs do not show. ε-shrinkage is 1 − SD(IWRES)."),
    ("code", "for name, value in fit.shrinkage.eta_sd.items():\n"
             "    print(f\"eta shrinkage {name}: {value:.1f} %\")\n"
             "print(f\"epsilon shrinkage: {fit.shrinkage.epsilon_sd:.1f} %\")"),
    ("md", "What that means here:\n\n"
           "* **CL (≈ 47 %)**: with one to six samples per baby, many soon after a dose, the data say "
           "little about each baby's clearance; its EBEs are pulled halfway to 0. EBE-vs-covariate "
           "plots for CL can miss a real relation, or show one that is an artefact of the model "
           "already used, and the spread of individual CLs understates the true one. Test a "
           "covariate on CL by the OFV of a model that contains it (as above), not by eye.\n"
           "* **V (≈ 13 %)**: the EBEs of V are informative; the APGR and weight panels for V can be "
           "read.\n"
           "* **ε (≈ 21 %)**: IPRED is drawn towards the observations, so IWRES-based plots look "
           "better than the model is; DV-vs-IPRED flatters, CWRES and VPCs do not."),
    ("code", result_line("    'ofv': fit.ofv,\n"
                             "    **{k: fit.estimates[k] for k in ('tvcl', 'tvv', 'apgr_v', 'prop_sd', 'eta_cl', 'eta_v')},\n"
                             "    **{f'se_{k}': fit.se[k] for k in ('tvcl', 'tvv', 'apgr_v')},\n"
                             "    **{f'shrink_{k}': v for k, v in fit.shrinkage.eta_sd.items()},\n"
                             "    'shrink_eps': fit.shrinkage.epsilon_sd,\n"
                             "    'base_ofv': base.ofv,\n"
                             "    'wt_ofv': weight_fits['CL ∝ WT'].ofv,")),
]

APPROXIMATIONS = [
    ("md", "# 04 · What FO, FOCE, FOCEI and Laplace approximate, on one subject\n\n"
           "A subject's contribution to the likelihood is an integral over its random effects:\n\n"
           "$$\\mathrm{OFV}_i = -2\\log\\int p(y_i\\mid\\eta)\\,N(\\eta;0,\\Omega)\\,d\\eta "
           "= -2\\log\\int e^{-L_i(\\eta)/2}\\,d\\eta + d\\log 2\\pi + \\log\\det\\Omega$$\n\n"
           "with $L_i(\\eta) = \\sum_j l_j(\\eta) + \\eta'\\Omega^{-1}\\eta$ (no $N\\log 2\\pi$, "
           "NONMEM's convention). Every classical method replaces the integrand "
           "$e^{-L_i/2}$ by a Gaussian and integrates that instead:\n\n"
           "| method | prediction | residual variance at | curvature of the Gaussian |\n|---|---|---|---|\n"
           "| FO | linearized at η = 0 | f(0) | exact for the linearized model |\n"
           "| FOCE | exact f(η) | f(0) | Gauss–Newton Σ g g'/V + Ω⁻¹ at its mode |\n"
           "| FOCEI | exact f(η) | f(η) | + ½ Σ (∂V/∂η)(∂V/∂η)'/V² (interaction) |\n"
           "| Laplace | exact f(η) | f(η) | the true Hessian at the mode |\n\n"
           "Here the exact integral is computed too (adaptive cubature), and everything is drawn "
           "for one subject at a time."),
    ("md", "## Wang (2007): the objective-function test\n\n"
           "Ten subjects, two samples each, `f = 10·exp(−ke·t)`, `ke = 0.5·exp(η)`, ω² = 0.04, "
           "proportional residual variance 0.1, all fixed. Wang's Table 2 and nlmixr2's tests give "
           "FO 39.213, FOCE 39.207, FOCEI 39.458 (refs section 4)."),
    ("code", "import numpy as np\n"
             "import pandas as pd\n"
             "import nlme_lab as nl\n"
             "from nlme_lab.diagnostics.approximations import ApproximationProblem\n"
             "from nlme_lab.estimation import MethodKind\n\n"
             "ap = ApproximationProblem(nl.example_path(\"wang2007_prop.nlm\"), nl.example_path(\"wang2007.csv\"))\n"
             "pop = ap.population()\n"
             "per_subject = pd.DataFrame({\"exact\": pop.exact, **{k.value: v for k, v in pop.methods.items()}},\n"
             "                           index=pd.Index(pop.subject_ids, name=\"ID\"))\n"
             "per_subject.loc[\"total\"] = per_subject.sum()\n"
             "per_subject.round(4)"),
    ("md", "The totals are the fits' objectives: `nl.fit(model, data, method)` on this all-fixed "
           "model evaluates exactly these sums."),
    ("code", "data = nl.read_nonmem(nl.example_path(\"wang2007.csv\"))\n"
             "model = nl.Model.from_file(nl.example_path(\"wang2007_prop.nlm\"))\n"
             "for kind in (MethodKind.FO, MethodKind.FOCE, MethodKind.FOCEI, MethodKind.LAPLACE):\n"
             "    print(f\"{kind.value:8s} sum of subjects {pop.total(kind):9.4f}   nl.fit {nl.fit(model, data, kind.value).ofv:9.4f}\")\n"
             "print(f\"exact    {pop.total():9.4f}\")"),
    ("md", "## One subject, drawn\n\nThe black curve is the true integrand $e^{-(L-L_{\\min})/2}$; "
           "each dashed curve is the Gaussian a method integrates instead. The area under each "
           "curve is that method's likelihood (legend: log L without the constant). FO's Gaussian "
           "is exact for the model linearized at η = 0; FOCE's is centred on the mode of a "
           "likelihood whose residual variance stays at f(0) (with proportional error that moves "
           "its centre and its width); FOCEI and Laplace share the true mode and differ only in "
           "width, FOCEI's curvature leaving out the second derivatives of the prediction."),
    ("code", "from bokeh.io import output_notebook, show\n"
             "from bokeh.resources import INLINE\n"
             "from nlme_lab.plots.approximations import approximation_plot, update_approximation_plot\n"
             "output_notebook(INLINE, hide_banner=True)  # BokehJS inline: works offline\n\n"
             "one = ap.subject(subject_id=1)\n"
             "show(approximation_plot(ap.profile(one), one))"),
    ("md", "## The teaching view\n\nPick a subject, move the residual SD or the between-subject "
           "variance: the integrand, the four Gaussians and their likelihoods redraw live. Things "
           "to try: a small `prop_sd` (informative data: the integrand narrows and leaves the "
           "prior; FO falls behind), a large `eta_ke` (a wide prior: the integrand grows a tail "
           "the Gaussians miss)."),
    ("code", "import ipywidgets as w\n"
             "from jupyter_bokeh import BokehModel\n\n"
             "subject = w.Dropdown(options=list(pop.subject_ids), value=pop.subject_ids[0], description=\"subject\")\n"
             "prop_sd = w.FloatSlider(value=0.316227766, min=0.05, max=1.0, step=0.01, description=\"prop_sd\",\n"
             "                        continuous_update=False, readout_format=\".3f\")\n"
             "omega = w.FloatSlider(value=0.04, min=0.005, max=0.5, step=0.005, description=\"ω² eta_ke\",\n"
             "                      continuous_update=False, readout_format=\".3f\")\n"
             "numbers = w.HTML()\n"
             "view_fig = approximation_plot(ap.profile(one), one)\n\n"
             "def minus_2ll(s):\n"
             "    return \", \".join(f\"{k}: {v:.4f}\" for k, v in s.summary().items())\n\n"
             "def redraw(_change=None):\n"
             "    s = ap.subject({\"prop_sd\": prop_sd.value, \"eta_ke\": omega.value}, subject_id=subject.value)\n"
             "    update_approximation_plot(view_fig, ap.profile(s), s)\n"
             "    numbers.value = \"<b>−2LL</b> \" + minus_2ll(s)\n"
             "    return s\n\n"
             "for control in (subject, prop_sd, omega):\n"
             "    control.observe(redraw, names=\"value\")\n"
             "redraw()\n"
             "w.VBox([w.HBox([subject, prop_sd, omega]), BokehModel(view_fig), numbers])"),
    ("md", "The controls work from code too (this is what the tests run): a subject with "
           "precise data, and the same subject with a ten times wider prior."),
    ("code", "subject.value = pop.subject_ids[4]\n"
             "prop_sd.value = 0.1\n"
             "print(\"−2LL\", minus_2ll(redraw()))\n"
             "omega.value = 0.4\n"
             "print(\"−2LL\", minus_2ll(redraw()))\n"
             "moved = redraw()\n"
             "prop_sd.value, omega.value = 0.316227766, 0.04  # back to Wang's values"),
    ("md", "## Two random effects: theophylline\n\nWith two etas the plot shows the integrand along "
           "one of them with the other integrated out (the same for each Gaussian, exactly). A "
           "theophylline model with etas on ka and CL (V typical), at about the FOCEI estimates, "
           "subject 1: FO is more than a point off, FOCE = FOCEI (additive error: no interaction), "
           "and Laplace is within hundredths of the exact value."),
    ("code", "theo_text = \"\"\"\n[ini]\ntka = 0.46\ntcl = 1.01\ntv = 3.46\neta_ka ~ 0.40\neta_cl ~ 0.07\nadd_sd = 0.69\n"
             "[model]\nka = exp(tka + eta_ka)\ncl = exp(tcl + eta_cl)\nv = exp(tv)\ncp = linCmt()\ncp ~ add(add_sd)\n\"\"\"\n"
             "theo = ApproximationProblem(nl.Model(theo_text), nl.read_nonmem(nl.example_path(\"theo_sd.csv\")))\n"
             "theo_one = theo.subject(subject_id=1)\n"
             "show(approximation_plot(theo.profile(theo_one, eta=\"eta_ka\", n=121), theo_one))\n"
             "{k: round(v, 4) for k, v in theo_one.summary().items()}"),
    ("code", result_line("    **{f'wang_{k}': v for k, v in {'exact': pop.total(), **{k.value: pop.total(k) for k in pop.methods}}.items()},\n"
                             "    **{f'moved_{k}': v for k, v in moved.summary().items()},\n"
                             "    'moved_id': moved.subject_id,\n"
                             "    **{f'theo_{k}': v for k, v in theo_one.summary().items()},")),
]

# --------------------------------------------------------------------------- 11: NONMEM control streams
# (kept apart from the other tutorials' cells: the NONMEM import/export of issue 22)
FROM_NONMEM = [
    ("md", "# 11 · From NONMEM and back\n\n"
           "Most population models start life as a NONMEM control stream. `nl.from_nonmem` reads one and "
           "returns the model in the nlme_lab language plus a *spec*: the data file of `$DATA` (read as NM-TRAN "
           "reads it: `$INPUT` names the columns by position, IGNORE/ACCEPT apply), the `$ESTIMATION` method "
           "and the `$COVARIANCE` step. The abbreviated code is translated, never run. `nl.to_nonmem` writes a "
           "model back as a control stream.\n\nThe control stream here is the classic phenobarbital run: "
           "ADVAN1 TRANS2, weight-proportional CL and V, an `IF (APGR.LT.5)` effect on V, a proportional error "
           "with SIGMA estimated, FOCE INTERACTION."),
    ("code", "import nlme_lab as nl\n"
             "path = nl.example_path(\"pheno_run1.mod\")\n"
             "print(path.read_text())"),
    ("md", "## Import\n\nEach `$PK`/`$ERROR` statement becomes a model line. NONMEM assigns `TVV` twice "
           "(the `IF` overrides it); the model language assigns each name once, so the first value is "
           "`tvv_1` and the `IF` becomes a conditional. `$SIGMA` is a variance; the model language's residual "
           "parameters are standard deviations, so `prop_sd` starts at √0.0130865."),
    ("code", "model, spec = nl.from_nonmem(path)\n"
             "print(model.text)"),
    ("md", "The spec says what else the control stream asks for, and every note says what was left out and "
           "why (`$TABLE`, the `IRES`/`IWRES` lines that read `DV`, which only NONMEM's tables use)."),
    ("code", "print(spec)\n"
             "for note in spec.notes:\n"
             "    print(' -', note)\n"
             "data = spec.read()\n"
             "data"),
    ("md", "## Fit\n\n`nl.fit(model, spec)` reads the data and uses the spec's method (here FOCEI, from "
           "`METHOD=1 INTERACTION`); `covariance=spec.covariance` runs the `$COVARIANCE` step (R⁻¹SR⁻¹). "
           "NONMEM 7.4 reports OFV 586.276 for this run (tests/shared/refs)."),
    ("code", "fit = nl.fit(model, spec, covariance=spec.covariance)\n"
             "fit"),
    ("md", "## Back to NONMEM\n\n`nl.to_nonmem` writes the model as a control stream: here the fitted model, "
           "so `$THETA`/`$OMEGA` start at the estimates. The residual SD is written as a THETA with "
           "`$SIGMA 1 FIX` (the same model: `W = THETA(4)*IPRED`), and the Apgar condition as an IF block."),
    ("code", "estimated = model.with_initial(**fit.estimates)\n"
             "text = nl.to_nonmem(estimated, data=str(spec.data), method=\"focei\")\n"
             "print(text)"),
    ("md", "Reading that stream back gives the same model: its objective at the estimates is the fit's OFV."),
    ("code", "again, again_spec = nl.from_nonmem(text)\n"
             "names = [t.name for t in again.thetas] + [r.name for r in again.ir.random_effects]\n"
             "evaluated = nl.fit(again.fix(*names), again_spec, covariance=None)\n"
             "print(f\"fit OFV {fit.ofv:.6f}; the exported stream, imported and evaluated: {evaluated.ofv:.6f}\")"),
    ("md", "## What is refused\n\nA construct the model language cannot say the same way is an error naming "
           "the record and the line, never a silently different model:"),
    ("code", "try:\n"
             "    nl.from_nonmem(path.read_text().replace(\"S1   = V\", \"S1   = V\\n  CALL RANDOM(2, R)\"))\n"
             "except nl.nonmem.ControlStreamError as error:\n"
             "    print(error)"),
    ("code", result_line("    'ofv': fit.ofv,\n"
                         "    'roundtrip_ofv': evaluated.ofv,\n"
                         "    'method': spec.method,\n"
                         "    **{k: fit.estimates[k] for k in ('theta1', 'theta2', 'theta3', 'eta1', 'eta2', 'prop_sd')},\n"
                         "    **{f'se_{k}': fit.se[k] for k in ('theta1', 'theta2', 'theta3')},")),
]



# --------------------------------------------------------------------------- 10: immunology and ecology
def immunology_and_ecology() -> list:
    """Tutorial 10 (issue 21): library templates for curves without doses, in time and in a
    data column: antibody decay to a plateau (simulated), Loblolly pine growth (R's data)."""
    thin = "{4: [3], 8: [3, 5], 10: [3, 5, 10]}"
    return [
        ("md", "# 10 · Immunology and ecology: curves without doses\n\n"
               "Two uses of population models beyond pharmacokinetics, both from the model library "
               "(`nl.library`), both without a single dose record:\n\n"
               "1. **Antibody decay to a plateau after B-cell depletion** (the data are *simulated* "
               "here, and said so): after an anti-CD20 therapy removes the B cells, an antibody level "
               "falls from its baseline towards the plateau that long-lived plasma cells keep up.\n"
               "2. **Growth of loblolly pines** (R's `Loblolly` data, Kung 1986): heights of 14 seed "
               "sources at ages 3 to 25 years. The independent variable is the data column `AGE`, not "
               "time. The one-stage population fit is compared with R's nlme and with per-unit fits, "
               "and units with few observations show the *shrinkage* towards the population."),
        ("code", "import numpy as np\n"
                 "import pandas as pd\n"
                 "import nlme_lab as nl\n"
                 "nl.library.list()"),
        ("md", "## 1 · Antibody decay to a plateau (simulated data)\n\n"
               "The template `decay_to_plateau` is $y = p + (b - p)\\,e^{-k t}$ with a log-normal "
               "baseline $b$ and plateau $p$ between patients; its text is an ordinary model, yours "
               "to edit."),
        ("code", "truth = {\"base\": 100, \"plateau\": 30, \"k\": 0.02, \"eta_base\": 0.09, \"eta_plateau\": 0.25,\n"
                 "         \"prop_sd\": 0.1}\n"
                 "antibody = nl.library.decay_to_plateau(values=truth)\n"
                 "print(antibody.text)"),
        ("md", "Thirty patients sampled at 0, 2, 4, 8, 12, 20, 28, 40 and 52 weeks (days in `TIME`). "
               "**These observations are simulated** from the model above with a fixed seed: the "
               "true values are known, which is the point of the exercise."),
        ("code", "days = [0, 14, 28, 56, 84, 140, 196, 280, 365]\n"
                 "design = pd.DataFrame({\"ID\": np.repeat(np.arange(1, 31), len(days)), \"TIME\": np.tile(days, 30),\n"
                 "                       \"DV\": 0.0})\n"
                 "simulated = nl.simulate(antibody, nl.read_nonmem(design), n=1, seed=2024)\n"
                 "design[\"DV\"] = simulated.table[\"SIMDV\"].round(2).to_numpy()\n"
                 "titres = nl.read_nonmem(design)\n"
                 "titres"),
        ("code", "start = antibody.with_initial(tbase=np.log(80), tplateau=np.log(20), tk=np.log(0.05))\n"
                 "decay = nl.fit(start, titres, method=\"focei\")\n"
                 "decay"),
        ("code", "est, se = decay.estimates, decay.se\n"
                 "for name in (\"base\", \"plateau\", \"k\"):\n"
                 "    print(f\"{name:8s} estimate {np.exp(est['t' + name]):8.4g}   true {truth[name]:8.4g}   \"\n"
                 "          f\"(log scale {est['t' + name]:.3f} ± {se['t' + name]:.3f})\")\n"
                 "half_life = np.log(2) / np.exp(est[\"tk\"])\n"
                 "print(f\"half-life of the decline {half_life:.1f} days (true {np.log(2) / truth['k']:.1f})\")"),
        ("code", "from bokeh.io import output_notebook, show\n"
                 "from bokeh.resources import INLINE\n"
                 "from nlme_lab import plots\n"
                 "output_notebook(INLINE, hide_banner=True)  # BokehJS inline: works offline\n"
                 "show(plots.individual_fits(nl.residuals(decay, npde=False), per_page=6))"),
        ("md", "## 2 · Loblolly pines: a curve in a data column\n\n"
               "R's `SSasymp` asymptotic regression, as Pinheiro & Bates fit these data: "
               "height $= A_i + (R_0 - A_i)\\,e^{-e^{\\mathrm{lrc}}\\,\\mathrm{age}}$ with a normal "
               "random asymptote $A_i = A + b_i$ per seed source (nlme's additive random effect). "
               "The template writes it in `AGE`; the data need no doses (their `TIME` column is only "
               "the observation index, and a file without `TIME` would do as well)."),
        ("code", "pines = nl.read_nonmem(nl.example_path(\"loblolly.csv\"))\n"
                 "growth = nl.library.asymptotic(x=\"AGE\", values={\"asym\": 103, \"r0\": -8.5, \"lrc\": -3.3, \"eta_asym\": 10})\n"
                 "print(growth.text)\n"
                 "one_stage = nl.fit(growth, pines, method=\"foce\")\n"
                 "one_stage"),
        ("md", "R's nlme (maximum likelihood, its package test; refs section 5) gives Asym 101.4483, "
               "R0 −8.6275, lrc −3.2337 and logLik −114.743. The fit here is within 1 %, and its "
               "likelihood is *higher*: the random asymptote enters linearly, so FOCE is the exact "
               "likelihood, and R's alternating algorithm stops 0.09 short of its maximum."),
        ("code", "r_nlme = {\"tasym\": 101.4483, \"tr0\": -8.6274937, \"tlrc\": -3.2337304}\n"
                 "for name, value in r_nlme.items():\n"
                 "    ours = one_stage.estimates[name]\n"
                 "    print(f\"{name:6s} nlme_lab {ours:10.5f}   R nlme {value:10.5f}   ({100 * (ours - value) / abs(value):+.2f} %)\")\n"
                 "print(f\"-2 log-likelihood: nlme_lab {one_stage.ofv + 84 * np.log(2 * np.pi):.4f}, R nlme {-2 * -114.743:.4f}\")"),
        ("md", "### Per-unit fits\n\nEach seed source alone, three parameters by least squares "
               "(R's `nlsList`): with six heights per unit every curve is well determined, and the "
               "estimates are R's to six digits. The one-stage model lets only the asymptote differ "
               "between units (as R's fit does), so a unit whose growth rate differs, such as seed "
               "321 (lrc −3.58), gets a one-stage asymptote far from its per-unit one."),
        ("code", "from scipy.optimize import least_squares\n\n"
                 "def ssasymp(z, age):\n"
                 "    asym, r0, lrc = z\n"
                 "    return asym + (r0 - asym) * np.exp(-np.exp(lrc) * age)\n\n"
                 "def per_unit(unit):\n"
                 "    age, height = unit[\"AGE\"].to_numpy(), unit[\"DV\"].to_numpy()\n"
                 "    fit = least_squares(lambda z: ssasymp(z, age) - height, [100, -8.5, -3.2], method=\"lm\",\n"
                 "                        xtol=1e-12, ftol=1e-12)\n"
                 "    return dict(zip((\"asym\", \"r0\", \"lrc\"), fit.x))\n\n"
                 "table = pines.table\n"
                 "unit_fits = pd.DataFrame({sid: per_unit(unit) for sid, unit in table.groupby(\"ID\", sort=False)}).T\n"
                 "unit_fits[\"SEED\"] = table.groupby(\"ID\", sort=False)[\"SEED\"].first()\n"
                 "unit_fits[\"one-stage asym\"] = one_stage.estimates[\"tasym\"] + one_stage.etas[:, 0]\n"
                 "unit_fits.round(4)"),
        ("md", "### Units with few observations: shrinkage\n\n"
               "Now suppose three seed sources were measured only young: seed 307 at 3 years, seed 321 "
               "at 3 and 5, seed 301 at 3, 5 and 10. A per-unit fit of three parameters is then "
               "impossible (fewer heights than parameters) or meaningless (three heights, an exact "
               "interpolation). The one-stage fit borrows strength: each unit's asymptote is its "
               "empirical Bayes estimate, pulled towards the population in proportion to how little "
               "its own data say. Since $A_i$ enters linearly, the pull is exact and simple: with the "
               "unit's own least-squares asymptote $\\hat A_i$ (the other parameters at their "
               "population values), $A_i = A + w_i(\\hat A_i - A)$ with "
               "$w_i = \\omega^2 / (\\omega^2 + \\sigma^2 / \\sum_j z_{ij}^2)$, $z_{ij} = 1 - e^{-e^{\\mathrm{lrc}}\\mathrm{age}_{ij}}$."),
        ("code", f"kept_ages = {thin}  # ID: the ages kept\n"
                 "keep = [sid not in kept_ages or age in kept_ages[sid] for sid, age in zip(table[\"ID\"], table[\"AGE\"])]\n"
                 "sparse = nl.read_nonmem(table[keep])\n"
                 "few = nl.fit(growth, sparse, method=\"foce\")\n"
                 "e = few.estimates\n"
                 "rows = []\n"
                 "for sid, ages in kept_ages.items():\n"
                 "    unit = table[(table[\"ID\"] == sid) & table[\"AGE\"].isin(ages)]\n"
                 "    z = 1 - np.exp(-np.exp(e[\"tlrc\"]) * unit[\"AGE\"].to_numpy())\n"
                 "    own = np.sum(z * (unit[\"DV\"].to_numpy() - e[\"tr0\"] * (1 - z))) / np.sum(z * z)\n"
                 "    weight = e[\"eta_asym\"] / (e[\"eta_asym\"] + e[\"add_sd\"] ** 2 / np.sum(z * z))\n"
                 "    i = sparse.ids.tolist().index(sid)\n"
                 "    rows.append({\"ID\": sid, \"SEED\": int(unit[\"SEED\"].iloc[0]), \"heights kept\": len(ages),\n"
                 "                 \"own estimate\": own, \"weight w\": weight, \"one-stage (EBE)\": e[\"tasym\"] + few.etas[i, 0],\n"
                 "                 \"all six heights\": unit_fits.loc[sid, \"one-stage asym\"]})\n"
                 "shrinkage = pd.DataFrame(rows).set_index(\"ID\")\n"
                 "print(f\"population asymptote {e['tasym']:.2f} ft\")\n"
                 "shrinkage.round(3)"),
        ("md", "One early height says little about an asymptote reached twenty years later: its weight "
               "is 0.3 and the one-stage estimate stays near the population. Each added height raises "
               "the weight and moves the unit towards its own data. A per-unit fit has no such "
               "anchor: three heights fix three parameters exactly, whatever the asymptote they imply."),
        ("code", "young = table[(table[\"ID\"] == 10) & table[\"AGE\"].isin(kept_ages[10])]\n"
                 "three_points = per_unit(young)\n"
                 "print(f\"seed 301 from its three young heights alone: asymptote {three_points['asym']:.0f} ft \"\n"
                 "      f\"(one-stage {shrinkage.loc[10, 'one-stage (EBE)']:.1f} ft; all six heights {unit_fits.loc[10, 'asym']:.1f} ft)\")"),
        ("md", "The figure shows each unit's heights (filled: kept; open: removed), the population "
               "curve (grey, dashed) and the unit's one-stage curve (red)."),
        ("code", "from bokeh.layouts import row\n"
                 "from bokeh.plotting import figure\n\n"
                 "ages = np.linspace(0, 26, 200)\n"
                 "panels = []\n"
                 "for sid, ages_kept in kept_ages.items():\n"
                 "    unit = table[table[\"ID\"] == sid]\n"
                 "    kept = unit[\"AGE\"].isin(ages_kept)\n"
                 "    fig = figure(title=f\"seed {shrinkage.loc[sid, 'SEED']}: {len(ages_kept)} height(s) kept\", width=320,\n"
                 "                 height=300, x_axis_label=\"age (years)\", y_axis_label=\"height (ft)\")\n"
                 "    fig.line(ages, ssasymp((e[\"tasym\"], e[\"tr0\"], e[\"tlrc\"]), ages), color=\"grey\", line_dash=\"dashed\")\n"
                 "    fig.line(ages, ssasymp((shrinkage.loc[sid, \"one-stage (EBE)\"], e[\"tr0\"], e[\"tlrc\"]), ages), color=\"firebrick\")\n"
                 "    fig.scatter(unit[\"AGE\"][kept], unit[\"DV\"][kept], size=7, color=\"black\")\n"
                 "    fig.scatter(unit[\"AGE\"][~kept], unit[\"DV\"][~kept], size=7, fill_color=None, line_color=\"black\")\n"
                 "    panels.append(fig)\n"
                 "show(row(panels))"),
        ("code", "result = {\n"
                 "    **{f'ab_{k}': v for k, v in decay.estimates.items()},\n"
                 "    **{f'ab_se_{k}': decay.se[k] for k in ('tbase', 'tplateau', 'tk')},\n"
                 "    'ab_half_life': half_life,\n"
                 "    'lob_ofv': one_stage.ofv, **{f'lob_{k}': v for k, v in one_stage.estimates.items()},\n"
                 "    **{f'nls_{k}_{sid}': v for sid, r in unit_fits.iterrows() for k, v in r.items() if k in ('asym', 'r0', 'lrc')},\n"
                 "    **{f'thin_{k}': v for k, v in few.estimates.items()},\n"
                 "    **{f'thin_ebe_{sid}': r['one-stage (EBE)'] for sid, r in shrinkage.iterrows()},\n"
                 "    **{f'thin_weight_{sid}': r['weight w'] for sid, r in shrinkage.iterrows()},\n"
                 "    'three_point_asym': three_points['asym'],\n"
                 "}\n"
                 "print('RESULT ' + ' '.join(f'{k}={float(v)!r}' for k, v in result.items()))  # read by tests/test_tutorials.py"),
    ]


VALIDATION = [
    ("md", '# 06 · Validation: bootstrap, cross-validation, external validation\n'
           '\n'
           'A model is only as good as its validation. This tutorial bootstraps the phenobarbital model (intervals that need no asymptotic normality), cross-validates it (how well it predicts subjects it was not fitted to) and validates a warfarin model fitted on half of the subjects against the other half. Every fan-out goes through `nlme_lab.distributed.run_tasks`: `scheduler="serial"` runs here, the default starts a local Dask cluster, an address uses a running one; the same seed gives the same table everywhere.'),
    ("code", 'import nlme_lab as nl\n'
             'import pandas as pd\n'
             'pd.set_option("display.width", 160)\n'
             'pheno = nl.fit(nl.Model.from_file(nl.example_path("pheno.nlm")), nl.read_nonmem(nl.example_path("pheno.csv")), "focei")\n'
             'print(f"pheno FOCEI OFV {pheno.ofv:.3f}")'),
    ("md", '## Bootstrap\n'
           '\n'
           "Each replicate draws the 59 neonates with replacement (a neonate drawn twice becomes two subjects), stratified by Apgar score below 5 so each replicate keeps the 14 low-Apgar neonates' share, and refits from the original estimates. We run 40 replicates to stay quick; a report would use 200 or more (`nlme-lab bootstrap ... --n 200`). The percentile interval follows PsN's (n+1)p rule and needs at least 39 converged replicates for 95%; below that it is refused with the reason in `ci_note`."),
    ("code", 'frame = pheno.data.table.assign(LOWAPGR=lambda d: (d["APGR"] < 5).astype(int))\n'
             'strat_fit = nl.fit(pheno.model, frame, "focei")\n'
             'boot = nl.bootstrap(strat_fit, n=40, seed=1, stratify_by="LOWAPGR", scheduler="serial")\n'
             'print(f"{boot.n_successful} of {boot.n} replicates converged")\n'
             'boot.summary()[["parameter", "estimate", "median", "se", "covariance_se", "bias_percent", "ci_low", "ci_high"]]'),
    ("md", 'The per-replicate table holds the seed each replicate used, the subjects it drew, its status and every estimate: any replicate can be reproduced alone.'),
    ("code", 'boot.replicates.head()'),
    ("md", 'The forest plot puts the bootstrap interval (blue, median dot) beside the covariance-step interval (red, estimate ± 1.96 SE), each relative to the estimate.'),
    ("code", 'from bokeh.io import output_notebook, show\n'
             'from bokeh.resources import INLINE\n'
             'from nlme_lab.plots.validation import forest_plot\n'
             'output_notebook(INLINE, hide_banner=True)\n'
             'show(forest_plot(boot.summary()))'),
    ("md", '## Cross-validation\n'
           '\n'
           "Five folds: for each, the model is estimated on the other four, then the held-out neonates are evaluated at those estimates with nothing re-estimated (the prediction OFV, as PsN's `crossval`). Two models cross-validated with the same seed see the same folds, so their summed prediction OFVs compare their predictive performance: here the model with and without the Apgar effect on V."),
    ("code", 'cv = nl.crossvalidate(pheno, folds=5, seed=1, scheduler="serial")\n'
             'no_apgr = pheno.model.with_initial(apgr_v=0.0).fix("apgr_v")\n'
             'cv0 = nl.crossvalidate(no_apgr, pheno.data, folds=5, seed=1, scheduler="serial")\n'
             'print(f"summed prediction OFV: with Apgar effect {cv.sum_prediction_ofv:.2f}, without {cv0.sum_prediction_ofv:.2f}")\n'
             'cv.folds[["fold", "ids", "estimation_ofv", "prediction_ofv", "pred_rmse", "ipred_rmse"]]'),
    ("md", '## External validation\n'
           '\n'
           'The warfarin PK model fitted on the first half of the subjects, then every parameter fixed and the second half predicted: prediction OFV, population (PRED) and individual (IPRED, MAP etas) prediction errors (prediction minus DV) and the NPDE summary with the global test (Bonferroni over the t, Fisher and Shapiro-Wilk tests).'),
    ("code", 'warf = nl.read_nonmem(nl.example_path("warfarin_pk.csv")).table\n'
             'ids = warf["ID"].unique()\n'
             'train, test = warf[warf["ID"].isin(ids[::2])], warf[warf["ID"].isin(ids[1::2])]\n'
             'wfit = nl.fit(nl.Model.from_file(nl.example_path("warfarin_pk.nlm")), train, "focei")\n'
             'val = nl.validate(wfit, test, n_sim=200, seed=1)\n'
             'print(f"prediction OFV of the {val.n_subjects} held-out subjects: {val.prediction_ofv:.2f}")\n'
             'print(f"NPDE mean {val.npde.mean:.3f}, variance {val.npde.variance:.3f}, global p {val.npde.p_value:.3g}")\n'
             'val.summary()'),
    ("code", 's = boot.summary().set_index("parameter")\n'
             'values = {"n_successful": boot.n_successful, "se_tvcl": s.loc["tvcl", "se"],\n'
             '          "cov_se_tvcl": s.loc["tvcl", "covariance_se"], "cv_sum": cv.sum_prediction_ofv,\n'
             '          "cv0_sum": cv0.sum_prediction_ofv, "val_ofv": val.prediction_ofv, "ipred_rmse": val.ipred.rmse}\n'
             'print("RESULT " + " ".join(f"{k}={float(v)!r}" for k, v in values.items()))'),
]


# issue 21: from a model to a decision (nlme_lab.trials)
VIRTUAL_TRIAL = [
    ('md', '# 08 · Virtual trial and label: which dose for whom\n\nThe payoff of a population model is a decision. Here the phenobarbital model of tutorial 03 (59 neonates, CL and V proportional to birth weight, larger V when the Apgar score is below 5) is fitted, then used for a **virtual trial**: four maintenance regimens given to simulated neonates whose covariates are resampled, jointly, from the real ones. For each regimen and subgroup the **probability of target attainment** (PTA) is computed, with its trial-to-trial interval, and `nl.recommend_dose` turns the table into a label sentence.'),
    ('code', 'import numpy as np\nimport pandas as pd\nimport nlme_lab as nl\n\ndata = nl.read_nonmem(nl.example_path("pheno.csv"))\nmodel = nl.Model.from_file(nl.example_path("pheno.nlm"))\nfit = nl.fit(model, data, "focei")\nfit.summary()'),
    ('md', "## Regimens, population, target\n\nRegimens are named: a dose (mg) every `interval` hours, at steady state. The target is a trough concentration (`cmin`, the end of the steady-state interval) between 20 and 45 mg/L. The population resamples the 59 neonates' (`WT`, `APGR`) vectors. The metrics of every simulated subject come from the engine's predictions over the interval (AUC over the interval is dose / CL exactly for this linear model)."),
    ('code', 'regimens = {f"{d} mg q12h": {"dose": d, "interval": 12} for d in (2, 3, 4, 5)}\ntarget = nl.Target("cmin", 20, 45)\nsubgroups = {"weight": {"under 1.5 kg": "WT < 1.5", "1.5 kg or more": "WT >= 1.5"}}\ntrial = nl.virtual_trial(fit, regimens, population=data, n_subjects=200, n_trials=20, seed=1,\n                         scheduler="serial")\ntrial.subjects.head()'),
    ('md', '`scheduler="serial"` keeps this small trial in the notebook\'s process; `scheduler=None` sends chunks of 5,000 subjects to the project\'s Dask cluster (`benchmarks/bench_trial.py`: 10,000 subjects x 4 regimens in a few seconds on 2 cores).'),
    ('code', 'trial.target_attainment(target, by=["regimen", "weight"], subgroups=subgroups)'),
    ('md', '`pta` pools the 20 trials; `lower`–`upper` is the 2.5–97.5% range of the trials\' PTAs: what a trial of 200 neonates could show. Light neonates clear less in absolute terms, so the same dose gives them higher troughs.\n\n## Parameter uncertainty\n\nWith `uncertainty="covariance"` every trial draws its own population values from the fit\'s covariance: thetas and residual SDs from a normal distribution (kept within their bounds), the omega matrix from an inverse-Wishart distribution around the estimate (always positive definite; its degrees of freedom follow the variances\' standard errors). The intervals widen:'),
    ('code', 'trial_u = nl.virtual_trial(fit, regimens, population=data, n_subjects=200, n_trials=20, seed=1,\n                           uncertainty="covariance", scheduler="serial")\npta_u = trial_u.target_attainment(target, by=["regimen", "weight"], subgroups=subgroups)\npta_u'),
    ('md', "## The recommendation\n\n`nl.recommend_dose` picks, overall and for each subgroup, the regimen with the highest PTA among those reaching `min_pta`, and says it as a label would. The heat map is the Lab's Trial tab's."),
    ('code', 'rec = nl.recommend_dose(trial_u, target, subgroups=subgroups, min_pta=0.65)\nprint(rec.label)\nrec.by_subgroup'),
    ('code', 'from bokeh.io import output_notebook, show\nfrom bokeh.resources import INLINE\nfrom nlme_lab.plots.dosing import pta_heatmap\noutput_notebook(INLINE, hide_banner=True)\nshow(pta_heatmap(rec.table, "level", title=f"PTA: {target.describe()}"))'),
    ('md', '## A check: PTA of AUC against a closed form\n\nAUC over a steady-state interval is dose / CL, with CL = tvcl · WT · exp(eta_cl). Without parameter uncertainty the PTA of an AUC window is, for each resampled weight, a difference of two normal CDFs; averaged over the 59 weights it must match the simulation within Monte-Carlo error (the test suite recomputes it from the numbers printed below).'),
    ('code', 'auc_window = (400, 800)\npta_auc = trial.target_attainment("auc", auc_window, by=["regimen"])\npta_auc'),
    ('md', 'The same trial runs from the command line with a JSON specification (`nlme-lab trial pheno.nlm trial.json --json pta.json`; `nlme_lab/examples/trial.json`).'),
    ('code', 'result = {"tvcl": fit.estimates["tvcl"], "eta_cl": fit.estimates["eta_cl"],\n          **{f"pta_auc_{r.regimen.split()[0]}": r.pta for r in pta_auc.itertuples()},\n          "n_total": trial.n_subjects * trial.n_trials,\n          **{f"ptau_{r.regimen.split()[0]}_{\'light\' if r.weight.startswith(\'under\') else \'heavy\'}": r.pta\n             for r in pta_u.itertuples()},\n          **{f"wu_{r.regimen.split()[0]}_{\'light\' if r.weight.startswith(\'under\') else \'heavy\'}": r.upper - r.lower\n             for r in pta_u.itertuples()},\n          "label_ok": float(rec.label.startswith("Start with "))}\nprint("RESULT " + " ".join(f"{k}={float(v)!r}" for k, v in result.items()))'),
]


MAP_DOSING = [
    ('md', "# 09 · MAP dosing: one new patient, two levels, the next dose\n\nA population model is a prior for a new patient. With the population values fixed, the patient's random effects are estimated from the few levels measured: the *maximum a posteriori* (MAP) estimate, the mode of the posterior. `nl.map_estimate` solves exactly FOCEI's individual problem, minimising\n\n$$\\sum_j \\left[\\log V_j + \\frac{(y_j - f_j)^2}{V_j}\\right] + \\eta^\\top \\Omega^{-1} \\eta,$$\n\nfrom several starting points at once (it says so if they reach different modes). `nl.individual_dose` then finds the dose that puts the patient's predicted exposure in a target window, with the posterior probability that it does.\n\nThe example is the one of the R package mapbayr's README (its published numbers are the check): a two-compartment model, 100 mg infused at 20 mg/h, body weight 90 kg, levels 3.9 mg/L at 6 h and 1.1 mg/L at 15 h."),
    ('code', 'import numpy as np\nimport pandas as pd\nimport nlme_lab as nl\n\nmodel = nl.Model.from_file(nl.example_path("mapbayr_2cmt.nlm"))\npatient = pd.read_csv(nl.example_path("mapbayr_patient.csv"))\nprint(model.text)\npatient'),
    ('md', "`CL = 0.9 (BW/70)^1.2 exp(eta_cl)`, `V1 = 10 exp(eta_v1)`, Omega = diag(0.3, 0.3), residual variance 0.05 IPRED² + 0.1. The population values are the model's `[ini]` values (with a `FitResult` instead of the model, its estimates). `times=[24]` adds a prediction at 24 h."),
    ('code', 'post = nl.map_estimate(model, patient, times=[24])\nprint(post)\npost.predictions'),
    ('md', "mapbayr reports etas (0.3872104, 0.1569604), CL 1.79217 L/h, IPRED 4.162 / 1.087 / 0.556 and PRED 5.174 / 1.647 / 0.959 mg/L at 6 / 15 / 24 h: the same to the printed digits. `LOWER` and `UPPER` are a 90% posterior band (draws from the normal approximation of the posterior, whose covariance is the inverse of half the objective's Hessian):"),
    ('code', 'print("posterior SD of the etas:", {k: round(v, 4) for k, v in post.eta_sd.items()})\nprint("posterior covariance:\\n", post.eta_covariance.round(5))'),
    ('md', "The curve over a dosing interval, with its band and the two levels (the plot of the Lab's Patient tab):"),
    ('code', 'from bokeh.io import output_notebook, show\nfrom bokeh.resources import INLINE\nfrom nlme_lab.plots.dosing import posterior_figure\noutput_notebook(INLINE, hide_banner=True)\ncurve = nl.map_estimate(model, patient, times=np.linspace(0.5, 36, 72))\nshow(posterior_figure(curve))'),
    ('md', "## The next dose\n\nTarget: an AUC over the dosing interval at steady state between 40 and 60 mg·h/L, with 2-hour infusions every 12 hours. The dose aims at the window's geometric middle at the MAP etas; the probability of attainment comes from 200 posterior draws of the etas."),
    ('code', 'target = nl.Target("auc", 40, 60)\ndose = nl.individual_dose(post, target, nl.Regimen("q12h", 50, interval=12, duration=2), round_to=5)\nprint(dose)'),
    ('md', 'With the population values alone (etas 0) the same target would need a different dose: the levels moved CL up by a factor exp(0.387) = 1.47. AUC at steady state is dose / CL, so the check is one line:'),
    ('code', 'typical_cl = 0.9 * (90 / 70) ** 1.2\nprint(f"typical CL {typical_cl:.3f} L/h -> dose {np.sqrt(40 * 60) * typical_cl:.1f} mg; "\n      f"this patient\'s CL {post.individual[\'cl\']:.3f} L/h -> {np.sqrt(40 * 60) * post.individual[\'cl\']:.1f} mg")'),
    ('md', "## A level below the limit of quantification\n\nA level reported as below the limit (`CENS = 1`, `DV` the limit) enters as the probability of being below it (Beal's M3), not as a number:"),
    ('code', 'censored = patient.assign(CENS=[0, 0, 1])\ncensored.loc[2, "DV"] = 1.5   # "< 1.5 mg/L" at 15 h\npost_blq = nl.map_estimate(model, censored)\nprint(post_blq)'),
    ('md', "The same runs from the command line (`nlme-lab map mapbayr_2cmt.nlm mapbayr_patient.csv --times 24 --json map.json`) and in the Lab's **Patient** tab, where the curve and its band follow the levels as they are typed."),
    ('code', 'result = {"eta_cl": post.eta["eta_cl"], "eta_v1": post.eta["eta_v1"], "cl": post.individual["cl"],\n          "ofv": post.ofv, **{f"ipred_{int(t)}": v for t, v in zip(post.predictions["TIME"], post.predictions["IPRED"])},\n          **{f"pred_{int(t)}": v for t, v in zip(post.predictions["TIME"], post.predictions["PRED"])},\n          "dose": dose.regimen.dose, "dose_probability": dose.probability, "blq_eta_cl": post_blq.eta["eta_cl"]}\nprint("RESULT " + " ".join(f"{k}={float(v)!r}" for k, v in result.items()))'),
]

TUTORIALS = {
    "00_quick_start.ipynb": QUICK_START,
    "01_theophylline_lab.ipynb": THEOPHYLLINE_LAB,
    "02_warfarin_pkpd.ipynb": WARFARIN_PKPD,
    "03_phenobarbital_covariates.ipynb": PHENOBARBITAL,
    "04_estimation_approximations.ipynb": APPROXIMATIONS,
    "06_validation.ipynb": VALIDATION,
    "08_virtual_trial_and_label.ipynb": VIRTUAL_TRIAL,
    "09_map_dosing.ipynb": MAP_DOSING,
    "10_immunology_and_ecology.ipynb": immunology_and_ecology(),
    "11_from_nonmem.ipynb": FROM_NONMEM,
}


def notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for k, (kind, text) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text)
        cell.id = f"cell-{k:02d}"  # stable ids: regenerating an unchanged tutorial changes nothing
        nb.cells.append(cell)
    return nb


if __name__ == "__main__":
    import sys

    HERE.mkdir(exist_ok=True)
    wanted = sys.argv[1:] or list(TUTORIALS)  # python tools/make_tutorials.py 10_immunology_and_ecology.ipynb
    for name, cells in TUTORIALS.items():
        if name not in wanted:
            continue
        nbformat.write(notebook(cells), HERE / name)
        print("written", HERE / name)
