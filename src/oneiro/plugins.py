"""The registration door: one way in for dream operations, embedders, LLM backends, evidence
tests, scorers, shadows and probes (pluggy hook specifications, in the manner of simonw/llm).

The built-ins come through the same door as everyone else (:class:`Builtins`); a third-party
package adds itself to the ``oneiro`` entry-point group; a caller can pass plugin objects to
:class:`Registry` (``oneiro.open(..., plugins=[...])``) and tests register fakes that way.

A :class:`Registry` belongs to one ``Memory``: two memories in one process can hold different
plugins. It is built once, eagerly, so that every mistake of a plugin surfaces when the memory
opens, named: a hook that raises, two plugins registering one name, an operation of an unknown
phase or tier, a registration of the wrong type (:class:`PluginError`).

Each hook receives a ``register`` callable and calls it once per thing it contributes::

    from oneiro.plugins import hookimpl

    @hookimpl
    def register_operations(register):
        register("rem", MyOperation(), order=250)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pluggy

from oneiro.backends.embedder import Embedder
from oneiro.config import EmbedderConfig
from oneiro.dream.phase import Operation, PhaseName
from oneiro.errors import OneiroError
from oneiro.model import Tier

PROJECT = "oneiro"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

EmbedderFactory = Callable[[EmbedderConfig], Embedder]
#: The kinds of things a plugin can register, by the hook that registers them.
KINDS = ("operations", "embedders", "llm_backends", "evidence_tests", "scorers", "shadows", "probes")


class PluginError(OneiroError):
    """A plugin registered something that cannot work; the message names the plugin."""


class Hooks:
    """The hook specifications. Each takes ``register`` and returns nothing."""

    @hookspec
    def register_operations(self, register: Callable[..., None]) -> None:
        """``register(phase, operation, *, order)``: a dream operation in a phase, at a position
        (lower runs first; the built-ins use multiples of 10). Its ``tier`` says when it runs."""

    @hookspec
    def register_embedders(self, register: Callable[..., None]) -> None:
        """``register(name, factory)``: ``factory(EmbedderConfig) -> Embedder``."""

    @hookspec
    def register_llm_backends(self, register: Callable[..., None]) -> None:
        """``register(name, factory)``: ``factory(config) -> LLM backend``."""

    @hookspec
    def register_evidence_tests(self, register: Callable[..., None]) -> None:
        """``register(test)``: an evidence test with ``name``, ``needs_similarity`` and ``judge``."""

    @hookspec
    def register_scorers(self, register: Callable[..., None]) -> None:
        """``register(name, version, fn)``: a versioned scoring function."""

    @hookspec
    def register_shadows(self, register: Callable[..., None]) -> None:
        """``register(pipeline, shadow)``: what answers for an effectful pipeline while dreaming."""

    @hookspec
    def register_probes(self, register: Callable[..., None]) -> None:
        """``register(name, probe)``: a playbook probe, ``probe(ProbeInput) -> str | None``."""


@dataclass(frozen=True)
class OperationSpec:
    phase: PhaseName
    order: int
    operation: Operation
    plugin: str

    @property
    def tier(self) -> Tier:
        return Tier(self.operation.tier)


@dataclass(frozen=True)
class Registered:
    """One line of ``oneiro plugins``: what was registered, of which kind, by which plugin."""

    kind: str
    name: str
    plugin: str
    detail: str = ""


@dataclass
class _Collected:
    operations: list[OperationSpec] = field(default_factory=list)
    embedders: dict[str, tuple[str, EmbedderFactory]] = field(default_factory=dict)
    llm_backends: dict[str, tuple[str, Callable[..., Any]]] = field(default_factory=dict)
    evidence_tests: dict[str, tuple[str, Any]] = field(default_factory=dict)
    scorers: list[tuple[str, str, int, Callable[..., float]]] = field(default_factory=list)
    shadows: dict[str, tuple[str, Any]] = field(default_factory=dict)
    probes: dict[str, tuple[str, Callable[..., str | None]]] = field(default_factory=dict)


def _claim(table: dict[str, Any], kind: str, name: str, plugin: str, value: Any) -> None:
    if not isinstance(name, str) or not name.strip():
        raise PluginError(f"plugin {plugin!r} registered a {kind} without a name")
    if name in table:
        raise PluginError(f"{kind} {name!r} is registered twice: by {table[name][0]!r} and by {plugin!r}")
    table[name] = (plugin, value)


class _Registrar:
    """The ``register`` callables handed to one plugin's hooks: they check and record."""

    def __init__(self, plugin: str, into: _Collected) -> None:
        self.plugin, self.into = plugin, into

    def operation(self, phase: str, operation: Operation, *, order: int = 500) -> None:
        try:
            name = PhaseName(phase)
        except ValueError:
            raise PluginError(
                f"plugin {self.plugin!r} registered an operation for unknown phase {phase!r}; "
                f"phases: {', '.join(p.value for p in PhaseName)}"
            ) from None
        if not callable(getattr(operation, "run", None)) or not isinstance(
            getattr(operation, "name", None), str
        ):
            raise PluginError(f"plugin {self.plugin!r} registered {operation!r}, which is not an operation")
        try:
            Tier(str(getattr(operation, "tier", None)))
        except ValueError:
            raise PluginError(
                f"plugin {self.plugin!r}: operation {operation.name!r} declares unknown tier "
                f"{getattr(operation, 'tier', None)!r}; tiers: {', '.join(t.value for t in Tier)}"
            ) from None
        if isinstance(order, bool) or not isinstance(order, int):
            raise PluginError(f"plugin {self.plugin!r}: operation {operation.name!r} needs an integer order")
        taken = {(s.phase, s.operation.name): s.plugin for s in self.into.operations}
        if (name, operation.name) in taken:
            raise PluginError(
                f"operation {operation.name!r} of {name.value} is registered twice: by "
                f"{taken[(name, operation.name)]!r} and by {self.plugin!r}"
            )
        self.into.operations.append(OperationSpec(name, order, operation, self.plugin))

    def embedder(self, name: str, factory: EmbedderFactory) -> None:
        self._callable(factory, "embedder", name)
        _claim(self.into.embedders, "embedder", name, self.plugin, factory)

    def llm_backend(self, name: str, factory: Callable[..., Any]) -> None:
        self._callable(factory, "LLM backend", name)
        _claim(self.into.llm_backends, "LLM backend", name, self.plugin, factory)

    def evidence_test(self, test: Any) -> None:
        if not callable(getattr(test, "judge", None)):
            raise PluginError(f"plugin {self.plugin!r} registered {test!r}, which has no judge()")
        _claim(self.into.evidence_tests, "evidence test", getattr(test, "name", ""), self.plugin, test)

    def scorer(self, name: str, version: int, fn: Callable[..., float]) -> None:
        self._callable(fn, "scorer", name)
        self.into.scorers.append((self.plugin, name, version, fn))

    def shadow(self, pipeline: str, shadow: Any) -> None:
        if not callable(getattr(shadow, "answer", None)):
            raise PluginError(f"plugin {self.plugin!r}: the shadow for {pipeline!r} has no answer()")
        _claim(self.into.shadows, "shadow", pipeline, self.plugin, shadow)

    def probe(self, name: str, probe: Callable[..., str | None]) -> None:
        self._callable(probe, "probe", name)
        _claim(self.into.probes, "probe", name, self.plugin, probe)

    def _callable(self, value: Any, kind: str, name: str) -> None:
        if not callable(value):
            raise PluginError(f"plugin {self.plugin!r}: {kind} {name!r} is not callable")


