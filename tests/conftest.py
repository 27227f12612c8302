"""Shared fixtures: paths to the shared datasets, models and references (copies in tests/shared,
see its PROVENANCE.md), and compiled models reused
across the whole session (compilation is the suite's bottleneck)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT / "tests" / "shared"
DATA = SHARED / "data"
MODELS = SHARED / "models"

# every shared model with the dataset it describes
MODEL_DATA = {
    "nmtest": "nmtest.csv",
    "pheno": "pheno.csv",
    "theo_sd": "theo_sd.csv",
    "theo_sd_ode": "theo_sd.csv",
    "wang2007_add": "wang2007.csv",
    "wang2007_prop": "wang2007.csv",
    "warfarin_pk": "warfarin_pk.csv",
    "warfarin_pkpd": "warfarin.csv",
}


@pytest.fixture(scope="session")
def shared_models():
    """name -> nl.Model for every shared model file (parsed once per session)."""
    import nlme_lab as nl

    return {name: nl.Model.from_file(MODELS / f"{name}.nlm") for name in MODEL_DATA}


@pytest.fixture(scope="session")
def shared_data():
    """file name -> nl.Dataset for every shared dataset (read once per session)."""
    import nlme_lab as nl

    return {name: nl.read_nonmem(DATA / name) for name in sorted(set(MODEL_DATA.values()))}


def mm_benchmark(n_subjects: int):
    """The Michaelis-Menten 2-compartment ODE benchmark (``benchmarks/mm2_ode.nlm``) and the first
    ``n_subjects`` of its dataset (``benchmarks/mm2_ode_100.csv``), as (model, dataset)."""
    import pandas as pd

    import nlme_lab as nl

    model = nl.Model.from_file(ROOT / "benchmarks" / "mm2_ode.nlm")
    frame = pd.read_csv(ROOT / "benchmarks" / "mm2_ode_100.csv")
    return model, nl.read_nonmem(frame[frame["ID"] <= n_subjects].reset_index(drop=True))
