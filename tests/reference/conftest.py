"""Fixtures of the reference tests: ``nl.fit`` on the session's parsed shared models and
datasets (fits are shared through module-scoped fixtures in each test module)."""

import pytest


@pytest.fixture(scope="session")
def fit_shared(shared_models, shared_data):
    """fit_shared(model_name, data_file, method, **kw): nl.fit on the session's parsed model
    and dataset."""
    import nlme_lab as nl

    def run(model: str, data: str, method: str, **kw):
        return nl.fit(shared_models[model], shared_data[data], method, **kw)

    return run
