"""Second-order sensitivities of an ODE model as the first-order ones of an augmented model.

For the FOCE family's outer gradient the engine needs d2f/dp_a dp_b for the parameters ``a``
the random effects move. The first-order sensitivities ``Z_a = dy/dp_a`` obey

    dZ_a/dt = J(t, y, p) Z_a + df/dp_a(t, y, p),      Z_a(0) = d y0 / dp_a,

so the system (y, Z_a for a in ``along``) is an ODE model in the same ``p``; its endpoints
are the model's ``out_e`` and their derivatives ``d out_e / dp_a = Oy_e Z_a + Op_e,a``
(endpoint ``n_endpoint + e * len(along) + i`` for ``along[i]``). The engine's ordinary
forward sensitivities of this model along every ``p`` give, in one solve, f, df/dp and the
rows ``a`` of d2f/dp2. Only models whose doses do not depend on ``p`` (no F, ALAG, RATE,
DUR lines) qualify: a dose's jump of ``y`` is then free of ``p``, so ``Z`` does not jump.

``augmented_model(compiled, along)`` returns an ``AugmentedModel`` carrying the twelve ABI
functions: eight generated for the augmented system (the same generated-code path as every
model: file named by the source hash, numba's on-disk cache beside it), ``pk``, ``dpk``,
``linsys``, ``dlinsys`` the model's own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import sympy

from nlme_lab.model.codegen import loader
from nlme_lab.model.codegen.analysis import build_plan
from nlme_lab.model.codegen.emit import (
    FUNCTION_NAMES,
    _Body,
    _diff,
    _function,
    _header,
    _init,
    _lands,
    _Out,
    _p_jacobian,
    _rhs,
    _state_jacobian,
)

_MEMORY: dict = {}
VERSION = "1"  # of the augmented code (names the index files of ``_source``)
#: the functions generated for the augmented system; ``pk``, ``dpk`` (the same p) and ``linsys``,
#: ``dlinsys`` (zeros: not a linear system) are the model's own, already compiled
AUGMENTED_FUNCTIONS = ("rhs", "jac", "dfdp", "init", "dinit", "obs", "dobs_dy", "dobs_dp")


@dataclass(frozen=True, eq=False)
class AugmentedModel:
    """What ``problem.predict.Predictor`` reads of a compiled model, for the augmented system."""

    ir: object
    base: object  # the model's CompiledModel
    along: tuple[int, ...]
    kernels: dict
    source: str
    n_p: int
    n_re: int
    n_state: int
    n_endpoint: int
    dose_index: np.ndarray
    p_uses_time: bool
    is_linear: bool = False
    has_input: bool = False

    def __getattr__(self, name):
        kernels = self.__dict__.get("kernels")
        if kernels is not None and name in kernels:
            return kernels[name].compile()
        raise AttributeError(name)


def qualifies(compiled) -> bool:
    """Whether ``compiled`` can have its augmented model: an ODE model (not linear) whose doses
    do not depend on p."""
    return (not compiled.is_linear and compiled.n_state > 0 and compiled.lincmt is None
            and bool(np.all(np.asarray(compiled.dose_index) < 0)))


def augmented_source(ir, along: tuple[int, ...]) -> str:
    plan = build_plan(ir)
    if plan.K is not None:
        raise ValueError("a linear system has no augmented model")
    n, n_end = len(plan.states), len(plan.obs)
    syms = [plan.slots[a].sym for a in along]
    if any(s is None for s in syms):
        raise ValueError("dose modifiers have no augmented model")
    Z = [[sympy.Symbol(f"zz{i}_{plan.state_names[j]}", real=True) for j in range(n)] for i in range(len(along))]
    F = [e.xreplace(plan.full_dyn) for e in plan.odes]
    odes = list(F)
    for i, s in enumerate(syms):
        for k in range(n):
            odes.append(sum((_diff(F[k], plan.states[j]) * Z[i][j] for j in range(n)), sympy.S.Zero)
                        + _diff(F[k], s))
    outs = [e.xreplace(plan.full_dyn) for e in plan.obs]
    obs = list(outs)
    for e in range(n_end):
        for i, s in enumerate(syms):
            obs.append(sum((_diff(outs[e], plan.states[j]) * Z[i][j] for j in range(n)), sympy.S.Zero)
                       + _diff(outs[e], s))
    inits = list(plan.inits)
    for i, s in enumerate(syms):
        for k in range(n):
            y0 = plan.inits[k]
            d = _diff(y0.xreplace(plan.full_dyn), s) if y0 is not None else sympy.S.Zero
            inits.append(None if d == 0 else d)
    states = tuple(plan.states) + tuple(z for row in Z for z in row)
    names = tuple(plan.state_names) + tuple(z.name for row in Z for z in row)
    aug = replace(plan, states=states, state_names=names, odes=tuple(odes), obs=tuple(obs), inits=tuple(inits),
                  dose_index=tuple(tuple(row) + (-1,) * (len(states) - n) for row in plan.dose_index))
    _, dyn_land = _lands(aug)
    from nlme_lab.model.codegen.emit import _Land

    static_land = _Land(dyn_land.pool, dyn_land.loads, dyn_land.backsub, has_time=False)
    out_body = _Body(doc="the endpoints, then d endpoint / d p[a] for each a of the augmented directions")
    for k, expr in enumerate(obs):
        out_body.raw.append(_Out(f"out[{k}]", expr))
    init_exprs = tuple(e if e is not None else sympy.S.Zero for e in inits)
    bodies = {  # pk, dpk, linsys, dlinsys: the model's own (``augmented_model``)
        "rhs": (dyn_land, _rhs(aug)),
        "jac": (dyn_land, _state_jacobian(aug, aug.odes, "J", "dydt", "df/dy")),
        "dfdp": (dyn_land, _p_jacobian(aug, aug.odes, "Fp", "dydt", "df/dp")),
        "init": (static_land, _init(aug)),
        "dinit": (static_land, _p_jacobian(aug, init_exprs, "Y0p", "y0", "d y0[i] / d p[k]")),
        "obs": (dyn_land, out_body),
        "dobs_dy": (dyn_land, _state_jacobian(aug, aug.obs, "Oy", "out", "d out[e] / d y[j]")),
        "dobs_dp": (dyn_land, _p_jacobian(aug, aug.obs, "Op", "out", "d out[e] / d p[k]")),
    }
    parts = [_header(aug).replace("# Generated by", "# Second-order augmented model (second_order.py). Generated by", 1),
             f"# augmented along p[{', '.join(map(str, along))}]"]
    for name in AUGMENTED_FUNCTIONS:
        land, body = bodies[name]
        parts.append(_function(name, land, body))
    return "\n\n\n".join(parts) + "\n"


def augmented_model(compiled, along) -> AugmentedModel:
    """The augmented model of ``compiled`` along the p indices ``along`` (module docstring);
    made once per process and (model, along)."""
    along = tuple(int(a) for a in along)
    key = (str(compiled.module_path), along)
    if key not in _MEMORY:
        source = _source(compiled, along)
        path = loader.module_file(source)
        module = loader.import_source(path, source)
        n = compiled.n_state * (1 + len(along))
        dose = np.full((4, n), -1, dtype=np.int64)
        dose[:, :compiled.n_state] = compiled.dose_index
        _MEMORY[key] = AugmentedModel(
            ir=compiled.ir, base=compiled, along=along,
            kernels={k: getattr(module, k) if k in AUGMENTED_FUNCTIONS else compiled.kernels[k] for k in FUNCTION_NAMES},
            source=source, n_p=compiled.n_p, n_re=compiled.n_re, n_state=n,
            n_endpoint=compiled.n_endpoint * (1 + len(along)), dose_index=dose,
            p_uses_time=bool(getattr(compiled, "p_uses_time", True)))
    return _MEMORY[key]


def _source(compiled, along: tuple[int, ...]) -> str:
    """``augmented_source``, or the text written by an earlier process (sympy's derivatives take
    about a second): an index file beside the model files names it by the model file's name
    (a hash of the model's code) and ``along``."""
    import os

    from nlme_lab import config

    folder = config.cache_dir() / loader.SUBDIR
    index = folder / f"so{VERSION}_{Path(compiled.module_path).stem}_{'_'.join(map(str, along))}.txt"
    try:
        digest = index.read_text(encoding="utf-8").strip()
        source = (folder / f"m_{digest}.py").read_text(encoding="utf-8")
        if loader.source_digest(source) == digest:
            return source
    except OSError:
        pass
    source = augmented_source(compiled.ir, along)
    path = loader.module_file(source)  # (checks the folder is private)
    tmp = index.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(loader.source_digest(source) + "\n", encoding="utf-8")
        os.replace(tmp, index)
    except OSError:
        pass
    assert path.exists()
    return source
