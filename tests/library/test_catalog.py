"""The library's table of contents, its options and the errors of bad requests."""

import json

import pytest

import nlme_lab as nl
from nlme_lab.library import TemplateError, TemplateGroup

EXPECTED = {
    TemplateGroup.PK: {"one_compartment", "two_compartment", "three_compartment"},
    TemplateGroup.TMDD: {"tmdd_full", "tmdd_qss", "tmdd_qe", "tmdd_wagner", "tmdd_irreversible",
                         "tmdd_constant_target", "tmdd_mm"},
    TemplateGroup.PD: {"emax", "effect_compartment", "indirect_response"},
    TemplateGroup.GROWTH: {"decay_to_plateau", "asymptotic", "logistic", "gompertz", "von_bertalanffy"},
    TemplateGroup.DOSE_RESPONSE: {"log_logistic", "weibull", "brain_cousens"},
}


def test_the_list_names_every_template_with_a_one_line_description():
    catalog = nl.library.list()
    assert {g: {t.name for t in catalog if t.group is g} for g in TemplateGroup} == EXPECTED
    assert len(catalog) == 21 and catalog.names[0] == "one_compartment"
    for t in catalog:
        assert t.summary and "\n" not in t.summary and len(t.summary) < 110, t.name
        assert {"random", "error", "values"} <= {o.name for o in t.options}
        assert all(o.help for o in t.options)
    assert len(repr(catalog).splitlines()) == 21
    html = catalog._repr_html_()
    assert html.count("<code>") >= 22 and "target-mediated drug disposition" in html
    frame = catalog.to_frame()
    assert list(frame.columns) == ["name", "group", "summary", "options"] and len(frame) == 21
    assert json.loads(json.dumps(catalog.to_dict()))["templates"][3]["name"] == "tmdd_full"


@pytest.mark.parametrize("name", sorted(set().union(*EXPECTED.values())))
def test_every_template_text_is_the_model(name):
    model = nl.library.get(name)
    assert model.name == name
    assert nl.Model(model.text).ir.key() == model.ir.key()
    assert model.text.startswith(f"# {name}: ") and "[ini]" in model.text and "[model]" in model.text
    assert "<pre>" in nl.library.info(name)._repr_html_()


def test_options_come_from_the_signature_with_their_choices():
    info = nl.library.info("one_compartment")
    route = info.option("route")
    assert route.kind == "choice" and route.choices == ("iv", "oral", "infusion") and route.default == "iv"
    assert info.option("lag").kind == "bool" and info.option("transit").kind == "int"
    assert route.parse("oral") == "oral" and info.option("lag").parse("yes") is True
    assert info.option("random").parse("cl, v") == ("cl", "v")
    with pytest.raises(TemplateError, match="option route='orl': one of iv, oral, infusion; did you mean oral"):
        route.parse("orl")


def test_the_header_says_how_the_text_was_made():
    text = nl.library.two_compartment(route="oral", lag=True, values={"cl": 5}).text
    assert "# from nl.library.two_compartment(route='oral', lag=True); edit freely" in text
    assert "tcl = log(5)" in text


def test_random_and_error_change_the_text():
    text = nl.library.one_compartment(random=("v",), error="combined").text
    assert "eta_cl" not in text and "v = exp(tv + eta_v)" in text and "cp ~ add(add_sd) + prop(prop_sd)" in text
    assert "eta" not in nl.library.logistic(random=()).text
    assert "lnorm(lnorm_sd)" in nl.library.decay_to_plateau(error="lnorm").text


@pytest.mark.parametrize("call,message", [
    (lambda: nl.library.get("tmdd_qs"), "no template 'tmdd_qs' in the library; did you mean tmdd_qss"),
    (lambda: nl.library.get("emax", sigmoidal=True), "emax has no option 'sigmoidal'.*did you mean sigmoid"),
    (lambda: nl.library.one_compartment(values={"cll": 2}), "'cll' is not a parameter.*did you mean cl"),
    (lambda: nl.library.one_compartment(values={"cl": -2}), "cl = -2.0 must be positive"),
    (lambda: nl.library.one_compartment(values={"eta_cl": -0.1}), "eta_cl = -0.1 must be a variance"),
    (lambda: nl.library.one_compartment(values={"add_sd": 1}), "'add_sd' is not a parameter"),
    (lambda: nl.library.one_compartment(random=("ka",)), "'ka' is not a parameter of this template"),
    (lambda: nl.library.one_compartment(transit=2), "transit compartments come before a depot; use route='oral'"),
    (lambda: nl.library.one_compartment(route="oral", transit=2, form="closed"), "transit compartments need ODEs"),
    (lambda: nl.library.one_compartment(infusion="modeled"), "infusion='modeled' is for route='infusion'"),
    (lambda: nl.library.one_compartment(error="normal"), "error='normal'"),
    (lambda: nl.library.emax(x="ec50"), "x='ec50' is the name of a parameter"),
    (lambda: nl.library.emax(x="CONC value"), "the independent variable is t"),
    (lambda: nl.library.indirect_response(kind="V"), "kind='V': one of 'I', 'II', 'III', 'IV'"),
    (lambda: nl.library.indirect_response(values={"imax": 1.5}), "imax = 1.5 must lie between 0.0 and 1.0"),
    (lambda: nl.library.tmdd_qss(compartments=3), "compartments=3: 1 or 2"),
])
def test_bad_requests_are_errors_naming_the_option(call, message):
    with pytest.raises(TemplateError, match=message):
        call()


def test_the_library_is_reached_lazily_from_the_top():
    assert "library" in dir(nl)
    assert nl.library.get is not None
