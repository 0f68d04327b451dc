"""What a ``postgresql://`` store URL names: a server, a database, and one agent in it.

``postgresql://user:password@host:port/db?agent=alice&pool=10`` is agent ``alice``'s store in
database ``db``. Each agent's rows live in its own PostgreSQL schema (``agent_alice``), and every
connection of its store reads and writes that schema alone: no query of one agent can name
another's table, so isolation does not rest on every statement remembering a filter. ``agent``
defaults to :data:`DEFAULT_AGENT`; ``pool`` caps the store's connections. Every other query
parameter is handed to libpq as it is (``sslmode``, ``host`` for a socket directory, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from oneiro.errors import InvalidInput

SCHEMES = ("postgresql", "postgres")
DEFAULT_AGENT = "default"
#: Agent names: short, plain, and valid inside a quoted identifier on every server (PostgreSQL
#: truncates identifiers at 63 bytes; the schema prefix takes 6).
AGENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,55}$")
SCHEMA_PREFIX = "agent_"
#: Connections a store keeps open at most, unless the URL says (a cycle and a few awake writers).
DEFAULT_POOL = 8
MAX_POOL = 200


@dataclass(frozen=True)
class Target:
    """A parsed store URL: libpq's connection string, the agent and its schema, the pool size."""

    conninfo: str
    agent: str
    pool: int
    shown: str

    @property
    def schema(self) -> str:
        return SCHEMA_PREFIX + self.agent


def parse(url: str) -> Target:
    """Split a store URL into what libpq reads and what oneiro reads (refusing bad values)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidInput(f"{redact(url)}: not a postgresql:// URL", field="store")
    params = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in params if k not in ("agent", "pool")]
    options = dict(params)
    agent = options.get("agent", DEFAULT_AGENT)
    if not AGENT_NAME.match(agent):
        raise InvalidInput(
            f"agent {agent!r}: use letters, digits, '-' and '_' (at most 56, starting with a letter "
            "or digit)",
            field="store",
        )
    pool = _pool(options.get("pool"))
    conninfo = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))
    return Target(conninfo, agent, pool, redact(url))


def _pool(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_POOL
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_POOL:
        raise InvalidInput(f"pool={raw}: give a whole number from 1 to {MAX_POOL}", field="store")
    return int(raw)


def redact(url: str) -> str:
    """``url`` without its password, for messages and :attr:`Store.path`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit((parts.scheme, f"{user}@{netloc[-1]}", parts.path, parts.query, parts.fragment))


def with_agent(url: str, agent: str) -> str:
    """The same server and database, another agent's store."""
    parts = urlsplit(url)
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "agent"]
    params.append(("agent", agent))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), parts.fragment))
