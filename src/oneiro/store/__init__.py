"""Storage. Every SQL statement in oneiro lives in this package."""

from oneiro.store.protocol import Store
from oneiro.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "Store"]
