"""Tiered (T1/T2) dream operations: each an alternative to a T0 operation, never a replacement.

:func:`builtin_llm_operations` is what the registration door registers for a memory whose
configuration has an endpoint (``[tiers.T1]`` / ``[tiers.T2]``): without one, nothing of this
package runs and T0 is the whole cycle. Each runs after its phase's T0 operations (orders from
:data:`LLM_ORDER`), so a failed LLM step leaves the T0 result standing:

- ONSET ``llm_importance`` (T1), beside capture's importance score;
- NREM ``llm_facts`` (T1), beside key expansion and temporal normalisation;
- NREM ``llm_contradiction`` (T1), beside supersession (which alone supersedes);
- REM ``llm_reflection`` (T1), beside the extractive summaries;
- REM ``llm_imagination`` (T2), beside recombination and counterfactuals;
- INTEGRATION ``llm_playbook`` (T2), beside the revision proposals.
"""

from __future__ import annotations

from collections.abc import Collection

from oneiro.dream.phase import Operation, PhaseName
from oneiro.model import Tier

#: Position of the tiered operations within their phase: after every built-in T0 operation
#: (those use multiples of 10 below 200) and room for plugins between.
LLM_ORDER = 900


def builtin_llm_operations(endpoints: Collection[str]) -> list[tuple[PhaseName, int, Operation]]:
    """The tiered operations whose tier has an endpoint among ``endpoints`` (tier table names):
    T1 operations run on a T1 or a T2 endpoint, T2 operations on a T2 endpoint only."""
    from oneiro.dream.ops.llm.contradiction import LLMContradiction
    from oneiro.dream.ops.llm.facts import LLMFacts
    from oneiro.dream.ops.llm.imagination import LLMImagination
    from oneiro.dream.ops.llm.importance import LLMImportance
    from oneiro.dream.ops.llm.playbook import LLMPlaybookRewrite
    from oneiro.dream.ops.llm.reflection import LLMReflection

    table: list[tuple[PhaseName, Operation]] = [
        (PhaseName.ONSET, LLMImportance()),
        (PhaseName.NREM, LLMFacts()),
        (PhaseName.NREM, LLMContradiction()),
        (PhaseName.REM, LLMReflection()),
        (PhaseName.REM, LLMImagination()),
        (PhaseName.INTEGRATION, LLMPlaybookRewrite()),
    ]
    usable = {Tier.T1} if endpoints else set()
    if "T2" in endpoints:
        usable.add(Tier.T2)
    return [(phase, LLM_ORDER + i, op) for i, (phase, op) in enumerate(table) if Tier(op.tier) in usable]
