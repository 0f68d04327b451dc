"""``Memory``: the library's front door. One store, one embedder, one config.

Everything the CLI, the HTTP service and the MCP server do goes through these methods.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from oneiro import capture
from oneiro.backends import Embedder
from oneiro.config import Config, Location, check_state_dir, load_config, locate
from oneiro.dream.budget import CycleBudget
from oneiro.dream.cycle import DreamEngine, tiers_allowed
from oneiro.dream.lease import already_dreaming
from oneiro.dream.report import CycleReport
from oneiro.errors import ConfigError, InvalidInput, JournalCorrupt, StoreError, UnknownCycle, UnknownEntry
from oneiro.events import EventBus
from oneiro.forget import ForgetPlan, Selector
from oneiro.forget import apply as apply_forget
from oneiro.forget import plan as plan_forget
from oneiro.gate import DispatchResult, Gate
from oneiro.index import Filter
from oneiro.llm.cache import cache_for
from oneiro.llm.tiers import TierBackends, bind_operations, check_tier
from oneiro.model import Entry, EntryStatus, Episode, Hit, Mode, Tier
from oneiro.playbook import Playbook
from oneiro.plugins import Registered, Registry
from oneiro.recall import IndexCache, Recaller
from oneiro.scheduler import Decision, gather, should_dream
from oneiro.shadows import Shadow
from oneiro.store import Store
from oneiro.store.cycles import CycleRow
from oneiro.store.evidence import EvidenceRow
from oneiro.store.factory import StoreOptions, is_url, open_store
from oneiro.store.journal import Record
from oneiro.store.query import hypotheses as hypotheses_query
from oneiro.usage import UseLog
from oneiro.validation import ValidationReport, Validator

Clock = Callable[[], float]
#: What to do with a store that fails its checks: it was damaged or edited outside oneiro, so
#: none of it is to be trusted as it stands; the damaged file is the evidence of what happened.
DAMAGED_ADVICE = (
    "do not write to it: keep a copy of the file, restore the last good backup (or `oneiro import` "
    "a recent export) and compare"
)
#: How long forgetting may hold the dream lease (it gives it back as soon as it is done).
FORGET_LEASE_SECONDS = 600.0
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Recorded:
    """What one recorded batch gave: every episode in input order, and whether each was new (an
    episode with the content of a stored one, or of an earlier one in the batch, is not)."""

    episodes: tuple[Episode, ...]
    new: tuple[bool, ...]

    @property
    def new_count(self) -> int:
        return sum(self.new)

    @property
    def duplicates(self) -> int:
        return len(self.new) - self.new_count


#: The statuses a dream-made hypothesis can be in (``Memory.hypotheses``).
HYPOTHESIS_STATUSES: tuple[str, ...] = (
    EntryStatus.STAGED.value,
    EntryStatus.VALIDATED.value,
    EntryStatus.REFUTED.value,
    EntryStatus.EXPIRED.value,
)


@dataclass(frozen=True)
class EmbedderInfo:
    """An embedder by name and vector dimension."""

    name: str
    dim: int

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim}


@dataclass(frozen=True)
class CycleInfo:
    """A cycle by id and status."""

    id: str
    status: str


@dataclass(frozen=True)
class Status:
    """What a store holds (:meth:`Memory.status`). ``embedder`` is the model the store's vectors
    were made with (the configured one while the store has none); ``configured_embedder`` is set
    only when the configuration names another, which the store would refuse."""

    store: str
    read_only: bool
    schema_version: int
    episodes: int
    entries: dict[str, int]
    embedder: EmbedderInfo
    last_cycle: CycleInfo | None
    configured_embedder: EmbedderInfo | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, in the order ``oneiro status`` prints; ``configured_embedder`` only when set."""
        out: dict[str, Any] = {
            "store": self.store,
            "read_only": self.read_only,
            "schema_version": self.schema_version,
            "episodes": self.episodes,
            "entries": dict(self.entries),
            "embedder": self.embedder.to_dict(),
            "last_cycle": None
            if self.last_cycle is None
            else {"id": self.last_cycle.id, "status": self.last_cycle.status},
        }
        if self.configured_embedder is not None:
            out["configured_embedder"] = self.configured_embedder.to_dict()
        return out


