"""Dream commands: dream, journal, revert, daemon."""

from __future__ import annotations

import contextlib
import signal
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

import oneiro
from oneiro.cli.common import (
    EmbedderOption,
    HomeOption,
    PresetOption,
    config_for,
    console,
    open_memory,
    print_json,
    utc,
)
from oneiro.dream.report import CycleReport
from oneiro.events import Event
from oneiro.scheduler import Runner

#: Keys of a ``dream_progress`` event that carry progress *inside* a phase (steps done out of a
#: total), as an operation may publish them; the phase events themselves carry ``step``/``of``.
INNER_KEYS = (
    ("op_step", "ops"),
    ("chunk", "chunks"),
    ("done", "total"),
    ("current", "total"),
    ("index", "count"),
)


ISOLATE_NOTE = (
    "dreaming in a sandbox: no network, no unix sockets, no files but the store's (Ctrl-C wakes it)"
)


class DreamProgress:
    """Live progress of a dream, from the bus's ``mode_change`` and ``dream_progress`` events:
    a bar over the phases, a second one over the steps inside the running phase when the cycle
    reports them, and one line per finished phase. The events may come from the cycle's thread or
    (``--isolate``) from the thread relaying the child's; rich's progress is thread-safe."""

    def __init__(self, out: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=True,
        )
        self.phases: TaskID | None = None
        self.steps: TaskID | None = None

    def __enter__(self) -> DreamProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def __call__(self, event: Event) -> None:
        p = event.payload
        if event.kind == "mode_change":
            self.progress.console.print(f"[dim]mode -> {p.get('mode')} ({p.get('cycle_id')})[/dim]")
        elif event.kind == "dream_progress" and isinstance(p.get("phase"), str):
            self._phase_event(p)

    def _phase_event(self, p: dict[str, Any]) -> None:
        phase, state = str(p["phase"]).upper(), p.get("state")
        step, of = _int(p.get("step")), _int(p.get("of"))
        if self.phases is None:
            self.phases = self.progress.add_task("dream", total=of or None)
        if state == "start":
            self.progress.update(self.phases, description=phase, completed=max(step - 1, 0))
            self._inner(phase, 0, None)
        elif state == "done":
            self.progress.update(self.phases, completed=step)
            writes = {k: v for k, v in (p.get("writes") or {}).items() if v and "." not in k}
            self.progress.console.print(f"  [{step}/{of}] {phase:<12} done  {writes or ''}")
        else:
            for done_key, total_key in INNER_KEYS:
                if done_key in p and total_key in p:
                    self._inner(
                        f"  {phase} {p.get('operation') or state or ''}".rstrip(),
                        _int(p[done_key]),
                        _int(p[total_key]),
                    )
                    break

    def _inner(self, description: str, done: int, total: int | None) -> None:
        if self.steps is None:
            self.steps = self.progress.add_task(description, total=total, visible=total is not None)
        self.progress.update(
            self.steps, description=description, completed=done, total=total, visible=total is not None
        )


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def print_report(report: CycleReport) -> None:
    table = Table("phase", "operations", "did", "writes", "left", "s", title=f"cycle {report.cycle_id}")
    for ph in report.phases:
        did = ", ".join(f"{k}={v}" for k, v in ph.did.items()) or ph.note
        writes = ", ".join(f"{k}={v}" for k, v in ph.writes.items() if v)
        left = ", ".join(f"{k}={v}" for k, v in ph.left.items())
        table.add_row(ph.phase, ", ".join(ph.operations) or "-", did, writes, left, f"{ph.seconds:.2f}")
    console.print(table)
    console.print(
        f"status: {report.status}; new episodes: {report.new_episodes}; {report.seconds:.1f} s"
        + ("; resumed" if report.resumed else "")
        + ("; DRY RUN: nothing written" if report.dry_run else "")
    )


#: Cycles ``oneiro journal`` lists, newest first.
JOURNAL_CYCLES = 50


