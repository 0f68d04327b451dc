"""A fleet of agents dreaming: each agent's cycle a task (in this process or on Ray), one budget
for the fleet on top of each agent's own scheduler, and validated knowledge shared between
related agents, staged again in the receiver (:mod:`oneiro.fleet.share`)."""

from oneiro.fleet.run import Agent, FleetReport, Outcome, RayRunner, Sequential, dream_fleet
from oneiro.fleet.schedule import FleetBudget

__all__ = ["Agent", "FleetBudget", "FleetReport", "Outcome", "RayRunner", "Sequential", "dream_fleet"]
