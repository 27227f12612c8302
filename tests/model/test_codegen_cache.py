"""The code cache: one file per source text, never rewritten; numba's cache reused by a new process."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import test_codegen_models as M
from nlme_lab import config
from nlme_lab.errors import CacheError, NlmeError
from nlme_lab.model.codegen import clear_memory_cache, compile_model, generate_source
from nlme_lab.model.codegen.emit import FUNCTION_NAMES

HERE = Path(__file__).resolve().parent


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(config.CACHE_ENV, str(tmp_path))
    assert config.cache_dir() == tmp_path
    monkeypatch.delenv(config.CACHE_ENV)
    assert config.cache_dir() == Path.home() / ".cache" / "nlme_lab"


def test_same_ir_same_file_never_rewritten(fresh_cache):
    first = compile_model(M.wang2007())
    path = first.module_path
    assert path.parent == fresh_cache / "models" and path.name.startswith("m_") and path.suffix == ".py"
    assert path.read_text() == first.source
    before = os.stat(path)
    assert compile_model(M.wang2007()) is first  # equal IR, in-process cache
    clear_memory_cache()
    again = compile_model(M.wang2007())
    assert again is not first and again.module_path == path
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert sorted(p.name for p in path.parent.glob("*.py")) == [path.name]  # no temporary left over


def test_file_name_is_the_hash_of_the_source(fresh_cache):
    add, prop = compile_model(M.wang2007()), compile_model(M.wang2007(M.ErrorKind.PROP))
    assert add is not prop and add.ir.key() != prop.ir.key()
    assert add.source != prop.source  # the theta names (add_sd, prop_sd) are in the header
    clean = M.wang2007(M.ErrorKind.ADD)
    lnorm = dataclasses.replace(clean, endpoints=(dataclasses.replace(
        clean.endpoints[0], terms=(M.ErrorTerm(M.ErrorKind.LNORM, "add_sd"),)),))
    # the residual error model is not part of the generated code: one file, one numba cache
    assert compile_model(lnorm).module_path == add.module_path and lnorm.key() != add.ir.key()
    assert add.module_path.name == f"m_{hashlib.sha256(add.source.encode()).hexdigest()[:24]}.py"
    assert generate_source(M.wang2007()) == add.source  # deterministic
    assert compile_model(M.theo_sd()).module_path != add.module_path


def test_a_damaged_cache_file_is_reported_not_used(fresh_cache):
    path = compile_model(M.wang2007()).module_path
    clear_memory_cache()
    path.write_text(path.read_text() + "\n# edited\n")
    with pytest.raises(NlmeError, match="does not hold the code"):
        compile_model(M.wang2007())
    clear_memory_cache()


def test_functions_compile_on_first_use(fresh_cache):
    m = compile_model(M.wang2007())
    assert not any(m.is_compiled(n) for n in FUNCTION_NAMES)
    m.evaluate_pk([0.5, 0.3], [0.0], [])
    assert [n for n in FUNCTION_NAMES if m.is_compiled(n)] == ["pk"]
    assert compile_model(M.wang2007(), eager=True) is m and all(m.is_compiled(n) for n in FUNCTION_NAMES)


_CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
t0 = time.perf_counter()
import test_codegen_models as M
from nlme_lab.model.codegen import compile_model
t1 = time.perf_counter()
m = compile_model(M.{model}(), eager=True)
t2 = time.perf_counter()
stats = {{name: fn.stats for name, fn in m.functions.items()}}
print(json.dumps({{
    "hits": sum(sum(s.cache_hits.values()) for s in stats.values()),
    "misses": sum(sum(s.cache_misses.values()) for s in stats.values()),
    "path": str(m.module_path), "import_s": t1 - t0, "compile_s": t2 - t1,
}}))
"""


def run_child(model: str, cache: Path) -> dict:
    env = {**os.environ, config.CACHE_ENV: str(cache)}
    code = _CHILD.format(here=str(HERE), model=model)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_second_process_loads_the_compiled_code_from_numba_cache(tmp_path):
    cold = run_child("theo_sd", tmp_path)
    warm = run_child("theo_sd", tmp_path)
    assert cold["path"] == warm["path"]
    assert (cold["hits"], cold["misses"]) == (0, 12)
    assert (warm["hits"], warm["misses"]) == (12, 0)
    index_files = list((Path(cold["path"]).parent / "__pycache__").glob("*.nbi"))
    assert len(index_files) == 12


def test_an_ir_differing_only_in_initial_values_shares_the_functions(fresh_cache):
    base = compile_model(M.wang2007())
    moved = M.wang2007()
    moved = dataclasses.replace(moved, thetas=(dataclasses.replace(moved.thetas[0], init=0.9),) + moved.thetas[1:])
    other = compile_model(moved)
    assert other.ir is moved and other.ir.thetas[0].init == 0.9  # the caller's IR, not a stale one
    assert other.kernels is base.kernels and other.module_path == base.module_path


# ---------------------------------------------------------------------------- trust
def _forget(path: Path) -> None:
    """As a new process would: no compiled model in memory, no module in sys.modules."""
    clear_memory_cache()
    sys.modules.pop(f"_nlme_lab_model_{path.stem}", None)


def test_a_tampered_pyc_with_the_genuine_header_never_runs(fresh_cache, tmp_path):
    """Python's import would take ``__pycache__/m_<hash>.cpython-*.pyc`` whose header matches the
    verified ``.py`` (mtime and size) and run its code; the loader runs the verified text."""
    import importlib.util
    from importlib._bootstrap_external import _code_to_timestamp_pyc

    path = compile_model(M.wang2007()).module_path
    marker = tmp_path / "tampered-code-ran"
    evil = compile(f"open({str(marker)!r}, 'w').write('x')\n" + path.read_text(), str(path), "exec")
    info = os.stat(path)
    pyc = Path(importlib.util.cache_from_source(str(path)))
    pyc.parent.mkdir(exist_ok=True)
    pyc.write_bytes(_code_to_timestamp_pyc(evil, int(info.st_mtime), info.st_size))
    _forget(path)
    again = compile_model(M.wang2007())
    assert not marker.exists()
    assert again.evaluate_pk([0.5, 0.3], [0.0], [])  # and the genuine code works
    _forget(path)


def test_the_cache_folder_is_created_private(fresh_cache):
    compile_model(M.wang2007())
    for folder in (fresh_cache, fresh_cache / "models"):
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder


@pytest.mark.parametrize("where", ["models", "__pycache__", "numba file"])
def test_a_cache_others_can_write_is_refused(fresh_cache, where):
    path = compile_model(M.wang2007(), eager=True).module_path
    _forget(path)
    target = {"models": path.parent, "__pycache__": path.parent / "__pycache__",
              "numba file": next((path.parent / "__pycache__").glob(f"{path.stem}.*.nbi"))}[where]
    mode = stat.S_IMODE(os.stat(target).st_mode)
    os.chmod(target, mode | 0o022)
    try:
        with pytest.raises(CacheError, match=f"{target} is writable by other users.*chmod -R go-w"):
            compile_model(M.wang2007())
    finally:
        os.chmod(target, mode)
        _forget(path)


def test_a_cache_folder_of_another_user_is_refused(fresh_cache, monkeypatch):
    path = compile_model(M.wang2007()).module_path
    _forget(path)
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)
    with pytest.raises(CacheError, match=f"{path.parent} belongs to another user"):
        compile_model(M.wang2007())
    monkeypatch.undo()
    _forget(path)
