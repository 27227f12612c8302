"""NONMEM control streams: ``from_nonmem`` (import) and ``to_nonmem`` (export).

>>> model, spec = nl.from_nonmem("run1.mod")          # doctest: +SKIP
>>> fit = nl.fit(model, spec)                        # doctest: +SKIP
>>> text = nl.to_nonmem(model, data="pheno.csv", method="focei")   # doctest: +SKIP

The package sits above ``data`` and ``model`` (it makes a ``Model`` and reads a ``Dataset``) and
below estimation: it never imports estimation, plots or widgets. Abbreviated code is parsed and
translated to model-language text, never executed.
"""

from nlme_lab.nonmem.issues import ControlStreamError, Note

__all__ = ["ControlStreamError", "NonmemImport", "NonmemSpec", "Note", "from_nonmem", "to_nonmem"]


def __getattr__(name: str):
    if name in ("from_nonmem", "NonmemImport"):
        from nlme_lab.nonmem import importer

        return getattr(importer, name)
    if name == "NonmemSpec":
        from nlme_lab.nonmem.spec import NonmemSpec

        return NonmemSpec
    if name == "to_nonmem":
        from nlme_lab.nonmem.export import to_nonmem

        return to_nonmem
    raise AttributeError(f"module 'nlme_lab.nonmem' has no attribute {name!r}")
