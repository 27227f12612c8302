"""Drop stale on-disk numba caches of the engine when any engine source file changed.

numba's ``cache=True`` checks only the source file of the cached function itself. The event
engine inlines code from other modules (``expm``, ``linear``, ``steady_state``, the ODE
integrator ...), so an edit there would otherwise leave ``solve_subject`` running the old
code from ``__pycache__``. ``check()`` hashes the engine's sources and, when the hash differs
from the one recorded at the last compilation, deletes the cache files of every module listed
in ``ENGINE_MODULES`` so numba recompiles them. A new engine module must be added there
(``tests/kernels/test_cache_guard.py`` fails otherwise).

Called at the top of the engine modules, before any of their kernels is loaded. Honours
``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: the engine's modules: their sources are hashed, their caches dropped together (each may embed
#: code of the others: the ODE integrator's modules too, which ``ode.ode_advance`` inlines)
ENGINE_MODULES = (
    "dense", "ode_common", "ode_dopri", "ode_rodas", "ode", "expm", "spectral", "linear",
    "propagate", "steady_state", "workspace", "bolus_march", "events", "population", "metropolis",
)
#: kernel modules that are not engine modules (standalone kernels; no jit code)
STANDALONE_MODULES = ("abi", "jit", "cache_guard", "function_refs", "subject_terms")
STAMP_NAME = "engine_sources.sha256"


def _sources() -> list[Path]:
    files = [HERE / f"{m}.py" for m in ENGINE_MODULES]
    files += [HERE / "abi.py", HERE / "jit.py", HERE / "cache_guard.py"]
    return [f for f in files if f.exists()]


def _cache_dirs() -> list[Path]:
    dirs = [HERE / "__pycache__"]
    custom = os.environ.get("NUMBA_CACHE_DIR")
    if custom:
        # numba mirrors the absolute source directory below NUMBA_CACHE_DIR
        dirs.append(Path(custom) / str(HERE).lstrip(os.sep))
    return dirs


def sources_hash() -> str:
    h = hashlib.sha256()
    for f in _sources():
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


_checked = False


def check() -> bool:
    """Delete stale engine caches (once per process); True if something was invalidated."""
    global _checked
    if _checked:
        return False
    _checked = True
    digest = sources_hash()
    dropped = False
    for d in _cache_dirs():
        stamp = d / STAMP_NAME
        try:
            if stamp.exists() and stamp.read_text().strip() == digest:
                continue
            if d.is_dir():
                for m in ENGINE_MODULES:
                    for f in list(d.glob(f"{m}.*.nbi")) + list(d.glob(f"{m}.*.nbc")):
                        f.unlink(missing_ok=True)
                        dropped = True
                stamp.write_text(digest)
        except OSError:  # read-only install: numba will not cache there either
            pass
    return dropped
