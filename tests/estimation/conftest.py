"""Session fixtures of the estimation tests: the hand-written numpy prediction problems.

Helpers live in ``spaces.py`` and ``problems.py`` (imported as ``tests.estimation.*``, never as
``conftest``: several test folders have a conftest)."""

import pytest

from tests.estimation.problems import Phenobarbital, Theophylline, Wang2007


@pytest.fixture(scope="session")
def wang():
    return Wang2007()


@pytest.fixture(scope="session")
def theo():
    return Theophylline()


@pytest.fixture(scope="session")
def pheno():
    return Phenobarbital()
