"""``StreamWriter``: the records of a control stream from a model's IR (see ``export.py``)."""

from __future__ import annotations

import math
import re

import sympy

from nlme_lab.nonmem.export import input_labels, occasion_values, refuse, reserved, trans_names
from nlme_lab.nonmem.fortran import FortranPrinter, hoist

_MODIFIERS = {"f": "F", "alag": "ALAG", "rate": "R", "dur": "D"}
_DATA_ITEMS = ("ID", "TIME", "DV", "AMT", "RATE", "SS", "II", "ADDL", "EVID", "MDV", "CMT", "DVID", "OCC")


def _number(value: float) -> str:
    if math.isinf(value):
        return "-INF" if value < 0 else "INF"
    return repr(float(value)).upper()


class StreamWriter:
    def __init__(self, model, dataset, data_text: str):
        self.model, self.ir, self.dataset, self.data_text = model, model.ir, dataset, data_text
        self.residual = {t.param for e in self.ir.endpoints for t in e.terms}
        for endpoint in self.ir.endpoints:
            if any(t.kind.value == "lnorm" for t in endpoint.terms):
                refuse(f"{endpoint.variable} ~ lnorm(): NONMEM fits log-normal errors on log-transformed data "
                       "(Y = LOG(IPRED) + EPS with log DV in the data file); write the model on log-scale data "
                       "with add()", endpoint.line)
        self.taken = {label.upper() for label in input_labels(dataset)}
        self.names: dict[str, str] = {}
        self._name_parameters()
        self._name_structure()
        self._name_variables()

    # ------------------------------------------------------------------ names
    def _fresh(self, base: str) -> str:
        base = base.upper()
        for candidate in [base] + [f"{base}_{k}" for k in range(2, 1000)]:
            if candidate not in self.taken and not reserved(candidate, self.ir.lincmt is not None):
                self.taken.add(candidate)
                return candidate
        raise RuntimeError(base)

    def _name_parameters(self) -> None:
        ir = self.ir
        self.names.update({t.name: f"THETA({k})" for k, t in enumerate(ir.thetas, start=1)})
        self.names.update({e.name: f"ETA({k})" for k, e in enumerate(ir.etas, start=1)})
        labels = {label.upper(): label for label in input_labels(self.dataset)}
        for covariate in ir.covariates:
            label = labels.get(covariate.upper())
            if label is None:
                refuse(f"the covariate {covariate} is not a column of the data file")
            self.names[covariate] = label
        self.names.update({k.name: self._fresh(k.name) for k in ir.kappas})
        self.names.update({c: f"A({n})" for n, c in enumerate(ir.compartments, start=1)})

    def _name_structure(self) -> None:
        self.advan = self.trans = None
        lin = self.ir.lincmt
        if lin is None:
            return
        self.advan, self.trans, mapping = trans_names(lin.n_cmt, lin.has_depot)
        for ours, theirs in mapping.items():
            self.names[ours] = theirs
            self.taken.add(theirs)

    def _name_variables(self) -> None:
        for s in self.ir.statements:
            if s.name not in self.names:
                self.names[s.name] = self._fresh(s.name)

    def printer(self, time: str, overrides: dict | None = None) -> FortranPrinter:
        return FortranPrinter({**self.names, "t": time, **(overrides or {})})

    # ------------------------------------------------------------------ statements
    def _split(self):
        ir = self.ir
        lin_var = ir.lincmt.variable if ir.lincmt else None
        by_name = {s.name: s for s in ir.statements}
        early = [s for s in ir.statements if not (s.depends_on_state or s.depends_on_time)]
        late = [s for s in ir.statements if (s.depends_on_state or s.depends_on_time)]
        needs = [e for _, _, e, _ in ir.dose_modifiers] + [e for _, e, _ in ir.initial]
        if ir.lincmt:
            needs += [sympy.Symbol(n) for n in ("cl", "v", "q", "v2", "q2", "v3", "ka") if n in by_name]
        timed = {s.name for s in late}
        for expr in needs:
            bad = (self._closure(expr, by_name) | {s.name for s in expr.free_symbols}) & timed
            if bad:
                refuse(f"{sorted(bad)[0]} depends on t or on a compartment amount but is a PK parameter, dose "
                       "modifier or initial amount (NONMEM holds those constant between records)",
                       by_name[sorted(bad)[0]].line)
        ode = set()
        for _, rhs, _ in ir.odes:
            ode |= self._closure(rhs, by_name)
        observed = set()
        for endpoint in ir.endpoints:
            if endpoint.variable in by_name:
                observed |= self._closure(by_name[endpoint.variable].expr, by_name) | {endpoint.variable}
        des = [s for s in late if s.name in ode and s.name != lin_var]
        error = [s for s in late if s.name in observed or s.name not in ode]
        return early, des, error, lin_var

    @staticmethod
    def _closure(expr, by_name) -> set[str]:
        seen, stack = set(), [s.name for s in expr.free_symbols]
        while stack:
            name = stack.pop()
            if name in by_name and name not in seen:
                seen.add(name)
                stack.extend(s.name for s in by_name[name].expr.free_symbols)
        return seen

    def _assignments(self, statements, printer, lin_var: str | None = None) -> list[str]:
        """``NAME = expression`` lines (conditions as IF blocks); ``lin_var = linCmt()`` is ``NAME = F``."""
        lines = []
        for s in statements:
            name = printer.names[s.name]
            if s.name == lin_var:
                lines.append(f"{name} = F")
                continue
            counter = iter(range(1, 1000))
            block, expr = hoist(s.expr, lambda: self._fresh(f"{name}_C{next(counter)}"), printer)
            if isinstance(s.expr, sympy.Piecewise):  # the IF block assigns the variable itself
                temp = re.compile(rf"\b{re.escape(expr.name)}\b")
                lines += [temp.sub(name, line) for line in block]
            else:
                lines += block + [f"{name} = {printer.doprint(expr)}"]
        return lines

    # ------------------------------------------------------------------ records
    def text(self, estimation: str, covariance: str | None) -> str:
        early, des, error, lin_var = self._split()
        records = [f"$PROBLEM {self.model.name or 'nlme_lab model'}",
                   "; written by nlme_lab (nl.to_nonmem) from the model text; t is TIME ($DES: T)",
                   f"$INPUT {' '.join(self._input())}", f"$DATA {self._data_path()} IGNORE=@"]
        pk = self.printer("TIME")
        if not self.ir.compartments:
            records += ["$PRED", *self._indent(self._kappa_lines() + self._assignments(self.ir.statements, pk)
                                               + self._endpoints(pk))]
        else:
            records += self._subroutines()
            records += ["$PK", *self._indent(self._kappa_lines() + self._assignments(early, pk) + self._pk_extras(pk))]
            if self.ir.odes:
                records += ["$DES", *self._indent(self._assignments(des, self.printer("T")) + self._des_lines())]
            overrides = {s.name: self._fresh(f"{self.names[s.name]}_E") for s in error if s in des}
            err = self.printer("TIME", overrides)
            records += ["$ERROR", *self._indent(self._assignments(error, err, lin_var) + self._endpoints(err))]
        records += self._thetas() + self._omegas() + ["$SIGMA 1 FIX  ; the residual SDs are THETAs"]
        records += [f"$ESTIMATION {estimation} MAXEVAL=9999 PRINT=5"]
        if estimation.startswith("METHOD=SAEM"):
            records += ["$ESTIMATION METHOD=IMP INTER EONLY=1 ISAMPLE=2000 NITER=5 PRINT=1"]
        if covariance:
            records.append(covariance)
        records.append("$TABLE ID TIME DV IPRED PRED CWRES NOPRINT ONEHEADER FILE=sdtab")
        return "\n".join(records) + "\n"

    @staticmethod
    def _indent(lines) -> list[str]:
        return [f"  {line}" for line in lines]

    def _input(self) -> list[str]:
        used = {self.names[c].upper() for c in self.ir.covariates} | {k.occasion.upper() for k in self.ir.kappas}
        out = []
        for label in input_labels(self.dataset):
            upper = label.upper()
            if upper in _DATA_ITEMS or upper in used:
                if not upper.replace("_", "").isalnum():
                    refuse(f"the column {label} is used by the model but is not a NONMEM label")
                out.append(upper)
            elif upper.replace("_", "").isalnum() and upper[0].isalpha() and not reserved(upper, False):
                out.append(upper)
            else:
                out.append("DROP")
        return out

    def _data_path(self) -> str:
        return f"'{self.data_text}'" if " " in self.data_text else self.data_text

    def _subroutines(self) -> list[str]:
        if self.ir.lincmt:
            return [f"$SUBROUTINES ADVAN{self.advan} TRANS{self.trans}"]
        comps = " ".join(f"COMP=({c.upper()}{' DEFDOSE' if k == 0 else ''})"
                         for k, c in enumerate(self.ir.compartments))
        return ["$SUBROUTINES ADVAN13 TOL=9", f"$MODEL {comps}"]

    def _pk_extras(self, printer) -> list[str]:
        """Dose modifiers, initial amounts, and S of the central compartment for a closed form."""
        ir, lines = self.ir, []
        index = {c: n for n, c in enumerate(ir.compartments, start=1)}
        for kind, cmt, expr, _ in ir.dose_modifiers:
            name = f"{_MODIFIERS[kind.value]}{index[cmt]}"
            block, value = hoist(expr, lambda: self._fresh(f"{name}_C"), printer)
            lines += block + [f"{name} = {printer.doprint(value)}"]
        for cmt, expr, _ in ir.initial:
            block, value = hoist(expr, lambda: self._fresh(f"A0_{index[cmt]}_C"), printer)
            lines += block + [f"A_0({index[cmt]}) = {printer.doprint(value)}"]
        if ir.lincmt:
            lines.append(f"S{2 if ir.lincmt.has_depot else 1} = {self.names['v']}")
        return lines

    def _des_lines(self) -> list[str]:
        printer = self.printer("T")
        index = {c: n for n, c in enumerate(self.ir.compartments, start=1)}
        lines = []
        for cmt, rhs, _ in self.ir.odes:
            block, value = hoist(rhs, lambda: self._fresh(f"DADT{index[cmt]}_C"), printer)
            lines += block + [f"DADT({index[cmt]}) = {printer.doprint(value)}"]
        return lines

    def _kappa_lines(self) -> list[str]:
        kappas = self.ir.kappas
        if not kappas:
            return []
        column = kappas[0].occasion
        self.occasions = occasion_values(self.dataset, column)
        label = next((l for l in input_labels(self.dataset) if l.upper() == column.upper()), column).upper()
        n_eta, lines = len(self.ir.etas), []
        offset = 0
        for block in self.ir.omega[len(self._eta_blocks()):]:
            for p, name in enumerate(block.names):
                lines.append(f"{self.names[name]} = 0")
                for o, value in enumerate(self.occasions):
                    eta = n_eta + offset + o * len(block.names) + p + 1
                    lines.append(f"IF ({label}.EQ.{_number(value)}) {self.names[name]} = ETA({eta})")
            offset += len(block.names) * len(self.occasions)
        return lines

    def _eta_blocks(self):
        etas = {e.name for e in self.ir.etas}
        return [b for b in self.ir.omega if b.names[0] in etas]

    def _endpoints(self, printer) -> list[str]:
        ir = self.ir
        parts = []
        for endpoint in ir.endpoints:
            terms = {t.kind.value: printer.names[t.param] for t in endpoint.terms}
            if "add" in terms and "prop" in terms:
                w = f"SQRT({terms['add']}**2 + {terms['prop']}**2*IPRED**2)"
            else:
                w = terms["add"] if "add" in terms else f"{terms['prop']}*IPRED"
            parts.append((printer.names[endpoint.variable], w))
        if len(parts) == 1:
            observed, w = parts[0]
            return [f"IPRED = {observed}", f"W = {w}", "Y = IPRED + W*EPS(1)"]
        self._check_dvid(len(parts))
        lines = ["IPRED = 0", "W = 1"]
        for k, (observed, w) in enumerate(parts, start=1):
            lines += [f"IF (DVID.EQ.{k}) THEN", f"  IPRED = {observed}", f"  W = {w}", "ENDIF"]
        return lines + ["Y = IPRED + W*EPS(1)"]

    def _check_dvid(self, n: int) -> None:
        dvid = self.dataset.dvid
        if dvid is None:
            refuse(f"the model has {n} endpoints; the data need a numeric DVID column for NONMEM")
        try:
            values = {float(v) for v in dvid[self.dataset.observed]}
        except (TypeError, ValueError):
            refuse("DVID holds endpoint names; NONMEM reads numbers: use DVID = 1, 2, ...")
        if not values <= {float(k) for k in range(1, n + 1)}:
            refuse(f"DVID values {sorted(values)} on observations are not 1..{n}")

    def _thetas(self) -> list[str]:
        lines = []
        for k, theta in enumerate(self.ir.thetas, start=1):
            low, init, up = theta.lower, theta.init, theta.upper
            if theta.name in self.residual:
                low, init = max(0.0, low), abs(init)
            if math.isinf(low) and math.isinf(up):
                spec = _number(init)
            elif math.isinf(up):
                spec = f"({_number(low)}, {_number(init)})"
            else:
                spec = f"({_number(low)}, {_number(init)}, {_number(up)})"
            fixed = " FIX" if theta.fixed else ""
            label = f" {theta.label}" if theta.label else ""
            lines.append(f"$THETA {spec}{fixed}  ; {theta.name}{label}")
        return lines

    def _omegas(self) -> list[str]:
        lines = []
        for block in self._eta_blocks():
            lines.append(self._omega(block))
        for block in self.ir.omega[len(self._eta_blocks()):]:
            lines.append(self._omega(block, force_block=True))
            n = len(block.names)
            lines += [f"$OMEGA BLOCK({n}) SAME  ; {', '.join(block.names)} on {self.ir.kappas[0].occasion} = "
                      f"{_number(v)}" for v in self.occasions[1:]]
        return lines

    def _omega(self, block, force_block: bool = False) -> str:
        values = " ".join(_number(v) for v in block.values)
        fixed = " FIX" if block.fixed else ""
        labels = {r.name: r.label for r in self.ir.random_effects}
        names = ", ".join(f"{n} {labels[n]}".strip() for n in block.names)
        if len(block.names) == 1 and not force_block:
            return f"$OMEGA {values}{fixed}  ; {names}"
        return f"$OMEGA BLOCK({len(block.names)}) {values}{fixed}  ; {names}"
