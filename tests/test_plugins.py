"""The registration door: built-ins through it, fakes through it, mistakes named."""

from __future__ import annotations

from typing import Any

import pytest

from oneiro.config import EmbedderConfig
from oneiro.dream.phase import Carry, Context, Outcome, PhaseName, Snapshot
from oneiro.model import Tier
from oneiro.plugins import PluginError, Registry, hookimpl


class Probe:
    """A fake REM operation that records that it ran."""

    name = "fake-rem"
    tier = Tier.T0

    def __init__(self) -> None:
        self.calls = 0

    def run(self, snap: Snapshot, ctx: Context, carry: Carry) -> Outcome:
        self.calls += 1
        return Outcome()


class Llm(Probe):
    name = "fake-llm"
    tier = Tier.T1


class FakePlugin:
    def __init__(self) -> None:
        self.op, self.llm = Probe(), Llm()

    @hookimpl
    def register_operations(self, register: Any) -> None:
        register("rem", self.op, order=5)
        register("rem", self.llm, order=6)

    @hookimpl
    def register_probes(self, register: Any) -> None:
        register("always-fails", lambda _p: "no")


def test_builtins_come_through_the_door_in_their_order() -> None:
    r = Registry(entry_points=False)
    phases = r.phases()
    assert [op.name for op in phases[PhaseName.INTEGRATION]][:1] == ["admission"]
    assert phases[PhaseName.NREM] and phases[PhaseName.ONSET]
    assert {"hashing", "minilm"} <= set(r.embedder_names())
    assert {"residual_bias", "text_support"} <= set(r.evidence_tests)
    assert "constraints" in r.probes
    assert r.embedder(EmbedderConfig(name="hashing")).name.startswith("hashing")


def test_a_plugin_adds_operations_and_tiers_gate_them() -> None:
    plugin = FakePlugin()
    r = Registry([plugin], entry_points=False)
    builtin = [op.name for op in Registry(entry_points=False).phases()[PhaseName.REM]]
    assert "fake-rem" not in builtin  # registries are per memory

    def added(tiers: frozenset[Tier] = frozenset({Tier.T0})) -> list[str]:
        return [op.name for op in r.phases(tiers)[PhaseName.REM] if op.name not in builtin]

    assert added() == ["fake-rem"]
    assert added(frozenset({Tier.T0, Tier.T1})) == ["fake-rem", "fake-llm"]
    assert "always-fails" in r.probes


class Twice:
    @hookimpl
    def register_probes(self, register: Any) -> None:
        register("constraints", lambda _p: None)


class BadPhase:
    @hookimpl
    def register_operations(self, register: Any) -> None:
        register("daydream", Probe())


class BadTier:
    @hookimpl
    def register_operations(self, register: Any) -> None:
        op = Probe()
        op.tier = "T9"  # type: ignore[assignment]
        register("rem", op)


class Raises:
    @hookimpl
    def register_embedders(self, register: Any) -> None:
        raise RuntimeError("boom")


class NotAnOperation:
    @hookimpl
    def register_operations(self, register: Any) -> None:
        register("rem", object())


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (Twice(), "registered twice: by 'oneiro' and by 'Twice#0'"),
        (BadPhase(), "unknown phase 'daydream'"),
        (BadTier(), "unknown tier 'T9'"),
        (Raises(), "'Raises#0' failed in register_embedders: RuntimeError: boom"),
        (NotAnOperation(), "not an operation"),
    ],
)
def test_a_broken_plugin_is_refused_by_name(plugin: object, message: str) -> None:
    with pytest.raises(PluginError, match=message.replace("(", r"\(")):
        Registry([plugin], entry_points=False)


def test_an_unknown_embedder_lists_the_registered_ones() -> None:
    from oneiro.errors import ConfigError

    with pytest.raises(ConfigError, match="registered: hashing, minilm"):
        Registry(entry_points=False).embedder(EmbedderConfig(name="bert"))
