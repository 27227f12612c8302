"""The run history subtracts OFVs only of the same kind on the same data, and says why not
otherwise (issue 15, item 3: a stopped SAEM's linearised OFV minus a finished one's IS OFV)."""

import math

import numpy as np

import nlme_lab as nl
from nlme_lab.estimation.methods import MethodKind
from nlme_lab.estimation.results import OFVKind
from nlme_lab.session.history import LRTStatus, RunHistory, ofv_mismatch


def test_a_stopped_and_a_finished_saem_get_no_delta_ofv(theo_saem):
    """The report's case: the stopped run's linearised OFV minus the finished run's IS OFV was
    shown as a ΔOFV (+1.10 on theo_sd) with nothing saying they are different things."""
    h = RunHistory()
    h.add(theo_saem["is"], "saem")
    h.add(theo_saem["stopped"], "saem stopped")
    table = h.table()
    assert list(table["ofv_kind"]) == ["IS", "linearised"]
    assert table["ofv_se"][0] == theo_saem["is"].ofv_mc_se and math.isnan(table["ofv_se"][1])
    assert table["delta_ofv"][0] == 0.0 and math.isnan(table["delta_ofv"][1])
    assert table["delta_note"][1] == "n/a: linearised vs IS"
    c = h.comparison(0, 1)
    assert c.status is LRTStatus.NOT_COMPARABLE and c.lrt is None and not c.applies
    assert c.summary.startswith("no likelihood-ratio test: the OFVs are of different kinds")
    assert "importance sampling for [0] saem" in c.summary
    assert "the FOCEI objective at the estimates for [1] saem stopped" in c.summary
    assert c.parameters.loc["tcl", "estimate [1] saem stopped"] == theo_saem["stopped"].estimates["tcl"]


def test_same_kinds_on_the_same_data_keep_their_delta_ofv(theo_saem, theo_fits):
    h = RunHistory()
    for key in ("is", "is_seed2", "linearized", "stopped"):
        h.add(theo_saem[key], key)
    h.add(theo_fits[0], "focei")
    h.reference = 1
    table = h.table()
    ofv = [theo_saem[k].ofv for k in ("is", "is_seed2")]
    assert table["delta_ofv"][0] == ofv[0] - ofv[1] and table["delta_ofv"][1] == 0.0
    assert list(table["delta_note"]) == ["", "", "n/a: linearised vs IS", "n/a: linearised vs IS",
                                         "n/a: FOCEI vs IS"]
    h.reference = 2  # the linearised runs: the finished one and the stopped one (same objective)
    table = h.table()
    assert table["delta_ofv"][3] == theo_saem["stopped"].ofv - theo_saem["linearized"].ofv
    assert table["delta_note"][3] == "" and table["delta_note"][4] == "n/a: FOCEI vs linearised"
    stopped = h.comparison(2, 3)
    assert stopped.status is LRTStatus.STOPPED and stopped.lrt is None
    assert "[3] stopped was stopped by the user" in stopped.summary
    same = h.comparison(0, 1)  # two IS runs: comparable, same size (no test), no reason given
    assert same.status is LRTStatus.SAME_SIZE


def test_other_data_or_a_posterior_have_no_delta_ofv(theo, theo_fits):
    import dataclasses

    import pandas as pd

    data, model = theo
    frame = pd.read_csv(nl.example_path("theo_sd.csv"))
    frame.loc[frame["EVID"] == 0, "DV"] *= 1.05
    other = nl.fit(model, frame, method="focei", covariance=None)
    # a NUTS result's kind, on a FOCEI result (the history reads only ofv_kind and the numbers)
    posterior = dataclasses.replace(theo_fits[0], method=MethodKind.NUTS, ofv_kind=OFVKind.POSTERIOR)
    h = RunHistory()
    for fit in (theo_fits[0], other, posterior, theo_fits[1]):
        h.add(fit)
    table = h.table()
    assert list(table["delta_note"]) == ["", "n/a: other data", "n/a: posterior", ""]
    assert np.isnan(table["delta_ofv"][1:3]).all() and table["delta_ofv"][3] == theo_fits[1].ofv - theo_fits[0].ofv
    assert "different data" in h.comparison(0, 1).summary and h.comparison(0, 1).status is LRTStatus.NOT_COMPARABLE
    assert "NUTS posterior" in h.comparison(3, 2).summary
    assert ofv_mismatch(h[0], h[3]) is None and h.comparison(0, 3).status is LRTStatus.NESTED
