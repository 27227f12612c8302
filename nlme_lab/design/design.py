"""A study design: groups of identical subjects, each with a dosing regimen (NONMEM's dose
records), covariate values and sampling times per endpoint (DVID).

    d = Design.single(doses=[Dose(amt=70)], times=[0.5, 1, 2, 6, 24, 36, 72, 120], size=32)
    Design.from_data(dataset)      # every subject its own elementary design (identical ones merged)
    d.to_data()                    # the NONMEM table, one subject per individual (``nl.simulate`` runs it)
    Design.from_dict(d.to_dict())  # the JSON schema (``examples/warfarin_design.json``)

The schema of ``to_dict`` (and of the CLI's design JSON files)::

    {"groups": [{"name": "A", "size": 32,
                 "doses": [{"time": 0, "amt": 70, "cmt": 1, "rate": 0, "ii": 0, "addl": 0, "ss": 0}],
                 "times": {"1": [0.5, 1, 2]},            # DVID -> sampling times
                 "covariates": {"WT": 70},                # optional
                 "observation_cmt": null,                 # optional CMT of the sampling records
                 "occasions": [0, 48]}]}                  # optional: start times of occasions (IOV)

Dose fields other than ``amt`` are optional (defaults as above).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from nlme_lab.errors import DataError

__all__ = ["Design", "Dose", "Group"]


@dataclass(frozen=True)
class Dose:
    """One dose record: NONMEM's AMT, RATE, CMT, II, ADDL, SS at ``time``."""

    amt: float
    time: float = 0.0
    cmt: int = 1
    rate: float = 0.0
    ii: float = 0.0
    addl: int = 0
    ss: int = 0

    def to_dict(self) -> dict:
        return {"time": self.time, "amt": self.amt, "cmt": self.cmt, "rate": self.rate, "ii": self.ii,
                "addl": self.addl, "ss": self.ss}


@dataclass(frozen=True)
class Group:
    """``size`` identical subjects: doses, covariates and sampling times per DVID."""

    name: str
    size: int
    doses: tuple[Dose, ...]
    times: tuple[tuple[int, tuple[float, ...]], ...]  # ((dvid, times), ...) sorted by DVID
    covariates: tuple[tuple[str, float], ...] = ()
    observation_cmt: int | None = None
    occasions: tuple[float, ...] = ()  # start time of each occasion (IOV); () one occasion

    def occasion_of(self, t: float) -> int:
        """1-based occasion of a record at time ``t``."""
        return 1 + sum(1 for s in self.occasions[1:] if t >= s) if self.occasions else 1

    @property
    def times_by_dvid(self) -> dict[int, tuple[float, ...]]:
        return dict(self.times)

    @property
    def n_samples(self) -> int:
        return sum(len(t) for _, t in self.times)

    def to_dict(self) -> dict:
        return {"name": self.name, "size": self.size, "doses": [d.to_dict() for d in self.doses],
                "times": {str(k): list(v) for k, v in self.times}, "covariates": dict(self.covariates),
                "observation_cmt": self.observation_cmt, "occasions": list(self.occasions)}


def _group(name, size, doses, times, covariates=None, observation_cmt=None, occasions=()) -> Group:
    if isinstance(times, dict):
        pairs = {int(k): v for k, v in times.items()}
    else:
        pairs = {1: times}
    clean = []
    for dvid, ts in sorted(pairs.items()):
        arr = np.asarray(ts, dtype=float).ravel()
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise DataError(f"design group {name!r}: sampling times of DVID {dvid} must be finite and >= 0, "
                            f"got {list(arr)}")
        clean.append((dvid, tuple(float(t) for t in np.sort(arr))))
    size = int(size)
    if size < 1:
        raise DataError(f"design group {name!r}: size must be at least 1, got {size}")
    dose_objs = []
    for d in doses:
        if isinstance(d, Dose):
            dose_objs.append(d)
        elif isinstance(d, dict):
            if "amt" not in d:
                raise DataError(f"design group {name!r}: a dose needs 'amt' (got keys {sorted(d)})")
            unknown = set(d) - {"time", "amt", "cmt", "rate", "ii", "addl", "ss"}
            if unknown:
                raise DataError(f"design group {name!r}: unknown dose fields {sorted(unknown)}")
            dose_objs.append(Dose(**{k: (int(v) if k in ("cmt", "addl", "ss") else float(v)) for k, v in d.items()}))
        else:
            raise DataError(f"design group {name!r}: a dose is a Dose or a dict, got {type(d).__name__}")
    cov = tuple(sorted((str(k), float(v)) for k, v in (covariates or {}).items()))
    return Group(str(name), size, tuple(dose_objs), tuple(clean), cov,
                 None if observation_cmt is None else int(observation_cmt),
                 tuple(sorted(float(x) for x in (occasions or ()))))


