"""Which thetas are mu-referenced: ``theta + eta`` inside one expression, so that the
individual parameter ``phi_i = theta + eta_i`` is normal with mean theta.

Detection is exact on the IR: a theta/eta pair is mu-referenced when every model expression
(assignments, ODEs, initial values, dose modifiers), with ``eta`` replaced by ``phi - theta``,
no longer contains ``theta`` (sympy cancels ``theta + phi - theta`` on construction). Then the
likelihood depends on theta only through phi, and the M-step for theta is the mean of the
sampled phi's (closed form). Kappas (occasion effects) never have a theta.

Log-scale mu-referencing: a positive theta (lower bound >= 0) multiplying ``exp(eta)``, as in
``cl = tvcl * WT * exp(eta_cl)``: with ``eta = phi - log(theta)`` theta disappears (after
``expand(power_exp=True)``), so ``log(theta)`` is the mean of phi. Covariates without thetas
may multiply the parameter.
"""

from __future__ import annotations

import numpy as np


def _expressions(ir) -> list:
    import sympy

    exprs = [s.expr for s in ir.statements] + [e for _, e, _ in ir.odes] + [e for _, e, _ in ir.initial]
    exprs += [e for _, _, e, _ in ir.dose_modifiers]
    return [e for e in exprs if isinstance(e, sympy.Basic)]


def _candidates(exprs, eta, thetas: set[str]) -> list[str]:
    import sympy

    out = []
    for expr in exprs:
        for add in expr.atoms(sympy.Add):
            names = sorted(str(t) for t in add.free_symbols)
            if str(eta) in names:
                out += [t for t in names if t in thetas and t not in out]
    return out


def _free_of(exprs, eta, th, shift) -> bool:
    import sympy

    phi = sympy.Dummy("phi")
    for e in exprs:
        if eta not in e.free_symbols:
            if th in e.free_symbols:
                return False
            continue
        moved = e.subs(eta, phi - shift)
        if th in moved.free_symbols and th in sympy.expand(moved, power_exp=True).free_symbols:
            return False
    return True


def mu_reference_from_ir(ir, theta_names: tuple[str, ...], n_eta_columns: int) -> tuple[np.ndarray, np.ndarray]:
    """For each eta column: the index (into ``theta_names``) of its mu-referenced theta, or -1,
    and whether the reference is on the log scale (phi = log(theta) + eta).

    Columns follow ``KernelProblem``: the subject etas first, then the kappa copies (always -1).
    A theta may be the mean of one eta only.
    """
    import sympy

    exprs = _expressions(ir)
    syms = {str(x): x for e in exprs for x in e.free_symbols}  # the IR's own symbols (assumptions)
    lower = {t.name: float(t.lower) for t in ir.thetas}
    out = np.full(n_eta_columns, -1, dtype=int)
    log = np.zeros(n_eta_columns, dtype=bool)
    used: set[str] = set()
    for k, re in enumerate(ir.etas):
        if re.name not in syms:
            continue
        eta = syms[re.name]
        found = next((n for n in _candidates(exprs, eta, set(theta_names) - used)
                      if _free_of(exprs, eta, syms[n], syms[n])), None)
        if found is None:
            users = [str(s) for e in exprs if eta in e.free_symbols for s in e.free_symbols]
            positive = [n for n in theta_names if n in users and n not in used and lower[n] >= 0]
            found = next((n for n in positive if _free_of(exprs, eta, syms[n], sympy.log(syms[n]))), None)
            log[k] = found is not None
        if found is not None:
            out[k] = theta_names.index(found)
            used.add(found)
    return out, log


