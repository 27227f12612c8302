"""The model's parameters as one table: every reported parameter with its kind, scale, bounds,
fixed flag and initial value, and the one way to turn a user's dict into numbers and back.

Every layer reads parameters from here: simulation and diagnostics through ``ParameterValues``
(``table.values(params)``), estimation through ``ParameterSpace`` (the table plus where each
omega block sits among the engine's eta columns and the optimizer's transforms).

Reported names (built and parsed in ``parameter_names`` only):

* a theta or a residual SD by its name (``tcl``, ``add_sd``);
* a variance by its eta or kappa name (``eta_cl``);
* a covariance of a block by the pair ``"eta_cl,eta_v"`` (the earlier-declared eta first, as
  the block's lower triangle by rows). A user may write the pair in either order and with
  spaces (``"eta_v, eta_cl"``); ``canonical`` maps it to the reported name.

Two orders:

* the **vector** order (``names``, ``initial``, ``vector()``): structural thetas, then each
  block's lower triangle by rows (etas' blocks, then kappas'), then the residual SDs. It is the
  estimation's reported vector;
* the **declaration** order (``declared_names``, ``as_dict()``): every ``[ini]`` theta as
  declared (residual SDs among them), then the blocks: the order results are shown in.

``thetas`` keeps every ``[ini]`` theta in declaration order: it is the generated code's theta
vector (``ParameterValues.theta``), residual SDs included.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np

from nlme_lab.errors import NlmeError
from nlme_lab.model.parameter_names import element_name, element_names, split_name
from nlme_lab.model.source import suggest

if TYPE_CHECKING:  # the IR module loads sympy; this one stays light
    from nlme_lab.model.ir import OmegaBlock, Theta


class ParameterKind(enum.Enum):
    """What a parameter belongs to."""

    THETA = "theta"  # a structural fixed effect
    OMEGA = "omega"  # a variance or covariance of the subjects' etas
    KAPPA = "kappa"  # a variance or covariance of the occasions' kappas
    RESIDUAL = "residual"  # a residual-error standard deviation


class Scale(enum.Enum):
    """What a parameter's number is."""

    VALUE = "value"  # a theta, as declared
    VARIANCE = "variance"
    COVARIANCE = "covariance"
    SD = "sd"  # a standard deviation (residual error)


@dataclass(frozen=True)
class Parameter:
    """One row of the table (one reported number)."""

    name: str
    kind: ParameterKind
    scale: Scale
    init: float
    lower: float
    upper: float
    fixed: bool
    block: int = -1  # index into ``ParameterTable.blocks`` for omega and kappa entries
    label: str = ""


