"""RETURN: compose the waking brief. The cycle journals it and then makes the cycle's view active."""

from __future__ import annotations

from oneiro.dream.ops.waking_brief import WakingBrief
from oneiro.dream.phase import Operation

OPERATIONS: tuple[Operation, ...] = (WakingBrief(),)
