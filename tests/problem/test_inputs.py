"""What the public functions accept as a model and as data, in one place (``problem.inputs``)."""

import pytest
from tests.conftest import DATA, MODELS

from nlme_lab.data import Dataset
from nlme_lab.problem import as_dataset, as_model


def test_a_model_from_a_model_a_path_or_its_text():
    path = MODELS / "wang2007_prop.nlm"
    model = as_model(path)
    assert as_model(model) is model and model.name == "wang2007_prop"
    assert as_model(str(path)).text == model.text
    assert as_model(model.text).parameters == model.parameters  # text: it has line breaks
    with pytest.raises(TypeError, match="expected a Model, a path to a .nlm file or model text, got int"):
        as_model(3)


def test_data_from_a_dataset_a_path_or_a_frame(tmp_path, monkeypatch):
    data = as_dataset(DATA / "wang2007.csv")
    assert isinstance(data, Dataset) and as_dataset(data) is data
    assert as_dataset(data.table).n_records == data.n_records
    monkeypatch.setenv("HOME", str(DATA))
    assert as_dataset("~/wang2007.csv").n_records == data.n_records  # ~ expanded
