$PROB Theophylline: BLOCK omega on CL and V, between-occasion variability on CL (occasion 2 from 6 h)
; theo_occ.csv is theo_sd.csv with OCC = 1 before 6 h, 2 from 6 h (made for this test)
$INPUT ID TIME DV AMT EVID MDV CMT WT DOSE=DROP OCC
$DATA theo_occ.csv IGNORE=@
$SUBR ADVAN2 TRANS2
$PK
IOVCL = 0
IF (OCC.EQ.1) IOVCL = ETA(4)
IF (OCC.EQ.2) IOVCL = ETA(5)
KA = EXP(THETA(1) + ETA(1))
CL = EXP(THETA(2) + ETA(2) + IOVCL)
V  = EXP(THETA(3) + ETA(3))
S2 = V
$ERROR
IPRED = F
Y = IPRED + THETA(4)*EPS(1)
$THETA 0.45 1.0 3.45   ; log KA, log CL, log V
$THETA (0, 0.7)        ; additive SD (mg/L)
$OMEGA 0.6             ; IIV KA
$OMEGA BLOCK(2) 0.3 0.01 0.1
$OMEGA BLOCK(1) 0.05 FIX  ; IOV CL (fixed: these occasions are made up)
$OMEGA BLOCK(1) SAME
$SIGMA 1 FIX
$EST METHOD=COND INTER MAXEVAL=9999
$COV MATRIX=R
