"""Project-wide settings: where generated code is cached, and the numba flags we compile with.

Nothing here imports numba, so ``import nlme_lab`` stays light.

* ``cache_dir()``: the folder for generated model modules (and numba's caches beside them):
  the environment variable ``NLME_LAB_CACHE`` if set, else ``~/.cache/nlme_lab``.
* ``NJIT_OPTIONS``: the keyword options every ``numba.njit`` of the project uses. Generated
  model code spells them out literally in its decorators, so they are part of the hashed source
  text: changing a flag gives a new file (numba's on-disk cache index is keyed by signature and
  source file, not by flags, so a flag change must never reuse an old file).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "NLME_LAB_CACHE"

# error_model="numpy": a division by zero gives inf/nan instead of raising (no exception
# checks in the hot loops, same semantics as numpy arrays); fastmath stays off so nan/inf
# propagate as IEEE says and results do not depend on reassociation.
NJIT_OPTIONS: dict[str, object] = {
    "cache": True,
    "nogil": True,
    "error_model": "numpy",
    "fastmath": False,
    "boundscheck": False,
}


def cache_dir() -> Path:
    """The cache folder (not created here): ``$NLME_LAB_CACHE`` or ``~/.cache/nlme_lab``."""
    configured = os.environ.get(CACHE_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "nlme_lab"


def njit_options_source() -> str:
    """``NJIT_OPTIONS`` as keyword-argument text for a generated decorator."""
    return ", ".join(f"{key}={value!r}" for key, value in NJIT_OPTIONS.items())
