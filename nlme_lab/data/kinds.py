"""The kinds a NONMEM dataset is made of: column roles, event types and special codes.

Strings are accepted only at the public edge (``read_nonmem(covariate_fill="locf")``) and
converted to these enums at once.
"""

from __future__ import annotations

import enum

from nlme_lab.data.issues import excerpt
from nlme_lab.errors import DataError


class ColumnRole(enum.Enum):
    """What a column of a NONMEM dataset means. Matched case-insensitively by name."""

    ID = "ID"
    TIME = "TIME"
    DV = "DV"
    AMT = "AMT"
    EVID = "EVID"
    MDV = "MDV"
    CMT = "CMT"
    RATE = "RATE"
    II = "II"
    ADDL = "ADDL"
    SS = "SS"
    DVID = "DVID"
    OCC = "OCC"
    CENS = "CENS"
    LIMIT = "LIMIT"
    COVARIATE = "covariate"
    DROPPED = "dropped"

    @classmethod
    def of(cls, name: str) -> ColumnRole:
        """The role of a column called ``name`` (any case); COVARIATE for any other name."""
        return _STANDARD.get(str(name).strip().upper(), cls.COVARIATE)

    @property
    def is_standard(self) -> bool:
        return self not in (ColumnRole.COVARIATE, ColumnRole.DROPPED)


_STANDARD = {role.value: role for role in ColumnRole if role.value.isupper()}

#: standard columns that must be present (TIME may be absent: then every record is at time 0 and
#: the data hold no doses; binding refuses a model that needs time, ``problem/binding.py``)
REQUIRED = (ColumnRole.ID, ColumnRole.DV)

#: standard columns holding integer codes
INTEGER_ROLES = (
    ColumnRole.EVID, ColumnRole.MDV, ColumnRole.CMT, ColumnRole.ADDL, ColumnRole.SS, ColumnRole.CENS,
)


class EventType(enum.IntEnum):
    """NONMEM's EVID."""

    OBSERVATION = 0
    DOSE = 1
    OTHER = 2
    RESET = 3
    RESET_DOSE = 4

    @property
    def is_dose(self) -> bool:
        return self in (EventType.DOSE, EventType.RESET_DOSE)

    @property
    def is_reset(self) -> bool:
        return self in (EventType.RESET, EventType.RESET_DOSE)


DOSE_EVIDS = (int(EventType.DOSE), int(EventType.RESET_DOSE))
RESET_EVIDS = (int(EventType.RESET), int(EventType.RESET_DOSE))


class SteadyState(enum.IntEnum):
    """NONMEM's SS data item on a dose record."""

    NONE = 0
    RESET = 1  # reset the system, then load the periodic steady state of the dose
    ADD = 2  # add the steady state to the current state


class RateCode(enum.IntEnum):
    """Negative RATE values with a meaning (positive RATE is a rate, 0 a bolus)."""

    MODELED_RATE = -1  # the model supplies the rate (R1, R2, ...)
    MODELED_DURATION = -2  # the model supplies the duration (D1, D2, ...)


class Censoring(enum.IntEnum):
    """CENS: where the true value of a censored observation lies relative to DV."""

    ABOVE = -1  # true value above DV (DV is the upper limit of quantification)
    NONE = 0
    BELOW = 1  # true value below DV (DV is the lower limit of quantification)


class CovariateFill(enum.Enum):
    """Which record's covariate value applies to the interval ending at a record."""

    NOCB = "nocb"  # the record's own value (NONMEM): next observation carried backward
    LOCF = "locf"  # the previous record's value: last observation carried forward

    @classmethod
    def parse(cls, value) -> CovariateFill:
        if isinstance(value, cls):
            return value
        for fill in cls:
            if isinstance(value, str) and value.strip().lower() == fill.value:
                return fill
        raise DataError(f"covariate_fill= must be 'nocb' or 'locf', got {excerpt(value)}")
