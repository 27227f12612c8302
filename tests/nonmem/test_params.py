"""$THETA, $OMEGA and $SIGMA: the forms NONMEM users write, and the refusals."""

import math

import pytest

from nlme_lab.nonmem import ControlStreamError
from nlme_lab.nonmem.params import parse_thetas, parse_variances
from nlme_lab.nonmem.records import split_records


def records(text: str, kind: str):
    cs = split_records(text)
    return [r for r in cs.records if r.kind.value == kind]


def thetas(text: str):
    return [(t.lower, t.init, t.upper, t.fixed, t.label) for t in parse_thetas(records(text, "THETA"))]


def test_theta_forms():
    text = ("$THETA 1.5 ; CL\n$THETA (0, 2) ; V\n$THETA (0,3,10)\n$THETA (0 4 10) FIX\n$THETA (0, 5 FIX)\n"
            "$THETA 6 FIXED\n$THETA (-INF, 7, INF)\n$THETA 8 9 ; two on a line: no label\n$THETA (1E-3,1.D-1)")
    inf = math.inf
    assert thetas(text) == [
        (-inf, 1.5, inf, False, "CL"), (0, 2, inf, False, "V"), (0, 3, 10, False, ""), (0, 4, 10, True, ""),
        (0, 5, inf, True, ""), (-inf, 6, inf, True, ""), (-inf, 7, inf, False, ""), (-inf, 8, inf, False, ""),
        (-inf, 9, inf, False, ""), (1e-3, 0.1, inf, False, "")]


def test_thetas_are_numbered_across_records_and_lines():
    parsed = parse_thetas(records("$THETA (0,1) (0,2)\n 3\n$THETA 4", "THETA"))
    assert [(t.index, t.init, t.line) for t in parsed] == [(1, 1, 1), (2, 2, 1), (3, 3, 2), (4, 4, 3)]


@pytest.mark.parametrize("text,message", [
    ("$THETA (0, 1, 2, 3)", "THETA\\(1\\) has 4 numbers"),
    ("$THETA (0, 5, 2)", "not within its bounds"),
    ("$THETA FIX", "FIX before any value"),
    ("$THETA (0, 1", "'\\(' without '\\)'"),
    ("$THETA CL", "unexpected 'CL'"),
])
def test_theta_refusals(text, message):
    with pytest.raises(ControlStreamError, match=message):
        parse_thetas(records(text, "THETA"))


def blocks(text: str):
    return [(b.first, b.size, b.values, b.fixed, b.block, b.same_as, b.labels)
            for b in parse_variances(records(text, "OMEGA"), "OMEGA")]


def test_omega_diagonal_forms():
    assert blocks("$OMEGA 0.1 ; IIV CL\n 0.2 FIX\n$OMEGA 0.3 0.4\n$OMEGA DIAGONAL(2) 0.5 (0.6 FIX)") == [
        (1, 1, (0.1,), False, False, None, ("IIV CL",)), (2, 1, (0.2,), True, False, None, ("",)),
        (3, 1, (0.3,), False, False, None, ("",)), (4, 1, (0.4,), False, False, None, ("",)),
        (5, 1, (0.5,), False, False, None, ("",)), (6, 1, (0.6,), True, False, None, ("",))]


def test_omega_block_same_and_scales():
    parsed = blocks("$OMEGA BLOCK(2) 0.1\n 0.01 0.2 FIX\n$OMEGA BLOCK(1) 0.05 ; IOV\n$OMEGA BLOCK(1) SAME\n"
                    "$OMEGA BLOCK SAME(2)\n$OMEGA SD 0.3\n$OMEGA BLOCK(2) SD CORRELATION 0.5 0.2 0.4")
    assert parsed[0] == (1, 2, (0.1, 0.01, 0.2), True, True, None, ("", ""))
    assert parsed[1] == (3, 1, (0.05,), False, True, None, ("IOV",))
    assert [p[:2] + p[5:6] for p in parsed[2:5]] == [(4, 1, 3), (5, 1, 3), (6, 1, 3)]
    assert parsed[5][2] == pytest.approx((0.09,))
    assert parsed[6][2] == pytest.approx((0.25, 0.2 * 0.5 * 0.4, 0.16))


@pytest.mark.parametrize("text,message", [
    ("$OMEGA BLOCK(2) 0.1 0.2", "BLOCK\\(2\\) needs 3 values"),
    ("$OMEGA 0.1\n$OMEGA SAME", "SAME must follow a BLOCK"),
    ("$OMEGA BLOCK(2) 0.1 0.01 0.2\n$OMEGA BLOCK(1) SAME", "BLOCK\\(1\\) SAME follows a BLOCK\\(2\\)"),
    ("$OMEGA BLOCK(1) 0.1\n$OMEGA BLOCK(1) SAME 0.2", "a SAME block takes no values"),
    ("$OMEGA BLOCK(2) CHOLESKY 0.1 0.01 0.2", "CHOLESKY"),
    ("$OMEGA BLOCK(2) VALUES(0.1, 0.01)", "VALUES"),
    ("$OMEGA DIAGONAL(2) 0.1", "DIAGONAL\\(2\\) needs 2 values"),
    ("$OMEGA BLOCK 0.1", "BLOCK without \\(n\\)"),
    ("$OMEGA BLOCK(0) 0.1", "n must be a positive whole number"),
    ("$OMEGA UNIT 0.1", "unknown \\$OMEGA option UNIT"),
])
def test_omega_refusals(text, message):
    with pytest.raises(ControlStreamError, match=message):
        parse_variances(records(text, "OMEGA"), "OMEGA")


def test_sigma_is_read_like_omega():
    parsed = parse_variances(records("$SIGMA 0.04 1 FIX", "SIGMA"), "SIGMA")
    assert [(b.first, b.values, b.fixed) for b in parsed] == [(1, (0.04,), False), (2, (1.0,), True)]
