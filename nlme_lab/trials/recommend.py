"""The dose per subgroup from a virtual trial, and the label sentence that says it."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from nlme_lab.errors import NlmeError
from nlme_lab.trials.regimen import Target


@dataclass(frozen=True)
class DoseRecommendation:
    """The regimen for everyone and per subgroup level, the label text and the PTA table."""

    target: Target
    min_pta: float
    overall: str  # regimen name
    overall_pta: float
    by_subgroup: pd.DataFrame  # subgroup, level, regimen, pta, meets
    table: pd.DataFrame  # PTA per regimen (and subgroup level): the evidence
    label: str

    def __str__(self) -> str:
        return self.label

    def to_dict(self) -> dict:
        return {"target": self.target.describe(), "min_pta": self.min_pta, "overall": self.overall,
                "overall_pta": self.overall_pta, "label": self.label,
                "by_subgroup": self.by_subgroup.to_dict(orient="records"),
                "pta": self.table.astype(object).where(self.table.notna(), None).to_dict(orient="records")}


def _choose(pta: pd.DataFrame, min_pta: float, doses: dict) -> tuple[str, float, bool]:
    """The regimen reaching ``min_pta`` with the highest PTA (ties: the lower dose); if none
    reaches it, the highest PTA, flagged."""
    ranked = pta.assign(_dose=pta["regimen"].map(doses)).sort_values(["pta", "_dose"], ascending=[False, True])
    best = ranked.iloc[0]
    return str(best["regimen"]), float(best["pta"]), bool(best["pta"] >= min_pta)


def recommend_dose(result, target, *, subgroups: dict | None = None, min_pta: float = 0.8) -> DoseRecommendation:
    """The regimen per subgroup that puts ``target`` (a ``Target``) within reach of at least
    ``min_pta`` of the subjects, and a label sentence ("Start with 100 mg q24h; for patients
    WT < 50, 50 mg q24h"). ``subgroups``: ``{name: {label: query}}`` (as
    ``TrialResult.target_attainment``) or covariate names whose levels are the subgroups."""
    target = Target.of(target)
    if not 0 < min_pta < 1:
        raise NlmeError(f"min_pta must be between 0 and 1, not {min_pta}")
    subgroups = dict(subgroups or {})
    spec = {k: v for k, v in subgroups.items() if not isinstance(v, str)}
    names = list(subgroups)
    doses = {r.name: r.dose for r in result.regimens}
    overall_table = result.target_attainment(target, by=["regimen"])
    overall, overall_pta, ok = _choose(overall_table, min_pta, doses)
    rows, tables = [], [overall_table.assign(subgroup="all", level="all")]
    for name in names:
        col = subgroups[name] if isinstance(subgroups[name], str) else name
        t = result.target_attainment(target, by=["regimen", col], subgroups=spec)
        tables.append(t.rename(columns={col: "level"}).assign(subgroup=name))
        for level, g in t.groupby(col, sort=False, observed=True):
            reg, p, meets = _choose(g, min_pta, doses)
            rows.append({"subgroup": name, "level": str(level), "regimen": reg, "pta": p, "meets": meets})
    by = pd.DataFrame(rows, columns=["subgroup", "level", "regimen", "pta", "meets"])
    table = pd.concat(tables, ignore_index=True)
    table = table[["subgroup", "level", "regimen", "pta", "lower", "upper", "n_subjects", "n_trials"]]
    label = _label(target, min_pta, overall, overall_pta, ok, by)
    return DoseRecommendation(target, min_pta, overall, overall_pta, by, table, label)


def _label(target, min_pta, overall, overall_pta, ok, by: pd.DataFrame) -> str:
    head = f"Start with {overall}"
    parts = []
    for _, r in by.iterrows():
        if r["regimen"] != overall:
            parts.append(f"for patients {r['level']}, {r['regimen']}" + ("" if r["meets"] else
                                                                          f" (best available, PTA {r['pta']:.0%})"))
    text = head + ("; " + "; ".join(parts) if parts else "") + "."
    if not ok:
        text += f" No regimen reaches {min_pta:.0%} attainment overall (best {overall_pta:.0%})."
    short = by[~by["meets"]]
    for _, r in short.iterrows():
        if r["regimen"] == overall:
            text += f" For patients {r['level']} no regimen reaches {min_pta:.0%} (best {r['pta']:.0%})."
    return text + f" Target: {target.describe()}, at least {min_pta:.0%} of patients."