_HOOKS: dict[str, str] = {
    "register_operations": "operation",
    "register_embedders": "embedder",
    "register_llm_backends": "llm_backend",
    "register_evidence_tests": "evidence_test",
    "register_scorers": "scorer",
    "register_shadows": "shadow",
    "register_probes": "probe",
}


class Registry:
    """Everything registered for one memory: built-ins, entry points, and ``plugins``."""

    def __init__(
        self, plugins: Sequence[object] = (), *, entry_points: bool = True, llm_tiers: Sequence[str] = ()
    ) -> None:
        """``llm_tiers`` names the tiers with a configured endpoint (``[tiers.T1]``...): the
        built-in LLM operations of those tiers are registered; without any, none are."""
        self.manager = pluggy.PluginManager(PROJECT)
        self.manager.add_hookspecs(Hooks)
        self.manager.register(Builtins(llm_tiers), name="oneiro")
        if entry_points:
            self.manager.load_setuptools_entrypoints(PROJECT)
        for i, plugin in enumerate(plugins):
            name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}#{i}"
            try:
                self.manager.register(plugin, name=name)
            except (ValueError, pluggy.PluginValidationError) as exc:
                raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from None
        self._collected = self._collect()

    def _collect(self) -> _Collected:
        into = _Collected()
        for hook_name, method in _HOOKS.items():
            hook = getattr(self.manager.hook, hook_name)
            for impl in hook.get_hookimpls():  # in registration order: built-ins first
                register = getattr(_Registrar(impl.plugin_name, into), method)
                try:
                    impl.function(register=register)
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f"plugin {impl.plugin_name!r} failed in {hook_name}: {type(exc).__name__}: {exc}"
                    ) from exc
        into.operations.sort(key=lambda s: (list(PhaseName).index(s.phase), s.order))
        return into

    # -- what the rest of oneiro asks ------------------------------------------------------
    def phases(self, tiers: frozenset[Tier] = frozenset({Tier.T0})) -> dict[PhaseName, tuple[Operation, ...]]:
        """Each phase's operations in their declared order, of the tiers the cycle may spend on."""
        out: dict[PhaseName, tuple[Operation, ...]] = {p: () for p in PhaseName}
        for spec in self._collected.operations:
            if spec.tier in tiers:
                out[spec.phase] = (*out[spec.phase], spec.operation)
        return out

    def without(self, names: Sequence[str]) -> Registry | WithoutOperations:
        """This registry's operations minus ``names`` (operation or phase names), for a cycle
        source: how ``Config.disabled_operations`` ablates an operation. Unknown names are refused
        (ConfigError) so that a typo cannot silently ablate nothing."""
        return self if not names else WithoutOperations(self, names)

    def operation_names(self) -> dict[PhaseName, tuple[str, ...]]:
        """Every registered operation's name, by phase, in order, whatever its tier."""
        out: dict[PhaseName, tuple[str, ...]] = {p: () for p in PhaseName}
        for spec in self._collected.operations:
            out[spec.phase] = (*out[spec.phase], spec.operation.name)
        return out

    def plugin_of(self, operation: Operation) -> str:
        """The plugin that registered ``operation`` (by identity), for error messages."""
        for spec in self._collected.operations:
            if spec.operation is operation:
                return spec.plugin
        return "unregistered"

    def embedder(self, config: EmbedderConfig) -> Embedder:
        from oneiro.errors import ConfigError

        found = self._collected.embedders.get(config.name)
        if found is None:
            names = ", ".join(sorted(self._collected.embedders))
            raise ConfigError(f"unknown embedder {config.name!r}; registered: {names}")
        plugin, factory = found
        try:
            embedder = factory(config)
        except Exception as exc:
            if plugin == PROJECT or isinstance(exc, OneiroError):
                raise
            raise PluginError(
                f"plugin {plugin!r}: embedder {config.name!r} failed to start: {type(exc).__name__}: {exc}"
            ) from exc
        if not callable(getattr(embedder, "embed_batch", None)):
            raise PluginError(f"plugin {plugin!r}: embedder {config.name!r} returned {embedder!r}")
        return embedder

    def embedder_names(self) -> list[str]:
        return sorted(self._collected.embedders)

    @property
    def evidence_tests(self) -> Mapping[str, Any]:
        return {name: test for name, (_plugin, test) in self._collected.evidence_tests.items()}

    @property
    def probes(self) -> Mapping[str, Callable[..., str | None]]:
        return {name: probe for name, (_plugin, probe) in self._collected.probes.items()}

    @property
    def shadows(self) -> Mapping[str, Any]:
        return {name: shadow for name, (_plugin, shadow) in self._collected.shadows.items()}

    @property
    def llm_backends(self) -> Mapping[str, Callable[..., Any]]:
        return {name: factory for name, (_plugin, factory) in self._collected.llm_backends.items()}

    def scorers(self) -> Any:
        """A fresh scoring registry holding every registered scorer (see :mod:`oneiro.scoring`)."""
        from oneiro.scoring import ScoringRegistry

        registry = ScoringRegistry()
        for plugin, name, version, fn in self._collected.scorers:
            try:
                registry.register(name, version, fn)
            except OneiroError as exc:
                raise PluginError(f"plugin {plugin!r}: scorer {name!r}: {exc}") from exc
        return registry

    def listing(self) -> list[Registered]:
        """Everything registered, for ``oneiro plugins``."""
        c = self._collected
        rows = [
            Registered("operation", s.operation.name, s.plugin, f"{s.phase.value} #{s.order} {s.tier.value}")
            for s in c.operations
        ]
        for kind, table in (
            ("embedder", c.embedders),
            ("llm_backend", c.llm_backends),
            ("evidence_test", c.evidence_tests),
            ("shadow", c.shadows),
            ("probe", c.probes),
        ):
            rows += [Registered(kind, name, plugin) for name, (plugin, _v) in sorted(table.items())]
        rows += [Registered("scorer", f"{n} v{v}", p) for p, n, v, _fn in c.scorers]
        return rows


