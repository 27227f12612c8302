"""The fixed function signatures (the ABI) that generated model code compiles to.

The engine kernels (event handling, the linear closed form, the ODE integrator) are compiled
once and cached on disk. They receive the model-specific functions as numba first-class
functions of the types below, so a new model compiles only its own small kernels: the engine
is never specialised on a particular model.

Conventions (all arrays float64, C-contiguous):

* ``theta``  (n_theta,)  every [ini] fixed effect, residual SDs included, in declaration order.
* ``eta``    (n_re,)     the random effects in force on a record: the subject's etas
  (declaration order) followed by the kappas of that record's occasion.
* ``cov``    (n_cov,)    the covariate values that apply to the interval ending at the record.
* ``p``      (n_p,)      "individual parameters": every model quantity that depends neither on
  time nor on compartment states (ka, cl, v, dose modifiers, ...). Computed once per record.
* ``y``      (n_state,)  compartment amounts.
* matrices are row-major: ``dp_deta[i, j] = d p_i / d eta_j``.

Signatures (see ``nlme_lab/model/codegen`` for the generator and docs/ARCHITECTURE.md):

=============  ==========================================================  ==================
name           arguments                                                   fills
=============  ==========================================================  ==================
pk             (t, theta, eta, cov, p)                                     p (n_p)
dpk            (t, theta, eta, cov, p, dp_deta, dp_dtheta)                 both Jacobians
rhs            (t, y, p, dydt)                                             dydt (n_state)
jac            (t, y, p, J)                                                J = df/dy
dfdp           (t, y, p, Fp)                                               Fp = df/dp
init           (p, y0)                                                     y0 (n_state)
dinit          (p, Y0p)                                                    d y0 / d p
obs            (t, y, p, out)                                              out (n_endpoint)
dobs_dy        (t, y, p, Oy)                                               d obs / d y
dobs_dp        (t, y, p, Op)                                               d obs / d p
linsys         (p, K)                                                      K: dy/dt = K y + input
dlinsys        (p, dK)                                                     dK[i, j, k] = dK_ij/dp_k
=============  ==========================================================  ==================

This module imports only numba; it is imported lazily by the kernels. It also holds what the
engine's entry points and their compiled callers agree on (the status codes, the entry points'
signatures, ``caster``), so that a caller (``inner_trial``) compiles without importing, and so
compiling, the engine (``problem.background_compile`` compiles the two in separate processes).
"""

from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

f8 = types.float64
vec = types.float64[::1]
mat = types.float64[:, ::1]
arr3 = types.float64[:, :, ::1]

PK_SIG = types.void(f8, vec, vec, vec, vec)
DPK_SIG = types.void(f8, vec, vec, vec, vec, mat, mat)
RHS_SIG = types.void(f8, vec, vec, vec)
JAC_SIG = types.void(f8, vec, vec, mat)
INIT_SIG = types.void(vec, vec)
DINIT_SIG = types.void(vec, mat)
OBS_SIG = types.void(f8, vec, vec, vec)
DOBS_SIG = types.void(f8, vec, vec, mat)
LINSYS_SIG = types.void(vec, mat)
DLINSYS_SIG = types.void(vec, arr3)

PkFn = types.FunctionType(PK_SIG)
DpkFn = types.FunctionType(DPK_SIG)
RhsFn = types.FunctionType(RHS_SIG)
JacFn = types.FunctionType(JAC_SIG)  # also the type of dfdp
InitFn = types.FunctionType(INIT_SIG)
DinitFn = types.FunctionType(DINIT_SIG)
ObsFn = types.FunctionType(OBS_SIG)
DobsFn = types.FunctionType(DOBS_SIG)  # dobs_dy and dobs_dp
LinsysFn = types.FunctionType(LINSYS_SIG)
DlinsysFn = types.FunctionType(DLINSYS_SIG)

i64v = types.int64[::1]
i64m = types.int64[:, ::1]

# a subject's status (``events.Status``)
OK = 0
ODE_FAILED = 1
BAD_RECORD = 2
SS_FAILED = 3
SINGULAR = 4
NONFINITE = 6
#: a subject that ``bolus_march`` did not take while ``solve_records`` is not bound
#: (``population._solve_range_at``): never a result, the caller binds it and solves again
NOT_LOADED = 7

# the population entry points (``kernels.population``)
COMPUTE_P_SIG = types.void(PkFn, vec, vec, mat, mat, mat, types.boolean)
COMPUTE_DP_SIG = types.void(DpkFn, vec, vec, mat, mat, mat, arr3, arr3, types.boolean)
SOLVE_POPULATION_SIG = types.void(
    i64v, vec, i64v, vec, i64v, vec, vec, i64v, i64v,  # offsets, record columns
    mat, i64m,  # P, dose_index
    RhsFn, JacFn, JacFn, InitFn, DinitFn, ObsFn, DobsFn, DobsFn, LinsysFn, DlinsysFn,
    types.boolean, arr3, vec, mat, arr3, i64v, i64v,  # linear dP opts pred dpred status fail
)
#: order of the model functions in ``SOLVE_POPULATION_SIG`` and in the address array
FN_ORDER = ("rhs", "jac", "dfdp", "init", "dinit", "obs", "dobs_dy", "dobs_dp", "linsys", "dlinsys")
SOLVE_AT_SIG = types.void(*SOLVE_POPULATION_SIG.args[:11], i64v, *SOLVE_POPULATION_SIG.args[21:])
SOLVE_RANGE_SIG = types.void(types.int64, types.int64, *SOLVE_AT_SIG.args)


def caster(fn_type):
    """An intrinsic ``(c_addr: int64) -> fn_type``: the first-class function whose C wrapper is
    at ``c_addr`` (no Python object, no jit address: calls go through the C wrapper, as they do
    for a ``FunctionRef`` passed as an argument)."""

    @intrinsic
    def as_function(typingctx, c_addr):
        def codegen(context, builder, signature, args):
            fn = cgutils.create_struct_proxy(fn_type)(context, builder)
            voidptr = context.get_value_type(types.voidptr)
            fn.c_addr = builder.inttoptr(args[0], voidptr)
            fn.py_addr = context.get_constant_null(types.voidptr)
            fn.jit_addr = context.get_constant_null(types.voidptr)
            return fn._getvalue()

        return fn_type(types.int64), codegen

    return as_function
