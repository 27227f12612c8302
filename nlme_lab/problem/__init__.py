"""A problem: a model bound to a dataset, with parameter values. Shared by simulation and
estimation."""

from nlme_lab.problem.binding import BoundModel, bind
from nlme_lab.problem.parameters import ParameterSet

__all__ = ["BoundModel", "bind", "ParameterSet"]
