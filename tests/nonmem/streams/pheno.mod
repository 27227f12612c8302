$PROBLEM Phenobarbital in neonates without the Apgar effect: CL and V proportional to weight
; ADVAN1 TRANS2, proportional residual error written with a THETA SD and $SIGMA 1 FIX
$INPUT ID TIME DV AMT EVID MDV CMT WT APGR=DROP
$DATA ../../shared/data/pheno.csv IGNORE=@
$SUBROUTINES ADVAN1 TRANS2

$PK
  TVCL = THETA(1)*WT
  TVV  = THETA(2)*WT
  CL   = TVCL*EXP(ETA(1))
  V    = TVV*EXP(ETA(2))
  S1   = V

$ERROR
  IPRED = F
  W     = THETA(3)*IPRED
  IF (W.EQ.0) W = 1
  IRES  = DV - IPRED
  IWRES = IRES/W
  Y     = IPRED + W*EPS(1)

$THETA (0, 0.00469307)   ; CL per kg (L/h/kg)
$THETA (0, 1.00916)      ; V per kg (L/kg)
$THETA (0, 0.114396)     ; proportional residual SD
$OMEGA 0.0309626 0.031128
$SIGMA 1 FIX

$ESTIMATION METHOD=1 INTERACTION MAXEVAL=9999 PRINT=5 NOABORT
$COVARIANCE
$TABLE ID TIME DV IPRED CWRES NOPRINT ONEHEADER FILE=sdtab2
