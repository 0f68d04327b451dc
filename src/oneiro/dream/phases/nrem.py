"""NREM: prioritized replay and consolidation (T0)."""

from __future__ import annotations

from collections.abc import Sequence

from oneiro.config import Config
from oneiro.dream.ops.context import ContextualEmbedding
from oneiro.dream.ops.keys import KeyExpansion
from oneiro.dream.ops.supersession import Supersession
from oneiro.dream.ops.topics import TopicCommunities
from oneiro.dream.phase import Operation


def nrem_operations(config: Config) -> Sequence[Operation]:
    return (KeyExpansion(), ContextualEmbedding(), TopicCommunities(), Supersession())
