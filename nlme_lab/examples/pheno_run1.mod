$PROBLEM Phenobarbital in neonates (run 1): weight-proportional CL and V, Apgar < 5 raises V
; The classic NONMEM example, written as NONMEM users write it. nl.from_nonmem reads it.
$INPUT ID TIME DV AMT EVID MDV CMT WT APGR
$DATA pheno.csv IGNORE=@
$SUBROUTINES ADVAN1 TRANS2

$PK
  TVCL = THETA(1)*WT
  TVV  = THETA(2)*WT
  IF (APGR.LT.5) TVV = TVV*(1 + THETA(3))
  CL   = TVCL*EXP(ETA(1))
  V    = TVV*EXP(ETA(2))
  S1   = V

$ERROR
  W     = F
  Y     = F + W*EPS(1)
  IPRED = F
  IRES  = DV - IPRED
  IWRES = IRES/W

$THETA (0, 0.00469307)  ; CL per kg (L/h/kg)
$THETA (0, 1.00916)     ; V per kg (L/kg)
$THETA (-.99, .1)       ; fractional change of V when APGR < 5
$OMEGA DIAGONAL(2)
  0.0309626  ; IIV CL
  0.031128   ; IIV V
$SIGMA 0.0130865        ; proportional error (a variance)

$ESTIMATION METHOD=1 INTERACTION MAXEVAL=9999 PRINT=5
$COVARIANCE UNCONDITIONAL
$TABLE ID TIME DV IPRED CWRES NOPRINT ONEHEADER FILE=sdtab1
