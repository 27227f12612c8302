"""The checks NONMEM (NM-TRAN and PREDPP) applies to records, with located messages.

Errors (DataError, first offending record shown, with a count of the others):

* EVID not in 0..4; MDV not 0/1; SS not in 0/1/2; CENS not in -1/0/1;
* negative AMT; negative RATE other than -1 (modeled rate) and -2 (modeled duration);
  negative II or ADDL;
* a dose item (AMT, RATE, II, ADDL, SS) on a record that is not a dose (EVID 0, 2, 3);
* a dose record (EVID 1/4) without an amount (AMT 0) unless it is a steady-state constant
  infusion (AMT 0, RATE > 0, SS > 0), which must have II 0 and ADDL 0;
* ADDL > 0 without II > 0; SS > 0 without II > 0 (except the constant infusion);
* a negative CMT on a record other than EVID 2 (turning a compartment off);
* an observation record (EVID 0, MDV 0) without DV; a censored observation whose LIMIT is
  on the wrong side of DV;
* TIME going backwards within a subject, except on a reset record (EVID 3/4).

Warnings (DataWarning, NONMEM goes on):

* MDV 0 on a record that is not an observation (the record's DV is ignored; MDV set to 1);
* II > 0 on a single dose (ADDL 0, SS 0): II is ignored;
* a subject with no observation; the same ID again after other subjects (a new subject).
"""

from __future__ import annotations

import numpy as np

from nlme_lab.data.issues import show_id, warn_each
from nlme_lab.data.kinds import DOSE_EVIDS, RESET_EVIDS, ColumnRole
from nlme_lab.data.records import Records, is_constant_infusion

R = ColumnRole


def check_codes(rec: Records) -> None:
    """Values of the coded columns and signs of the dose items."""
    rec.where((rec.evid < 0) | (rec.evid > 4),
              lambda i: f"EVID must be 0, 1, 2, 3 or 4, found {rec.evid[i]}", R.EVID)
    rec.where((rec.mdv != 0) & (rec.mdv != 1),
              lambda i: f"MDV must be 0 or 1, found {rec.mdv[i]}", R.MDV)
    rec.where((rec.ss < 0) | (rec.ss > 2), lambda i: f"SS must be 0, 1 or 2, found {rec.ss[i]}", R.SS)
    rec.where(np.abs(rec.cens) > 1, lambda i: f"CENS must be -1, 0 or 1, found {rec.cens[i]}", R.CENS)
    rec.where(rec.amt < 0, lambda i: f"negative dose amount {rec.amt[i]:g}", R.AMT)
    rec.where((rec.rate < 0) & (rec.rate != -1) & (rec.rate != -2),
              lambda i: f"RATE {rec.rate[i]:g} is not allowed: use a rate > 0, 0 (bolus), "
                        "-1 (rate set by the model) or -2 (duration set by the model)", R.RATE)
    rec.where(rec.ii < 0, lambda i: f"negative interdose interval II {rec.ii[i]:g}", R.II)
    rec.where(rec.addl < 0, lambda i: f"negative ADDL {rec.addl[i]}", R.ADDL)


def check_doses(rec: Records) -> None:
    """Dose items only on dose records, and dose records that define a dose."""
    dose = np.isin(rec.evid, DOSE_EVIDS)
    derived = "" if R.EVID in rec.present else "; EVID was derived: AMT > 0 makes a dose"
    for role, values in ((R.AMT, rec.amt), (R.RATE, rec.rate), (R.II, rec.ii), (R.ADDL, rec.addl), (R.SS, rec.ss)):
        rec.where(~dose & (values != 0),
                  lambda i, role=role, values=values:
                  f"{role.value} {values[i]:g} on a record that is not a dose (EVID {rec.evid[i]}){derived}",
                  role)
    constant = dose & is_constant_infusion(rec)
    rec.where(dose & (rec.amt == 0) & ~constant,
              "dose record (EVID 1/4) with AMT 0; only a steady-state constant infusion "
              "(SS 1/2, RATE > 0) has no amount", R.AMT)
    rec.where(constant & (rec.ii != 0),
              lambda i: f"II {rec.ii[i]:g} on a steady-state constant infusion (AMT 0, RATE > 0); it must be 0", R.II)
    rec.where(constant & (rec.addl != 0), "ADDL on a steady-state constant infusion (AMT 0, RATE > 0)", R.ADDL)
    rec.where(dose & (rec.addl > 0) & (rec.ii <= 0),
              lambda i: f"ADDL {rec.addl[i]} needs an interdose interval II > 0", R.II)
    rec.where(dose & (rec.ss > 0) & (rec.ii <= 0) & ~constant,
              lambda i: f"SS {rec.ss[i]} needs an interdose interval II > 0 "
                        "(or AMT 0 with RATE > 0 for a constant infusion)", R.II)
    rec.where((rec.cmt < 0) & (rec.evid != 2),
              lambda i: f"negative CMT {rec.cmt[i]} (turning a compartment off) is only for EVID 2 records", R.CMT)
    single = dose & (rec.ii > 0) & (rec.addl == 0) & (rec.ss == 0)
    warn_each("II > 0 on a single dose (ADDL 0, SS 0): II is ignored", _places(rec, single), column=rec.name(R.II))


