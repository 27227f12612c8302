"""What a user gets from ``pip install nlme_lab`` with no Node.js anywhere: the wheel built from
this tree, installed with JupyterLab into a clean venv whose PATH holds nothing but the venv,
lists the lab extension and the server extension as enabled, and the server answers model
checks. About 2-3 minutes (a venv of about 850 MB; pip's cache makes a second run faster).

The wheel carries the extension built by ``make js`` (nlme_lab/labextension/): without it the
wheel cannot be built, and this test says so.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nlme_lab.examples import example_path
from nlme_lab.jupyter import LABEXTENSION_NAME
from nlme_lab.jupyter.check import check_model_text
from tests.jupyter.helpers import post_check
from tests.ui.conftest import running_jupyter_lab

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "nlme_lab" / "labextension" / "package.json"
# the source tree a wheel is built from: what is not needed stays behind (and `build/`, whose
# stale copies setuptools would put in the wheel)
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "node_modules", "__pycache__", "build", "dist", "*.egg-info",
                                    "tests", "benchmarks", "tutorials", "out", ".nlme_cache", "artifacts")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TYPO = example_path("theo_sd.nlm").read_text().replace("exp(tcl + eta_cl)", "exp(tcl + eta_cll)")


def _run(command, env, timeout=900) -> str:
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    text = ANSI.sub("", out.stdout + out.stderr)
    assert out.returncode == 0, f"{' '.join(map(str, command))} failed ({out.returncode}):\n{text[-4000:]}"
    return text


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory):
    """(venv python, environment without Node.js or this checkout) with the wheel installed."""
    assert BUILT.is_file(), f"the JupyterLab extension is not built ({BUILT} is missing): run `make js`"
    base = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, base / "src", ignore=NOT_COPIED)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(base / "src")], os.environ)
    (wheel,) = (base / "dist").glob("nlme_lab-*.whl")
    _run([sys.executable, "-m", "venv", str(base / "venv")], os.environ)
    bin_dir = base / "venv" / "bin"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV", "NODE", "NLME_LAB"))}
    env.update(PATH=str(bin_dir), HOME=str(base / "home"), JUPYTER_PLATFORM_DIRS="1",
               JUPYTER_CONFIG_DIR=str(base / "config"), JUPYTER_DATA_DIR=str(base / "data"))
    assert shutil.which("node", path=env["PATH"]) is None and shutil.which("npm", path=env["PATH"]) is None
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel), "jupyterlab"], env)
    return bin_dir / "python", env


def test_the_wheel_installs_the_lab_extension_enabled(clean_venv):
    python, env = clean_venv
    listed = _run([str(python.parent / "jupyter"), "labextension", "list"], env)
    assert re.search(rf"^\s+{LABEXTENSION_NAME} v0\.1\.0 enabled OK \(python, nlme_lab\)$", listed, re.M), listed
    installed = python.parents[1] / "share" / "jupyter" / "labextensions" / LABEXTENSION_NAME
    assert not installed.is_symlink() and (installed / "install.json").is_file()
    assert sorted(p.name for p in (installed / "static").iterdir()) == sorted(p.name for p in (BUILT.parent / "static").iterdir())


def test_the_wheel_enables_the_server_extension(clean_venv):
    python, env = clean_venv
    listed = _run([str(python.parent / "jupyter"), "server", "extension", "list"], env)
    assert re.search(r"^\s+nlme_lab\.jupyter enabled$", listed, re.M), listed
    assert re.search(r"^\s+nlme_lab\.jupyter\s+OK$", listed, re.M), listed


def test_the_installed_server_checks_model_text(clean_venv, tmp_path):
    python, env = clean_venv
    with running_jupyter_lab(tmp_path, python=str(python), environ=env) as lab:
        assert post_check(lab, {"text": TYPO}) == (200, check_model_text(TYPO).to_json())
        assert "'eta_cll' is not defined" in post_check(lab, {"text": TYPO})[1]["diagnostics"][0]["message"]
