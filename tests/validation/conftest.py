"""Fits the validation tests share (fitted once per session)."""

import pytest

from tests.conftest import DATA, MODELS


@pytest.fixture(scope="session")
def pheno_fit():
    import nlme_lab as nl

    return nl.fit(nl.Model.from_file(MODELS / "pheno.nlm"), nl.read_nonmem(DATA / "pheno.csv"), "focei")


@pytest.fixture(scope="session")
def theo_fit():
    import nlme_lab as nl

    return nl.fit(nl.Model.from_file(MODELS / "theo_sd.nlm"), nl.read_nonmem(DATA / "theo_sd.csv"), "focei")
