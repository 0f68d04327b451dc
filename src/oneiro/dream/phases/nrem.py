"""NREM: prioritized replay and consolidation (T0).

Replay first (cheap, and its corrections feed INTEGRATION even when consolidation runs out of
budget): selection by utility, forward and reverse chains with credit to playbook items, residual
patterns tested by perturbed replay, compressed replay, re-scoring. Then consolidation of what is
new: key expansion with temporal normalisation, contextual re-embedding, topic communities, and
near-duplicate merging / supersession (which reads the keys entries made just before it).
"""

from __future__ import annotations

from collections.abc import Sequence

from oneiro.config import Config
from oneiro.dream.ops.chains import BidirectionalReplay
from oneiro.dream.ops.compressed import CompressedReplay
from oneiro.dream.ops.context import ContextualEmbedding
from oneiro.dream.ops.keys import KeyExpansion
from oneiro.dream.ops.replay import PrioritizedReplay
from oneiro.dream.ops.rescoring import Rescoring
from oneiro.dream.ops.residuals import ResidualPatterns
from oneiro.dream.ops.supersession import Supersession
from oneiro.dream.ops.topics import TopicCommunities
from oneiro.dream.phase import Operation


def nrem_operations(config: Config) -> Sequence[Operation]:
    return (
        PrioritizedReplay(),
        BidirectionalReplay(),
        ResidualPatterns(),
        CompressedReplay(),
        Rescoring(),
        KeyExpansion(),
        ContextualEmbedding(),
        TopicCommunities(),
        Supersession(),
    )
