"""``LateBound.call`` (``kernels.jit``): the direct call of a bound late-bound kernel that the SAEM
sampler's passes use gives the kernel's result, converts its arguments as a call would, and lets
an exception raised inside reach the caller (as ``function()(...)`` does)."""

import numpy as np
import pytest
from numba import njit, types

from nlme_lab.kernels.jit import LateBound

REF = LateBound("nlme_lab_tests_late_bound_call", types.float64(types.float64[::1], types.int64))
_call = REF.call


@njit(cache=False)
def _kernel(x, k):
    if k < 0:
        raise ZeroDivisionError("k < 0")
    x[0] += k
    return x[0] * 2.0


REF.bind(_kernel)


@njit(cache=False)
def _caller(x, k):
    return _call(x, k) + _call(x, np.int32(1))  # an int32 is converted to the signature's int64


def test_a_direct_call_gives_the_kernels_result_and_passes_its_exceptions_on():
    x = np.array([1.0])
    assert _caller(x, 2) == 6.0 + 8.0 and x[0] == 4.0
    with pytest.raises(ZeroDivisionError):
        _caller(x, -1)


def test_types_match_agrees_with_typeof_and_remembers_the_structure():
    """``jit.types_match`` (the late-bound inner-solve guard) says what comparing numba.typeof
    says, for matching and mismatching argument structures, on first and repeated calls."""
    import numpy as np
    from numba import typeof, types

    from nlme_lab.kernels import jit

    good = ((1, 2), (np.zeros(3), np.zeros((2, 2), dtype=np.int64)), 0.5, True)
    expected = tuple(typeof(a) for a in good)
    assert expected[0] == types.UniTuple(types.int64, 2)
    bad_dtype = ((1, 2), (np.zeros(3, dtype=np.float32), np.zeros((2, 2), dtype=np.int64)), 0.5, True)
    bad_layout = ((1, 2), (np.zeros(6)[::2], np.zeros((2, 2), dtype=np.int64)), 0.5, True)
    readonly = np.zeros(3)
    readonly.setflags(write=False)
    bad_readonly = ((1, 2), (readonly, np.zeros((2, 2), dtype=np.int64)), 0.5, True)
    for _ in range(2):  # the second round answers from the remembered structures
        assert jit.types_match(good, expected)
        for args in (bad_dtype, bad_layout, bad_readonly):
            assert not jit.types_match(args, expected)
            assert tuple(typeof(a) for a in args) != expected
    assert jit._type_key(bad_dtype) in {k[0] for k in jit._TYPES_MATCH}
    assert jit._type_key(((1, 2), object())) is None  # not remembered: typeof decides every time
    assert not jit.types_match(((1, 2), object()), (types.UniTuple(types.int64, 2), types.pyobject))
