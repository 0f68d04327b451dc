"""Probes: the gate a candidate adapter passes before it may become active.

Invariant: a candidate is promotable only if (1) on held-back questions the current model answers
it loses at most ``margin`` nats per token against the active adapter (no forgetting beyond the
margin), and (2) on the new material it gains at least ``min_gain`` nats per token (it learnt
something). Scores are mean NLL per target token, so lower is better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from oneiro.train.examples import Example
from oneiro.train.lora import Tokenize, applied, nll
from oneiro.train.trainer import Adapter

#: Forgetting allowed on probes, in nats per token: 0.05 is about a 5% rise in perplexity.
PROBE_MARGIN = 0.05
#: Least gain on new material, in nats per token, for a candidate to be worth promoting.
MIN_GAIN = 0.01


@dataclass(frozen=True)
class Verdict:
    probes_before: float
    probes_after: float
    new_before: float
    new_after: float
    margin: float
    min_gain: float

    @property
    def forgetting(self) -> float:
        return self.probes_after - self.probes_before

    @property
    def gain(self) -> float:
        return self.new_before - self.new_after

    @property
    def passed(self) -> bool:
        return self.forgetting <= self.margin and self.gain >= self.min_gain

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "forgetting": self.forgetting, "gain": self.gain, "passed": self.passed}


def judge(
    model: Any,
    tokenize: Tokenize,
    *,
    active: Adapter | None,
    candidate: Adapter,
    probes: Sequence[Example],
    new: Sequence[Example],
    margin: float = PROBE_MARGIN,
    min_gain: float = MIN_GAIN,
) -> Verdict:
    """Score the active model and the candidate on the same probes and new material."""
    with applied(model, active) as m:
        probes_before, new_before = nll(m, tokenize, probes), nll(m, tokenize, new)
    with applied(model, candidate) as m:
        probes_after, new_after = nll(m, tokenize, probes), nll(m, tokenize, new)
    return Verdict(probes_before, probes_after, new_before, new_after, margin, min_gain)
