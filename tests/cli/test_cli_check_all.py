"""`nlme-lab check MODEL DATA` passes on every shared model with its dataset."""

import pytest

from nlme_lab.cli.main import main
from tests.conftest import DATA, MODEL_DATA, MODELS


@pytest.mark.parametrize("name", sorted(MODEL_DATA))
def test_check_every_shared_model(name, capsys):
    assert main(["check", str(MODELS / f"{name}.nlm"), str(DATA / MODEL_DATA[name])]) == 0
    out = capsys.readouterr().out
    assert "binds to the model: OK" in out
