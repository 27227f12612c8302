"""Full Bayesian posteriors by NUTS (nutpie): ``nl.fit(model, data, method="nuts", priors=...)``.

``priors``: the prior families and the weakly informative defaults; ``density``: the log
posterior on an unconstrained, non-centred space with its exact gradient; ``run``: the method
registry's runner (non-blocking sampling, stop / Ctrl-C); ``progress``: the live trace
(``IterationEvent``s while sampling); ``trace``: reading nutpie's traces (kept chains, per-draw
log-likelihoods); ``summary``: medians, R-hat / ESS, the ``FitResult``; ``draws``: ArviZ export.
"""

from nlme_lab.estimation.bayes.priors import LKJ, HalfNormal, Normal, PriorSet, resolve_priors

__all__ = ["LKJ", "HalfNormal", "Normal", "PriorSet", "resolve_priors"]
