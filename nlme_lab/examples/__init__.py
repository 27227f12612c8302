"""Bundled example files (the tutorials' datasets and models), shipped as package data.

Provenance and licences: README.md in this folder."""

from pathlib import Path

_HERE = Path(__file__).parent


def example_path(name: str) -> Path:
    """Path of a bundled example file, e.g. ``example_path("theo_sd.nlm")``."""
    path = _HERE / name
    if not path.exists():
        available = sorted(p.name for p in _HERE.iterdir() if p.suffix in {".csv", ".nlm"})
        raise FileNotFoundError(f"no bundled example {name!r}; available: {', '.join(available)}")
    return path
