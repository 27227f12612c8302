"""Hand-built ``ModelIR`` objects for the codegen tests, mirroring ../shared/models/*.nlm.

Built by hand (not parsed) so codegen is tested on its own. Symbols follow ir.py:
``sympy.Symbol(name, real=True)``. Also a slow, obviously correct twin that evaluates a model
statement by statement with sympy, for the tests to compare against.
"""

from __future__ import annotations

import math

import numpy as np
import sympy

from nlme_lab.model.ir import (
    Assignment, DoseModifier, Endpoint, ErrorKind, ErrorTerm, LinCmt, ModelIR, OmegaBlock,
    RandomEffect, Theta,
)

S = lambda name: sympy.Symbol(name, real=True)  # noqa: E731
exp, log = sympy.exp, sympy.log
LINCMT = sympy.Function("linCmt")


def _thetas(*spec):
    return tuple(Theta(name, float(value), line=i + 1) for i, (name, value) in enumerate(spec))


def _res(*names):
    res = tuple(RandomEffect(n, line=10 + i) for i, n in enumerate(names))
    omega = tuple(OmegaBlock((n,), (0.1,)) for n in names)
    return res, omega


def _assign(name, expr, line, state=False, time=False):
    return Assignment(name, expr, line, depends_on_state=state, depends_on_time=time)


def theo_sd() -> ModelIR:
    res, omega = _res("eta_ka", "eta_cl", "eta_v")
    return ModelIR(
        thetas=_thetas(("tka", math.log(1.57)), ("tcl", math.log(2.72)), ("tv", math.log(31.5)), ("add_sd", 0.7)),
        random_effects=res, omega=omega, covariates=(),
        compartments=("depot", "central"),
        statements=(
            _assign("ka", exp(S("tka") + S("eta_ka")), 13),
            _assign("cl", exp(S("tcl") + S("eta_cl")), 14),
            _assign("v", exp(S("tv") + S("eta_v")), 15),
            _assign("cp", LINCMT(), 16, state=True),
        ),
        odes=(), initial=(), dose_modifiers=(),
        endpoints=(Endpoint("cp", (ErrorTerm(ErrorKind.ADD, "add_sd"),), 17),),
        lincmt=LinCmt(1, True, 16),
    )


def theo_sd_ode() -> ModelIR:
    res, omega = _res("eta_ka", "eta_cl", "eta_v")
    depot, center = S("depot"), S("center")
    ka, cl, v = S("ka"), S("cl"), S("v")
    return ModelIR(
        thetas=_thetas(("tka", math.log(1.57)), ("tcl", math.log(2.72)), ("tv", math.log(31.5)), ("add_sd", 0.7)),
        random_effects=res, omega=omega, covariates=(),
        compartments=("depot", "center"),
        statements=(
            _assign("ka", exp(S("tka") + S("eta_ka")), 12),
            _assign("cl", exp(S("tcl") + S("eta_cl")), 13),
            _assign("v", exp(S("tv") + S("eta_v")), 14),
            _assign("cp", center / v, 17, state=True),
        ),
        odes=(("depot", -ka * depot, 15), ("center", ka * depot - cl / v * center, 16)),
        initial=(), dose_modifiers=(),
        endpoints=(Endpoint("cp", (ErrorTerm(ErrorKind.ADD, "add_sd"),), 18),),
    )


def pheno() -> ModelIR:
    res, omega = _res("eta_cl", "eta_v")
    low_apgar = sympy.Piecewise((1, S("APGR") < 5), (0, True))
    return ModelIR(
        thetas=_thetas(("tvcl", 0.00469307), ("tvv", 1.00916), ("apgr_v", 0.1), ("prop_sd", 0.114396)),
        random_effects=res, omega=omega, covariates=("WT", "APGR"),
        compartments=("central",),
        statements=(
            _assign("cl", S("tvcl") * S("WT") * exp(S("eta_cl")), 12),
            _assign("v", S("tvv") * S("WT") * (1 + S("apgr_v") * low_apgar) * exp(S("eta_v")), 13),
            _assign("cp", LINCMT(), 14, state=True),
        ),
        odes=(), initial=(), dose_modifiers=(),
        endpoints=(Endpoint("cp", (ErrorTerm(ErrorKind.PROP, "prop_sd"),), 15),),
        lincmt=LinCmt(1, False, 14),
    )


