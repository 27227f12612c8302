"""``from_nonmem(path_or_text)``: a NONMEM control stream -> (``Model``, ``NonmemSpec``).

The steps: records (``records.py``) -> ``$INPUT``/``$DATA`` (``datafile.py``) -> ``$THETA``/
``$OMEGA``/``$SIGMA`` (``params.py``) -> the structure (``structure.py``) -> the abbreviated code
parsed (``abbreviated.py``), its occasion IFs made kappas (``iov.py``), translated
(``translate.py``) -> ``Y``'s error model (``observation.py``) -> model text (``assemble.py``),
which the model language's own parser and checks then read (``Model(text)``). Nothing of the
control stream is ever run: its code is parsed and translated to model text.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import NamedTuple

from nlme_lab.nonmem import code_ast as na
from nlme_lab.nonmem import iov
from nlme_lab.nonmem.abbreviated import parse_code
from nlme_lab.nonmem.assemble import Assembly, omega_line, sd_line, theta_line, valid_name
from nlme_lab.nonmem.datafile import filter_text, parse_data, parse_input
from nlme_lab.nonmem.issues import ControlStreamError, Note, fail
from nlme_lab.nonmem.methods import plan
from nlme_lab.nonmem.observation import observe
from nlme_lab.nonmem.params import parse_thetas, parse_variances
from nlme_lab.nonmem.records import RecordKind as K
from nlme_lab.nonmem.records import split_records
from nlme_lab.nonmem.spec import NonmemSpec
from nlme_lab.nonmem.structure import (CLOSED, MICRO, TRANS_NAMES, closed_structure, ode_structure,
                                       parse_subroutines)
from nlme_lab.nonmem.translate import LINCMT, Context, Slot, Translator

MAX_BYTES = 4 << 20  # a control stream is a few kilobytes


class NonmemImport(NamedTuple):
    """``model, spec = nl.from_nonmem("run1.mod")``."""

    model: object  # nlme_lab.Model
    spec: NonmemSpec


def from_nonmem(source, *, name: str | None = None) -> NonmemImport:
    """Translate a NONMEM control stream (a path, or its text) into a model and a spec.

    ``spec.read()`` gives the dataset of ``$DATA`` (a relative file name is resolved against
    the control stream's folder, or the working folder for text); ``nl.fit(model, spec)`` fits
    it with ``spec.method``. ``spec.notes`` says what was left out and why. Anything that cannot
    be translated faithfully raises ``ControlStreamError`` naming the record and the line.
    """
    text, path = _source(source)
    try:
        return _import(text, path, name)
    except ControlStreamError as err:
        if path is not None:
            raise err.located(str(path)) from None
        raise


def _source(source) -> tuple[str, Path | None]:
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and "$" not in source):
        path = Path(source)
        if not path.is_file():
            raise ControlStreamError("no such file", source=str(path))
        data = path.read_bytes()[: MAX_BYTES + 1]
        if len(data) > MAX_BYTES or b"\x00" in data:
            raise ControlStreamError("not a control stream (binary, or larger than 4 MiB)", source=str(path))
        return data.decode("utf-8", errors="replace"), path
    if not isinstance(source, str):
        raise TypeError(f"from_nonmem takes a file path or the control stream's text, got {type(source).__name__}")
    return source, None


def _import(text: str, path: Path | None, name: str | None) -> NonmemImport:
    stream = split_records(text)
    notes = list(stream.notes)
    problem = _problem(stream)
    columns = parse_input(_required(stream, K.INPUT))
    data = parse_data(_required(stream, K.DATA))
    _abbreviated(stream, notes)
    thetas = parse_thetas(stream.all(K.THETA))
    omegas = parse_variances(stream.all(K.OMEGA), "OMEGA")
    sigmas = parse_variances(stream.all(K.SIGMA), "SIGMA")
    groups = iov.kappa_groups(omegas)
    labels = {label: column for column in columns for label in column.labels}
    ctx = Context(len(thetas), _eta_meanings(omegas, groups, notes), sum(b.size for b in sigmas), labels, 0, notes)
    built = _build(stream, ctx, groups, sigmas, notes)
    model = _model(built, thetas, omegas, groups, ctx, notes, name or problem or (path.stem if path else ""))
    estimation = plan(stream.all(K.ESTIMATION), stream.one(K.COVARIANCE), notes)
    if estimation.evaluate_only:
        notes.append(Note("MAXEVAL=0: every parameter fixed (the objective at the initial values)", "ESTIMATION"))
        model = model.fix(*(t.name for t in model.thetas), *(r.name for r in model.ir.random_effects))
    base = path.parent if path is not None else Path.cwd()
    spec = NonmemSpec(
        data=(base / data.path).resolve(), names=tuple(c.name for c in columns),
        drop=tuple(c.name for c in columns if c.dropped) + built["drop_local"], filter=filter_text(data, columns),
        method=estimation.method, covariance=estimation.covariance, importance_samples=estimation.importance_samples,
        problem=problem, notes=tuple(notes), observed_cmt=built["observed_cmt"],
        observed_default=built["observed_default"], dose_cmt=built["dose_cmt"], occasions=built["occasions"],
    )
    return NonmemImport(model, spec)


def _required(stream, kind: K):
    record = stream.one(kind)
    if record is None:
        fail(f"no ${kind.value} record")
    return record


def _problem(stream) -> str:
    record = stream.one(K.PROBLEM)
    return record.lines[0].code.strip() if record is not None else ""


_ABBR_NOTES = ("DERIV2", "DERIV1", "PROTECT", "FASTDER", "NOFASTDER", "CHECKMU", "NOCHECKMU", "DES")


def _abbreviated(stream, notes: list[Note]) -> None:
    for record in stream.all(K.ABBREVIATED):
        for word in record.code().split():
            key = word.split("=")[0]
            if key not in _ABBR_NOTES:
                fail(f"$ABBREVIATED {word} is not supported (it changes how code is read)", "ABBREVIATED",
                     record.line)
        notes.append(Note(f"$ABBREVIATED {record.code().strip()} left out (it changes no estimate)",
                          "ABBREVIATED", record.line))


def _eta_meanings(omegas, groups, notes: list[Note]) -> dict:
    in_group = {j for g in groups for etas in g.etas for j in etas}
    out = {}
    for block in omegas:
        for k, index in enumerate(block.indices):
            variance = block.variance(k)
            if index in in_group:
                out[index] = None
            elif variance == 0 and block.size == 1:
                if not block.fixed:
                    fail(f"OMEGA {index} is 0 but not FIX", "OMEGA", block.line)
                notes.append(Note(f"ETA({index}) has variance 0 FIX: it is 0 in the model", "OMEGA", block.line))
                out[index] = na.Num("0")
            elif variance <= 0:
                fail(f"OMEGA {index} has variance {variance:g} (must be > 0, or 0 FIX alone)", "OMEGA", block.line)
            else:
                out[index] = na.Param("eta", index)
    return out


# --------------------------------------------------------------------------- the code
def _build(stream, ctx: Context, groups, sigmas, notes: list[Note]) -> dict:
    pred = stream.one(K.PRED)
    if pred is not None:
        for kind in (K.PK, K.ERROR, K.DES, K.MODEL, K.SUBROUTINES):
            if stream.one(kind) is not None:
                fail(f"${kind.value} with $PRED: a $PRED model is all in $PRED", kind.value, stream.one(kind).line)
        return _build_pred(pred, ctx, groups, sigmas, notes)
    pk = _required(stream, K.PK)
    error = _required(stream, K.ERROR)
    advan, trans = parse_subroutines(_required(stream, K.SUBROUTINES), notes)
    subroutines = stream.one(K.SUBROUTINES)
    if advan in CLOSED:
        for kind in (K.DES, K.MODEL):
            if stream.one(kind) is not None:
                fail(f"${kind.value} with ADVAN{advan} (a closed form): $DES and $MODEL go with ADVAN13",
                     kind.value, stream.one(kind).line)
        structure = closed_structure(advan, trans, subroutines.line)
    else:
        structure = ode_structure(advan, stream.one(K.MODEL), subroutines.line)
        _required(stream, K.DES)
    ctx.n_states = len(structure.compartments)
    tr = Translator(ctx)
    code, occasions = _pk_code(pk, groups, ctx)
    tr.run(code, "PK")
    states = _state_names(structure)
    pk_env = dict(tr.env)
    _dose_lines(tr, pk_env, structure, pk.line)
    if structure.closed_form:
        f = _closed_form(tr, pk_env, structure, pk.line)
    else:
        tr.run(parse_code(stream.one(K.DES).lines, "DES"), "DES")
        f = _ode_lines(tr, pk_env, structure, stream.one(K.DES).line)
    tr.env["F"] = f
    tr.run(parse_code(_error_lines(error), "ERROR"), "ERROR")
    obs = observe(tr, sigmas, "ERROR", error.line, notes)
    uses_f = any(s.var == "F" or s.expr is LINCMT for s in Assembly._closure([e.slot for e in obs.endpoints]))
    title = f"ADVAN{advan}" + (f" TRANS{trans}: linCmt()" if structure.closed_form else " (ODEs)")
    return {"tr": tr, "obs": obs, "states": states, "lincmt": structure.closed_form, "title": title,
            "observed_cmt": structure.observe_number if uses_f else None,
            "observed_default": structure.closed_form or any(c.observe for c in structure.compartments),
            "dose_cmt": structure.dose_number, "occasions": occasions,
            "drop_local": _drop_local(ctx, occasions, obs.selector)}


def _build_pred(pred, ctx: Context, groups, sigmas, notes) -> dict:
    tr = Translator(ctx)
    code, occasions = iov.rewrite(parse_code(pred.lines, "PRED"), groups, _column_of(ctx, "PRED"), "PRED")
    if groups and occasions is None:
        fail("a BLOCK SAME group of $OMEGA is never picked by IF (OCC.EQ.n) X = ETA(k)", "OMEGA", groups[0].line)
    tr.run(code, "PRED")
    obs = observe(tr, sigmas, "PRED", pred.line, notes)
    return {"tr": tr, "obs": obs, "states": (), "lincmt": False, "title": "$PRED", "observed_cmt": None,
            "observed_default": True, "dose_cmt": 1, "occasions": occasions,
            "drop_local": _drop_local(ctx, occasions, obs.selector)}


def _pk_code(pk, groups, ctx: Context):
    code, occasions = iov.rewrite(parse_code(pk.lines, "PK"), groups, _column_of(ctx, "PK"), "PK")
    if groups and occasions is None:
        fail("a BLOCK SAME group of $OMEGA is never picked by IF (OCC.EQ.n) X = ETA(k)", "OMEGA", groups[0].line)
    return code, occasions


def _column_of(ctx: Context, record: str):
    def column(label: str, line: int) -> str:
        found = ctx.columns.get(label)
        if found is None or found.dropped:
            fail(f"the occasion condition reads {label}, which is not a (kept) data item of $INPUT", record, line)
        return found.name
    return column


def _drop_local(ctx: Context, occasions, selector: str | None) -> tuple[str, ...]:
    """DVID, OCC, CENS, LIMIT: nlme_lab's reader gives them a role NONMEM does not; left out unless
    the translated model uses them (OCC for the kappas). Used as a covariate, they are refused."""
    used_by_model = ({occasions.column} if occasions is not None else set()) | ({selector} if selector else set())
    for name, (record, line) in ctx.used_local_roles.items():
        if name not in used_by_model:
            fail(f"{name} is read as a covariate, but nlme_lab's data reader gives a column named {name} a role "
                 "of its own: rename the column (and its $INPUT label)", record, line)
    present = {c.name for c in ctx.columns.values() if not c.dropped}
    drop = tuple(name for name in ("DVID", "OCC", "CENS", "LIMIT") if name in present and name not in used_by_model)
    if drop:
        ctx.notes.append(Note(f"{', '.join(drop)} left out of the data: the control stream does not use "
                              f"{'it' if len(drop) == 1 else 'them'} (nlme_lab would read a role into it)", "INPUT"))
    return drop


def _error_lines(error):
    first = error.lines[0]
    match = re.match(r"\s*\(([^)]*)\)", first.code)
    if match is None:
        return error.lines
    words = set(match[1].upper().replace(",", " ").split())
    if not words <= {"ONLY", "OBSERVATIONS", "OBSERVATION", "OBS"}:
        fail(f"$ERROR ({match[1]}) is not supported (read: (ONLY OBSERVATIONS))", "ERROR", error.line)
    return (type(first)(first.number, first.code[match.end():], first.comment), *error.lines[1:])


def _state_names(structure) -> tuple[str, ...]:
    if structure.closed_form:
        return tuple(c.name for c in structure.compartments)
    names: list[str] = []
    for c in structure.compartments:
        base = c.name.lower()
        name = base if valid_name(base) and base not in names else f"{base}_cmt"
        names.append(name)
    return tuple(names)


_MODIFIERS = {"F": "f", "ALAG": "alag", "R": "rate", "D": "dur"}


def _dose_lines(tr: Translator, env: dict, structure, line: int) -> None:
    n = len(structure.compartments)
    for key, value in env.items():
        match = re.fullmatch(r"(F|ALAG|R|D|S)(\d+)", key)
        index = re.fullmatch(r"A_0\((\d+)\)", key)
        if index:
            tr.special("init", int(index[1]), value, value.slot.line, "PK")
        if not match:
            continue
        k = int(match[2])
        if match[1] == "S":
            if k > n + 1:
                fail(f"{key}: the model has compartments 1..{n} (and the output {n + 1})", "PK", value.slot.line)
            continue
        if not 1 <= k <= n:
            fail(f"{key} names compartment {k}; the model has 1..{n} (the output compartment takes no "
                 "dose modifier)", "PK", value.slot.line)
        tr.special(_MODIFIERS[match[1]], k, value, value.slot.line, "PK")


def _claim(tr: Translator, value, name: str, line: int):
    slot = value.slot
    if slot.claim is None and slot.expr is not LINCMT:
        slot.claim = name
        return value
    return tr.add(Slot(f"<{name}>", value, "SUBROUTINES", line, claim=name))


def _closed_form(tr: Translator, env: dict, structure, line: int):
    advan, trans = structure.advan, structure.trans

    def need(name: str):
        if name not in env:
            fail(f"ADVAN{advan} TRANS{trans} needs {name} assigned in $PK", "PK", line)
        return env[name]

    claimed = {}
    if (advan, trans) in TRANS_NAMES:
        for ours, theirs in TRANS_NAMES[(advan, trans)].items():
            claimed[ours] = _claim(tr, need(theirs), ours, line)
    else:
        elimination, exchanges, absorption = MICRO[advan]
        claimed["v"] = tr.add(Slot("<v>", na.Num("1"), "SUBROUTINES", line, claim="v"))
        claimed["cl"] = tr.add(Slot("<cl>", need(elimination), "SUBROUTINES", line, claim="cl"))
        for (q, vp), (out, back) in zip((("q", "v2"), ("q2", "v3")), exchanges):
            claimed[q] = tr.add(Slot(f"<{q}>", need(out), "SUBROUTINES", line, claim=q))
            claimed[vp] = tr.add(Slot(f"<{vp}>", na.Binary("/", need(out), need(back)), "SUBROUTINES", line,
                                      claim=vp))
        if absorption:
            claimed["ka"] = _claim(tr, need(absorption), "ka", line)
    central = structure.observe_number
    scale = env.get(f"S{central}")
    volume = claimed["v"]
    if scale is not None and _root(scale.slot) is _root(volume.slot):
        return tr.add(Slot("F", LINCMT, "SUBROUTINES", line))
    conc = tr.add(Slot("<conc>", LINCMT, "SUBROUTINES", line, preferred="conc"))
    amount = na.Binary("*", conc, volume)
    return tr.add(Slot("F", amount if scale is None else na.Binary("/", amount, scale), "SUBROUTINES", line))


def _root(slot: Slot) -> Slot:
    while isinstance(slot.expr, na.Ref):
        slot = slot.expr.slot
    return slot


def _ode_lines(tr: Translator, pk_env: dict, structure, line: int):
    for k in range(1, len(structure.compartments) + 1):
        value = tr.env.get(f"DADT({k})")
        if value is None:
            fail(f"DADT({k}) is never assigned ($MODEL has {len(structure.compartments)} compartments)", "DES", line)
        tr.special("ode", k, value, value.slot.line, "DES")
    observed = structure.observe_number
    scale = pk_env.get(f"S{observed}")
    amount = na.State(observed)
    return tr.add(Slot("F", amount if scale is None else na.Binary("/", amount, scale), "SUBROUTINES", line))


# --------------------------------------------------------------------------- the text
def _model(built: dict, thetas, omegas, groups, ctx: Context, notes: list[Note], name: str):
    from nlme_lab.errors import ModelError, ModelWarning
    from nlme_lab.model import Model

    tr, obs = built["tr"], built["obs"]
    finals = {v.slot for v in tr.env.values() if isinstance(v, na.Ref)}
    assembly = Assembly(tr.items, finals, obs, built["states"], built["lincmt"], notes)
    assembly.select()
    ini, names = _ini(thetas, omegas, groups, obs, built["occasions"], notes)
    covariates = {c.name for c in ctx.columns.values()}
    assembly.name(set(names.values()) | set(built["states"]) | covariates)

    def name_of(leaf) -> str:
        if isinstance(leaf, na.Ref):
            return leaf.slot.name
        if isinstance(leaf, na.Param):
            return names[(leaf.kind, leaf.index)]
        if isinstance(leaf, na.Covariate):
            return leaf.column
        if isinstance(leaf, na.State):
            return built["states"][leaf.number - 1]
        return "t"

    lines = [f"# {name or 'NONMEM control stream'} (translated from a NONMEM control stream)", "[ini]", *ini,
             "", "[model]", *assembly.model_lines(name_of, built["title"])]
    text = "\n".join(lines) + "\n"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ModelWarning)
            model = Model(text, name=name)
    except ModelError as err:
        raise ControlStreamError(f"the translated model does not compile ({err}); this is a bug of the "
                                 f"import, please report it with the control stream. Model text:\n{text}") from err
    for warning in caught:
        if issubclass(warning.category, ModelWarning):
            notes.append(Note(f"in the translated model, {str(warning.message).partition(': ')[2]}"))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return model


def _ini(thetas, omegas, groups, obs, occasions, notes) -> tuple[list[str], dict]:
    names: dict = {}
    lines = []
    for theta in thetas:
        names[("theta", theta.index)] = f"theta{theta.index}"
        lines.append(theta_line(f"theta{theta.index}", theta, theta.index in obs.residual_thetas, notes))
    in_group = {j for g in groups for etas in g.etas for j in etas}
    for block in omegas:
        if block.indices[0] in in_group or (block.size == 1 and block.values[0] == 0):
            continue
        members = [f"eta{k}" for k in block.indices]
        names.update({("eta", k): n for k, n in zip(block.indices, members)})
        lines.append(omega_line(members, block))
    for group in groups:
        members = [f"kappa{k}" for k in group.kappa_indices]
        names.update({("kappa", k): n for k, n in zip(group.kappa_indices, members)})
        lines.append(omega_line(members, group, occasions.column))
    taken = set(names.values())
    for j, sd in enumerate(obs.sds, start=1):
        name = f"{sd.kind}_sd" if f"{sd.kind}_sd" not in taken else f"{sd.kind}_sd{j}"
        taken.add(name)
        names[("sd", j)] = name
        lines.append(sd_line(name, sd))
    return lines, names