def register(app: typer.Typer) -> None:
    @app.command()
    def dream(
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan the cycle; write nothing.")] = False,
        isolate: Annotated[
            bool,
            typer.Option(
                "--isolate", help="Dream in a sandbox: no network, no unix sockets, no files but the store's."
            ),
        ] = False,
        seconds: Annotated[float | None, typer.Option(help="Wall-clock budget in seconds.")] = None,
        tier: Annotated[
            str | None,
            typer.Option(help="T0 (no LLM), T1 or T2 (these call the [tiers.*] endpoint of oneiro.toml)."),
        ] = None,
        tokens: Annotated[int | None, typer.Option(help="LLM token budget of the cycle (T1, T2).")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        home: HomeOption = None,
        embedder: EmbedderOption = None,
        preset: PresetOption = None,
    ) -> None:
        """Dream now (bypasses the scheduler), with progress per phase."""
        from oneiro.dream.budget import CycleBudget
        from oneiro.llm.tiers import cycle_budget

        # A bad budget, or a tier with no endpoint, is refused before the store is opened, so it
        # cannot even create one.
        if seconds is not None:
            CycleBudget(seconds)
        config = config_for(home, embedder, preset)
        budget = cycle_budget(config, seconds=seconds, tier=tier, tokens=tokens)
        with oneiro.open(config.state_dir, config=config) as memory, contextlib.ExitStack() as stack:
            if not dry_run:
                memory.refuse_write()
            if not as_json:
                memory.bus.subscribe(stack.enter_context(DreamProgress(console)))
            previous = signal.signal(signal.SIGINT, lambda *_: memory.wake())
            if isolate and not dry_run and not as_json:
                console.print(f"[dim]{ISOLATE_NOTE}[/dim]")
            try:
                report = memory.dream(reason="cli", budget=budget, dry_run=dry_run, isolate=isolate)
            finally:
                signal.signal(signal.SIGINT, previous)
        if as_json:
            print_json(report.to_dict())
        else:
            print_report(report)

    @app.command()
    def journal(
        cycle: Annotated[str | None, typer.Argument(help="Show this cycle in full.")] = None,
        verify: Annotated[bool, typer.Option("--verify", help="Recompute the hash chain.")] = False,
        as_json: Annotated[bool, typer.Option("--json")] = False,
        home: HomeOption = None,
    ) -> None:
        """List cycles, or show one cycle's journal in full."""
        with open_memory(home) as memory:
            if verify:
                n = memory.verify_journal()
                console.print(f"journal verified: {n} records, hash chain intact")
                return
            if cycle is None:
                rows = memory.cycles(JOURNAL_CYCLES)
                if as_json:
                    print_json([r.__dict__ for r in rows])
                    return
                # Whole ids (what `oneiro revert` takes) and UTC times, never cut or wrapped.
                table = Table(box=None, pad_edge=False, header_style="bold")
                for name in ("cycle", "status", "reason", "last phase", "started (UTC)", "new"):
                    table.add_column(
                        name, no_wrap=name in ("cycle", "status", "started (UTC)"), overflow="fold"
                    )
                for r in rows:
                    span = int(r.checkpoint.get("to_rowid", 0)) - int(r.checkpoint.get("from_rowid", 0))
                    table.add_row(r.id, r.status, r.reason, r.phase or "-", utc(r.started_at), str(span))
                console.print(table)
                return
            memory.cycle(cycle)  # UnknownCycle, naming it, when the store has none of that id
            records = memory.journal(cycle)
        if as_json:
            print_json([r.__dict__ for r in records])
            return
        for rec in records:
            console.print(
                f"[bold]#{rec.seq}[/bold] {rec.kind:<16} {rec.phase or '':<12} {_short(rec.payload)}"
            )

    @app.command()
    def revert(
        cycle: Annotated[str, typer.Argument(help="The cycle to undo.")], home: HomeOption = None
    ) -> None:
        """Undo everything a cycle wrote (entries, statuses, revisions, predictions); keep its journal."""
        with open_memory(home) as memory:
            undone = memory.revert(cycle)
        console.print(f"reverted {cycle}: {undone} writes undone")

    @app.command()
    def daemon(
        once: Annotated[bool, typer.Option("--once", help="Poll once and exit.")] = False,
        home: HomeOption = None,
        preset: PresetOption = None,
    ) -> None:
        """Poll the scheduler and dream when it says so (Ctrl-C or SIGTERM stops it)."""
        with open_memory(home, preset=preset) as memory:

            def decide() -> Any:
                decision = memory.should_dream()
                console.print(f"scheduler: {'dream' if decision.dream else 'wait'} ({decision.reason})")
                return decision

            def run(decision: Any) -> None:
                print_report(memory.dream(reason=f"scheduler: {decision.reason}", budget=decision.budget))

            runner = Runner(decide, run, memory.config.scheduler.poll_seconds)

            def stop(*_: object) -> None:
                runner.stop()
                memory.wake()

            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, stop)
            runner.run(max_polls=1 if once else None)


def _short(payload: dict[str, Any], limit: int = 160) -> str:
    text = ", ".join(f"{k}={v}" for k, v in payload.items() if v not in ({}, [], "", None))
    return text if len(text) <= limit else text[: limit - 1] + "…"
