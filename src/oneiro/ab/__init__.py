"""Does dreaming help? Twins from one seed, dreaming on vs off, on a non-stationary task, beside
published non-stationary bandit anchors, with bootstrap confidence intervals (BENCHMARKS §3)."""

from oneiro.ab.environment import Environment, RegimeSwitching, default_environment
from oneiro.ab.harness import ABConfig, run_ab

__all__ = ["ABConfig", "Environment", "RegimeSwitching", "default_environment", "run_ab"]
