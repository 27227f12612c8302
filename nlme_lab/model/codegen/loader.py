"""Generated source -> a file in the cache folder -> an imported module.

The file is named by a hash of the source text (``m_<hash>.py``) and never rewritten once it
exists: numba's ``cache=True`` keys its on-disk index by the file's path and modification
time, so an untouched file lets a later process load the compiled machine code instead of
compiling again. New files are written to a temporary name and hard-linked into place, so a
concurrent process never sees a half-written file and never replaces a finished one.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path
from types import ModuleType

from nlme_lab import config
from nlme_lab.errors import NlmeError

_IMPORT_LOCK = threading.Lock()
SUBDIR = "models"


def source_digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]


def module_file(source: str, folder: Path | None = None) -> Path:
    """Where ``source`` lives in the cache (written if absent, never rewritten)."""
    folder = Path(folder) if folder is not None else config.cache_dir() / SUBDIR
    path = folder / f"m_{source_digest(source)}.py"
    if path.exists():
        if path.read_text(encoding="utf-8") != source:
            raise NlmeError(f"the cached model file {path} does not hold the code its name promises "
                            f"(a damaged cache?); delete it and compile again")
        return path
    folder.mkdir(parents=True, exist_ok=True)
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
    return path


def import_file(path: Path) -> ModuleType:
    """Import the generated module at ``path`` under a unique name in ``sys.modules``."""
    name = f"_nlme_lab_model_{path.stem}"
    with _IMPORT_LOCK:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None) == str(path):
            return module
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
