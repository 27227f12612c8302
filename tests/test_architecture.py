"""Architecture rules, enforced: layers import only downwards, heavy libraries stay lazy."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nlme_lab"

# layer -> packages of nlme_lab it must never import (higher layers)
FORBIDDEN = {
    "data": {"model", "problem", "kernels", "estimation", "simulation", "diagnostics", "plots", "widgets", "session", "cli"},
    "model": {"problem", "kernels", "estimation", "simulation", "diagnostics", "plots", "widgets", "session", "cli"},
    "kernels": {"data", "model", "problem", "estimation", "simulation", "diagnostics", "plots", "widgets", "session", "cli"},
    "problem": {"estimation", "simulation", "diagnostics", "plots", "widgets", "session", "cli"},
    "estimation": {"simulation", "diagnostics", "plots", "widgets", "session", "cli"},
    "simulation": {"diagnostics", "plots", "widgets", "session", "cli"},
    "diagnostics": {"plots", "widgets", "session", "cli"},
    "plots": {"widgets", "session", "cli"},
    # the Jupyter server extension checks model text: the model language only, never code that runs
    "jupyter": {"problem", "kernels", "estimation", "simulation", "diagnostics", "plots", "widgets", "session", "cli"},
}
# the server extension is a top layer, like cli: no other package imports it
for _layer in {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} - {"jupyter"}:
    FORBIDDEN.setdefault(_layer, set()).add("jupyter")
THIRD_PARTY_ONLY_IN = {"bokeh": {"plots", "widgets"}, "ipywidgets": {"widgets"}, "anywidget": {"widgets"},
                       "tornado": {"jupyter"}, "jupyter_server": {"jupyter"}}
KERNEL_ALLOWED = {"numpy", "numba", "math", "__future__", "nlme_lab"}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _modules():
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).parts
        if len(parts) > 1:
            yield parts[0], path


@pytest.mark.parametrize("layer,path", list(_modules()), ids=lambda v: str(v).split("nlme_lab/")[-1])
def test_layer_imports_point_downwards(layer, path):
    for name in _imports(path):
        top = name.split(".")
        if top[0] == "nlme_lab" and len(top) > 1:
            assert top[1] not in FORBIDDEN.get(layer, set()), f"{path} ({layer}) imports {name}"
        for lib, allowed in THIRD_PARTY_ONLY_IN.items():
            if top[0] == lib:
                assert layer in allowed, f"{path} imports {lib}; only {allowed} may"
        if layer == "kernels":
            is_stdlib = top[0] in sys.stdlib_module_names
            assert top[0] in KERNEL_ALLOWED or is_stdlib, f"kernel module {path} imports {name}"
            if top[0] == "nlme_lab":
                assert name.startswith("nlme_lab.kernels"), f"{path} imports {name}"


def test_import_nlme_lab_is_light():
    code = (
        "import sys, nlme_lab; heavy = [m for m in ('numba', 'sympy', 'bokeh', 'ipywidgets', "
        "'anywidget', 'scipy', 'pandas') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_cli_help_does_not_load_numerics():
    code = (
        "import sys; from nlme_lab.cli.main import build_parser; build_parser().format_help(); "
        "print(','.join(m for m in ('numba', 'sympy', 'bokeh', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
