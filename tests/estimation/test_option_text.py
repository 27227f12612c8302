"""Method options as text: parsed into the options dataclass, checked by name and type, and
written back as the text and the Python that build them."""

import pytest

from nlme_lab.estimation import FOCEIOptions, InnerOptions, OuterOptions, SAEMOptions
from nlme_lab.estimation.option_text import OptionsTextError, options_code, options_from_text, options_to_text


def test_flat_nested_and_tuple_options_are_applied():
    saem = options_from_text("saem", "n_burn=400, n_em=30, n_kernel=(3, 2, 1), anneal=1")
    assert saem == SAEMOptions(n_burn=400, n_em=30, n_kernel=(3, 2, 1), anneal=1.0)
    assert isinstance(saem.anneal, float)
    focei = options_from_text("FOCEI", " outer.max_iterations = 5 ,inner.switch=1e-3 ")
    assert focei == FOCEIOptions(outer=OuterOptions(max_iterations=5), inner=InnerOptions(switch=1e-3))
    assert options_from_text("fo", "") == options_from_text("fo", " , ")


def test_text_and_code_round_trip_to_the_same_options():
    for method, text in (("saem", "n_burn=400, n_kernel=(3, 2, 1), n_chains=4"),
                         ("focei", "outer.max_iterations=5, inner.switch=0.001, covariance_step=0.002")):
        options = options_from_text(method, text)
        assert options_from_text(method, options_to_text(options)) == options
        code, names = options_code(options)
        import nlme_lab.estimation as est

        assert eval(code, {n: getattr(est, n) for n in names}) == options
    assert options_to_text(SAEMOptions()) == "" and options_code(SAEMOptions()) is None


@pytest.mark.parametrize("text, words", [
    ("n_burnx=3", "saem has no option 'n_burnx'; options: outer.max_iterations"),
    ("n_burn=abc", "option n_burn: 'abc' is not a number"),
    ("n_burn=1.5", "option n_burn: expected a value like 200, got 1.5"),
    ("n_kernel=(1, 2)", "option n_kernel: expected a value like (2, 2, 2)"),
    ("outer=3", "option outer is a group"),
    ("covariance=1", "set it with the covariance control"),
    ("junk", "option 1 ('junk'): write name=value"),
    ("n_em=__import__('os').getcwd()", "option n_em: "),
])
def test_bad_text_is_named_and_never_runs(text, words):
    with pytest.raises(OptionsTextError) as err:
        options_from_text("saem", text)
    assert words in str(err.value)


@pytest.mark.parametrize("method, text, words", [
    ("saem", "anneal=5.0", "option anneal must be a number in (0, 1] (the factor by which a variance may shrink"),
    ("saem", "n_chains='lots'", "option n_chains must be an integer >= 1 or None, got 'lots'"),
    ("saem", "n_chains=-3", "option n_chains must be an integer >= 1 or None, got -3"),
    ("saem", "n_burn=-10", "option n_burn must be an integer >= 0, got -10"),
    ("saem", "ode_rtol=0", "option ode_rtol must be a number in (0, 1), got 0"),
    ("focei", "inner.max_iterations=-1", "option inner.max_iterations must be an integer >= 1"),
    ("focei", "outer.ofv_tolerance=-1", "option outer.ofv_tolerance must be a number > 0, got -1"),
    ("focei", "covariance_step=0", "option covariance_step must be a number in (0, 1)"),
    ("nuts", "chains=0", "option chains must be an integer >= 1, got 0"),
    ("nuts", "priors={'tcl': 'Normal(0, 1)'}", "option priors must be None or a dict of parameter name"),
])
def test_text_out_of_range_names_the_option_and_its_range(method, text, words):
    with pytest.raises(OptionsTextError) as err:
        options_from_text(method, text)
    assert words in str(err.value)