@dataclass(frozen=True)
class Design:
    """Groups of identical subjects (module docstring)."""

    groups: tuple[Group, ...] = field(default=())

    def __post_init__(self):
        if not self.groups:
            raise DataError("a design needs at least one group")
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise DataError(f"design group names must be unique, got {names}")

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def single(cls, *, doses, times, size: int = 1, covariates=None, name: str = "1",
               observation_cmt: int | None = None) -> Design:
        """One group: ``times`` a list (DVID 1) or ``{dvid: list}``; ``doses`` Dose objects or dicts."""
        return cls((_group(name, size, doses, times, covariates, observation_cmt),))

    @classmethod
    def from_groups(cls, groups) -> Design:
        """From dicts with the schema's keys (or Group objects)."""
        out = []
        for k, g in enumerate(groups):
            if isinstance(g, Group):
                out.append(g)
                continue
            if "times" not in g or "doses" not in g:
                raise DataError(f"design group {k + 1}: needs 'doses' and 'times' (got keys {sorted(g)})")
            out.append(_group(g.get("name", str(k + 1)), g.get("size", 1), g["doses"], g["times"],
                              g.get("covariates"), g.get("observation_cmt"), g.get("occasions", ())))
        return cls(tuple(out))

    @classmethod
    def from_dict(cls, d: dict) -> Design:
        if not isinstance(d, dict) or "groups" not in d:
            raise DataError("a design dict needs a 'groups' list (see nlme_lab.design.design)")
        return cls.from_groups(d["groups"])

    @classmethod
    def from_json(cls, path) -> Design:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise DataError(f"design file {path}: not JSON ({err})") from None
        return cls.from_dict(d)

    @classmethod
    def from_data(cls, data) -> Design:
        """Each subject of a NONMEM dataset (a ``Dataset``, a DataFrame or a path) its own
        elementary design: its dose records, its observation times per DVID (DV ignored) and its
        covariates on the first record; identical subjects are merged into one group."""
        from nlme_lab.data import Dataset, read_nonmem

        ds = data if isinstance(data, Dataset) else read_nonmem(data)
        seen: dict[tuple, list] = {}
        for i in range(ds.n_subjects):
            sl = ds.subject_slice(i)
            t0 = 0.0
            doses, times = [], {}
            for r in range(sl.start, sl.stop):
                if ds.evid[r] in (1, 4) and ds.amt[r] != 0:
                    doses.append(Dose(float(ds.amt[r]), float(ds.time[r]) - t0, int(ds.cmt[r]) or 1,
                                      float(ds.rate[r]), float(ds.ii[r]), int(ds.addl[r]), int(ds.ss[r])))
                elif ds.evid[r] == 0 and ds.mdv[r] == 0:
                    dvid = 1 if ds.dvid is None else int(float(ds.dvid[r]))
                    times.setdefault(dvid, []).append(float(ds.time[r]) - t0)
            if not times:
                continue
            obs = [r for r in range(sl.start, sl.stop) if ds.evid[r] == 0 and ds.mdv[r] == 0]
            ocmt = {int(ds.cmt[r]) for r in obs}
            cov = {n: float(ds.covariates[sl.start, k]) for k, n in enumerate(ds.covariate_names)}
            occ = np.asarray(ds.occ[sl])
            starts = [float(ds.time[sl][occ == o].min()) - t0 for o in np.unique(occ)] if len(np.unique(occ)) > 1 else []
            group = _group(str(ds.ids[i]), 1, doses, times, cov, ocmt.pop() if len(ocmt) == 1 else None, starts)
            key = (group.doses, group.times, group.covariates, group.observation_cmt, group.occasions)
            seen.setdefault(key, []).append(group)
        if not seen:
            raise DataError(f"dataset {ds.source}: no subject has observation records to take as sampling times")
        groups = []
        for members in seen.values():
            name = members[0].name if len(members) == 1 else f"{members[0].name}..{members[-1].name}"
            groups.append(replace(members[0], name=name, size=len(members)))
        return cls(tuple(groups))

    # --- views ----------------------------------------------------------------------------
    @property
    def sizes(self) -> np.ndarray:
        return np.array([g.size for g in self.groups], dtype=float)

    @property
    def n_subjects(self) -> int:
        return int(self.sizes.sum())

    @property
    def n_samples(self) -> int:
        """Samples per subject, summed over the subjects."""
        return sum(g.size * g.n_samples for g in self.groups)

    def sampling_times(self) -> list[np.ndarray]:
        """Every group's sampling times, DVIDs in order, concatenated (the optimiser's variables)."""
        return [np.concatenate([np.asarray(t) for _, t in g.times]) if g.times else np.zeros(0)
                for g in self.groups]

    def with_times(self, times) -> Design:
        """The same design with new sampling times: ``times[g]`` for group g, in the order of
        ``sampling_times()`` (per DVID, the counts unchanged unless ``times[g]`` is a dict)."""
        groups = []
        for g, new in zip(self.groups, times):
            if isinstance(new, dict):
                groups.append(_group(g.name, g.size, g.doses, new, dict(g.covariates), g.observation_cmt, g.occasions))
                continue
            new = np.asarray(new, dtype=float)
            k, pairs = 0, {}
            for dvid, ts in g.times:
                pairs[dvid] = new[k:k + len(ts)]
                k += len(ts)
            if k != len(new):
                raise DataError(f"design group {g.name!r}: {len(new)} times given for {k} samples")
            groups.append(_group(g.name, g.size, g.doses, pairs, dict(g.covariates), g.observation_cmt, g.occasions))
        return Design(tuple(groups))

    def to_dict(self) -> dict:
        return {"groups": [g.to_dict() for g in self.groups]}

    def to_json(self, path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    def table(self) -> pd.DataFrame:
        """One row per group: name, size, doses and sampling times in words."""
        rows = []
        for g in self.groups:
            doses = "; ".join(f"{d.amt:g} at {d.time:g} (CMT {d.cmt}" + (f", rate {d.rate:g}" if d.rate else "")
                              + (f", every {d.ii:g} x{d.addl + 1}" if d.addl else "") + (", SS" if d.ss else "") + ")"
                              for d in g.doses)
            times = "; ".join(f"DVID {k}: " + ", ".join(f"{t:g}" for t in ts) for k, ts in g.times)
            rows.append({"group": g.name, "size": g.size, "doses": doses, "times": times,
                         "covariates": ", ".join(f"{k}={v:g}" for k, v in g.covariates)})
        return pd.DataFrame(rows)

    def to_data(self, *, expand: bool = True) -> pd.DataFrame:
        """The NONMEM-format table: one subject per individual (``expand``) or one per group;
        DV is 0 on the sampling records (``nl.simulate`` fills it); DVID (1 on doses) and OCC
        (1 without occasions) always, CMT when doses or samples name one."""
        cov_names = sorted({k for g in self.groups for k, _ in g.covariates})
        cols: dict[str, list] = {k: [] for k in ("ID", "TIME", "DV", "AMT", "RATE", "II", "ADDL", "SS", "EVID",
                                                  "MDV", "CMT", "DVID", "OCC", *cov_names)}
        sid = 0
        for g in self.groups:
            recs = [(d.time, 0, d.amt, d.rate, d.ii, d.addl, d.ss, 1, 1, d.cmt, 1) for d in g.doses]
            ocmt = g.observation_cmt if g.observation_cmt is not None else 0
            recs += [(t, 1, 0.0, 0.0, 0.0, 0, 0, 0, 0, ocmt, dvid) for dvid, ts in g.times for t in ts]
            recs.sort(key=lambda r: (r[0], r[1]))
            covs = dict(g.covariates)
            for _ in range(g.size if expand else 1):
                sid += 1
                for t, _o, amt, rate, ii, addl, ss, evid, mdv, cmt, dvid in recs:
                    for k, v in zip(("ID", "TIME", "DV", "AMT", "RATE", "II", "ADDL", "SS", "EVID", "MDV", "CMT",
                                     "DVID"), (sid, t, 0.0, amt, rate, ii, addl, ss, evid, mdv, cmt, dvid)):
                        cols[k].append(v)
                    cols["OCC"].append(g.occasion_of(t))
                    for k in cov_names:
                        cols[k].append(covs.get(k, np.nan))
        if not any(cols["CMT"]):
            del cols["CMT"]
        return pd.DataFrame(cols)