def check_observations(rec: Records) -> None:
    """MDV against EVID, DV on observations, censoring limits."""
    if R.MDV in rec.present:
        wrong = (rec.evid != 0) & (rec.mdv == 0)
        warn_each("MDV 0 on a record that is not an observation: its DV is ignored (MDV set to 1)",
                  _places(rec, wrong), column=rec.name(R.MDV))
        rec.mdv = np.where(wrong, 1, rec.mdv)
    observed = (rec.evid == 0) & (rec.mdv == 0)
    rec.where(observed & np.isnan(rec.dv), "observation record (EVID 0, MDV 0) without a DV value", R.DV)
    censored = observed & (rec.cens != 0)
    below = censored & (rec.cens == 1) & ~np.isnan(rec.limit) & (rec.limit >= rec.dv)
    rec.where(below, lambda i: f"CENS 1 means the value is below DV {rec.dv[i]:g}, "
                               f"so LIMIT {rec.limit[i]:g} must be below it too", R.LIMIT)
    above = censored & (rec.cens == -1) & ~np.isnan(rec.limit) & (rec.limit <= rec.dv)
    rec.where(above, lambda i: f"CENS -1 means the value is above DV {rec.dv[i]:g}, "
                               f"so LIMIT {rec.limit[i]:g} must be above it too", R.LIMIT)


def check_time(rec: Records, offsets: np.ndarray) -> None:
    """TIME never decreases within a subject, except on a reset record (EVID 3/4)."""
    if rec.n < 2:
        return
    back = np.zeros(rec.n, bool)
    back[1:] = rec.time[1:] < rec.time[:-1]
    back[offsets[:-1]] = False
    back &= ~np.isin(rec.evid, RESET_EVIDS)
    rec.where(back, lambda i: f"TIME {rec.time[i]:g} is before the previous record's {rec.time[i - 1]:g}; "
                              "records must be in time order within a subject (only a reset, "
                              "EVID 3/4, may go back)", R.TIME)


def check_subjects(rec: Records, offsets: np.ndarray, ids: np.ndarray) -> None:
    """Warnings: the same ID in two blocks; subjects without observations."""
    starts = offsets[:-1]
    seen: set = set()
    repeated = []
    for k, value in enumerate(ids):
        if value in seen:
            repeated.append((rec.rows[starts[k]], value))
        seen.add(value)
    warn_each("this ID appeared before, separated by other subjects: NONMEM reads it as a new "
              "subject, and so does this reader (sort the data by ID if it is one subject)",
              repeated, column=rec.name(R.ID), what="subjects")
    observed = ((rec.evid == 0) & (rec.mdv == 0)).astype(np.int64)
    counts = np.add.reduceat(observed, starts) if rec.n else np.zeros(0, np.int64)
    empty = [(rec.rows[starts[k]], ids[k]) for k in np.flatnonzero(counts == 0)]
    warn_each("subject has no observations (EVID 0, MDV 0)", empty, what="subjects")


def _places(rec: Records, mask: np.ndarray):
    return [(rec.rows[i], show_id(rec.id[i])) for i in np.flatnonzero(mask)]
