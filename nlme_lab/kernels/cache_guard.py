"""Drop stale on-disk numba caches of the engine when any engine source file changed.

numba's ``cache=True`` checks only the source file of the cached function itself. The event
engine inlines code from other modules (``expm``, ``linear``, ``steady_state``, the ODE
integrator ...), so an edit there would otherwise leave ``solve_subject`` running the old
code from ``__pycache__``. ``check()`` hashes the engine's sources and, when the hash differs
from the one recorded at the last compilation, deletes the engine's cache files (only those
of the modules listed in ``ENGINE_MODULES``) so numba recompiles them.

``metropolis`` and ``subject_terms`` are listed too: they inline ``error_model`` (and the
former is compiled against the engine's signatures). Called by ``events.py``, ``metropolis.py``
and ``subject_terms.py`` before their kernels are compiled. Honours ``NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: modules whose cached kernels embed code from other modules (their caches get dropped)
ENGINE_MODULES = (
    "expm", "spectral", "linear", "propagate", "steady_state", "bolus_march", "events", "population",
    "metropolis", "error_model", "subject_terms",
)
STAMP_NAME = "engine_sources.sha256"


def _sources() -> list[Path]:
    files = [HERE / f"{m}.py" for m in ENGINE_MODULES]
    files += sorted(HERE.glob("ode*.py")) + [HERE / "abi.py", HERE / "jit.py", HERE / "cache_guard.py"]
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
