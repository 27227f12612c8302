"""SAEM (stochastic approximation EM) for population models; see ``run.run_saem``.

Modules: ``mu`` finds the mu-referenced thetas in a model's IR; ``kernels`` holds the
Metropolis-Hastings kernels (vectorised over subjects); ``mstep`` the closed-form and
numerical M-steps; ``run`` the algorithm and its ``FitResult``.
"""
