"""``nl.library``: ready model templates whose text is yours to read and edit.

>>> import nlme_lab as nl
>>> nl.library.list()                                  # every template, one line each
>>> m = nl.library.two_compartment(route="oral", lag=True)
>>> print(m.text)                                      # plain model text: edit it, nl.Model(text)
>>> m = nl.library.get("tmdd_qss", route="sc")         # by name, as the CLI and the Lab do

Each template is a function returning a ``Model`` built from generated text (``nl.Model(text)``):
nothing is hidden in code, the text is the model. Groups: pharmacokinetics (1-3 compartments,
IV, infusion, oral, lag, transit), target-mediated drug disposition (full, QSS, QE, Wagner,
irreversible binding, constant target, Michaelis-Menten), pharmacodynamics (Emax, sigmoid Emax,
effect compartment, indirect response I-IV), growth and decay (decay to a plateau, asymptotic
regression, logistic, Gompertz, von Bertalanffy) and dose-response (log-logistic LL.4, Weibull,
Brain-Cousens). Every template shares ``random=`` (parameters with a random effect),
``error=`` (residual error) and ``values=`` (initial values by name).
"""

from nlme_lab.library.catalog import Catalog, OptionInfo, TemplateGroup, TemplateInfo, catalog
from nlme_lab.library.dose_response import brain_cousens, log_logistic, weibull
from nlme_lab.library.growth import asymptotic, decay_to_plateau, gompertz, logistic, von_bertalanffy
from nlme_lab.library.pd import effect_compartment, emax, indirect_response
from nlme_lab.library.pk import one_compartment, three_compartment, two_compartment
from nlme_lab.library.tmdd import (tmdd_constant_target, tmdd_full, tmdd_irreversible, tmdd_mm, tmdd_qe, tmdd_qss,
                                   tmdd_wagner)
from nlme_lab.library.writer import ErrorModel, TemplateError


def list() -> Catalog:
    """Every template with a one-line description (a table in a notebook)."""
    return catalog()


def get(name: str, **options):
    """The ``Model`` of template ``name`` with ``options`` (``nl.library.list()`` names them)."""
    return catalog()[name].model(**options)


def info(name: str) -> TemplateInfo:
    """Template ``name``: its summary and options (with defaults and meanings)."""
    return catalog()[name]


__all__ = [
    "Catalog",
    "ErrorModel",
    "OptionInfo",
    "TemplateError",
    "TemplateGroup",
    "TemplateInfo",
    "asymptotic",
    "brain_cousens",
    "decay_to_plateau",
    "effect_compartment",
    "emax",
    "get",
    "gompertz",
    "indirect_response",
    "info",
    "list",
    "log_logistic",
    "logistic",
    "one_compartment",
    "three_compartment",
    "tmdd_constant_target",
    "tmdd_full",
    "tmdd_irreversible",
    "tmdd_mm",
    "tmdd_qe",
    "tmdd_qss",
    "tmdd_wagner",
    "two_compartment",
    "von_bertalanffy",
    "weibull",
]
