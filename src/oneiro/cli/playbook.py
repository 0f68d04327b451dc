"""Commands for what dreams propose and what reality decides: hypotheses, playbook, brief."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from oneiro.cli.common import HomeOption, console, open_memory, print_json
from oneiro.constraints import load_constraints
from oneiro.errors import InvalidInput
from oneiro.playbook import Playbook, RevisionStatus, render
from oneiro.validation import DAY

HYPOTHESIS_STATUSES = ("staged", "validated", "refuted", "expired")
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ByOption = Annotated[str, typer.Option("--by", help="Who decides (kept with the revision).")]

playbook_app = typer.Typer(help="The playbook: show it, review revisions, approve, reject, roll back.")


def _hypotheses(home: Path | None, status: str | None) -> list[dict[str, Any]]:
    wanted = (status,) if status else HYPOTHESIS_STATUSES
    with open_memory(home) as memory:
        now = memory.clock()
        found = memory.hypotheses(wanted)
    return [
        {
            "id": e.id,
            "kind": e.kind,
            "status": e.status.value,
            "confidence": round(e.confidence, 3),
            "confirmations": e.confirmations,
            "refutations": e.refutations,
            "age_days": round((now - e.created_at) / DAY, 2),
            "cycle_id": e.cycle_id,
            "text": e.text,
        }
        for e in found
    ]


def _revision_row(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "status": r.status.value,
        "op": r.op,
        "item": r.item_id,
        "section": r.section,
        "text": r.text,
        "params": r.params,
        "reason": r.reason,
        "evidence": list(r.evidence),
        "proposed_by": r.proposed_by,
        "decided_by": r.decided_by,
        "decision": r.decision,
    }


def register(app: typer.Typer) -> None:
    @app.command()
    def hypotheses(
        status: Annotated[str | None, typer.Option(help="staged, validated, refuted or expired.")] = None,
        as_json: JsonOption = False,
        home: HomeOption = None,
    ) -> None:
        """Dream-made hypotheses with their confidence, confirmations and age."""
        if status is not None and status not in HYPOTHESIS_STATUSES:
            raise InvalidInput(f"must be one of {', '.join(HYPOTHESIS_STATUSES)}", field="status")
        rows = _hypotheses(home, status)
        if as_json:
            print_json(rows)
            return
        table = Table("id", "kind", "status", "conf", "confirm", "refute", "age (d)", "text")
        for r in rows:
            table.add_row(
                r["id"][:12],
                r["kind"],
                r["status"],
                f"{r['confidence']:.2f}",
                str(r["confirmations"]),
                str(r["refutations"]),
                f"{r['age_days']:.1f}",
                r["text"],
            )
        console.print(table if rows else "no hypotheses")

    @app.command()
    def brief(as_json: JsonOption = False, home: HomeOption = None) -> None:
        """The latest waking brief (from the journal)."""
        with open_memory(home) as memory:
            records = memory.store.journal_read(kind="brief")
        if not records:
            console.print("no brief yet: a brief is written when a dream returns")
            return
        payload = records[-1].payload
        if as_json:
            print_json(payload)
        else:
            console.print(payload.get("markdown", ""), markup=False)

    @playbook_app.command("show")
    def show(as_json: JsonOption = False, home: HomeOption = None) -> None:
        """The active playbook (PLAYBOOK.md), then the revisions waiting for a decision."""
        with open_memory(home) as memory:
            pb = Playbook(memory.store, clock=memory.clock)
            items, pending, policy = pb.items(), pb.revisions(RevisionStatus.PROPOSED), pb.policy
            constraints = pb.constraints()
        if as_json:
            print_json(
                {
                    "policy": policy,
                    "markdown": render(items),
                    "items": [i.as_dict() for i in items],
                    "pending": [_revision_row(r) for r in pending],
                    "constraints": [{"name": c.name, "kind": c.kind, **c.spec} for c in constraints],
                }
            )
            return
        console.print(render(items), markup=False)
        console.print(f"policy: {policy}; constraints: {', '.join(c.name for c in constraints) or 'none'}")
        for r in pending:
            console.print(f"pending {r.id}: {r.op} {r.item_id}: {r.reason}", markup=False)

    @playbook_app.command("diff")
    def diff_cmd(
        revision: Annotated[
            str | None, typer.Argument(help="Revision id (default: every pending one).")
        ] = None,
        home: HomeOption = None,
    ) -> None:
        """The unified diff a revision makes to PLAYBOOK.md."""
        with open_memory(home) as memory:
            pb = Playbook(memory.store, clock=memory.clock)
            revs = [pb.revision(revision)] if revision else pb.revisions(RevisionStatus.PROPOSED)
            for r in revs:
                text = pb.candidate(r.id).diff if r.status == RevisionStatus.PROPOSED else r.diff
                console.print(f"# {r.id} ({r.status.value}): {r.reason}\n{text}", markup=False)
        if not revs:
            console.print("no pending revisions")

    @playbook_app.command("approve")
    def approve(revision: str, by: ByOption = "user", home: HomeOption = None) -> None:
        """Probe a pending revision's candidate and make it active."""
        with open_memory(home) as memory:
            r = Playbook(memory.store, clock=memory.clock).approve(revision, by=by)
        console.print(f"{r.id} is active (validated sha256 {r.validated_sha})")

    @playbook_app.command("reject")
    def reject(
        revision: str,
        reason: Annotated[str, typer.Option(help="Why (kept with the revision).")] = "rejected",
        by: ByOption = "user",
        home: HomeOption = None,
    ) -> None:
        """Reject a pending revision."""
        with open_memory(home) as memory:
            r = Playbook(memory.store, clock=memory.clock).reject(revision, by=by, reason=reason)
        console.print(f"{r.id} rejected")

    @playbook_app.command("rollback")
    def rollback(by: ByOption = "user", home: HomeOption = None) -> None:
        """Restore the playbook as it was before the last activated revision."""
        with open_memory(home) as memory:
            r = Playbook(memory.store, clock=memory.clock).rollback(by=by)
        console.print(f"{r.id} rolled back")

    @playbook_app.command("constraints")
    def constraints(
        load: Annotated[Path | None, typer.Option(help="A TOML file of [[constraint]] tables.")] = None,
        replace: Annotated[
            bool,
            typer.Option("--replace", help="Let --load loosen a constraint of the same name (journaled)."),
        ] = False,
        home: HomeOption = None,
    ) -> None:
        """List the constraints no revision may break; --load adds them from a file."""
        if load is not None:
            load_constraints(load)  # a bad file is refused before the store is opened
        with open_memory(home) as memory:
            pb = Playbook(memory.store, clock=memory.clock)
            if load is not None:
                pb.load_constraints(load, replace=replace)
            known = pb.constraints()
        for c in known:
            console.print(f"{c.name} ({c.kind}): {c.spec}", markup=False)
        if not known:
            console.print("no constraints")

    @playbook_app.command("policy")
    def policy(
        value: Annotated[str | None, typer.Argument(help="manual or auto (omit to show).")] = None,
        home: HomeOption = None,
    ) -> None:
        """Show or set who activates revisions: a person (manual) or validated evidence (auto)."""
        with open_memory(home) as memory:
            pb = Playbook(memory.store, clock=memory.clock)
            if value is not None:
                pb.set_policy(value)
            console.print(f"policy: {pb.policy}")

    app.add_typer(playbook_app, name="playbook")
