"""The model language: text -> lexer -> parser (syntax tree) -> resolver -> ``ModelIR``.

Public API: ``Model`` (immutable; ``Model(text)``, ``Model.from_file(path)``), ``parse``
(text -> syntax tree), ``resolve`` (syntax tree -> ``Resolution(ir, warnings)``), and the IR
types (``ModelIR``, ``Theta``, ``OmegaBlock``, ...) and the parameter table (``ParameterTable``,
``ParameterKind``, ``Scale``, ``ParameterValues``). Importing this package does not import sympy: the IR
names below load on first access.
"""

from nlme_lab.errors import Diagnostic, ModelError, ModelWarning
from nlme_lab.model.model import Model
from nlme_lab.model.parser import parse

_LAZY = {
    "resolve": "nlme_lab.model.resolver",
    "resolve_text": "nlme_lab.model.resolver",
    "Resolution": "nlme_lab.model.resolver",
    "ModelIR": "nlme_lab.model.ir",
    "Theta": "nlme_lab.model.ir",
    "RandomEffect": "nlme_lab.model.ir",
    "OmegaBlock": "nlme_lab.model.ir",
    "Assignment": "nlme_lab.model.ir",
    "Endpoint": "nlme_lab.model.ir",
    "ErrorTerm": "nlme_lab.model.ir",
    "ErrorKind": "nlme_lab.model.ir",
    "DoseModifier": "nlme_lab.model.ir",
    "LinCmt": "nlme_lab.model.ir",
    "ParameterTable": "nlme_lab.model.parameter_table",
    "ParameterValues": "nlme_lab.model.parameter_table",
    "Parameter": "nlme_lab.model.parameter_table",
    "ParameterKind": "nlme_lab.model.parameter_table",
    "Scale": "nlme_lab.model.parameter_table",
}

__all__ = ["Model", "ModelError", "ModelWarning", "Diagnostic", "parse", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nlme_lab.model' has no attribute {name!r}")
