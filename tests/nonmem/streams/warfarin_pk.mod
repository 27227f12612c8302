$PROB Warfarin PK: one compartment, first-order absorption, combined error (theta-SD)
$INPUT ID TIME DV AMT EVID MDV CMT WT AGE SEX
$DATA ../../shared/data/warfarin_pk.csv IGNORE=@
$SUBR ADVAN2,TRANS2
$PK
  KA = EXP(THETA(1) + ETA(1))
  CL = EXP(THETA(2) + ETA(2))
  V  = EXP(THETA(3) + ETA(3))
  S2 = V
$ERROR
  IPRED = F
  W = SQRT(IPRED**2*THETA(4)**2 + THETA(5)**2)
  IF (W.EQ.0) W = 1
  Y = IPRED + W*EPS(1)
$THETA 0.15 -2 2       ; log KA, log CL, log V
$THETA (0, 0.2)        ; proportional SD
$THETA (0, 0.5)        ; additive SD (mg/L)
$OMEGA BLOCK(1) 1
$OMEGA BLOCK(1) 1
$OMEGA BLOCK(1) 1
$SIGMA 1 FIX
$EST METHOD=CONDITIONAL INTER MAXEVAL=9999 PRINT=10
$COV UNCONDITIONAL
$SCAT IPRED VS DV
