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
