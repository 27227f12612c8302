"""Generated source -> a file in the cache folder -> a module executed from the verified text.

The file is named by a hash of the source text (``m_<hash>.py``) and never rewritten once it
exists: numba's ``cache=True`` keys its on-disk index by the file's path and modification
time, so an untouched file lets a later process load the compiled machine code instead of
compiling again. New files are written to a temporary name and hard-linked into place, so a
concurrent process never sees a half-written file and never replaces a finished one.

Trust. The cache folder is created private (mode 0700). Of what it holds, only the text of
``m_<hash>.py`` is checked (it must equal the source its name promises), and that checked text
is what runs: it is compiled with ``compile(text, path, "exec")`` into a fresh module, so
Python never reads ``__pycache__/m_<hash>.cpython-*.pyc`` (a tampered ``.pyc`` with the
genuine header would otherwise run its own code). numba's cache beside it (``__pycache__``:
``.nbi`` index and ``.nbc`` data) is made of pickles, which run code when loaded and cannot be
checked against anything; they are trusted only because nobody but the user can write them:
a cache folder (or its ``__pycache__``, or a numba file in it) that another user owns or that
is writable by group or others is refused with a ``CacheError`` before anything in it is
loaded. (``NUMBA_CACHE_DIR``, if set, moves numba's files to that folder: its trust is then
the user's own configuration.)
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import tempfile
import threading
import types
from pathlib import Path

from nlme_lab import config
from nlme_lab.errors import CacheError, NlmeError

_IMPORT_LOCK = threading.Lock()
SUBDIR = "models"
PRIVATE = 0o700


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]


def module_file(source: str, folder: Path | None = None) -> Path:
    """Where ``source`` lives in the cache (written if absent, never rewritten). The folder is
    created private and refused when others could write to it (see the module docstring)."""
    folder = Path(folder) if folder is not None else config.cache_dir() / SUBDIR
    private_folder(folder)
    path = folder / f"m_{source_digest(source)}.py"
    if path.exists():
        if path.read_text(encoding="utf-8") != source:
            raise NlmeError(f"the cached model file {path} does not hold the code its name promises "
                            f"(a damaged cache?); delete it and compile again")
        check_numba_files(path)
        return path
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".py", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
        try:
            os.link(tmp, path)  # atomic, fails if another process got there first
        except FileExistsError:
            pass
        except OSError:  # file systems without hard links
            if not path.exists():
                os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    check_numba_files(path)  # files planted for a module about to be written are refused too
    return path


def private_folder(folder: Path) -> None:
    """Create ``folder`` (and missing parents) with mode 0700, or check an existing one."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
    for created in missing:
        try:
            os.chmod(created, PRIVATE)  # mkdir's mode is masked by the umask; parents get none
        except FileNotFoundError:  # removed meanwhile: checked below
            pass
    _check_private(folder, "the model cache folder")


def check_numba_files(path: Path) -> None:
    """Refuse numba's cache files of ``path`` (pickles) unless only the user could write them."""
    pycache = path.parent / "__pycache__"
    if not pycache.is_dir():
        return
    _check_private(pycache, "the model cache folder")
    for entry in pycache.glob(f"{path.stem}.*"):
        _check_private(entry, "the cache file")


def _check_private(target: Path, what: str) -> None:
    if os.name != "posix":  # ownership and mode bits mean something else there
        return
    info = os.stat(target)
    fix = (f"make it private (chmod -R go-w {target}) or point the environment variable "
           f"{config.CACHE_ENV} at a private folder")
    if info.st_uid != os.getuid():
        raise CacheError(f"{what} {target} belongs to another user (uid {info.st_uid}): compiled model code "
                         f"in it (numba's pickled cache) would run as your code, so it is not used; {fix}")
    if stat.S_IMODE(info.st_mode) & 0o022:
        raise CacheError(f"{what} {target} is writable by other users (mode {stat.S_IMODE(info.st_mode):04o}): "
                         f"compiled model code in it (numba's pickled cache) would run as your code, so it is "
                         f"not used; {fix}")


def import_source(path: Path, source: str) -> types.ModuleType:
    """Run ``source`` (the checked text of ``path``) as a fresh module registered in
    ``sys.modules`` under a unique name. ``compile(source, path)`` gives its functions
    ``path`` as their file, so numba's ``cache=True`` finds its cache beside it; no ``.pyc``
    is read or written."""
    name = f"_nlme_lab_model_{path.stem}"
    with _IMPORT_LOCK:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None) == str(path):
            return module
        code = compile(source, str(path), "exec", dont_inherit=True)
        module = types.ModuleType(name)
        module.__file__ = str(path)
        sys.modules[name] = module
        try:
            exec(code, module.__dict__)  # noqa: S102 - the verified generated text, never model text
        except BaseException:
            del sys.modules[name]
            raise
        return module
