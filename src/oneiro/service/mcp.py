"""The MCP server: oneiro's memory as tools and resources for any MCP host, on the official
``mcp`` SDK. ``oneiro mcp`` serves it over stdio; ``oneiro serve`` mounts its streamable HTTP
transport at ``/mcp`` (behind the same bearer token as every write).

Each tool calls the same :class:`~oneiro.Memory` method as the CLI and the HTTP routes and
answers with the same DTOs. Its annotations say what it does to the store: ``recall``,
``hypotheses``, ``brief`` and ``playbook`` only read; ``record`` adds (and is idempotent: an
episode's id is its content's hash, so recording it again stores nothing new); ``dream``,
``approve`` and ``reject`` change what the store trusts. No tool reaches outside the store
(``openWorldHint`` false everywhere), and none is effectful in the gate's sense: a dream runs
only store-internal operations, with every effectful pipeline shadowed or skipped while it lasts.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

from oneiro.dto import BriefOut, EpisodeIn, EpisodeOut, ErrorOut, HitOut, HypothesisOut, RevisionOut
from oneiro.errors import OneiroError
from oneiro.memory import HYPOTHESIS_STATUSES, Memory
from oneiro.playbook import Revision
from oneiro.service.dreams import DreamRunner, HypothesisWatch
from oneiro.service.schemas import DreamStateOut, PlaybookOut, RecordedOut
from oneiro.service.views import dream_view, playbook_view

NAME = "oneiro"
PLAYBOOK_URI = "oneiro://playbook"
BRIEF_URI = "oneiro://brief/latest"
#: Most results one recall may ask for (as the HTTP search).
MAX_K = 1000

READ = ToolAnnotations(read_only_hint=True, open_world_hint=False)
ADD = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
)
CHANGE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False
)
DECIDE = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=False
)

#: The SDK configures logging when a server is built; above INFO, so a request is not a log line.
LOG_LEVEL: Literal["WARNING"] = "WARNING"

INSTRUCTIONS = (
    "oneiro is this agent's long-term memory. Record what happens (record), recall before "
    "answering (recall), let it dream over what was recorded (dream), then read what the dream "
    "proposed (brief, hypotheses, playbook). Dream output is a hypothesis until awake evidence "
    "confirms it; playbook revisions wait for approve or reject."
)


@contextmanager
def refused() -> Iterator[None]:
    """A OneiroError becomes a tool error the client sees (code and message: what to fix); the
    SDK would hide any other exception's message, as it should a defect's."""
    try:
        yield
    except OneiroError as exc:
        error = ErrorOut.from_domain(exc)
        raise ToolError(f"{error.code}: {error.message}") from exc


def build(
    memory: Memory, runner: DreamRunner | None = None, watch: HypothesisWatch | None = None
) -> MCPServer:
    """The MCP server over ``memory``; ``runner`` and ``watch`` shared with an HTTP app when
    mounted there (so a dream started by either is refused by the other while it runs)."""
    watch = watch or HypothesisWatch(memory)
    runner = runner or DreamRunner(memory, watch)
    server: MCPServer = MCPServer(NAME, instructions=INSTRUCTIONS, log_level=LOG_LEVEL)

    def decided(rev: Revision) -> RevisionOut:
        memory.bus.publish("playbook", revision=rev.id, status=rev.status.value)
        return RevisionOut.from_domain(rev)

    @server.tool(annotations=ADD)
    def record(episodes: list[EpisodeIn]) -> RecordedOut:
        """Record episodes (each needs ``text``; ``actor``, ``session``, ``kind``, ``ts``,
        ``prediction``/``outcome`` are optional). All are stored or, on any invalid one, none."""
        with refused():
            result = memory.record_batch([e.to_record() for e in episodes])
            watch.check()
            return RecordedOut(
                episodes=[EpisodeOut.from_domain(e) for e in result.episodes], new=list(result.new)
            )

    @server.tool(annotations=READ)
    def recall(
        query: str,
        k: int = 10,
        actor: str | None = None,
        session: str | None = None,
        kind: str | None = None,
    ) -> list[HitOut]:
        """Hybrid recall of episodes and trusted knowledge, best first."""
        with refused():
            if k > MAX_K:
                k = MAX_K
            hits = memory.recall(query, k, actor=actor, session=session, kind=kind)
            return [HitOut.from_domain(h) for h in hits]

    @server.tool(annotations=CHANGE)
    def dream(reason: str = "mcp", wait: bool = True) -> DreamStateOut:
        """Run one dream cycle over what was recorded (``wait`` false: start it and return)."""
        with refused():
            if wait:
                runner.run_now(reason)
            else:
                runner.start(reason)
            return dream_view(runner.state())

    @server.tool(annotations=READ)
    def hypotheses(status: str | None = None) -> list[HypothesisOut]:
        """Dream-made hypotheses: staged, validated, refuted or expired (all by default)."""
        with refused():
            wanted = (status,) if status else HYPOTHESIS_STATUSES
            return [HypothesisOut.from_domain(e) for e in memory.hypotheses(wanted)]

    @server.tool(annotations=READ)
    def brief() -> BriefOut | None:
        """The latest waking brief (markdown): what the last dream changed and what to test."""
        with refused():
            latest = memory.brief()
            return None if latest is None else BriefOut.from_domain(latest)

    @server.tool(annotations=READ)
    def playbook() -> PlaybookOut:
        """The active playbook and the revisions waiting for a decision, with their diffs."""
        with refused():
            return playbook_view(memory)

    @server.tool(annotations=DECIDE)
    def approve(revision: str, by: str = "mcp") -> RevisionOut:
        """Approve a pending playbook revision: probe its candidate and make it active."""
        with refused():
            return decided(memory.playbook.approve(revision, by=by))

    @server.tool(annotations=DECIDE)
    def reject(revision: str, reason: str = "rejected", by: str = "mcp") -> RevisionOut:
        """Reject a pending playbook revision."""
        with refused():
            return decided(memory.playbook.reject(revision, by=by, reason=reason))

    @server.resource(PLAYBOOK_URI, name="playbook", mime_type="text/markdown")
    def playbook_markdown() -> str:
        """The active playbook as PLAYBOOK.md."""
        return memory.playbook.render()

    @server.resource(BRIEF_URI, name="brief", mime_type="text/markdown")
    def brief_markdown() -> str:
        """The latest waking brief as markdown (empty before any dream returned)."""
        latest = memory.brief()
        return "" if latest is None else latest.markdown

    return server
