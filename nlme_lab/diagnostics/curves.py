"""Individual and population prediction curves on a fine time grid, for individual-fit plots.

For every subject, ``n_points`` times spread evenly from its first to its last record are
added as EVID 2 records (no dose, no observation; covariates carried backward from the next
record as the reader does, i.e. the value in force over that interval), and the engine
predicts every endpoint there at etas 0 (PRED) and at the EBEs (IPRED).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nlme_lab.diagnostics.inputs import resolve
from nlme_lab.estimation.evaluation import prepare


def prediction_curves(fit_or_model, data=None, *, model=None, params=None, etas=None,
                      n_points: int = 100) -> pd.DataFrame:
    """ID, TIME, ENDPOINT, PRED, IPRED on each subject's grid (sorted by subject and time)."""
    from nlme_lab.data import read_nonmem
    from nlme_lab.diagnostics.residuals import ebes

    inputs = resolve(fit_or_model, data, model=model, params=params)
    ev = prepare(inputs.model, inputs.data)
    values = ev.values(inputs.params)
    etas = ev.check_etas(ebes(ev, values, inputs.etas) if etas is None else etas)
    frame, grid_rows = _with_grid(inputs.data, int(n_points))
    augmented = read_nonmem(frame)
    curves = prepare(inputs.model, augmented).record_predictions(values, etas)
    pred, ipred = curves.pred[grid_rows], curves.ipred[grid_rows]
    ids = np.repeat(augmented.ids, np.diff(augmented.offsets))[grid_rows]
    t = np.asarray(augmented.time)[grid_rows]
    names = [e.variable for e in inputs.model.ir.endpoints]
    parts = [pd.DataFrame({"ID": ids, "TIME": t, "ENDPOINT": name, "PRED": pred[:, k], "IPRED": ipred[:, k]})
             for k, name in enumerate(names)]
    return pd.concat(parts, ignore_index=True)


def _with_grid(data, n_points: int) -> tuple[pd.DataFrame, np.ndarray]:
    table = data.table.reset_index(drop=True)
    block = np.repeat(np.arange(data.n_subjects), np.diff(data.offsets))
    table["_BLOCK"], table["_ORDER"], table["_GRID"] = block, np.arange(len(table)), False
    extra = []
    for s in range(data.n_subjects):
        lo, hi = int(data.offsets[s]), int(data.offsets[s + 1])
        t = np.asarray(data.time[lo:hi], dtype=float)
        template = table.iloc[[hi - 1]]
        grid = np.linspace(t.min(), t.max(), n_points) if t.max() > t.min() else t[:1]
        rows = template.loc[template.index.repeat(grid.size)].copy()
        rows["TIME"], rows["EVID"], rows["MDV"], rows["DV"], rows["AMT"] = grid, 2, 1, 0.0, 0.0
        for col in ("RATE", "II", "ADDL", "SS", "CENS"):
            if col in rows:
                rows[col] = 0
        if "LIMIT" in rows:
            rows["LIMIT"] = np.nan
        for col in data.covariate_names:
            if col in rows:
                rows[col] = np.nan
        rows["_ORDER"], rows["_GRID"] = len(table) + np.arange(grid.size), True
        extra.append(rows)
    frame = pd.concat([table, *extra], ignore_index=True)
    frame = frame.sort_values(["_BLOCK", "TIME", "_GRID", "_ORDER"], kind="stable").reset_index(drop=True)
    grid_rows = np.flatnonzero(frame["_GRID"].to_numpy())
    return frame.drop(columns=["_BLOCK", "_ORDER", "_GRID"]), grid_rows
