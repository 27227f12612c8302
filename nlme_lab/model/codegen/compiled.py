"""``CompiledModel``: a model's numba functions plus the tables that say what each entry is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nlme_lab.model.codegen import loader
from nlme_lab.model.codegen.analysis import TIME, LinCmtInfo, build_plan
from nlme_lab.model.codegen.emit import FUNCTION_NAMES, generate_source
from nlme_lab.model.ir import ModelIR


def _kernel(name: str) -> property:
    def get(self):
        return self.kernels[name].compile()

    get.__doc__ = f"The numba dispatcher of ``{name}`` (signature in kernels/abi.py), compiled on first use."
    return property(get)


@dataclass(frozen=True, eq=False)
class CompiledModel:
    """The compiled form of one ``ModelIR``.

    Vectors the functions see: ``theta`` (``theta_names``), ``eta`` (``re_names``: etas, then
    kappas), ``cov`` (``covariate_names``), ``p`` (``p_names``), ``y`` (``state_names``),
    ``out`` (``endpoint_names``). ``dose_index[r, s]`` is the p index of dose modifier
    ``r`` (0 F, 1 ALAG, 2 RATE, 3 DUR) of state ``s``, or -1 for the default.
    ``error_index[e, c]`` is the theta index of endpoint ``e``'s residual SD of kind ``c``
    (0 add, 1 prop, 2 lnorm), or -1. ``dpk`` fills ``p`` too (the same values as ``pk``).
    """

    ir: ModelIR
    source: str
    module_path: Path
    theta_names: tuple[str, ...]
    re_names: tuple[str, ...]
    covariate_names: tuple[str, ...]
    p_names: tuple[str, ...]
    p_kinds: tuple[str, ...]  # SlotKind values: "variable", "dose_modifier", "input"
    state_names: tuple[str, ...]
    endpoint_names: tuple[str, ...]
    dose_index: np.ndarray  # int64 (4, n_state)
    error_index: np.ndarray  # int64 (n_endpoint, 3)
    is_linear: bool
    lincmt: LinCmtInfo | None
    has_initial: bool
    kernels: dict = field(repr=False)  # name -> LazyKernel (compiled on first use)
    #: some p slot depends on t (a dose modifier may): ``pk`` must run on every record, not
    #: only where the random effects or covariates change (``kernels.population.compute_p``)
    p_uses_time: bool = True
    #: how the states are propagated, in words: "linCmt() closed form ...", "ODE system routed
    #: to the exact linear propagator (linear in the states)" or "stiff ODE solver: <why>"
    path: str = ""
    #: a linear (routed) d/dt system with a constant input written in the model (``dy/dt = K y +
    #: b``): the engine needs ``linear.OPT_MODEL_INPUT`` set in its options to add b to the inputs
    has_input: bool = False

    n_theta = property(lambda self: len(self.theta_names))
    n_re = property(lambda self: len(self.re_names))
    n_cov = property(lambda self: len(self.covariate_names))
    n_p = property(lambda self: len(self.p_names))
    n_state = property(lambda self: len(self.state_names))
    n_endpoint = property(lambda self: len(self.endpoint_names))

    pk = _kernel("pk")
    dpk = _kernel("dpk")
    rhs = _kernel("rhs")
    jac = _kernel("jac")
    dfdp = _kernel("dfdp")
    init = _kernel("init")
    dinit = _kernel("dinit")
    obs = _kernel("obs")
    dobs_dy = _kernel("dobs_dy")
    dobs_dp = _kernel("dobs_dp")
    linsys = _kernel("linsys")
    dlinsys = _kernel("dlinsys")

    @property
    def functions(self) -> dict[str, object]:
        """The twelve ABI functions by name (compiles those not compiled yet)."""
        return {name: getattr(self, name) for name in FUNCTION_NAMES}

    def compile_all(self) -> "CompiledModel":
        """Compile (or load from numba's cache) every function now; returns self."""
        for kernel in self.kernels.values():
            kernel.compile()
        return self

    def is_compiled(self, name: str) -> bool:
        return self.kernels[name].is_compiled

    def p_index(self, name: str) -> int:
        try:
            return self.p_names.index(name)
        except ValueError:
            raise KeyError(f"{name!r} is not in p; p holds {', '.join(self.p_names)}") from None

    def evaluate_pk(self, theta, eta=(), cov=(), t: float = 0.0) -> dict[str, float]:
        """``p`` by name for one set of inputs (for debugging and tests; not for loops)."""
        theta, eta, cov = (_vector(x, n, what) for x, n, what in (
            (theta, self.n_theta, "theta"), (eta, self.n_re, "eta"), (cov, self.n_cov, "cov")))
        p = np.zeros(self.n_p)
        self.pk(float(t), theta, eta, cov, p)
        return dict(zip(self.p_names, p.tolist()))

    def __repr__(self) -> str:
        kind = "linCmt" if self.lincmt else (("linear ODE" if self.is_linear else "ODE") if self.n_state else "algebraic")
        return (f"<CompiledModel {kind}: {self.n_theta} theta, {self.n_re} eta, {self.n_cov} cov, "
                f"{self.n_p} p, {self.n_state} states, {self.n_endpoint} endpoints; {self.module_path.name}>")


def _vector(x, n: int, what: str) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(x, dtype=np.float64).reshape(-1))
    if arr.shape[0] != n:
        raise ValueError(f"{what} has {arr.shape[0]} values, the model has {n}")
    return arr


def build_compiled(ir: ModelIR, route_linear: bool = True) -> CompiledModel:
    plan = build_plan(ir, route_linear)
    source = generate_source(plan)
    path = loader.module_file(source)
    module = loader.import_source(path, source)
    return CompiledModel(
        ir=ir, source=source, module_path=path,
        theta_names=tuple(t.name for t in ir.thetas),
        re_names=tuple(r.name for r in ir.random_effects),
        covariate_names=tuple(ir.covariates),
        p_names=tuple(s.name for s in plan.slots),
        p_kinds=tuple(s.kind.value for s in plan.slots),
        state_names=plan.state_names,
        endpoint_names=tuple(e.variable for e in ir.endpoints),
        dose_index=np.array(plan.dose_index, dtype=np.int64).reshape(4, len(plan.states)),
        error_index=np.array(plan.error_index, dtype=np.int64).reshape(len(ir.endpoints), 3),
        is_linear=plan.K is not None,
        lincmt=plan.lincmt,
        has_initial=any(e is not None for e in plan.inits),
        kernels={name: getattr(module, name) for name in FUNCTION_NAMES},
        p_uses_time=any(TIME in s.full.free_symbols for s in plan.slots),
        path=plan.path,
        has_input=plan.has_input,
    )
