"""Every error oneiro raises on purpose, under one root.

The tree::

    OneiroError
    ├── ConfigError                  a bad oneiro.toml, preset or setting
    ├── InvalidInput                 a record, query or file the caller must fix (names field/line)
    │   └── UnknownEntry             an entry id the store does not know
    ├── StoreError
    │   ├── SchemaTooNew             the store was written by a newer oneiro
    │   ├── MigrationError           a migration failed; the store is left at the last good version
    │   ├── DimensionMismatch        a vector whose dimension differs from the store's
    │   ├── NotAStore                not SQLite, or another program's SQLite database (never migrated)
    │   ├── StorePathError           a path that cannot hold a store (a device, a file given as --home)
    │   └── StoreReadOnly            a write to a store that is open read-only
    ├── BackendError                 an embedder or LLM backend failed or is not installed
    ├── GateError
    │   ├── PipelineRegistrationError  unclassified, duplicate or malformed pipeline
    │   ├── UnknownPipeline          dispatch of a name nobody registered
    │   ├── EffectGateViolation      an effectful function called while dreaming
    │   ├── IsolationUnavailable     OS-level isolation asked for but not possible here
    │   └── IsolatedRunFailed        the isolated child raised, timed out, or died without a result
    ├── CycleError
    │   ├── CycleRunning             a second cycle on a store where one is running
    │   │   └── LeaseLost            a running cycle's lease lapsed and another cycle took the store
    │   ├── UnknownCycle             a cycle id the store does not know
    │   ├── CycleStateError          e.g. reverting a cycle twice
    │   └── BudgetError              a zero or malformed budget
    ├── JournalCorrupt               verify() found an edited, dropped or reordered record
    ├── PlaybookError
    │   ├── ConstraintViolation      a revision would break a constraint
    │   └── RevisionError            unknown, already-decided or conflicting revision
    │       └── UnknownRevision      a revision id the store does not know
    └── BenchDataError               a benchmark data file that is missing or malformed

Messages say what went wrong and what to do about it; callers catch the narrowest leaf they can
handle and let the rest reach the user.
"""

from __future__ import annotations


class OneiroError(Exception):
    """Root of every error oneiro raises on purpose."""


class ConfigError(OneiroError):
    """The configuration file or a setting is invalid."""


class InvalidInput(OneiroError):
    """Caller input is invalid; nothing was written.

    ``field`` names the offending field and ``line`` the 1-based line of a JSONL source, when known.
    """

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None) -> None:
        where = []
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field '{field}'")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)
        self.field = field
        self.line = line


class UnknownEntry(InvalidInput):
    """No entry with that id exists in this store."""


class StoreError(OneiroError):
    """The store cannot be opened, read or written as asked."""


class SchemaTooNew(StoreError):
    """The store's schema is newer than this version of oneiro understands."""


class MigrationError(StoreError):
    """A migration failed and was rolled back."""


class DimensionMismatch(StoreError):
    """A vector's dimension or model differs from the one the store was built with."""


class NotAStore(StoreError):
    """The file is not a SQLite database, or is one that oneiro did not make.

    A foreign database is refused rather than migrated: migrating would add oneiro's tables to
    another program's file.
    """


class StorePathError(StoreError):
    """The path cannot hold a store: a device or pipe, a file where a state directory belongs, a
    directory where a store file belongs, or a location the process may not create."""


class StoreReadOnly(StoreError):
    """A write was asked of a store opened read-only (its file or directory is not writable, or it
    was opened with ``read_only=True``). Reads keep working."""


class BackendError(OneiroError):
    """A backend (embedder, LLM) failed or its optional dependency is missing."""


class GateError(OneiroError):
    """Base for pipeline registration and dispatch errors."""


class PipelineRegistrationError(GateError):
    """A pipeline was registered without a valid effect class, twice, or with a bad shadow."""


class UnknownPipeline(GateError):
    """Dispatch named a pipeline nobody registered."""


class EffectGateViolation(GateError):
    """An effectful pipeline's function was called while the current context is dreaming."""


class IsolationUnavailable(GateError):
    """OS-level isolation was requested but cannot be provided on this machine."""


class IsolatedRunFailed(GateError):
    """Work run in an isolated child raised, timed out, or died without a result."""


class CycleError(OneiroError):
    """Base for dream cycle errors."""


class CycleRunning(CycleError):
    """Another cycle is running on this store."""


class LeaseLost(CycleRunning):
    """The running cycle's dream lease lapsed and another cycle took the store; the first one
    stops without writing anything more (what it left is the new holder's to resume or revert)."""


class UnknownCycle(CycleError):
    """No cycle with that id exists in this store."""


class CycleStateError(CycleError):
    """The cycle is not in a state that allows the operation (e.g. already reverted)."""


class BudgetError(CycleError):
    """The budget is zero, negative or malformed."""


class JournalCorrupt(OneiroError):
    """The journal's hash chain does not verify; ``seq`` names the first bad record."""

    def __init__(self, message: str, *, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


class PlaybookError(OneiroError):
    """Base for playbook errors."""


class ConstraintViolation(PlaybookError):
    """A playbook revision would change or break a constraint."""


class RevisionError(PlaybookError):
    """The revision is unknown, already decided, or conflicts with another."""


class UnknownRevision(RevisionError):
    """No playbook revision with that id exists in this store."""


class BenchDataError(OneiroError):
    """A benchmark data file is missing or not in the expected format."""
