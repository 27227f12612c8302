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

The full model (``full_model``, ``full_source``) carries dy/dp for every p and d2y/dp_a dp_b for
each pair once as states, and all the derivatives of the endpoints as endpoints: solved without
engine directions, no state is computed twice and no Jacobian product is taken per stage (MM
2-cmt: 40 states, 3-4x cheaper than the augmented model's 10 states with 5 sensitivity columns).
Without pairs it is the first-order model (``first_order_model``: y and dy/dp). Their rows of
the model's own states and endpoints print as the model's own do, so on the same steps their
predictions are the model's bit for bit.

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
    #: ``full_model``: the (a, b) pairs of its second-derivative states and endpoints (else empty)
    pairs: tuple = ()
    #: "augmented" (``augmented_model``), "full" (``full_model``), "first" (``first_order_model``)
    kind: str = "augmented"

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
    return _generated(compiled, along, "so", compiled.n_state * (1 + len(along)),
                      compiled.n_endpoint * (1 + len(along)))


def _generated(compiled, along: tuple[int, ...], source_kind: str, n_state: int, n_endpoint: int,
               **extra) -> AugmentedModel:
    """The generated model of ``source_kind`` (``_source``), imported once per process and
    (source_kind, model, along): the generated functions from its module, the rest the model's
    own, the doses into the model's own states."""
    key = (source_kind, str(compiled.module_path), along)
    if key not in _MEMORY:
        source = _source(compiled, along, source_kind)
        module = loader.import_source(loader.module_file(source), source)
        dose = np.full((4, n_state), -1, dtype=np.int64)
        dose[:, :compiled.n_state] = compiled.dose_index
        _MEMORY[key] = AugmentedModel(
            ir=compiled.ir, base=compiled, along=along,
            kernels={k: getattr(module, k) if k in AUGMENTED_FUNCTIONS else compiled.kernels[k] for k in FUNCTION_NAMES},
            source=source, n_p=compiled.n_p, n_re=compiled.n_re, n_state=n_state,
            n_endpoint=n_endpoint, dose_index=dose,
            p_uses_time=bool(getattr(compiled, "p_uses_time", True)), **extra)
    return _MEMORY[key]


def _source(compiled, along: tuple[int, ...], kind: str = "so") -> str:
    """``augmented_source``, or the text written by an earlier process (sympy's derivatives take
    about a second): an index file beside the model files names it by the model file's name
    (a hash of the model's code) and ``along``."""
    import os

    from nlme_lab import config

    folder = config.cache_dir() / loader.SUBDIR
    index = folder / f"{kind}{VERSION}_{Path(compiled.module_path).stem}_{'_'.join(map(str, along))}.txt"
    try:
        digest = index.read_text(encoding="utf-8").strip()
        source = (folder / f"m_{digest}.py").read_text(encoding="utf-8")
        if loader.source_digest(source) == digest:
            return source
    except OSError:
        pass
    source = (full_source if kind == "sf" else augmented_source)(compiled.ir, along)
    path = loader.module_file(source)  # (checks the folder is private)
    tmp = index.with_suffix(f".{os.getpid()}.tmp")
    try:
        tmp.write_text(loader.source_digest(source) + "\n", encoding="utf-8")
        os.replace(tmp, index)
    except OSError:
        pass
    assert path.exists()
    return source


# ------------------------------------------------------------------------ the full second-order model
def second_order_pairs(along: tuple[int, ...], n_p: int) -> tuple[tuple[int, int], ...]:
    """The (a, b) of d2/dp_a dp_b the full model carries: a in ``along``, b any p, each
    unordered pair of two ``along`` parameters once (the one whose a comes first in ``along``)."""
    pos = {a: i for i, a in enumerate(along)}
    return tuple((a, b) for i, a in enumerate(along) for b in range(n_p) if not (b in pos and pos[b] < i))


def full_state_count(n_state: int, n_p: int, along: tuple[int, ...]) -> int:
    """States of ``full_model``: y, dy/dp for every p, d2y/dp_a dp_b for ``second_order_pairs``."""
    return n_state * (1 + n_p + len(second_order_pairs(along, n_p)))


def full_source(ir, along: tuple[int, ...]) -> str:
    """The model augmented with ``Z_b = dy/dp_b`` for every p and ``W_ab = d2y/dp_a dp_b`` for
    the pairs of ``second_order_pairs``, as plain states (no engine sensitivities needed):

        dZ_b/dt  = G_b(y, Z_b) = J Z_b + df/dp_b
        dW_ab/dt = dG_a/dy Z_b + J W_ab + dG_a/dp_b

    Its endpoints: ``out_e``; ``d out_e / dp_b`` at ``n_end + e n_p + b``; ``d2 out_e / dp_a dp_b``
    at ``n_end (1 + n_p) + e n_pairs + q`` for pair q. It must be solved without directions: its
    ``dfdp``, ``dinit``, ``dobs_dy`` and ``dobs_dp`` are zeros (the engine calls them only for
    directions). Solved without directions, the engine's
    steps are those of the model's own states (``OPT_CONTROLLED_STATES``), the sensitivity
    states computed once each (the augmented model's first-order sensitivities compute dy/dp
    twice and both d2y/dp_a dp_b and d2y/dp_b dp_a) and no Jacobian products per stage."""
    plan = build_plan(ir)
    if plan.K is not None:
        raise ValueError("a linear system has no augmented model")
    n, n_end = len(plan.states), len(plan.obs)
    syms = [s.sym for s in plan.slots]
    if any(s is None for s in syms):
        raise ValueError("dose modifiers have no augmented model")
    n_p = len(syms)
    pairs = second_order_pairs(along, n_p)
    Y = list(plan.states)
    Z = [[sympy.Symbol(f"zz{b}_{plan.state_names[j]}", real=True) for j in range(n)] for b in range(n_p)]
    W = [[sympy.Symbol(f"ww{a}_{b}_{plan.state_names[j]}", real=True) for j in range(n)] for a, b in pairs]
    F = [e.xreplace(plan.full_dyn) for e in plan.odes]
    J = [[_diff(F[k], Y[j]) for j in range(n)] for k in range(n)]
    G = [[sum((J[k][j] * Z[b][j] for j in range(n)), sympy.S.Zero) + _diff(F[k], syms[b]) for k in range(n)]
         for b in range(n_p)]
    odes = list(F) + [g for row in G for g in row]
    for q, (a, b) in enumerate(pairs):
        for k in range(n):
            odes.append(sum((_diff(G[a][k], Y[j]) * Z[b][j] + J[k][j] * W[q][j] for j in range(n)), sympy.S.Zero)
                        + _diff(G[a][k], syms[b]))
    outs = [e.xreplace(plan.full_dyn) for e in plan.obs]
    Oy = [[_diff(outs[e], Y[j]) for j in range(n)] for e in range(n_end)]
    O1 = [[sum((Oy[e][j] * Z[b][j] for j in range(n)), sympy.S.Zero) + _diff(outs[e], syms[b]) for b in range(n_p)]
          for e in range(n_end)]
    obs = list(outs) + [o for row in O1 for o in row]
    for e in range(n_end):
        for q, (a, b) in enumerate(pairs):
            obs.append(sum((_diff(O1[e][a], Y[j]) * Z[b][j] + Oy[e][j] * W[q][j] for j in range(n)), sympy.S.Zero)
                       + _diff(O1[e][a], syms[b]))
    y0 = [e.xreplace(plan.full_dyn) if e is not None else sympy.S.Zero for e in plan.inits]
    inits = list(plan.inits)
    for b in range(n_p):
        inits += [_diff(y0[k], syms[b]) for k in range(n)]
    for a, b in pairs:
        inits += [_diff(_diff(y0[k], syms[a]), syms[b]) for k in range(n)]
    inits = [None if (d is None or d == 0) and k >= n else d for k, d in enumerate(inits)]
    states = tuple(Y) + tuple(z for row in Z for z in row) + tuple(w for row in W for w in row)
    names = tuple(s.name for s in states[n:])
    names = tuple(plan.state_names) + names
    aug = replace(plan, states=states, state_names=names, odes=tuple(odes), obs=tuple(obs), inits=tuple(inits),
                  dose_index=tuple(tuple(row) + (-1,) * (len(states) - n) for row in plan.dose_index))
    _, dyn_land = _lands(aug)
    from nlme_lab.model.codegen.emit import _Land

    static_land = _Land(dyn_land.pool, dyn_land.loads, dyn_land.backsub, has_time=False)
    # the model's own states and endpoints printed as the model's own ``rhs`` and ``obs`` print them
    # (the same operations: its predictions equal the model's bit for bit on the same steps); the
    # derivatives with common subexpressions shared
    rhs_body = _Body(doc="dydt = f(t, y, p) of y, dy/dp" + (" and the pairs' d2y/dp dp" if pairs else ""))
    for k, expr in enumerate(odes):
        if k < n:
            rhs_body.raw.append(_Out(f"dydt[{k}]", plan.odes[k], f"d/dt({names[k]})"))
        else:
            rhs_body.derived.append(_Out(f"dydt[{k}]", expr, f"d/dt({names[k]})"))
    out_body = _Body(doc="the endpoints, d endpoint / d p[b] for every b" + (", then d2 endpoint / d p[a] d p[b] per pair"
                                                                              if pairs else ""))
    for k, expr in enumerate(obs):
        if k < n_end:
            out_body.raw.append(_Out(f"out[{k}]", plan.obs[k], plan.ir.endpoints[k].variable))
        else:
            out_body.derived.append(_Out(f"out[{k}]", expr))
    # solved without directions (its sensitivities are states), the engine calls only rhs, init,
    # obs and (Rodas4) jac; the direction functions are zeros, which saves their derivatives and
    # most of the compile (MM 2-cmt, full model: dfdp, dinit, dobs_dy, dobs_dp 3.4 of 7.5 s)
    unused = "not used: this model is solved without directions (its sensitivities are states)"
    bodies = {
        "rhs": (dyn_land, rhs_body),
        "jac": (dyn_land, _state_jacobian(aug, aug.odes, "J", "dydt", "df/dy")),
        "dfdp": (dyn_land, _Body(doc=unused, zero=["Fp"])),
        "init": (static_land, _init(aug)),
        "dinit": (static_land, _Body(doc=unused, zero=["Y0p"])),
        "obs": (dyn_land, out_body),
        "dobs_dy": (dyn_land, _Body(doc=unused, zero=["Oy"])),
        "dobs_dp": (dyn_land, _Body(doc=unused, zero=["Op"])),
    }
    what = "Full second-order model" if pairs else "First-order sensitivity model"
    parts = [_header(aug).replace("# Generated by", f"# {what} (second_order.py). Generated by", 1),
             f"# second derivatives along p[{', '.join(map(str, along))}]: pairs {pairs}" if pairs else
             "# dy/dp along every p"]
    for name in AUGMENTED_FUNCTIONS:
        land, body = bodies[name]
        parts.append(_function(name, land, body))
    return "\n\n\n".join(parts) + "\n"


def full_model(compiled, along) -> AugmentedModel:
    """The full second-order model of ``compiled`` (``full_source``); made once per process and
    (model, along)."""
    along = tuple(int(a) for a in along)
    pairs = second_order_pairs(along, compiled.n_p)
    return _generated(compiled, along, "sf", full_state_count(compiled.n_state, compiled.n_p, along),
                      compiled.n_endpoint * (1 + compiled.n_p + len(pairs)),
                      pairs=pairs, kind="full" if along else "first")


def first_order_model(compiled) -> AugmentedModel:
    """The model with ``dy/dp`` for every p as states (``full_source`` without pairs): its endpoints
    are ``out_e`` and ``d out_e / dp_b`` (at ``n_end + e n_p + b``). Solved without directions it
    gives what the engine's forward sensitivities along p give, in one generated right-hand side
    (no Jacobian products per stage)."""
    return full_model(compiled, ())
