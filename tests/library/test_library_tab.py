"""The Lab's Library tab (in a plain Python process): the chosen template's text follows its
options, bad options say why, and the button puts the text into the editor, which checks it
against the Lab's data (here CO2 uptake without a TIME column)."""

import pandas as pd
import pytest

import nlme_lab as nl
from tests.conftest import DATA

pytest.importorskip("ipywidgets")


@pytest.fixture(scope="module")
def lab():
    frame = pd.read_csv(DATA / "co2.csv")[["ID", "CONC", "DV", "TYPE", "CHILLED"]]
    model = nl.library.asymptotic(offset=True, x="CONC", values={"asym": 32, "lrc": -4.5, "c0": 50, "add_sd": 2})
    return nl.Lab(model, nl.read_nonmem(frame))


def test_the_library_tab_shows_each_template_with_its_options(lab):
    tab = lab.tool("Library")
    assert list(tab.chooser.options)[0] == ("one_compartment", "one_compartment")
    assert len(tab.chooser.options) == len(nl.library.list())
    tab.chooser.value = "two_compartment"
    assert [c.description for c in tab.controls.children] == ["route", "lag", "transit", "infusion", "form",
                                                              "random", "error"]
    controls = {c.description: c for c in tab.controls.children}
    controls["route"].value = "oral"
    controls["lag"].value = True
    assert tab.text == nl.library.two_compartment(route="oral", lag=True).text
    assert "alag(depot) = lag" in tab.preview.value
    controls["transit"].value = 2
    controls["form"].value = "closed"
    assert tab.text == "" and tab.use_button.disabled
    assert "transit compartments need ODEs" in tab.status.value


def test_the_button_puts_the_text_into_the_editor_which_checks_it_against_the_data(lab):
    tab = lab.tool("Library")
    tab.chooser.value = "logistic"
    controls = {c.description: c for c in tab.controls.children}
    controls["x"].value = "CONC"
    controls["random"].value = "asym, xmid"
    tab.use()
    assert lab.editor.value == nl.library.logistic(x="CONC", random=("asym", "xmid")).text
    assert lab.tabs.selected_index == 1 and "In the editor" in tab.status.value
    assert lab.editor.compile() and lab.model.text == tab.text

    tab.chooser.value = "one_compartment"  # needs time: these data have no TIME column
    tab.use()
    assert "does not fit these data" in tab.status.value and "no TIME column" in tab.status.value
    assert lab.model.text == nl.library.logistic(x="CONC", random=("asym", "xmid")).text  # unchanged
