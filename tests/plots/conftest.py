"""The plots tests reuse the diagnostics fixtures (a FOCEI fit of theo_sd), and share with the
widget and browser tests a two-endpoint model at its estimates."""

from tests.diagnostics.conftest import theo_focei  # noqa: F401

# Tutorial 02's warfarin PK/PD model (concentration, DVID 1, and PCA by an indirect response,
# DVID 2) at its FOCEI estimates on tests/shared/data/warfarin.csv (OFV 1338.85), rounded
PKPD_TEXT = """[ini]
tktr = -0.0982
tka  = 0.510
tcl  = -2.005
tv   = 2.047
eta_ka  ~ 1.36
eta_cl  ~ 0.0779
eta_v   ~ 0.0505
prop_sd  = 0.105
pkadd_sd = 0.529
tec50 = 0.146
tkout = -2.961
te0   = 4.570
eta_ec50 ~ 0.181
eta_kout ~ 0.0082
eta_e0   ~ 0.0028
pdadd_sd = 3.69
[model]
ktr  = exp(tktr)
ka   = exp(tka + eta_ka)
cl   = exp(tcl + eta_cl)
v    = exp(tv + eta_v)
ec50 = exp(tec50 + eta_ec50)
kout = exp(tkout + eta_kout)
e0   = exp(te0 + eta_e0)
dcp  = center / v
kin  = e0 * kout
d/dt(depot)  = -ktr * depot
d/dt(gut)    =  ktr * depot - ka * gut
d/dt(center) =  ka * gut - cl / v * center
d/dt(effect) =  kin * (1 - dcp / (ec50 + dcp)) - kout * effect
effect(0) = e0
cp = center / v
cp ~ add(pkadd_sd) + prop(prop_sd)
effect ~ add(pdadd_sd)
"""


def fixed_pkpd():
    """``PKPD_TEXT`` with every parameter fixed: a fit of it is one evaluation (EBEs, OFV)."""
    import nlme_lab as nl

    model = nl.Model(PKPD_TEXT, name="warfarin_pkpd_fixed")
    return model.fix(*model.parameter_names())
