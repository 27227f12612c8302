"""SAEM (stochastic approximation EM) for population models; see ``run.run_saem``.

Modules: ``mu`` finds the mu-referenced thetas in a model's IR; ``sampler`` holds the
Metropolis-Hastings kernels (all chains and subjects per engine call); ``stacked`` evaluates
many eta sets in one engine call (replicated subjects); ``compiled`` the numba pieces of the
E-step; ``mstep`` the closed-form and numerical M-steps; ``run`` the algorithm; ``finish`` its
``FitResult``.
"""
