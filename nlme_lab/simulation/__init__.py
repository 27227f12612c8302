"""Simulation: predictions and simulated observations from a model bound to a dataset."""

from nlme_lab.simulation.simulate import SimulationResult, simulate

__all__ = ["SimulationResult", "simulate"]
