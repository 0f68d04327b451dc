"""Awake commands: init, record, recall, status."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress as RichProgress
from rich.table import Table

from oneiro import capture
from oneiro.cli.common import (
    EmbedderOption,
    HomeOption,
    config_for,
    console,
    err_console,
    open_memory,
    print_json,
)
from oneiro.config import CONFIG_FILENAME, state_dir_from_env
from oneiro.errors import InvalidInput
from oneiro.memory import Progress
from oneiro.model import Entry
from oneiro.service.token import ensure_token_file


def read_jsonl(data: bytes, source: str) -> tuple[list[Any], list[int]]:
    """Parse JSON lines; an undecodable or malformed line is an error naming it. Blank lines skip."""
    records: list[Any] = []
    lines: list[int] = []
    for number, raw in enumerate(data.splitlines(), 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(f"{source}: not valid UTF-8", line=number) from None
        if not text.strip():
            continue
        try:
            records.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{source}: broken JSON ({exc.msg} at column {exc.colno})", line=number
            ) from None
        lines.append(number)
    return records, lines


#: A file of at least this many records shows a progress bar (on a terminal only).
PROGRESS_MIN_RECORDS = 1_000


def read_source(file: Path | None) -> tuple[bytes, str]:
    """The bytes of a JSON lines file, or of stdin for None or '-'; InvalidInput naming the path
    for anything that cannot be read as a file (missing, a directory, a device, no permission)."""
    if file is None or str(file) == "-":
        return sys.stdin.buffer.read(), "stdin"
    if not file.exists():
        raise InvalidInput(f"file {file} does not exist")
    if file.is_dir():
        raise InvalidInput(f"{file} is a directory; give a JSON lines file (or '-' for stdin)")
    try:
        return file.read_bytes(), str(file)
    except OSError as exc:
        raise InvalidInput(f"file {file} cannot be read: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    @app.command()
    def init(home: HomeOption = None, embedder: EmbedderOption = None) -> None:
        """Create the state directory and its store (safe to run twice)."""
        root = home or state_dir_from_env()
        config = config_for(root, embedder)  # refuses a bad --home or --embedder before any write
        config_file = root / CONFIG_FILENAME
        root.mkdir(parents=True, exist_ok=True)
        if embedder and not config_file.exists():
            config_file.write_text(f'[embedder]\nname = "{config.embedder.name}"\n', encoding="utf-8")
        with open_memory(root) as memory:
            status = memory.status()
        token = ensure_token_file(config.state_dir)  # what `oneiro serve` asks of a write
        console.print(
            f"store ready: {status.store} (schema {status.schema_version}, {status.episodes} episodes)"
        )
        console.print(f"service token: {token}", markup=False)

    @app.command()
    def record(
        file: Annotated[Path | None, typer.Argument(help="JSON lines file; '-' or none for stdin.")] = None,
        home: HomeOption = None,
        embedder: EmbedderOption = None,
    ) -> None:
        """Record episodes from JSON lines (one object per line). All lines or none are stored."""
        data, source = read_source(file)
        records, lines = read_jsonl(data, source)
        if not records:
            raise InvalidInput(f"{source}: no records")
        # Validate before opening: a bad file must not even create the store.
        limits = config_for(home, embedder).capture
        for raw, line in zip(records, lines, strict=True):
            capture.validate(raw, limits, 0.0, line)
        with open_memory(home, embedder) as memory, _progress(len(records)) as progress:
            result = memory.record_batch(records, lines=lines, progress=progress)
        n = len(result.episodes)
        console.print(
            f"recorded {n} episode{'s' if n != 1 else ''}: {result.new_count} new, "
            f"{result.duplicates} already stored"
        )

    @app.command()
    def recall(
        query: Annotated[str, typer.Argument(help="What to recall.")],
        k: Annotated[int, typer.Option("-k", help="How many results.")] = 10,
        session: Annotated[str | None, typer.Option(help="Only this session.")] = None,
        actor: Annotated[str | None, typer.Option(help="Only this actor.")] = None,
        kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        home: HomeOption = None,
        embedder: EmbedderOption = None,
    ) -> None:
        """Hybrid recall over episodes and consolidated knowledge."""
        with open_memory(home, embedder) as memory:
            hits = memory.recall(query, k, session=session, actor=actor, kind=kind)
        if as_json:
            print_json(
                [
                    {
                        "id": h.id,
                        "type": "entry" if h.is_entry else "episode",
                        "score": round(h.score, 4),
                        "text": h.item.text,
                        "sources": list(h.sources),
                    }
                    for h in hits
                ]
            )
            return
        table = Table("#", "score", "what", "text")
        for rank, h in enumerate(hits, 1):
            what = (
                f"{h.item.kind} (dream, {h.item.confidence:.2f})"
                if isinstance(h.item, Entry)
                else f"{h.item.actor or h.item.kind}"
            )
            table.add_row(str(rank), f"{h.score:.3f}", what, h.item.text)
        console.print(table)

    @app.command()
    def status(as_json: Annotated[bool, typer.Option("--json")] = False, home: HomeOption = None) -> None:
        """What the store holds, and the embedder its vectors were made with."""
        with open_memory(home) as memory:
            info = memory.status().to_dict()
        if as_json:
            print_json(info)
            return
        for key, value in info.items():
            if key == "embedder":
                value = f"{value['name']} ({value['dim']} dimensions)"
            elif key == "configured_embedder":
                key = "configured embedder"
                value = (
                    f"{value['name']} ({value['dim']} dimensions): differs from the store's, which refuses it"
                )
            console.print(f"[bold]{key}[/bold]: {escape(str(value))}")


@contextmanager
def _progress(total: int) -> Iterator[Progress | None]:
    """A progress bar on stderr for a large file, only when stderr is a terminal (pipes, logs and
    tests stay clean); None otherwise."""
    if total < PROGRESS_MIN_RECORDS or not err_console.is_terminal:
        yield None
        return
    with RichProgress(console=err_console, transient=True) as bar:
        task = bar.add_task("embedding", total=total)

        def advance(done: int, of: int) -> None:
            bar.update(task, completed=done, total=of)

        yield advance
