"""Model text cannot run code: every Python escape hatch is rejected with a located error,
and building a model never calls eval/exec/compile."""

import builtins

import pytest

from nlme_lab.errors import ModelError
from nlme_lab.model import Model

TEMPLATE = "[ini]\ns = 1\n[model]\n{line}\ny = s\ny ~ add(s)\n"

ATTACKS = [
    ("__import__('os').system('touch {marker}')", 1, "reserved"),
    ("y0 = __import__('os').system('touch {marker}')", 6, "reserved"),
    ("y0 = a.b", 7, "attribute access"),
    ("y0 = s.__class__", 7, "attribute access"),
    ("y0 = x[0]", 7, "subscripts"),
    ("y0 = lambda: 1", 6, "not allowed"),
    ("y0 = (lambda q: q)(1)", 7, "not allowed"),
    ("y0 = eval('1')", 6, "unknown function 'eval'"),
    ("y0 = exec('import os')", 6, "unknown function 'exec'"),
    ("exec('import os')", 1, "expected a statement"),
    ("y0 = open('/etc/passwd')", 6, "unknown function 'open'"),
    ("y0 = getattr(s, 'x')", 6, "unknown function 'getattr'"),
    ("y0 = 'text'", 6, "strings are not allowed"),
    ('y0 = "text"', 6, "strings are not allowed"),
    ("import os", 1, "reserved word"),
    ("from os import system", 1, "reserved word"),
    ("def f(): return 1", 1, "reserved word"),
    ("y0 = 1; import os", 7, "one statement per line"),
    ("y0 = [1, 2]", 6, "only allowed for an omega block"),
    ("y0 = {1: 2}", 6, "not allowed"),
    ("y0 = exp(1).real", 12, "attribute access"),
    ("y0 = exp(1)(2)", 12, "expected an operator before '('"),
    ("y0 = s if s else __builtins__", 18, "reserved"),
    ("y0 = f'{s}'", 7, "strings are not allowed"),
    ("y0 = s @ s", 8, "'@' is not allowed"),
    ("y0 = 10 ** 10 ** 10 ** 10", 12, "too large"),
]


@pytest.mark.parametrize("line,col,needle", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_escape_hatches_are_rejected_with_location(line, col, needle, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    text = TEMPLATE.replace("{line}", line.replace("{marker}", str(marker)))

    def forbidden(*args, **kwargs):
        raise AssertionError("model building must never call eval/exec/compile")

    import nlme_lab.model.resolver  # noqa: F401 - load sympy before eval is patched away

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    with pytest.raises(ModelError) as info:
        Model(text)
    monkeypatch.undo()
    err = info.value
    assert (err.line, err.column) == (4, col), err
    assert needle in err.diagnostics[0].message, err
    assert not marker.exists()


@pytest.mark.parametrize("value", ["__import__('os')", "open('x')", "'1'", "a.b", "x[0]", "eval('1')"])
def test_ini_values_cannot_run_code_either(value):
    with pytest.raises(ModelError) as info:
        Model(f"[ini]\ns = {value}\n[model]\ny = s\ny ~ add(s)\n")
    assert info.value.line == 2 and info.value.column >= 5


def test_generated_names_are_plain_identifiers():
    """Every name reaching the IR matches [A-Za-z_][A-Za-z0-9_]* and is no dunder."""
    import re

    from tests.conftest import MODELS as models
    for path in models.glob("*.nlm"):
        ir = Model.from_file(path).ir
        names = [t.name for t in ir.thetas] + [r.name for r in ir.random_effects] + list(ir.covariates)
        names += list(ir.compartments) + [a.name for a in ir.statements]
        assert all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) and not n.startswith("__") for n in names)
