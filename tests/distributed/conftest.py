"""One local cluster of two process workers for every test of this folder (starting one costs
seconds), closed at the end of the session."""

import pytest

pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install 'dask[distributed]')")


@pytest.fixture(scope="session")
def two_workers():
    """The embedded cluster's client, with two workers (``scheduler=None, n_workers=2``)."""
    from nlme_lab.distributed import embedded_client, shutdown

    client = embedded_client(2)
    yield client
    shutdown()


@pytest.fixture(scope="session")
def theo():
    """The theophylline model and its data as a DataFrame (the tasks resample its subjects)."""
    import pandas as pd

    import nlme_lab as nl
    from distributed_tasks import THEO_DATA, THEO_MODEL

    return nl.Model.from_file(THEO_MODEL), pd.read_csv(THEO_DATA)
