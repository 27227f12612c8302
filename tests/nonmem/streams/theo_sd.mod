$PROBLEM Theophylline, one oral dose: one compartment, first-order absorption, additive error
; doses CMT 1 (depot), observations CMT 2 (central)
$INPUT ID TIME DV AMT EVID MDV CMT WT DOSE=DROP
$DATA ../../shared/data/theo_sd.csv IGNORE=@
$SUBROUTINES ADVAN2 TRANS2

$PK
MU_1 = THETA(1)
MU_2 = THETA(2)
MU_3 = THETA(3)
KA = EXP(MU_1 + ETA(1))
CL = EXP(MU_2 + ETA(2))
V  = EXP(MU_3 + ETA(3))
S2 = V

$ERROR
IPRED = F
W = THETA(4)
Y = IPRED + W*EPS(1)
IRES = DV - IPRED
IWRES = IRES/W

$THETA
 0.451075   ; log KA
 1.000632   ; log CL
 3.449988   ; log V
 (0, 0.7)   ; additive SD (mg/L)
$OMEGA 0.6 0.3 0.1
$SIGMA 1 FIX

$EST METHOD=COND INTER MAXEVAL=9999 NOABORT
$COV
