"""oneiro: a sleep cycle for long-lived AI agents.

import oneiro
memory = oneiro.open("agent.db")
memory.record({"text": "The deploy failed on the staging cluster", "kind": "error"})
hits = memory.recall("what went wrong with the deploy?")
"""

from oneiro.config import Config, load_config
from oneiro.errors import OneiroError
from oneiro.memory import Memory, open_memory
from oneiro.model import Entry, EntryStatus, Episode, Hit, Mode, Provenance, Tier

open = open_memory

__all__ = [
    "Config",
    "Entry",
    "EntryStatus",
    "Episode",
    "Hit",
    "Memory",
    "Mode",
    "OneiroError",
    "Provenance",
    "Tier",
    "load_config",
    "open",
]
__version__ = "0.1.0"
