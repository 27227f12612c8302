"""``Model``: an immutable, checked model. Transforms (``with_initial``, ``fix``, ``unfix``)
return new models by editing the text, so ``model.text`` always describes ``model.ir``.

Importing this module is light: sympy (through the resolver and ``ir``) loads on the first
``Model(...)``.
"""

from __future__ import annotations

import functools
import html
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from nlme_lab.errors import Diagnostic, ModelError, ModelWarning
from nlme_lab.model import ast
from nlme_lab.model.parameter_names import element_names
from nlme_lab.model.parser import parse
from nlme_lab.model.source import Span, normalize_text, read_model_file, replace_spans, span_text, suggest

if TYPE_CHECKING:
    from nlme_lab.model.ir import Endpoint, ModelIR, OmegaBlock, RandomEffect, Theta


#: ``Model(..., solver=)``: "auto" routes linear d/dt systems to the exact linear propagator
SOLVERS = ("auto", "ode")


class Model:
    """A model written in the nlme_lab language (see ``tests/shared/models/README.md``, the language contract).

    >>> m = Model(text)                 # raises ModelError listing every problem
    >>> m.thetas, m.etas, m.covariates  # from the intermediate representation ``m.ir``
    >>> m2 = m.with_initial(tcl=1.0).fix("tv")   # new models; ``m`` is unchanged
    """

    def __init__(self, text: str, *, name: str = "", solver: str = "auto"):
        self._init(text, name, warn=True, solver=solver)

    def _init(self, text: str, name: str, warn: bool, solver: str = "auto") -> None:
        if not isinstance(text, str):
            raise TypeError(f"Model() takes the model text as a str, got {type(text).__name__}")
        if solver not in SOLVERS:
            raise ValueError(f"solver={solver!r}: expected one of {', '.join(map(repr, SOLVERS))}")
        from nlme_lab.model.resolver import resolve  # sympy loads here, not at import

        text = normalize_text(text)  # line ends as an editor shows them; ``model.text`` is this

        program = parse(text)
        resolution = resolve(program, text)
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_solver", solver)
        object.__setattr__(self, "_program", program)
        object.__setattr__(self, "_ir", resolution.ir)
        object.__setattr__(self, "_warnings", resolution.warnings)
        if warn:
            for diag in resolution.warnings:
                warnings.warn(ModelWarning(str(diag)), stacklevel=3)

    @classmethod
    def from_file(cls, path: str | Path, *, solver: str = "auto") -> Model:
        """Read a ``.nlm`` file (UTF-8, a byte-order mark allowed). Every ``ModelError`` names
        the file: a missing file, a folder, bytes that are not UTF-8, or problems in the text."""
        path = Path(path)
        text = read_model_file(path)
        model = cls.__new__(cls)
        try:
            model._init(text, path.stem, warn=True, solver=solver)
        except ModelError as err:
            raise ModelError(err.diagnostics, file=path) from None
        return model

    @classmethod
    def _derived(cls, text: str, name: str, solver: str = "auto") -> Model:
        model = cls.__new__(cls)
        model._init(text, name, warn=False, solver=solver)
        return model

    def __setattr__(self, key, value):
        raise AttributeError("Model is immutable: use with_initial(), fix() or unfix() to get a new model")

    def __delattr__(self, key):
        raise AttributeError("Model is immutable")

    # ------------------------------------------------------------------ views
    @property
    def text(self) -> str:
        return self._text

    @property
    def name(self) -> str:
        return self._name

    @property
    def ir(self) -> ModelIR:
        return self._ir

    @property
    def thetas(self) -> tuple[Theta, ...]:
        return self._ir.thetas

    @property
    def etas(self) -> tuple[RandomEffect, ...]:
        return self._ir.etas

    @property
    def kappas(self) -> tuple[RandomEffect, ...]:
        return self._ir.kappas

    @property
    def omega(self) -> tuple[OmegaBlock, ...]:
        return self._ir.omega

    @property
    def covariates(self) -> tuple[str, ...]:
        return self._ir.covariates

    @property
    def compartments(self) -> tuple[str, ...]:
        return self._ir.compartments

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self._ir.endpoints

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return self._warnings

    @functools.cached_property
    def parameters(self):
        """The ``ParameterTable`` of ``[ini]`` (kinds, bounds, fixed flags, initial values)."""
        from nlme_lab.model.parameter_table import ParameterTable

        return ParameterTable.from_ir(self._ir)

    def parameter_names(self) -> tuple[str, ...]:
        """Reported parameter names: thetas (declaration order), then each omega block's lower
        triangle by rows: a variance by its eta's name (``eta_cl``), a covariance by the pair
        (``eta_cl,eta_v``); etas before kappas, as in ``ir.omega``."""
        return self.parameters.declared_names

    def initial_values(self) -> dict[str, float]:
        """Initial value of every reported parameter, keyed as in ``parameter_names()``."""
        return self.parameters.as_dict(self.parameters.initial)

    # ------------------------------------------------------------------ compiled code
    @functools.cached_property
    def compiled(self):
        """The generated code (lazy, cached per model), from ``nlme_lab.model.codegen``."""
        from nlme_lab.model.codegen import compile_model

        if self._solver == "ode":
            return compile_model(self._ir, route_linear=False)
        return compile_model(self._ir)

    @property
    def solver(self) -> str:
        """``"auto"``: a d/dt system linear in the states with coefficients constant between
        records runs on the exact linear propagator of linCmt(), others on the ODE solver;
        ``"ode"``: every d/dt system on the ODE solver (for checks). See ``describe()``."""
        return self._solver

    def with_solver(self, solver: str) -> Model:
        """The same model with ``solver`` ``"auto"`` or ``"ode"`` (see ``solver``)."""
        return Model._derived(self._text, self._name, solver)

    @property
    def path(self) -> str:
        """How the states are propagated, in words (compiles the model's code): "linCmt()
        closed form ...", "ODE system routed to the exact linear propagator (linear in the
        states)", "stiff ODE solver: <why not linear>", or "" without states."""
        return getattr(self.compiled, "path", "")

    def describe(self) -> str:
        """A few lines: parameters, compartments and how they are solved, covariates, endpoints."""
        ir = self._ir
        lines = [f"model {self._name or '(unnamed)'}"]
        lines.append("  thetas: " + ", ".join(f"{t.name}={t.init:g}" + (" (fixed)" if t.fixed else "")
                                             for t in ir.thetas))
        if ir.random_effects:
            lines.append(f"  random effects: {', '.join(r.name for r in ir.random_effects)}")
        if self.compartments:
            cmts = ", ".join(f"{i + 1}={c}" for i, c in enumerate(self.compartments))
            kind = "linCmt() closed form" if ir.lincmt else "ODEs"
            lines.append(f"  compartments ({kind}): {cmts}")
            lines.append(f"  solved by: {self.path}")
        if ir.covariates:
            lines.append(f"  covariates: {', '.join(ir.covariates)}")
        lines.append("  endpoints: " + "; ".join(
            f"{e.variable} ~ " + " + ".join(f"{t.kind.value}({t.param})" for t in e.terms) for e in ir.endpoints))
        return "\n".join(lines)

    def source(self) -> str:
        """The generated Python source of this model."""
        return self.compiled.source

    # ------------------------------------------------------------------ transforms
    def with_initial(self, **values: float) -> Model:
        """A new model with new initial values: ``with_initial(tcl=1.0, eta_cl=0.2)``; a block
        covariance by its pair name: ``with_initial(**{"eta_cl,eta_v": 0.01})``."""
        spans = self._value_spans()
        edits = []
        for key, value in values.items():
            key = self.parameters.canonical(key) or key  # a covariance in either order
            if key not in spans:
                raise ValueError(f"no parameter '{key}' in this model{suggest(key, spans)}")
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"the initial value of '{key}' must be finite, got {value!r}")
            edits.append((spans[key], repr(number)))
        return Model._derived(replace_spans(self._text, edits), self._name, self._solver)

    def fix(self, *names: str) -> Model:
        """A new model with these parameters fixed (an omega block is fixed as a whole: name
        every member)."""
        return self._set_fixed(names, fixed=True)

    def unfix(self, *names: str) -> Model:
        """A new model with these parameters estimated again."""
        return self._set_fixed(names, fixed=False)

    def _set_fixed(self, names: tuple[str, ...], fixed: bool) -> Model:
        decls = self._declarations()
        edits: list[tuple[Span, str]] = []
        for name in dict.fromkeys(names):
            if name not in decls:
                raise ValueError(f"no parameter '{name}' in this model{suggest(name, decls)}")
            decl = decls[name]
            if isinstance(decl, ast.RandomDecl):
                missing = [n for n in decl.names if n not in names]
                if missing:
                    raise ValueError(
                        f"'{name}' is in an omega block with {', '.join(missing)}: name every member to (un)fix the block"
                    )
            if decl.fixed != fixed and all(e[0] != decl.spec_span for e in edits):
                edits.append((decl.spec_span, self._fixed_spec(decl, fixed)))
        return Model._derived(replace_spans(self._text, edits), self._name, self._solver)

    def _fixed_spec(self, decl: ast.ThetaDecl | ast.RandomDecl, fixed: bool) -> str:
        spec = span_text(self._text, decl.spec_span)
        inner = span_text(self._text, decl.inner_span)
        bounded = isinstance(decl, ast.ThetaDecl) and decl.lower is not None
        if fixed:
            return f"fix{spec}" if bounded else f"fix({spec})"
        return f"({inner})" if bounded else inner

    def _declarations(self) -> dict[str, ast.ThetaDecl | ast.RandomDecl]:
        decls: dict[str, ast.ThetaDecl | ast.RandomDecl] = {}
        for decl in self._program.ini:
            for name in (decl.name,) if isinstance(decl, ast.ThetaDecl) else decl.names:
                decls[name] = decl
        return decls

    def _value_spans(self) -> dict[str, Span]:
        spans: dict[str, Span] = {}
        for decl in self._program.ini:
            if isinstance(decl, ast.ThetaDecl):
                spans[decl.name] = decl.init.span
            else:
                for key, value in zip(element_names(decl.names), decl.values):
                    spans[key] = value.span
        return spans

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        label = f" {self._name!r}" if self._name else ""
        return (
            f"<Model{label}: {len(self.thetas)} thetas, {len(self.etas)} etas, {len(self.kappas)} kappas, "
            f"compartments {list(self.compartments)}, covariates {list(self.covariates)}, "
            f"endpoints {[e.variable for e in self.endpoints]}>"
        )

    def __eq__(self, other) -> bool:
        return isinstance(other, Model) and other._text == self._text and other._solver == self._solver

    def __hash__(self) -> int:
        return hash(self._text)

    def __reduce__(self):
        """Pickled as its text and name (to a worker process of ``nlme_lab.distributed``): the
        parsed IR and the compiled code never travel; the receiving process rebuilds the model
        once (``_unpickled``) and reuses it for every task that sends it again."""
        return (_unpickled, (self._text, self._name, self._solver))

    def _repr_html_(self) -> str:
        rows = []
        for theta in self.thetas:
            bounds = (_fmt(theta.lower), _fmt(theta.upper))
            rows.append((theta.name, "θ", _fmt(theta.init), *bounds, theta.fixed, theta.label))
        labels = {r.name: r for r in self._ir.random_effects}
        for block in self.omega:
            for key, value in zip(element_names(block.names), block.values):
                effect = labels.get(key)
                kind = "ω²" if effect else "ω cov"
                if effect and effect.occasion:
                    kind = f"κ² | {effect.occasion}"
                rows.append((key, kind, _fmt(value), "", "", block.fixed, effect.label if effect else ""))
        head = "".join(f"<th>{h}</th>" for h in ("name", "kind", "initial", "lower", "upper", "fixed", "label"))
        body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
        title = html.escape(self._name or "Model")
        extra = html.escape(
            f"compartments: {', '.join(self.compartments) or '—'}; covariates: {', '.join(self.covariates) or '—'}; "
            f"endpoints: {', '.join(e.variable for e in self.endpoints)}"
        )
        return f"<div><b>{title}</b><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><p>{extra}</p></div>"


@functools.lru_cache(maxsize=16)
def _unpickled(text: str, name: str, solver: str = "auto") -> Model:
    """The model a pickle describes, built once per process (models are immutable, so one
    instance, with its compiled code, serves every task that receives it)."""
    return Model._derived(text, name, solver)


def _cell(value) -> str:
    if isinstance(value, bool):
        return "✓" if value else ""
    return html.escape(str(value))


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "-∞" if value < 0 else "∞"
    return f"{value:.6g}"