@lru_cache(maxsize=None)
def tril(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of an n x n lower triangle by rows (the order of a block's values)."""
    return np.tril_indices(n)


def block_matrix(values, n: int) -> np.ndarray:
    """The symmetric n x n matrix of a block's lower-triangle ``values``."""
    v = np.asarray(values, dtype=float)
    m = np.zeros((n, n))
    rows, cols = tril(n)
    m[rows, cols] = v
    m[cols, rows] = v
    return m


# --- the table -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ParameterTable:
    """Every parameter of a model (see the module docstring). Build it from the IR
    (``ParameterTable.from_ir``, or ``Model.parameters``) or directly for a bare problem."""

    thetas: tuple[Theta, ...]  # every [ini] theta, declaration order, residual SDs included
    blocks: tuple[OmegaBlock, ...]  # etas' blocks, then kappas'
    residuals: tuple[str, ...] = ()  # names of the thetas that are residual SDs
    kappas: tuple[str, ...] = ()  # names of the occasion random effects
    entries: tuple[Parameter, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "thetas", tuple(self.thetas))
        object.__setattr__(self, "blocks", tuple(self.blocks))
        declared = {t.name for t in self.thetas}
        missing = [n for n in self.residuals if n not in declared]
        if missing:
            raise NlmeError(f"residual SD {missing[0]} is not one of the thetas ({', '.join(declared)})")
        for b in self.blocks:
            if len(b.values) != b.size * (b.size + 1) // 2:
                raise NlmeError(f"omega block {', '.join(b.names)}: {len(b.values)} values, "
                                f"expected {b.size * (b.size + 1) // 2}")
        entries = (*map(self._theta_entry, self.structural), *self._block_entries(),
                   *map(self._theta_entry, self.residual_thetas))
        seen = set()
        for e in entries:
            if e.name in seen:
                raise NlmeError(f"parameter {e.name} is declared twice")
            seen.add(e.name)
        object.__setattr__(self, "entries", tuple(entries))

    @classmethod
    def from_ir(cls, ir) -> ParameterTable:
        """The table of a ``ModelIR``: residual SDs are the thetas named in ``~`` lines."""
        used = {term.param for ep in ir.endpoints for term in ep.terms}
        return cls(ir.thetas, ir.omega, tuple(t.name for t in ir.thetas if t.name in used),
                   tuple(r.name for r in ir.kappas))

    def _theta_entry(self, t: Theta) -> Parameter:
        if t.name in self.residuals:
            return Parameter(t.name, ParameterKind.RESIDUAL, Scale.SD, float(t.init), float(t.lower),
                             float(t.upper), bool(t.fixed), label=t.label)
        return Parameter(t.name, ParameterKind.THETA, Scale.VALUE, float(t.init), float(t.lower), float(t.upper),
                         bool(t.fixed), label=t.label)

    def _block_entries(self):
        for k, b in enumerate(self.blocks):
            kind = ParameterKind.KAPPA if b.names[0] in self.kappas else ParameterKind.OMEGA
            rows, cols = tril(b.size)
            for i, j, value in zip(rows, cols, b.values):
                variance = i == j
                yield Parameter(element_name(b.names[i], b.names[j]), kind,
                                Scale.VARIANCE if variance else Scale.COVARIANCE, float(value),
                                0.0 if variance else -np.inf, np.inf, bool(b.fixed), k)

    # --- views -------------------------------------------------------------------------------
    @cached_property
    def structural(self) -> tuple[Theta, ...]:
        """The thetas that are not residual SDs (the estimation's thetas)."""
        return tuple(t for t in self.thetas if t.name not in self.residuals)

    @cached_property
    def residual_thetas(self) -> tuple[Theta, ...]:
        """The residual SDs, declaration order, with lower bounds of at least 0."""
        return tuple(replace(t, lower=max(0.0, float(t.lower))) for t in self.thetas if t.name in self.residuals)

    @property
    def theta_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.thetas)

    @cached_property
    def eta_names(self) -> tuple[str, ...]:
        return tuple(n for b in self.blocks for n in b.names if n not in self.kappas)

    @cached_property
    def kappa_names(self) -> tuple[str, ...]:
        return tuple(n for b in self.blocks for n in b.names if n in self.kappas)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Reported names in vector order."""
        return tuple(e.name for e in self.entries)

    @cached_property
    def declared_names(self) -> tuple[str, ...]:
        """Reported names in declaration order (thetas as declared, then the blocks)."""
        return self.theta_names + tuple(n for b in self.blocks for n in element_names(b.names))

    @cached_property
    def _position(self) -> dict[str, int]:
        return {n: k for k, n in enumerate(self.names)}

    def entry(self, name: str) -> Parameter:
        return self.entries[self.index(name)]

    @property
    def initial(self) -> np.ndarray:
        return np.array([e.init for e in self.entries], dtype=float)

    @property
    def fixed(self) -> np.ndarray:
        return np.array([e.fixed for e in self.entries], dtype=bool)

    @property
    def lower(self) -> np.ndarray:
        return np.array([e.lower for e in self.entries], dtype=float)

    @property
    def upper(self) -> np.ndarray:
        return np.array([e.upper for e in self.entries], dtype=float)

    def of_kind(self, *kinds: ParameterKind) -> tuple[Parameter, ...]:
        return tuple(e for e in self.entries if e.kind in kinds)

    # --- a user's names and values -------------------------------------------------------------
    def canonical(self, name: str) -> str | None:
        """The reported name ``name`` refers to (a covariance in either order), or None."""
        if not isinstance(name, str):
            return None
        if name in self._position:
            return name
        parts = split_name(name)
        for candidate in (",".join(parts), ",".join(reversed(parts))):
            if candidate in self._position:
                return candidate
        return None

    def index(self, name: str) -> int:
        """The vector position of ``name``; an unknown name is an error naming the known ones."""
        key = self.canonical(name)
        if key is None:
            raise NlmeError(self._unknown(name))
        return self._position[key]

    def _unknown(self, name) -> str:
        parts = split_name(name) if isinstance(name, str) else ()
        randoms = set(self.eta_names) | set(self.kappa_names)
        if len(parts) == 2 and parts[0] != parts[1] and set(parts) <= randoms:
            return (f"unknown parameter {name!r}: {parts[0]} and {parts[1]} are not in one omega block, so their "
                    "covariance is not a parameter of this model (declare them as a block: "
                    f"{parts[0]} + {parts[1]} ~ [...])")
        hint = suggest(str(name), self.names)
        return f"unknown parameter {name!r}{hint}. The model's parameters are: {', '.join(self.declared_names)}"

    def vector(self, values: dict | None = None, base=None) -> np.ndarray:
        """The vector (vector order) of ``base`` (default: the initial values) with ``values``
        (reported name -> number, covariances in either order) replaced."""
        z = self.initial if base is None else np.array(base, dtype=float)
        for name, value in (values or {}).items():
            z[self.index(name)] = float(value)
        return z

    def as_dict(self, vector) -> dict[str, float]:
        """Reported name -> value of a vector, in declaration order."""
        z = np.asarray(vector, dtype=float)
        return {n: float(z[self._position[n]]) for n in self.declared_names}

    def values(self, values: dict | None = None) -> ParameterValues:
        """The model's numbers at ``values`` (the initial values for the names not given)."""
        return ParameterValues(self, self.vector(values))

    # --- layout of the vector ------------------------------------------------------------------
    @cached_property
    def theta_positions(self) -> np.ndarray:
        """For every theta (declaration order) its position in the vector."""
        return np.array([self._position[t.name] for t in self.thetas], dtype=np.int64)

    @cached_property
    def block_slices(self) -> tuple[slice, ...]:
        """Each block's values in the vector."""
        out, k = [], len(self.structural)
        for b in self.blocks:
            out.append(slice(k, k + len(b.values)))
            k += len(b.values)
        return tuple(out)

    def matrix(self, vector, kind: ParameterKind = ParameterKind.OMEGA) -> np.ndarray:
        """The omega matrix of the etas (``OMEGA``) or of the kappas (``KAPPA``) of a vector."""
        names = self.kappa_names if kind is ParameterKind.KAPPA else self.eta_names
        z = np.asarray(vector, dtype=float)
        mat = np.zeros((len(names), len(names)))
        for b, sl in zip(self.blocks, self.block_slices):
            if b.names[0] not in names:
                continue
            idx = np.array([names.index(n) for n in b.names])
            mat[idx[:, None], idx[None, :]] = block_matrix(z[sl], b.size)
        return mat

    # --- saving ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready (infinite bounds as None)."""
        def num(x):
            return None if not np.isfinite(x) else float(x)

        return {"thetas": [{"name": t.name, "init": float(t.init), "lower": num(t.lower), "upper": num(t.upper),
                            "fixed": bool(t.fixed), "label": t.label, "line": int(t.line)} for t in self.thetas],
                "blocks": [{"names": list(b.names), "values": [float(v) for v in b.values], "fixed": bool(b.fixed),
                            "line": int(b.line)} for b in self.blocks],
                "residuals": list(self.residuals), "kappas": list(self.kappas)}

    @classmethod
    def from_dict(cls, d: dict) -> ParameterTable:
        from nlme_lab.model.ir import OmegaBlock, Theta

        thetas = tuple(Theta(t["name"], float(t["init"]), -np.inf if t["lower"] is None else float(t["lower"]),
                             np.inf if t["upper"] is None else float(t["upper"]), bool(t["fixed"]), t["label"],
                             int(t["line"])) for t in d["thetas"])
        blocks = tuple(OmegaBlock(tuple(b["names"]), tuple(map(float, b["values"])), bool(b["fixed"]), int(b["line"]))
                       for b in d["blocks"])
        return cls(thetas, blocks, tuple(d["residuals"]), tuple(d["kappas"]))


@dataclass(frozen=True, eq=False)
class ParameterValues:
    """The numbers of a model at one vector of its table: what the generated code and the
    simulator take (thetas with the residual SDs, the eta and kappa omega matrices)."""

    table: ParameterTable
    vector: np.ndarray  # vector order

    @property
    def theta_names(self) -> tuple[str, ...]:
        return self.table.theta_names

    @cached_property
    def theta(self) -> np.ndarray:
        """Every theta in declaration order (the generated code's theta vector)."""
        return np.asarray(self.vector, dtype=float)[self.table.theta_positions]

    @property
    def eta_names(self) -> tuple[str, ...]:
        return self.table.eta_names

    @property
    def kappa_names(self) -> tuple[str, ...]:
        return self.table.kappa_names

    @cached_property
    def omega(self) -> np.ndarray:
        return self.table.matrix(self.vector, ParameterKind.OMEGA)

    @cached_property
    def omega_kappa(self) -> np.ndarray:
        return self.table.matrix(self.vector, ParameterKind.KAPPA)

    def as_dict(self) -> dict[str, float]:
        return self.table.as_dict(self.vector)

    def with_values(self, values: dict | None) -> ParameterValues:
        """A copy with some values replaced (reported names, covariances in either order)."""
        if not values:
            return self
        return ParameterValues(self.table, self.table.vector(values, base=self.vector))
