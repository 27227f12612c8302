"""Drop stale on-disk numba caches of the engine when any engine source file changed.

numba's ``cache=True`` checks only the source file of the cached function itself. The event
engine inlines code from other modules (``expm``, ``linear``, ``steady_state``, the ODE
integrator ...), so an edit there would otherwise leave ``solve_subject`` running the old
code from ``__pycache__``. ``check()`` hashes the engine's sources and, when the hash differs
from the one recorded at the last compilation, deletes the cache files of every module listed
in ``ENGINE_MODULES`` so numba recompiles them. A new engine module must be added there
(``tests/kernels/test_cache_guard.py`` fails otherwise).

``metropolis`` and ``subject_terms`` inline ``error_model`` (and the former is compiled against
the engine's signatures). Called at the top of the engine modules, before any of their kernels
is loaded. Honours ``NUMBA_CACHE_DIR``.
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
    "propagate", "steady_state", "workspace", "bolus_march", "bolus_march_sens", "events", "population",
    "metropolis", "error_model", "subject_terms", "inner_trial",
)
#: kernel modules that are not engine modules (no jit code, or kernels that embed no other module's code)
STANDALONE_MODULES = ("abi", "jit", "cache_guard", "function_refs", "inner_newton", "outer_batch")
STAMP_NAME = "engine_sources.sha256"


def _sources() -> list[Path]:
    files = [HERE / f"{m}.py" for m in ENGINE_MODULES]
    files += [HERE / "abi.py", HERE / "jit.py", HERE / "cache_guard.py"]
    return [f for f in files if f.exists()]


def _cache_dirs() -> list[Path]:
    dirs = [HERE / "__pycache__"]
    custom = os.environ.get("NUMBA_CACHE_DIR")
    if custom:
        # numba (0.5x and later, _UserProvidedCacheLocator) keeps a module's cache in
        # NUMBA_CACHE_DIR/<folder name>_<sha1 of the folder's absolute path>
        folder = os.path.abspath(HERE)
        digest = hashlib.sha1(folder.encode()).hexdigest()
        dirs.append(Path(os.path.abspath(custom)) / f"{os.path.basename(folder)}_{digest}")
    return dirs


_hashes: dict = {}


def sources_hash() -> str:
    """The sha256 of the engine's sources; kept per process for files unchanged since (their
    size and modification time: ``check`` and each ``cached`` call ask, several times per import)."""
    files = _sources()
    key = tuple((f, st.st_mtime_ns, st.st_size) for f in files for st in (f.stat(),))
    digest = _hashes.get(key)
    if digest is None:
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        digest = _hashes[key] = h.hexdigest()
    return digest


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
            # stamped even where numba has not made the folder yet (a new NUMBA_CACHE_DIR): an
            # unstamped folder would make the next process drop what this one compiles
            d.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
        except OSError:  # read-only install: numba will not cache there either
            pass
    return dropped


def cached(module: str, kernel: str = "") -> bool:
    """Whether numba has cached the kernels of ``kernels/<module>.py`` for its current source: one
    index file (``<module>.*.nbi``) no older than the source, in a cache folder whose engine
    stamp is current (else ``check()`` drops the engine's files). False means the first use in
    a process compiles them (for the engine, minutes: callers say so before it starts).
    ``kernel``: that function of the module only (``march_sens``: a simulation compiles others
    of ``bolus_march_sens``)."""
    source = HERE / f"{module}.py"
    if not source.exists():
        return False
    d = _cache_dirs()[-1]  # numba's: NUMBA_CACHE_DIR's mirror when it is set, else __pycache__
    index = list(d.glob(f"{module}.{kernel + '-' if kernel else ''}*.nbi")) if d.is_dir() else []
    try:
        if not index or module in ENGINE_MODULES and (d / STAMP_NAME).read_text().strip() != sources_hash():
            return False
        # an edited source makes numba recompile: every index older than it is stale
        return any(f.stat().st_mtime >= source.stat().st_mtime for f in index)
    except OSError:
        return False
