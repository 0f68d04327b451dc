"""The SQLite store's predictions, evidence, dispatches and playbook: the protocol methods over the
row modules, split from :mod:`oneiro.store.sqlite` to keep each module one concern.

Each method runs on this thread's connection, so inside an open transaction or snapshot it joins
it; a write outside one opens its own write transaction. Undo logging happens here, in the store:
a row a cycle writes (``cycle_id`` given) is logged so reverting the cycle removes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from oneiro.model import Entry
from oneiro.store import dispatches, entries, evidence, playbook, predictions
from oneiro.store.db import Database
from oneiro.store.dispatches import DispatchRow
from oneiro.store.evidence import EvidenceRow, Grounds
from oneiro.store.predictions import PredictionRow
from oneiro.store.protocol import Dispatch
from oneiro.store.query import EntryQuery

if TYPE_CHECKING:
    from oneiro.constraints import Constraint
    from oneiro.dream.writes import Prediction
    from oneiro.playbook import Item, Revision, RevisionStatus


class RowMethods:
    """Mixed into :class:`~oneiro.store.sqlite.SQLiteStore`, which owns ``db``."""

    db: Database

    # -- predictions ------------------------------------------------------------------------
    def add_predictions(self, batch: Sequence[Prediction], cycle_id: str) -> None:
        """Store a cycle's predictions, undo-logged (ids already stored are kept as they are)."""
        with self.db.write() as conn:
            predictions.insert(conn, batch, cycle_id)

    def predictions(self, status: str | None = None) -> list[PredictionRow]:
        """Predictions of returned cycles (or made awake), by checkpoint, optionally by status."""
        return predictions.select(self.db.conn(), status)

    def resolve_prediction(self, prediction_id: str, status: str, by: str | None, at: float) -> None:
        """Close an open prediction (a resolved one is left as it is)."""
        with self.db.write() as conn:
            predictions.resolve(conn, prediction_id, status, by, at)

    # -- evidence ---------------------------------------------------------------------------
    def add_evidence(self, row: EvidenceRow) -> bool:
        """Store one judgement unless its (entry, episode) pair is judged already; True if new."""
        with self.db.write() as conn:
            return evidence.insert(conn, row)

    def evidence_grounds(self, entry_id: str) -> Grounds:
        return evidence.grounds(self.db.conn(), entry_id)

    def testable_hypotheses(self) -> list[Entry]:
        return evidence.testable(self.db.conn())

    def expirable_entries(self, now: float, expiry_seconds: float) -> list[Entry]:
        return evidence.expirable(self.db.conn(), now, expiry_seconds)

    # -- dispatches -------------------------------------------------------------------------
    def record_dispatch(self, dispatch: Dispatch) -> int:
        """Append one dispatch row; return its ``seq``."""
        with self.db.write() as conn:
            return dispatches.insert(
                conn,
                ts=dispatch.ts,
                mode=dispatch.mode,
                pipeline=dispatch.pipeline,
                effect=dispatch.effect,
                status=dispatch.status,
                request_hash=dispatch.request_hash,
                request=dispatch.request,
                response=dispatch.response,
                error=dispatch.error,
                cycle_id=dispatch.cycle_id,
            )

    def latest_dispatch(self, pipeline: str, request_hash: str) -> DispatchRow | None:
        """The newest replayable dispatch of ``pipeline`` for this request (see
        :func:`oneiro.store.dispatches.latest_replayable`)."""
        with self.db.read() as conn:
            return dispatches.latest_replayable(conn, pipeline, request_hash)

    def recent_dispatches(
        self, *, pipeline: str | None = None, mode: str | None = None, limit: int = 100
    ) -> list[DispatchRow]:
        with self.db.read() as conn:
            return dispatches.recent(conn, pipeline=pipeline, mode=mode, limit=limit)

    def dispatch_count(self, *, pipeline: str | None = None, mode: str | None = None) -> int:
        return dispatches.count(self.db.conn(), pipeline=pipeline, mode=mode)

    # -- the playbook -----------------------------------------------------------------------
    def playbook_items(self) -> list[Item]:
        """The active playbook's items, in order."""
        return playbook.items(self.db.conn())

    def replace_playbook_items(self, items: Sequence[Item]) -> None:
        with self.db.write() as conn:
            playbook.replace_items(conn, items)

    def count_item_use(self, item_id: str, *, helpful: int = 0, harmful: int = 0) -> bool:
        with self.db.write() as conn:
            return playbook.count_use(conn, item_id, helpful=helpful, harmful=harmful)

    def credit_item(self, item_id: str, helpful: int, harmful: int, cycle_id: str) -> bool:
        """Add a cycle's credit to an item's counters, undo-logged; False if there is no such item."""
        with self.db.write() as conn:
            return playbook.credit(conn, item_id, helpful, harmful, cycle_id)

    def playbook_revision(self, revision_id: str) -> Revision | None:
        return playbook.revision(self.db.conn(), revision_id)

    def playbook_revisions(self, *statuses: str) -> list[Revision]:
        """Revisions in proposal order, optionally only those in ``statuses``."""
        return playbook.revisions(self.db.conn(), *statuses)

    def last_active_revision(self) -> tuple[Revision, list[Item]] | None:
        return playbook.last_active(self.db.conn())

    def add_revision(self, revision: Revision, cycle_id: str | None = None) -> bool:
        """Store a revision unless its id is stored; True when new (undo-logged for a cycle)."""
        with self.db.write() as conn:
            return playbook.insert_revision(conn, revision, cycle_id)

    def set_revision_validated(self, revision_id: str, sha: str, probes: dict[str, Any]) -> None:
        with self.db.write() as conn:
            playbook.set_validated(conn, revision_id, sha, probes)

    def decide_revision(
        self,
        revision_id: str,
        status: RevisionStatus,
        *,
        by: str,
        at: float,
        decision: str,
        before: Sequence[Item] | None = None,
    ) -> None:
        with self.db.write() as conn:
            playbook.decide(conn, revision_id, status, by=by, at=at, decision=decision, before=before)

    def constraints(self) -> list[Constraint]:
        return playbook.constraints(self.db.conn())

    def put_constraint(self, constraint: Constraint, now: float) -> None:
        with self.db.write() as conn:
            playbook.put_constraint(conn, constraint, now)

    def playbook_dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every playbook row, for audits that must show nothing changed."""
        with self.db.read() as conn:
            return playbook.dump(conn)

    # -- entries by typed query -------------------------------------------------------------
    def entries_matching(self, query: EntryQuery) -> list[Entry]:
        """The entries an :class:`~oneiro.store.query.EntryQuery` asks for, oldest first."""
        return entries.select(self.db.conn(), query)