def _inline(ir, stmt_index: int, etas: set[str]):
    """The expression of statement ``stmt_index`` with every earlier statement it reads
    (directly or through others) written in, and the names of the statements written in.
    None when an inlined statement depends on time, the state or an eta, or a name is
    assigned twice (its value would depend on where it is read)."""
    stmts = ir.statements
    names = [s.name for s in stmts]
    if len(set(names)) != len(names):
        return None
    defined = {s.name: k for k, s in enumerate(stmts[:stmt_index])}
    expr, used = stmts[stmt_index].expr, []
    for _ in range(len(stmts)):
        reads = [x for x in expr.free_symbols if str(x) in defined]
        if not reads:
            return expr, used
        subs = {}
        for x in reads:
            s = stmts[defined[str(x)]]
            if s.depends_on_state or s.depends_on_time or {str(y) for y in s.expr.free_symbols} & etas:
                return None
            subs[x] = s.expr
            used.append(s.name)
        expr = expr.xreplace(subs)
    return None


def _only_through(ir, theta: str, parameter: str, inlined: list[str]) -> bool:
    """Whether ``theta`` reaches the model only through ``parameter``: every statement that
    reads it (or a statement carrying it) is ``parameter`` or one of the statements written
    into it, and no ODE, initial value or dose modifier reads any of them."""
    carriers, allowed = {theta}, set(inlined)
    for s in ir.statements:
        if carriers & {str(x) for x in s.expr.free_symbols} and s.name != parameter:
            if s.name not in allowed:
                return False
            carriers.add(s.name)
    rest = [e for _, e, _ in ir.odes] + [e for _, e, _ in ir.initial] + [e for _, _, e, _ in ir.dose_modifiers]
    return not any(carriers & {str(x) for x in getattr(e, "free_symbols", ())} for e in rest)


def covariate_columns(ir, theta_names: tuple[str, ...], mu_idx: np.ndarray) -> dict[int, tuple[str, tuple[int, ...]]]:
    """Eta columns whose parameter is log-linear in its eta, ``P = h(theta, covariates) exp(eta)``
    (so ``log P = log h + eta``: phi = log P is normal with a subject-specific mean
    ``m_i = log h_i``), mapped to (parameter name, indices of the other thetas in ``h``).

    ``h`` may be spread over earlier statements (``cov_cl_wt = 1 + cl_wt * (WT - 70)`` then
    ``cl = tvcl * exp(eta_cl) * cov_cl_wt``, as ``nl.add_covariate_effect`` writes it): they are
    written into the parameter's expression first. Only thetas that reach the model through this
    parameter alone (no ODE, no other statement) are listed: their M-step is then a
    least-squares fit of ``m_i(theta)`` to the individual phi's, like a covariate model in the
    prior, without any model prediction. Whether the covariates in ``h`` are constant within
    each subject is the caller's check (it has the data).
    """
    import sympy

    mu_names = {theta_names[m] for m in mu_idx if m >= 0}
    eta_names = {re.name for re in ir.etas} | {re.name for re in getattr(ir, "kappas", ())}
    covariates = set(getattr(ir, "covariates", ()))
    out = {}
    for k, re in enumerate(ir.etas):
        at = [i for i, s in enumerate(ir.statements) if re.name in {str(x) for x in s.expr.free_symbols}]
        if len(at) != 1 or ir.statements[at[0]].depends_on_state:
            continue
        found = _inline(ir, at[0], eta_names - {re.name})
        if found is None:
            continue
        expr, inlined = found
        eta = next(x for x in expr.free_symbols if str(x) == re.name)
        base = expr.subs(eta, 0)
        if base == 0 or {str(x) for x in base.free_symbols} - set(theta_names) - covariates:
            continue  # h must be a function of thetas and covariates only
        if sympy.simplify(expr / base - sympy.exp(eta)) != 0:
            continue
        name = ir.statements[at[0]].name
        others = [n for n in sorted(str(x) for x in base.free_symbols) if n in theta_names and n not in mu_names]
        alone = [n for n in others if _only_through(ir, n, name, inlined)]
        if alone:
            out[k] = (name, tuple(theta_names.index(n) for n in alone))
    return out
