"""The engine's cache guard knows every kernel module: a module it does not list would keep
running stale cached code after an edit of a module it inlines (numba checks only a cached
function's own file)."""

from __future__ import annotations

import re

from nlme_lab.kernels import cache_guard

KERNELS = cache_guard.HERE


def _modules() -> set[str]:
    return {p.stem for p in KERNELS.glob("*.py") if p.stem != "__init__"}


def test_every_kernel_module_is_listed_once():
    engine, standalone = set(cache_guard.ENGINE_MODULES), set(cache_guard.STANDALONE_MODULES)
    assert not engine & standalone
    assert engine | standalone == _modules(), (
        "list the new module in cache_guard.ENGINE_MODULES (or STANDALONE_MODULES if it compiles "
        "nothing that embeds other modules' code)")


def test_engine_sources_hash_covers_every_engine_module():
    hashed = {p.stem for p in cache_guard._sources()}
    assert set(cache_guard.ENGINE_MODULES) <= hashed


def test_engine_modules_check_the_cache_before_their_first_kernel():
    """A kernel with an explicit signature is compiled (or loaded from the cache) when its
    module is imported: the check must come first."""
    for name in cache_guard.ENGINE_MODULES:
        text = (KERNELS / f"{name}.py").read_text()
        first_kernel = re.search(r"^@(njit|engine_jit)", text, re.M)
        check = text.find("cache_guard.check()")
        assert 0 <= check, name
        assert first_kernel is None or check < first_kernel.start(), name


def test_a_changed_engine_source_drops_the_cached_kernels(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in ("events", "ode_rodas", "function_refs"):
        (cache / f"{name}.solve-1.py311.nbi").write_text("")
        (cache / f"{name}.solve-1.py311.1.nbc").write_text("")
    (cache / cache_guard.STAMP_NAME).write_text("an older hash")
    monkeypatch.setattr(cache_guard, "_cache_dirs", lambda: [cache])
    monkeypatch.setattr(cache_guard, "_checked", False)
    assert cache_guard.check()
    left = sorted(p.name for p in cache.iterdir())
    assert left == [cache_guard.STAMP_NAME, "function_refs.solve-1.py311.1.nbc",
                    "function_refs.solve-1.py311.nbi"]  # a standalone module's cache stays
    assert (cache / cache_guard.STAMP_NAME).read_text() == cache_guard.sources_hash()
    monkeypatch.setattr(cache_guard, "_checked", False)
    assert not cache_guard.check()  # the stamp matches now: nothing dropped


def test_a_new_cache_folder_is_stamped_so_the_next_process_keeps_what_this_one_compiles(tmp_path, monkeypatch):
    # a fresh NUMBA_CACHE_DIR: numba makes the folder only when it saves the first kernel, after
    # ``check``; unstamped, the next process took the folder for stale and dropped the whole engine
    cache = tmp_path / "new" / "kernels_mirror"
    monkeypatch.setattr(cache_guard, "_cache_dirs", lambda: [cache])
    monkeypatch.setattr(cache_guard, "_checked", False)
    assert not cache_guard.check()
    assert (cache / cache_guard.STAMP_NAME).read_text() == cache_guard.sources_hash()
    (cache / "events.solve-1.py311.nbi").write_text("")  # what this process then compiles
    monkeypatch.setattr(cache_guard, "_checked", False)  # the next process
    assert not cache_guard.check()
    assert (cache / "events.solve-1.py311.nbi").exists()