@dataclass(frozen=True)
class Brief:
    """A waking brief: what a returning cycle told the agent (``data["markdown"]`` is its text)."""

    cycle_id: str | None
    ts: float
    data: dict[str, Any]

    @property
    def markdown(self) -> str:
        return str(self.data.get("markdown", ""))


class Memory:
    """An agent's memory. Build with :func:`oneiro.open`.

    Its plugins (``registry``: the built-ins, the ``oneiro`` entry points and the objects passed to
    ``oneiro.open(..., plugins=[...])``) belong to it alone: two memories in one process can run
    different operations, tests, scorers, shadows and probes."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        config: Config,
        clock: Clock = time.time,
        *,
        registry: Registry | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.config = config
        self.clock = clock
        self.registry = registry if registry is not None else Registry(llm_tiers=tuple(config.tiers))
        #: The LLM backends of the tiers ``config.tiers`` configures, built on first use.
        self.llm = TierBackends(config.tiers, self.registry.llm_backends, cache_for(store.path))
        bind_operations(self.registry.phases(frozenset(Tier)), self.llm)
        #: This memory's scorers: the registered ones, and any added later with ``register``.
        self.scorers = self.registry.scorers()
        self._playbook = Playbook(store, clock=clock, probes=self.registry.probes)
        self._cache = IndexCache(store, embedder.name, config.lifecycle.confidence_floor)
        self._recaller = Recaller(store, embedder, config, self._cache)
        #: Entries recall returned, counted into the store off recall's path (:mod:`oneiro.usage`).
        self.uses = UseLog()
        self.bus = EventBus()
        self._wake_child = threading.Event()
        self.gate = Gate(store, clock, sleep=config.sleep)
        self.validator = Validator(
            store, embedder, config, tests=self.registry.evidence_tests, playbook=self._playbook
        )
        self.engine = DreamEngine(
            store,
            embedder,
            config,
            self.registry.without(config.disabled_operations),
            clock=clock,
            mode_scope=self.gate.dreaming,
            bus=self.bus,
            index=self._cache.sync,
            scorers=self.scorers,
        )

    # -- awake: capture ---------------------------------------------------------------------
    def record(self, item: Any) -> Episode:
        """Record one episode (a mapping of fields); returns it with its id and importance."""
        return self.record_many([item])[0]

    def record_many(self, items: Iterable[Any], *, lines: Sequence[int] | None = None) -> list[Episode]:
        """Record a batch: all of it or, on any invalid item, none of it (InvalidInput names it)."""
        return list(self.record_batch(items, lines=lines).episodes)

    def record_batch(
        self, items: Iterable[Any], *, lines: Sequence[int] | None = None, progress: Progress | None = None
    ) -> Recorded:
        """:meth:`record_many`, also telling which episodes were new (the rest were stored already).
        ``progress(done, total)`` is called as the batch is embedded, its slow part.

        The episodes and the validation they trigger share one transaction, so a failure anywhere
        (even an unexpected one) leaves the store as it was."""
        batch = _batch(items, lines, self.config.capture.max_batch)
        now = self.clock()
        drafts = [
            capture.validate(raw, self.config.capture, now, lines[i] if lines else None)
            for i, raw in enumerate(batch)
        ]
        if not drafts:
            return Recorded((), ())
        matrix = self._embed([capture.embedding_text(d) for d in drafts], progress)
        self.store.check_embedder(self.embedder.name, int(matrix.shape[1]))
        recent = self._recent_vectors()
        novelty = capture.novelty(matrix, recent, self.config.capture.novelty_neighbours)
        scored = [
            Episode(**{**d.__dict__, "importance": capture.importance(d, nv, self.config.capture)})
            for d, nv in zip(drafts, novelty, strict=True)
        ]
        keys = [" ".join(filter(None, (e.actor, e.session))) for e in scored]
        with self.store.transaction():
            fresh = self.store.add_episodes(scored, matrix, self.embedder.name, keys, recorded_at=now)
            stored = self.store.episodes([e.id for e in scored])
            episodes = [stored[e.id] for e in scored]
            self.uses.settle(self.store, [e for e, new in zip(episodes, fresh, strict=True) if new], now)
            if self.config.lifecycle.validate_on_record and any(fresh):
                self.validator.run([e for e, new in zip(episodes, fresh, strict=True) if new], now)
        return Recorded(tuple(episodes), tuple(fresh))

    def _embed(self, texts: list[str], progress: Progress | None) -> np.ndarray:
        """The texts' vectors, in the embedder's own batches (so the result does not depend on
        whether progress is reported)."""
        if progress is None:
            return self.embedder.embed(texts)
        step = self.embedder.batch_size
        parts = []
        for start in range(0, len(texts), step):
            parts.append(self.embedder.embed(texts[start : start + step]))
            progress(min(start + step, len(texts)), len(texts))
        return np.vstack(parts)

    def _recent_vectors(self) -> np.ndarray:
        index = self._cache.sync()
        matrix = getattr(index, "matrix", None)
        if matrix is None or len(index) == 0:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.asarray(matrix[-capture.NOVELTY_WINDOW :])

    # -- awake: recall ----------------------------------------------------------------------
    def recall(
        self,
        query: str,
        k: int = 10,
        *,
        session: str | Sequence[str] | None = None,
        actor: str | Sequence[str] | None = None,
        kind: str | Sequence[str] | None = None,
        since: Any = None,
        until: Any = None,
        include_entries: bool = True,
    ) -> list[Hit]:
        """Hybrid recall of episodes and visible entries, best first."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("must be a non-empty string", field="query")
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise InvalidInput("must be a positive integer", field="k")
        flt = Filter(
            sessions=_set(session, "session"),
            actors=_set(actor, "actor"),
            kinds=_set(kind, "kind"),
            since=None if since is None else capture.parse_ts(since, "since"),
            until=None if until is None else capture.parse_ts(until, "until"),
            include_entries=include_entries,
        )
        now = self.clock()
        hits = self._recaller.recall(query, k, flt, now)
        self.uses.note(hits, now)
        return hits

    def sources(self, entry: Entry | str) -> list[Episode]:
        """The episodes an entry rests on, in its order."""
        if isinstance(entry, str):
            entry = self.entry(entry)
        got = self.store.episodes(list(entry.sources))
        return [got[s] for s in entry.sources if s in got]

    def entry(self, entry_id: str) -> Entry:
        """One entry; UnknownEntry when the store has none of that id."""
        found = self.store.entries([entry_id])
        if entry_id not in found:
            raise UnknownEntry(f"no entry {entry_id!r}", field="entry")
        return found[entry_id]

    def evidence(self, entry_id: str) -> list[EvidenceRow]:
        """The awake judgements of an entry (each episode that confirmed or refuted it), oldest
        first: its history since it was staged. UnknownEntry for an unknown id."""
        self.entry(entry_id)
        rows = self.store.evidence_for([entry_id]).get(entry_id, [])
        return sorted(rows, key=lambda r: (r.recorded_at, r.episode_id))

    def episodes(self, ids: Sequence[str]) -> list[Episode]:
        """The stored episodes of ``ids``, in their order (unknown ids left out)."""
        got = self.store.episodes(list(ids))
        return [got[i] for i in ids if i in got]

    # -- validation and the playbook ---------------------------------------------------------
    def validate(
        self, episodes: Sequence[Episode] | None = None, now: float | None = None
    ) -> ValidationReport:
        """Judge staged hypotheses and due predictions against awake episodes; with none given,
        sweep (expire stale hypotheses, lapse overdue predictions)."""
        when = self.clock() if now is None else now
        if episodes is None:
            return self.validator.sweep(when)
        return self.validator.run(episodes, when)

    @property
    def playbook(self) -> Playbook:
        """The agent's playbook: items, revisions, constraints, probes, rollback. One object per
        memory, the one the validator's ``auto`` promotion uses, so a probe registered on it runs
        on every promotion, manual or automatic."""
        return self._playbook

    def hypotheses(self, statuses: Iterable[str] = HYPOTHESIS_STATUSES) -> list[Entry]:
        """Dream-made hypotheses (entries carrying an evidence test) in ``statuses``."""
        wanted = [statuses] if isinstance(statuses, str) else list(statuses)
        unknown = [s for s in wanted if s not in HYPOTHESIS_STATUSES]
        if unknown or not wanted:
            raise InvalidInput(f"must be among {', '.join(HYPOTHESIS_STATUSES)}", field="statuses")
        return self.store.entries_matching(hypotheses_query(wanted))

    def brief(self) -> Brief | None:
        """The latest waking brief; None before any cycle returned."""
        records = self.store.journal_read(kind="brief")
        if not records:
            return None
        last = records[-1]
        return Brief(last.cycle_id, last.ts, last.payload)

    # -- pipelines and the gate --------------------------------------------------------------
    def pipeline(
        self, name: str | None = None, *, effect: str, shadow: Shadow | None = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a pipeline: ``@memory.pipeline(effect="pure" | "effectful", shadow=...)``.
        Without ``shadow``, a shadow registered through the door for this pipeline's name (its
        function's ``__name__`` by default) answers for it while dreaming."""

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            label = name if name is not None else getattr(fn, "__name__", None)
            chosen = shadow if shadow is not None else self.registry.shadows.get(str(label))
            return self.gate.pipeline(name, effect=effect, shadow=chosen)(fn)

        return decorate

    def dispatch(self, name: str, /, *args: Any, **kwargs: Any) -> DispatchResult:
        """Run a registered pipeline through the gate (the only way to run one)."""
        return self.gate.dispatch(name, *args, **kwargs)

    def mode(self) -> Mode:
        """The current execution context's mode."""
        return self.gate.mode()

    # -- dreaming ---------------------------------------------------------------------------
    def dream(
        self,
        *,
        reason: str = "manual",
        budget: CycleBudget | None = None,
        dry_run: bool = False,
        resume: bool = True,
        isolate: bool = False,
    ) -> CycleReport:
        """Run one dream cycle now (bypassing the scheduler). ``dry_run`` plans and writes nothing;
        an interrupted or crashed cycle is resumed first unless ``resume`` is False; ``isolate``
        runs the cycle in a child process with no network (raises IsolationUnavailable where that
        cannot be done: never silently unisolated)."""
        tier = (budget or self.engine.default_budget()).tier
        if self.engine.source is self.registry:  # not when a caller fixed the operations outright
            check_tier(self.config.tiers, self.registry.phases(tiers_allowed(tier)), tier)
        if not dry_run:
            self.store.refuse_write()
        if dry_run:
            return self.engine.plan(budget=budget)
        self.flush_uses()
        if isolate:
            return self._dream_isolated(reason, budget)
        return self.engine.run(reason=reason, budget=budget, resume=resume)

    def _dream_isolated(self, reason: str, budget: CycleBudget | None) -> CycleReport:
        from oneiro.dream.isolated import dream_isolated

        # Cleared when the dream ends, not when it starts: a Ctrl-C while the child starts up
        # must still wake it.
        try:
            return dream_isolated(
                self.store.path, self.config, reason, budget, bus=self.bus, wake=self._wake_child
            )
        finally:
            self._wake_child.clear()

    def should_dream(self) -> Decision:
        """Ask the scheduler whether to dream now (what ``oneiro daemon`` polls)."""
        now = self.clock()
        state = gather(self.store, now)
        return should_dream(state, now, self.config.scheduler, self.config.budget.wall_seconds)

    def wake(self) -> None:
        """Stop a running cycle at its next step boundary; it stays resumable (an isolated one
        too: the wake-up is relayed to its process)."""
        self.engine.wake()
        self._wake_child.set()

    def revert(self, cycle_id: str) -> int:
        """Undo everything a cycle wrote; its journal and every episode stay. Returns the number
        of writes undone."""
        return self.engine.revert(cycle_id)

    def forget(
        self,
        episodes: Sequence[str] = (),
        *,
        actor: str | None = None,
        session: str | None = None,
        dry_run: bool = False,
    ) -> ForgetPlan:
        """Remove episodes (named, an actor's, a session's) and what was derived from them; see
        :mod:`oneiro.forget`. ``dry_run`` returns the plan and writes nothing. Refused while a
        cycle holds the store's dream lease, since the cycle would re-derive what goes."""
        selector = Selector(tuple(episodes), actor, session)
        if dry_run:
            return plan_forget(self.store, selector, self.config.lifecycle)
        # Forgetting holds the dream lease while it works, so no cycle starts meanwhile and
        # re-derives what goes; a cycle holding it now is named in the refusal.
        holder, host = f"forget-{uuid.uuid4().hex[:12]}", socket.gethostname()
        taken, lease = self.store.lease_acquire(holder, host, os.getpid(), time.time(), FORGET_LEASE_SECONDS)
        if not taken:
            assert lease is not None
            raise InvalidInput(already_dreaming(lease, host) + "; forget once it ends", field="forget")
        try:
            forget_plan = plan_forget(self.store, selector, self.config.lifecycle)
            return apply_forget(self.store, forget_plan, self.clock())
        finally:
            self.store.lease_release(holder)

    def export(self) -> Iterator[str]:
        """The store as JSON lines (:mod:`oneiro.store.transfer`): episodes, entries with their
        lifecycle, evidence, playbook, journal. ``import_lines`` of another store reads it back
        with every hash intact."""
        return self.store.export_lines(self.embedder.name)

    def import_lines(self, lines: Iterable[str]) -> dict[str, int]:
        """Load an export into this store, which must be empty; all or nothing."""
        return self.store.import_lines(lines)

    def journal(self, cycle_id: str | None = None, *, kind: str | None = None) -> list[Record]:
        """Journal records, oldest first, optionally of one cycle or kind."""
        return self.store.journal_read(cycle_id=cycle_id, kind=kind)

    def cycles(self, limit: int = 20) -> list[CycleRow]:
        """The latest cycles, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise InvalidInput("must be a positive integer", field="limit")
        return self.store.recent_cycles(limit)

    def cycle(self, cycle_id: str) -> CycleRow:
        """One cycle; UnknownCycle when the store has none of that id."""
        row = self.store.cycle(cycle_id)
        if row is None:
            raise UnknownCycle(f"no cycle {cycle_id!r}; `oneiro journal` lists them")
        return row

    def plugins(self) -> list[Registered]:
        """Everything registered for this memory: kind, name, plugin, detail."""
        return self.registry.listing()

    def verify_journal(self) -> int:
        """Check the store file (SQLite's ``integrity_check``), then recompute the journal's hash
        chain; returns the number of records. A damaged file is a StoreError, a broken chain a
        JournalCorrupt naming the first bad record; each says what to do, so a damaged store is
        reported, never used as if it were sound."""
        check = self.store.integrity_check()
        if check != "ok":
            raise StoreError(f"the store file is damaged (integrity_check: {check[:200]}); {DAMAGED_ADVICE}")
        try:
            return self.store.journal_verify()
        except JournalCorrupt as exc:
            raise JournalCorrupt(
                f"{exc}: the journal was edited outside oneiro; {DAMAGED_ADVICE}", seq=exc.seq
            ) from None

    # -- introspection ----------------------------------------------------------------------
    def status(self) -> Status:
        """What the store holds, and the embedder its vectors were made with (:class:`Status`)."""
        cycles = self.store.recent_cycles(1)
        configured = EmbedderInfo(self.embedder.name, self.embedder.dim)
        built = self.store.built_with()
        store_embedder = configured if built is None else EmbedderInfo(built[0], built[1])
        return Status(
            store=self.store.path,
            read_only=self.store.read_only,
            schema_version=self.store.schema_version(),
            episodes=self.store.episode_count(),
            entries=dict(self.store.entry_counts()),
            embedder=store_embedder,
            last_cycle=None if not cycles else CycleInfo(cycles[0].id, cycles[0].status),
            configured_embedder=None if store_embedder == configured else configured,
        )

    def refuse_write(self) -> None:
        """Raise StoreReadOnly (saying why) when this memory's store is open read-only, so an edge
        can refuse a writing command before it starts showing progress."""
        self.store.refuse_write()

    def flush_uses(self) -> int:
        """Count the uses recall noted into the store now (a dream and closing do it too)."""
        if self.store.read_only:
            return 0
        with self.store.transaction():
            return self.uses.settle(self.store, (), self.clock())

    def close(self) -> None:
        try:
            self.flush_uses()
        finally:
            self._recaller.close()
            self.store.close()

    def __enter__(self) -> Memory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _batch(items: Iterable[Any], lines: Sequence[int] | None, limit: int) -> list[Any]:
    """The batch as a list, with its line numbers (when given) checked to match it."""
    if isinstance(items, str | bytes) or not isinstance(items, Iterable):
        raise InvalidInput(f"must be a list of records, got {type(items).__name__}", field="items")
    batch = list(items)
    if len(batch) > limit:
        raise InvalidInput(f"a batch holds at most {limit} records")
    if lines is not None and len(lines) != len(batch):
        raise InvalidInput(f"gives {len(lines)} line numbers for {len(batch)} records", field="lines")
    return batch


def _set(value: str | Sequence[str] | None, name: str) -> frozenset[str] | None:
    """A recall filter as a set of strings; anything but a string or a collection of strings is
    the caller's error (InvalidInput naming the filter), not a TypeError from deep inside."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else value
    if (
        isinstance(values, Mapping)
        or not isinstance(values, Sequence | AbstractSet)
        or not all(isinstance(v, str) for v in values)
    ):
        raise InvalidInput("must be a string or a list of strings", field=name)
    return frozenset(values)


def open_memory(
    path: str | Path | None = None,
    *,
    config: Config | None = None,
    embedder: Embedder | str | None = None,
    clock: Clock = time.time,
    overrides: dict[str, Any] | None = None,
    read_only: bool | None = None,
    preset: str | None = None,
    plugins: Sequence[object] = (),
) -> Memory:
    """Open (creating if needed) the store at ``path``; ``":memory:"`` for an in-memory store.

    ``path`` may be a store URL (``sqlite:///var/lib/agent.db``, see :mod:`oneiro.store.factory`),
    which names a store file, or a path: a store file or a state directory, told apart by
    :func:`oneiro.config.locate` (an existing file is a store file, an existing directory a state
    directory, a new path with a SQLite suffix such as ``.db`` a new store file). Without one,
    ``$ONEIRO_HOME`` (or ``~/.oneiro``) is used. A URL or a store file reads its configuration
    from ``$ONEIRO_HOME``, as a bare store file always has. ``embedder`` is an Embedder or the
    name of one (``"hashing"``, ``"minilm"``); ``overrides`` are config sections, e.g.
    ``{"recall": {"rrf_k": 30}}``. ``read_only`` True opens the store for reading only (writes
    raise StoreReadOnly); None (the default) does so only when this process may not write it.
    ``preset`` (``"nap"``, ``"night"``) is applied under the config file and the overrides. A
    ``config`` given whole cannot be combined with ``overrides``, ``preset`` or an embedder name
    (ConfigError: they would be dropped). ``plugins`` are registered for this memory alone, after
    the built-ins and the ``oneiro`` entry points (:mod:`oneiro.plugins`).
    """
    _refuse_mixed_config(config, overrides, preset, embedder)
    if isinstance(embedder, str):
        overrides = {**(overrides or {}), "embedder": {"name": embedder}}
        embedder = None
    location = Location(None, path) if isinstance(path, str) and is_url(path) else locate(path)
    if config is None:
        config = load_config(location.state_dir, preset=preset, overrides=overrides)
    registry = Registry(plugins, llm_tiers=tuple(config.tiers))
    store_path = location.store
    if location.state_dir is not None:
        check_state_dir(config.state_dir)
        store_path = str(config.store_path)
    options = StoreOptions(config.store.synchronous, config.store.busy_timeout_ms, read_only)
    store = open_store(store_path, options)
    try:
        chosen = embedder or registry.embedder(config.embedder)
        return Memory(store, chosen, config, clock, registry=registry)
    except BaseException:
        store.close()
        raise


def _refuse_mixed_config(
    config: Config | None, overrides: dict[str, Any] | None, preset: str | None, embedder: object
) -> None:
    """A whole ``config`` excludes the arguments that would build one, which it would drop."""
    if config is None:
        return
    given = [
        name
        for name, value in (("overrides", overrides), ("preset", preset))
        if value is not None
    ]
    if isinstance(embedder, str):
        given.append("embedder (a name)")
    if given:
        raise ConfigError(
            f"config= is a whole configuration; {' and '.join(given)} cannot be combined with it "
            "(put them in the Config, or pass them without config=)"
        )
