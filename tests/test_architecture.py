"""Architecture rules, enforced: layers import only downwards, heavy libraries stay lazy.

A module "imports" another when it names it anywhere the interpreter could load it from:
``import`` and ``from ... import`` (relative ones resolved), ``importlib.import_module(...)`` and
``__import__(...)`` with a constant name, and any string constant that is a whole module path of
the package (``"nlme_lab.plots.report"``, the ``"module:function"`` runner strings of the method
registry, the lazy-export maps). See docs/ARCHITECTURE.md for the layers and why.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "nlme_lab"

# The layers, lowest first. A module may import its own layer and the layers before it, never a
# later one, nor a sibling in its own entry. Packages that do not exist yet are listed so the rules
# hold from their first line (docs/ARCHITECTURE.md, "Where the coming capabilities live").
LAYERS = (
    ("_lazy", "errors", "config", "examples", "frames"),  # foundation: top-level helpers, bundled files
    ("distributed",),  # the one Dask fan-out helper every tool uses (issue 18)
    ("data",),
    ("model",),
    ("nonmem", "library"),  # NONMEM control streams; the model library (both make Models from text)
    ("kernels",),
    ("problem",),
    ("estimation",),
    ("simulation",),
    ("diagnostics",),
    ("design",),  # optimal design: the population FIM, design evaluation (issue 20)
    ("trials",),  # virtual trials, dose recommendation, MAP dosing (issue 21)
    ("validation",),  # bootstrap, case deletion, cross-validation (issue 19)
    ("covariates",),  # covariate model building, SCM (issue 18)
    ("plots",),
    ("session",),
    ("widgets", "cli", "jupyter"),  # the front ends (jupyter: the server extension): none imports another
)
RANK = {name: k for k, layer in enumerate(LAYERS) for name in layer}
THIRD_PARTY_ONLY_IN = {"bokeh": {"plots", "widgets"}, "ipywidgets": {"widgets"}, "anywidget": {"widgets"},
                       "dask": {"distributed"}, "distributed": {"distributed"},  # dask.distributed imports as `distributed`
                       "tornado": {"jupyter"}, "jupyter_server": {"jupyter"}}
# Layers that may import only some of the layers below them. The Jupyter server checks model text
# for the JupyterLab editor: the model language, never code generation, kernels or fits. The model
# library writes model text and builds Models from it: it needs no engine either.
ONLY_FROM = {"jupyter": {"_lazy", "errors", "config", "examples", "data", "model"},
             "library": {"_lazy", "errors", "config", "examples", "data", "model"}}
KERNEL_ALLOWED = {"numpy", "numba", "math", "__future__", "nlme_lab"}
MODULE_STRING = re.compile(r"nlme_lab(\.[a-z_][a-z0-9_]*)+(:[A-Za-z_]\w*)?")  # modules are lower case
IMPORT_FUNCTIONS = {"import_module", "__import__"}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([root.name, *parts])


def layer_of(module: str) -> str | None:
    """The layer of a module of the package (``nlme_lab.plots.report`` -> ``plots``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "nlme_lab" else None


def _resolve(name: str, level: int, here: str, is_package: bool) -> str:
    """The absolute module of a relative import ``level`` dots up from module ``here``."""
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[:len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imported_names(path: Path, root: Path = PACKAGE):
    """Every module name ``path`` imports or names (see the module docstring)."""
    here = module_name(path, root)
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = _resolve(node.module or "", node.level, here, is_package) if node.level else node.module
            yield module
            if node.level and not node.module:  # from . import x: x may be a module
                yield from (f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _called_name(node.func) in IMPORT_FUNCTIONS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield _dynamic_target(first.value, node, here, is_package)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and MODULE_STRING.fullmatch(node.value):
            yield node.value.split(":")[0]


def _called_name(func) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _dynamic_target(name: str, call: ast.Call, here: str, is_package: bool) -> str:
    if not name.startswith("."):
        return name
    level = len(name) - len(name.lstrip("."))
    package = next((k.value.value for k in call.keywords if k.arg == "package" and isinstance(k.value, ast.Constant)),
                   None)
    if package is not None:
        return _resolve(name[level:], level, package, True)
    return _resolve(name[level:], level, here, is_package)


def violations(path: Path, root: Path = PACKAGE) -> list[str]:
    """The rules ``path`` breaks, in words (empty: none)."""
    layer = layer_of(module_name(path, root))
    if layer is None:  # nlme_lab/__init__.py, the public facade, names every layer lazily
        return []
    out = []
    for name in dict.fromkeys(imported_names(path, root)):
        top = name.split(".")
        target = layer_of(name)
        if target is not None and target != layer:
            rank, other = RANK.get(layer), RANK.get(target)
            if rank is None or other is None:
                out.append(f"{path} ({layer}) names {name}: a layer missing from LAYERS")
            elif other >= rank:
                out.append(f"{path} ({layer}) imports {name} ({target}), a layer above or beside it")
            elif layer in ONLY_FROM and target not in ONLY_FROM[layer]:
                out.append(f"{path} ({layer}) imports {name} ({target}); it may import only {sorted(ONLY_FROM[layer])}")
        for lib, allowed in THIRD_PARTY_ONLY_IN.items():
            if top[0] == lib and layer not in allowed:
                out.append(f"{path} imports {lib}; only {sorted(allowed)} may")
        if layer == "kernels":
            if not (top[0] in KERNEL_ALLOWED or top[0] in sys.stdlib_module_names):
                out.append(f"kernel module {path} imports {name}")
            elif top[0] == "nlme_lab" and target != "kernels":
                out.append(f"kernel module {path} imports {name}")
    return out


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_layer_imports_point_downwards(path):
    assert violations(path) == []


def test_every_package_has_a_layer():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert packages | modules <= set(RANK), sorted((packages | modules) - set(RANK))


PLANTED = {
    "importlib.import_module": 'import importlib\nW = importlib.import_module("nlme_lab.plots.report").write_report\n',
    "import_module from importlib": 'from importlib import import_module\nimport_module("nlme_lab.widgets")\n',
    "__import__": '__import__("nlme_lab.session.cells")\n',
    "relative import_module": 'import importlib\nimportlib.import_module("..plots", package="nlme_lab.estimation")\n',
    "relative import": "from ..plots import report\n",
    "relative from-dot": "from .. import diagnostics\n",
    "runner string": 'RUNNER = "nlme_lab.diagnostics.vpc:vpc"\n',
    "lazy map": 'LAZY = {"vpc": "nlme_lab.simulation"}\n',
}


@pytest.mark.parametrize("how", list(PLANTED))
def test_the_checker_finds_a_planted_upward_import(tmp_path, how):
    """The test of the test: an upward import hidden in each way makes the checker fail."""
    root = tmp_path / "nlme_lab"
    (root / "estimation").mkdir(parents=True)
    planted = root / "estimation" / "planted.py"
    planted.write_text(PLANTED[how])
    found = violations(planted, root)
    assert len(found) == 1 and "(estimation) imports nlme_lab." in found[0], found
    planted.write_text('"""A docstring naming nlme_lab.plots.report in a sentence is no import."""\n'
                       'import importlib\nfrom . import kernel_problem\nfrom ..problem import bind\n'
                       'RUNNER = "nlme_lab.estimation.fit:run_laplace_family"\n')
    assert violations(planted, root) == []


def test_the_front_ends_stay_apart(tmp_path):
    root = tmp_path / "nlme_lab"
    for layer, other in (("cli", "widgets"), ("session", "widgets"), ("widgets", "cli")):
        (root / layer).mkdir(parents=True, exist_ok=True)
        planted = root / layer / "planted.py"
        planted.write_text(f"from nlme_lab.{other} import x\n")
        assert violations(planted, root), (layer, other)


def test_the_server_extension_imports_only_the_model_language(tmp_path):
    root = tmp_path / "nlme_lab"
    for layer, other, allowed in (("jupyter", "kernels", False), ("jupyter", "estimation", False),
                                  ("jupyter", "widgets", False), ("cli", "jupyter", False),
                                  ("widgets", "jupyter", False), ("jupyter", "model.source", True)):
        (root / layer).mkdir(parents=True, exist_ok=True)
        planted = root / layer / "planted.py"
        planted.write_text(f"from nlme_lab.{other} import x\n")
        assert bool(violations(planted, root)) != allowed, (layer, other)


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