class WithoutOperations:
    """A registry seen without some operations (see :meth:`Registry.without`): a phase name
    removes every operation of that phase, an operation name that operation in every phase."""

    def __init__(self, registry: Registry, names: Sequence[str]) -> None:
        from oneiro.errors import ConfigError

        known = {name for ops in registry.operation_names().values() for name in ops}
        phases = {p.value for p in PhaseName}
        unknown = sorted({n for n in names if n not in known and n not in phases})
        if unknown:
            raise ConfigError(
                f"'disabled_operations' names unknown operations {unknown}; phases: "
                f"{', '.join(p.value for p in PhaseName)}; operations: {', '.join(sorted(known))}"
            )
        self.registry, self.names = registry, frozenset(names)

    def phases(self, tiers: frozenset[Tier] = frozenset({Tier.T0})) -> dict[PhaseName, tuple[Operation, ...]]:
        return {
            phase: () if phase.value in self.names else tuple(op for op in ops if op.name not in self.names)
            for phase, ops in self.registry.phases(tiers).items()
        }

    def plugin_of(self, operation: Operation) -> str:
        return self.registry.plugin_of(operation)


class Builtins:
    """oneiro's own registrations, through the same hooks a third party implements."""

    def __init__(self, llm_tiers: Sequence[str] = ()) -> None:
        self.llm_tiers = tuple(llm_tiers)

    @hookimpl
    def register_operations(self, register: Callable[..., None]) -> None:
        from oneiro.dream.ops.llm import builtin_llm_operations
        from oneiro.dream.phases import builtin_operations

        for phase, order, operation in builtin_operations():
            register(phase.value, operation, order=order)
        for phase, order, operation in builtin_llm_operations(self.llm_tiers):
            register(phase.value, operation, order=order)

    @hookimpl
    def register_embedders(self, register: Callable[..., None]) -> None:
        from oneiro.backends import builtin_embedders

        for name, factory in builtin_embedders().items():
            register(name, factory)

    @hookimpl
    def register_llm_backends(self, register: Callable[..., None]) -> None:
        from oneiro.llm.openai_backend import openai_factory

        register("openai", openai_factory)

    @hookimpl
    def register_evidence_tests(self, register: Callable[..., None]) -> None:
        from oneiro.validation import builtin_tests

        for test in builtin_tests():
            register(test)

    @hookimpl
    def register_probes(self, register: Callable[..., None]) -> None:
        from oneiro.playbook import BUILTIN_PROBES

        for name, probe in BUILTIN_PROBES.items():
            register(name, probe)
