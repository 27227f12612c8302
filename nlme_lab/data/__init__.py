"""NONMEM datasets: ``read_nonmem`` and the frozen ``Dataset`` the kernels read.

>>> from nlme_lab.data import read_nonmem
>>> ds = read_nonmem("theo_sd.csv")                                   # doctest: +SKIP
>>> ds.n_subjects, ds.covariate_names                                 # doctest: +SKIP
(12, ('WT', 'DOSE'))
"""

from nlme_lab.data.addl import expand_addl
from nlme_lab.data.dataset import CovariateSummary, Dataset, DatasetSummary, require_observations
from nlme_lab.data.filters import Comparison, Condition
from nlme_lab.data.kinds import Censoring, ColumnRole, CovariateFill, EventType, RateCode, SteadyState
from nlme_lab.data.reader import read_nonmem

__all__ = [
    "Censoring",
    "ColumnRole",
    "Comparison",
    "Condition",
    "CovariateFill",
    "CovariateSummary",
    "Dataset",
    "DatasetSummary",
    "EventType",
    "RateCode",
    "SteadyState",
    "expand_addl",
    "read_nonmem",
    "require_observations",
]
