"""The PostgreSQL + pgvector store (``pip install 'oneiro[postgres]'``): many agents in one
database, each in its own schema, behind the same :class:`~oneiro.store.protocol.Store`
protocol and opened through the same factory (``postgresql://...?agent=NAME``)."""

from oneiro.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