def wang2007(kind=ErrorKind.ADD) -> ModelIR:
    res, omega = _res("eta_ke")
    sd = f"{kind.value}_sd"
    return ModelIR(
        thetas=_thetas(("tke", 0.5), (sd, 0.316227766)),
        random_effects=res, omega=omega, covariates=(), compartments=(),
        statements=(
            _assign("ke", S("tke") * exp(S("eta_ke")), 9),
            _assign("f", 10 * exp(-S("ke") * S("t")), 10, time=True),
        ),
        odes=(), initial=(), dose_modifiers=(),
        endpoints=(Endpoint("f", (ErrorTerm(kind, sd),), 11),),
    )


def warfarin_pkpd() -> ModelIR:
    names = ["eta_ktr", "eta_ka", "eta_cl", "eta_v", "eta_emax", "eta_ec50", "eta_kout", "eta_e0"]
    res, omega = _res(*names)
    thetas = _thetas(("tktr", 0.0), ("tka", 0.0), ("tcl", math.log(0.1)), ("tv", math.log(10)),
                     ("prop_sd", 0.1), ("pkadd_sd", 0.1), ("temax", math.log(4.0)),
                     ("tec50", math.log(0.5)), ("tkout", math.log(0.05)), ("te0", math.log(100)),
                     ("pdadd_sd", 10.0))
    depot, gut, center, effect = S("depot"), S("gut"), S("center"), S("effect")
    x = S("temax") + S("eta_emax")
    return ModelIR(
        thetas=thetas, random_effects=res, omega=omega, covariates=(),
        compartments=("depot", "gut", "center", "effect"),
        statements=(
            _assign("ktr", exp(S("tktr") + S("eta_ktr")), 25),
            _assign("ka", exp(S("tka") + S("eta_ka")), 26),
            _assign("cl", exp(S("tcl") + S("eta_cl")), 27),
            _assign("v", exp(S("tv") + S("eta_v")), 28),
            _assign("emax", 1 / (1 + exp(-x)), 29),  # expit, expanded by the resolver
            _assign("ec50", exp(S("tec50") + S("eta_ec50")), 30),
            _assign("kout", exp(S("tkout") + S("eta_kout")), 31),
            _assign("e0", exp(S("te0") + S("eta_e0")), 32),
            _assign("dcp", center / S("v"), 33, state=True),
            _assign("pd", 1 - S("emax") * S("dcp") / (S("ec50") + S("dcp")), 34, state=True),
            _assign("kin", S("e0") * S("kout"), 35),
            _assign("cp", center / S("v"), 41, state=True),
        ),
        odes=(
            ("depot", -S("ktr") * depot, 36),
            ("gut", S("ktr") * depot - S("ka") * gut, 37),
            ("center", S("ka") * gut - S("cl") / S("v") * center, 38),
            ("effect", S("kin") * S("pd") - S("kout") * effect, 39),
        ),
        initial=(("effect", S("e0"), 40),),
        dose_modifiers=(),
        endpoints=(
            Endpoint("cp", (ErrorTerm(ErrorKind.ADD, "pkadd_sd"), ErrorTerm(ErrorKind.PROP, "prop_sd")), 42),
            Endpoint("effect", (ErrorTerm(ErrorKind.ADD, "pdadd_sd"),), 43),
        ),
    )


def nmtest() -> ModelIR:
    depot, center = S("depot"), S("center")
    return ModelIR(
        thetas=_thetas(("tcl", 1.1), ("tv", 20.0), ("tka", 1.5), ("add_sd", 1.0)),
        random_effects=(), omega=(), covariates=("BIOAV", "LAGT", "DUR2"),
        compartments=("depot", "center"),
        statements=(
            _assign("cl", S("tcl"), 12),
            _assign("v", S("tv"), 13),
            _assign("ka", S("tka"), 14),
            _assign("cp", 1000 * center / S("v"), 20, state=True),
        ),
        odes=(("depot", -S("ka") * depot, 15), ("center", S("ka") * depot - S("cl") / S("v") * center, 16)),
        initial=(),
        dose_modifiers=(
            (DoseModifier.F, "center", S("BIOAV"), 17),
            (DoseModifier.ALAG, "center", S("LAGT"), 18),
            (DoseModifier.DUR, "center", S("DUR2"), 19),
        ),
        endpoints=(Endpoint("cp", (ErrorTerm(ErrorKind.ADD, "add_sd"),), 21),),
    )


