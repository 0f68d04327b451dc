"""REM's sandboxed experiments: variants of a proven solution are run, pruned or staged.

A *proven solution* is a validated ``experiment`` entry whose ``data["experiment"]`` is an
:class:`~oneiro.sandbox.experiment.Experiment` (workspace, command, tests, viability rule, the
parameters it runs with and the values each may take). Variants are made the way REM's creative
recombination makes its own, on parameters instead of regions:

* *exploratory* (permutation): one recorded parameter moved to another value of its space;
* *combinational*: two proven solutions of the same workspace and command joined, the first's
  parameters with the second's values for half of those on which they differ (in sorted order).

Each variant runs against the baseline in the sandbox (:func:`oneiro.sandbox.lab.compare`). A
variant that fails its rule is pruned: a journal note with its telemetry and why. A survivor is a
staged ``experiment_variant`` hypothesis at the hypothesis confidence, whose sources are its
parents (real entry ids) and whose data holds the variant's parameters and the evidence (both
telemetries, the gains) and, when the experiment names an Achilles spec and two variants survive,
the inputs on which it disagrees with a competing survivor (``data["achilles"]``,
:mod:`oneiro.sandbox.achilles`); awake use confirms it like any hypothesis (``text_support``), and dream
output never confirms it.

Why this is pure although it runs subprocesses: an operation must not write the store or reach the
world. The sandbox reaches neither: the command runs with no network namespace but its own
loopback, sees no host file but the system and Python read-only and a throw-away snapshot
read-write, is bounded in CPU, memory, processes, file size and wall time, and the workspace's
digest is checked unchanged after every run. Its only output is telemetry, returned here as data
(proposed entries and notes) for the cycle to write. So the run is a measurement, like reading the
snapshot. It is slow, hence opt-in (``[sandbox] enabled = true``); it never reads the clock (the
sandbox's wall-time limits are its budget, and ``ctx.budget`` is checked between variants).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import combinations
from typing import Any

from oneiro.config import SandboxConfig
from oneiro.dream.ops.rem.staging import live, staged
from oneiro.dream.phase import Carry, Context, Outcome, Snapshot
from oneiro.dream.writes import Note, Writes
from oneiro.errors import OneiroError
from oneiro.model import Entry, EntryStatus, Tier
from oneiro.sandbox.achilles import AchillesSpec, disagreements
from oneiro.sandbox.experiment import Experiment
from oneiro.sandbox.lab import Verdict, compare
from oneiro.sandbox.runner import MIB, Limits
from oneiro.store.query import EntryQuery

EXPERIMENT_KIND = "experiment"
VARIANT_KIND = "experiment_variant"
PRUNED_NOTE = "experiment_pruned"
SKIPPED_NOTE = "experiment_skipped"
#: The awake test a survivor is judged by: later episodes restating that the variant works.
EVIDENCE_TEST = "text_support"

#: Pairs of survivors searched for disagreeing inputs per experiment (each search is a sandboxed run).
MAX_ACHILLES_PAIRS = 3

Variant = tuple[dict[str, Any], tuple[str, ...], str]


def limits_of(cfg: SandboxConfig) -> Limits:
    return Limits(
        wall_seconds=cfg.wall_seconds,
        cpu_seconds=cfg.cpu_seconds,
        memory_bytes=cfg.memory_mb * MIB,
        processes=cfg.processes,
        file_bytes=cfg.file_mb * MIB,
        disk_bytes=cfg.disk_mb * MIB,
    )


def permutations(exp: Experiment) -> Iterator[dict[str, Any]]:
    """Each recorded parameter moved to each other value of its space, one at a time."""
    for name in sorted(exp.space):
        for value in exp.space[name]:
            if value != exp.params[name]:
                yield {**exp.params, name: value}


def combination(a: Experiment, b: Experiment) -> dict[str, Any] | None:
    """``a``'s parameters with ``b``'s values for the first half (at least one) of the sorted
    names on which they differ; None when they run different code or do not differ."""
    if (a.workspace, a.command) != (b.workspace, b.command):
        return None
    differ = sorted(k for k in a.params if k in b.params and a.params[k] != b.params[k])
    if not differ:
        return None
    taken = differ[: max(1, len(differ) // 2)]
    return {**a.params, **{k: b.params[k] for k in taken}}


def variants(entry: Entry, exp: Experiment, others: Mapping[str, Experiment], limit: int) -> list[Variant]:
    """At most ``limit`` distinct variants (params, parent ids, how), never the baseline itself."""
    found: list[Variant] = [(p, (entry.id,), "permutation") for p in permutations(exp)]
    for other_id, other in sorted(others.items()):
        joined = combination(exp, other) if other_id != entry.id else None
        if joined is not None:
            found.append((joined, (entry.id, other_id), "combination"))
    seen: set[str] = {_key(exp.params)}
    out: list[Variant] = []
    for params, parents, how in found:
        if _key(params) not in seen and len(out) < limit:
            seen.add(_key(params))
            out.append((params, parents, how))
    return out


def _key(params: Mapping[str, Any]) -> str:
    return repr(sorted(params.items()))


class SandboxExperiments:
    """REM: run variants of proven solutions in the sandbox; stage survivors, prune the rest."""

    name = "sandbox_experiments"
    tier = Tier.T0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        cfg = ctx.config.sandbox
        if not cfg.enabled:
            return Outcome()
        proven = snap.entries_matching(
            EntryQuery(kinds=(EXPERIMENT_KIND,), statuses=(EntryStatus.VALIDATED,), data_keys=("experiment",))
        )
        experiments: dict[str, Experiment] = {}
        writes = Writes()
        for entry in proven:
            try:
                experiments[entry.id] = Experiment.from_json(entry.data["experiment"])
            except OneiroError as exc:
                writes.notes.append(Note(SKIPPED_NOTE, {"entry": entry.id, "why": str(exc)}))
        did = {"experiments": 0, "variants": 0, "staged": 0, "pruned": 0}
        left = 0
        for entry_id in sorted(experiments)[: cfg.max_experiments]:
            if ctx.budget.exhausted():
                left += 1
                continue
            entry = next(e for e in proven if e.id == entry_id)
            exp = experiments[entry_id]
            tried = [
                v
                for v in variants(entry, exp, experiments, cfg.max_variants)
                if not _staged(snap, v[0], entry)
            ]
            if not tried:  # nothing new to try: no baseline run either
                continue
            try:
                result = compare(exp, [v[0] for v in tried], limits_of(cfg))
            except OneiroError as exc:
                writes.notes.append(Note(SKIPPED_NOTE, {"entry": entry_id, "why": str(exc)}))
                continue
            did["experiments"] += 1
            base = result.baseline.to_json()
            survivors = [v[0] for v, verdict in zip(tried, result.verdicts, strict=True) if verdict.viable]
            weak = self._achilles(exp, survivors, cfg, writes, entry_id)
            for (params, parents, how), verdict in zip(tried, result.verdicts, strict=True):
                did["variants"] += 1
                if verdict.viable:
                    staged_entry = self._stage(
                        ctx, entry, exp, params, parents, how, verdict, base, weak.get(_key(params), [])
                    )
                    writes.entries.append(staged_entry)
                    did["staged"] += 1
                else:
                    payload = {
                        "entry": entry_id,
                        "how": how,
                        "reasons": list(verdict.reasons),
                        "baseline": base,
                    }
                    writes.notes.append(Note(PRUNED_NOTE, {**payload, "trial": verdict.trial.to_json()}))
                    did["pruned"] += 1
        return Outcome(writes=writes, did=did, left={"experiments": left} if left else {})

    def _achilles(
        self,
        exp: Experiment,
        survivors: list[dict[str, Any]],
        cfg: SandboxConfig,
        writes: Writes,
        entry_id: str,
    ) -> dict[str, list[dict[str, Any]]]:
        """Disagreeing inputs for pairs of survivors (at most :data:`MAX_ACHILLES_PAIRS`), by
        survivor: ``[{"against": other params, "cases": [...]}]``."""
        out: dict[str, list[dict[str, Any]]] = {}
        if exp.achilles is None or len(survivors) < 2:
            return out
        try:
            spec = AchillesSpec.from_json(exp.achilles)
        except OneiroError as exc:
            writes.notes.append(Note(SKIPPED_NOTE, {"entry": entry_id, "why": str(exc)}))
            return out
        pairs = list(combinations(survivors, 2))[:MAX_ACHILLES_PAIRS]
        for a, b in pairs:
            try:
                cases = disagreements(exp, spec, a, b, limits_of(cfg))
            except OneiroError as exc:
                writes.notes.append(Note(SKIPPED_NOTE, {"entry": entry_id, "why": str(exc)}))
                continue
            if cases:
                out.setdefault(_key(a), []).append({"against": b, "cases": cases})
                swapped = [{"input": c["input"], "a": c["b"], "b": c["a"]} for c in cases]
                out.setdefault(_key(b), []).append({"against": a, "cases": swapped})
        return out

    def _stage(
        self,
        ctx: Context,
        entry: Entry,
        exp: Experiment,
        params: dict[str, Any],
        parents: Sequence[str],
        how: str,
        verdict: Verdict,
        baseline: dict[str, Any],
        achilles: list[dict[str, Any]],
    ) -> Entry:
        changed = {k: v for k, v in sorted(params.items()) if exp.params.get(k) != v}
        gains = ", ".join(f"{m} {g:.0%} lower" for m, g in sorted(verdict.gains.items()))
        text = f"experiment {entry.text!r} with {changed} passes its tests with {gains}"
        data: dict[str, Any] = {
            "experiment": {**exp.to_json(), "params": params},
            "parent": entry.id,
            "parents": list(parents),
            "how": how,
            "changed": changed,
            "evidence": {
                "baseline": baseline,
                "variant": verdict.trial.to_json(),
                "gains": dict(verdict.gains),
            },
            "test": {"type": EVIDENCE_TEST},
            **({"achilles": achilles} if achilles else {}),
        }
        return staged(ctx, VARIANT_KIND, text, parents, data, keys=())


def _staged(snap: Snapshot, params: Mapping[str, Any], entry: Entry) -> bool:
    """This variant of ``entry`` is already staged or validated (not tried again)."""
    return live(snap, VARIANT_KIND, "parent", entry.id) and any(
        e.data.get("experiment", {}).get("params") == dict(params)
        for e in snap.entries_matching(
            EntryQuery(
                kinds=(VARIANT_KIND,),
                statuses=(EntryStatus.STAGED, EntryStatus.VALIDATED),
                data_has=(("parent", entry.id),),
            )
        )
    )
