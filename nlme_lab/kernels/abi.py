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

This module imports only numba; it is imported lazily by the kernels.
"""

from numba import types

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