def lincmt_model(n_cmt: int, has_depot: bool) -> ModelIR:
    """cl v [q v2 [q2 v3]] [ka], each exp(theta + eta) (no eta on q2/v3 to vary the shapes)."""
    names = ["cl", "v", "q", "v2", "q2", "v3"][: 2 * n_cmt] + (["ka"] if has_depot else [])
    thetas = _thetas(*[(f"t{n}", 0.1 * (i + 1)) for i, n in enumerate(names)], ("sd", 1.0))
    etas = [f"eta_{n}" for n in names[:4]]
    res, omega = _res(*etas)
    stmts = []
    for i, n in enumerate(names):
        arg = S(f"t{n}") + (S(f"eta_{n}") if f"eta_{n}" in etas else 0)
        stmts.append(_assign(n, exp(arg), 20 + i))
    stmts.append(_assign("cp", LINCMT(), 30, state=True))
    return ModelIR(
        thetas=thetas, random_effects=res, omega=omega, covariates=(), compartments=(),
        statements=tuple(stmts), odes=(), initial=(), dose_modifiers=(),
        endpoints=(Endpoint("cp", (ErrorTerm(ErrorKind.ADD, "sd"),), 31),),
        lincmt=LinCmt(n_cmt, has_depot, 30),
    )


# ------------------------------------------------------------------------- the slow twin
class Twin:
    """Evaluates a ModelIR top to bottom with sympy, by model names (no codegen involved).

    linCmt() is the central amount over v; K is written out by hand in the tests.
    """

    def __init__(self, ir: ModelIR):
        self.ir = ir

    def env(self, theta, eta, cov, t=0.0, y=None) -> dict:
        ir = self.ir
        values = {th.name: float(v) for th, v in zip(ir.thetas, theta)}
        values.update({r.name: float(v) for r, v in zip(ir.random_effects, eta)})
        values.update({c: float(v) for c, v in zip(ir.covariates, cov)})
        values["t"] = float(t)
        states = self.state_names()
        if y is not None:
            values.update({c: float(v) for c, v in zip(states, y)})
        for a in ir.statements:
            expr = a.expr
            if expr.has(LINCMT):
                central = states[1] if ir.lincmt.has_depot else states[0]
                values[a.name] = values[central] / values["v"] if y is not None else float("nan")
                continue
            if (a.depends_on_state and y is None):
                continue
            values[a.name] = self.value(expr, values)
        return values

    def state_names(self):
        ir = self.ir
        if ir.compartments:
            return ir.compartments
        if ir.lincmt:
            return ("depot", "central", "periph1", "periph2")[(0 if ir.lincmt.has_depot else 1):][: ir.lincmt.n_cmt + ir.lincmt.has_depot]
        return ()

    @staticmethod
    def value(expr, values: dict) -> float:
        subs = {s: values[s.name] for s in expr.free_symbols}
        return float(sympy.N(expr.xreplace(subs), 30))

    def rhs(self, theta, eta, cov, t, y) -> np.ndarray:
        env = self.env(theta, eta, cov, t, y)
        odes = {c: e for c, e, _ in self.ir.odes}
        return np.array([self.value(odes[c], env) if c in odes else 0.0 for c in self.state_names()])

    def obs(self, theta, eta, cov, t, y) -> np.ndarray:
        env = self.env(theta, eta, cov, t, y)
        return np.array([env[e.variable] for e in self.ir.endpoints])

    def init(self, theta, eta, cov) -> np.ndarray:
        env = self.env(theta, eta, cov)
        inits = {c: e for c, e, _ in self.ir.initial}
        return np.array([self.value(inits[c], env) if c in inits else 0.0 for c in self.state_names()])


def random_inputs(model, rng, scale=0.3):
    """theta near the IR's initial values, eta ~ N(0, scale^2), covariates positive."""
    theta = np.array([t.init for t in model.ir.thetas]) + rng.normal(0, 0.1, model.n_theta)
    eta = rng.normal(0, scale, model.n_re)
    cov = rng.uniform(0.5, 3.0, model.n_cov)
    return theta, eta, cov
