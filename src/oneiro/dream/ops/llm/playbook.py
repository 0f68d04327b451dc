"""Playbook rewriting at T2, in INTEGRATION (an alternative to the T0 revision proposals, which
still run): the LLM reads the active playbook and the hypotheses awake evidence has begun to
confirm (at or above the confidence floor) and proposes item deltas (add, edit, remove), each
with its reason and its evidence. A delta is only ever a proposal: the playbook checks it against
the constraints and the store's policy decides, awake.

What can enter, because this text becomes rules the agent reads:

- a delta citing none of the confirmed hypotheses it was shown never enters (dream output never
  confirms dream output: only entries awake evidence raised to the floor may motivate a rule);
- an edit or removal of an item that does not exist never enters;
- the section is screened as a label and the text as a rule (:mod:`oneiro.screen`); text a
  poisoning signature matches, or the screen refuses, is journaled as ``revision_screened`` by
  its hash and features, never by its words, and never proposed.
"""

from __future__ import annotations

from typing import Any

from oneiro.dream.ops.llm.common import LLMOperation, cited, handles
from oneiro.dream.ops.poisoning import signatures
from oneiro.dream.ops.revision_proposals import HEURISTICS, SCREENED_HASH_HEX, PlaybookView
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, RevisionProposal
from oneiro.llm.backend import LLMBackend, LLMError
from oneiro.llm.prompts import PLAYBOOK_VERSION, Delta, Deltas, playbook_messages
from oneiro.model import EntryStatus, Tier, content_hash
from oneiro.playbook import Item, new_item_id
from oneiro.screen import MAX_RULE_CHARS, normalise, screen_label, screen_rule
from oneiro.store.query import EntryQuery

#: Confirmed hypotheses shown per request, the most confident first.
PLAYBOOK_EVIDENCE = 30


class Refused(Exception):
    def __init__(self, why: str, features: tuple[str, ...] = ()) -> None:
        super().__init__(why)
        self.why, self.features = why, features


class LLMPlaybookRewrite(LLMOperation):
    name = "llm_playbook"
    tier = Tier.T2
    version = PLAYBOOK_VERSION

    def __init__(self, backend: LLMBackend | None = None, limit: int = PLAYBOOK_EVIDENCE) -> None:
        super().__init__(backend)
        self.limit = limit

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        out = Outcome()
        evidence = snap.entries_matching(
            EntryQuery(
                statuses=(EntryStatus.STAGED, EntryStatus.VALIDATED),
                min_confidence=ctx.config.lifecycle.confidence_floor,
                data_lacks=("quarantine",),
            )
        )
        evidence = sorted(evidence, key=lambda e: -e.confidence)[: self.limit]
        if not evidence:
            return out
        items = {i.id: i for i in snap.playbook_items()} if isinstance(snap, PlaybookView) else {}
        book = [(i.id, i.section, i.text) for i in items.values()]
        shown = handles([e.id for e in evidence], prefix="e")
        text = {e.id: e.text for e in evidence}
        try:
            value, answer = self.ask(
                playbook_messages(book, [(h, text[i]) for h, i in shown.items()]), Deltas, ctx
            )
        except LLMError as exc:
            return self.fallback(out, exc)
        refused: dict[str, int] = {}
        for delta in value.deltas:
            try:
                out.writes.revisions.append(self._proposal(delta, items, shown, answer.prompt_hash))
            except Refused as no:
                refused[no.why] = refused.get(no.why, 0) + 1
                if no.features:
                    out.writes.notes.append(Note("revision_screened", self._screened(delta, no)))
        self.called(out, answer, proposed=len(out.writes.revisions), refused=refused)
        out.did["proposed"] = len(out.writes.revisions)
        out.did.update({f"refused_{k}": n for k, n in refused.items()})
        return out

    def _proposal(
        self, delta: Delta, items: dict[str, Item], shown: dict[str, str], prompt: str
    ) -> RevisionProposal:
        evidence = cited(delta.evidence, shown)
        if not evidence:
            raise Refused("uncited")
        reason = normalise(delta.reason)[:MAX_RULE_CHARS] + f" (llm, prompt {prompt[:SCREENED_HASH_HEX]})"
        if delta.op == "remove" or delta.op == "edit":
            item = items.get(delta.item or "")
            if item is None:
                raise Refused("unknown_item")
            if delta.op == "remove":
                return RevisionProposal("remove", item.section, item.text, reason, item.id, evidence=evidence)
            text = self._rule(delta.text)
            if text == item.text:
                raise Refused("unchanged")
            return RevisionProposal("edit", item.section, text, reason, item.id, evidence=evidence)
        section = screen_label(delta.section or HEURISTICS)
        if not section.ok:
            raise Refused("screened", section.refused)
        text = self._rule(delta.text)
        item_id = new_item_id(section.text, text)
        if item_id in items:
            raise Refused("exists")
        return RevisionProposal("add", section.text, text, reason, item_id, evidence=evidence)

    @staticmethod
    def _rule(raw: str) -> str:
        verdict = screen_rule(raw)
        found = signatures(verdict.text)
        if found:
            raise Refused("screened", tuple(f"signature:{s}" for s in found))
        if not verdict.ok or not verdict.text:
            raise Refused("screened", verdict.refused or ("empty",))
        return verdict.text

    def _screened(self, delta: Delta, no: Refused) -> dict[str, Any]:
        return {
            "op": self.name,
            "delta": delta.op,
            "item": delta.item,
            "features": list(no.features),
            "text_hash": content_hash({"text": delta.text})[:SCREENED_HASH_HEX],
        }
