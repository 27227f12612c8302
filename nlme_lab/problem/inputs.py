"""What the public functions accept as a model and as data, turned into a ``Model`` and a
``Dataset`` in one place (``fit``, ``simulate``, the diagnostics and the Lab call these)."""

from __future__ import annotations

from pathlib import Path


def as_model(model):
    """A ``Model`` from a ``Model``, a ``.nlm`` path, or model text (text has a line break: a
    model has at least an ``[ini]`` and a ``[model]`` line)."""
    from nlme_lab.model import Model

    if isinstance(model, Model):
        return model
    if isinstance(model, str) and "\n" in model:
        return Model(model)
    if isinstance(model, (str, Path)):
        return Model.from_file(model)
    raise TypeError(f"expected a Model, a path to a .nlm file or model text, got {type(model).__name__}")


def as_dataset(data):
    """A ``Dataset`` from a ``Dataset``, or whatever ``read_nonmem`` reads (a path, ``~`` expanded;
    a DataFrame)."""
    from nlme_lab.data import Dataset, read_nonmem

    if isinstance(data, Dataset):
        return data
    if isinstance(data, (str, Path)):
        data = Path(data).expanduser()
    return read_nonmem(data)
