"""Modes, pipelines and the effect gate: the one place that knows whether oneiro may act.

Invariant: while an execution context dreams, no effectful pipeline runs in it. Two doors enforce
it. :meth:`Gate.dispatch` (the single entry point) sends an effectful call made while dreaming to
the pipeline's shadow, or skips it with reason ``dream-mode-effect-gate``; and the function that
``@gate.pipeline(effect="effectful")`` hands back is wrapped, so calling it directly while dreaming
raises :class:`EffectGateViolation` (from a pure pipeline, a helper thread or an asyncio task too).

Mode belongs to an execution context, not to the process. It lives in a context variable:

- asyncio tasks copy the context when they are created, so they inherit the mode;
- threads do **not** in Python 3.11 (``threading.Thread`` starts from an empty context): start them
  with :func:`spawn_thread`, which runs the target in a copy of the caller's context
  (``asyncio.to_thread`` also copies it; ``loop.run_in_executor`` does not);
- subprocesses started through :mod:`oneiro.isolation` get the mode in their environment
  (:func:`child_environment`) and adopt it before running anything.

A thread started some other way starts awake. The sleep policy covers it when it matters: with
``sleep="exclusive"`` every context on the store is refused effects while any cycle dreams there,
checked against this gate's own dreaming contexts *and* the store's dream lease
(:mod:`oneiro.store.lease`), so a cycle run by another ``Memory`` on the same file, another process
or another host puts it to sleep too. With ``sleep="concurrent"`` (the default) only the dreaming
context is gated and awake work goes on. Pure dispatches never ask the store: only the effectful
door (a dispatch, a direct call, ``mode()``) reads the lease, one primary-key lookup beside the
dispatch row it writes anyway.

Effectful dispatches (awake or not) are recorded in the immutable ``dispatches`` table; pure ones are
not (they touch only the store and can be re-derived, and recording them would tax every dream step).
Every change of the store's mode is journaled as a ``mode_change`` event, and every direct call the
gate refuses as an ``effect_refused`` event (with the cycle it happened in), so a pipeline that
tries to act behind the gate's back shows up in ``oneiro journal`` (a dry run records nothing).

What the in-process gate closes, and what it cannot:

- the gated function keeps its name and docstring but not ``__wrapped__``: neither
  ``inspect.unwrap`` nor the attribute leads back to the raw function;
- a function registered as effectful cannot also be registered as pure (under any name), nor can
  anything that reaches its raw function: a ``functools.wraps`` wrapper, a ``functools.partial``, a
  bound method, a closure or default argument holding it, or a global name the code reads;
- it cannot stop Python code that holds its own reference to the undecorated function and calls it
  from a pure pipeline the gate cannot see into (a pipeline that lies about its class), a plain
  ``subprocess``, or a thread started outside oneiro under ``sleep="concurrent"``.
  :mod:`oneiro.isolation` (``oneiro dream --isolate``) covers those at the OS level.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
import os
import socket
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar, cast

from oneiro.errors import (
    ConfigError,
    EffectGateViolation,
    InvalidInput,
    OneiroError,
    PipelineRegistrationError,
    UnknownPipeline,
)
from oneiro.model import Mode, canonical_json, content_hash
from oneiro.shadows import Shadow, ShadowCall
from oneiro.store import Store
from oneiro.store.dispatches import DispatchRow
from oneiro.store.lease import Lease, free
from oneiro.store.protocol import Dispatch

F = TypeVar("F", bound=Callable[..., Any])
Clock = Callable[[], float]

#: Store ``meta`` key of the mode this process last persisted (a record for readers of the store;
#: who dreams there is the dream lease's to say).
MODE_KEY = "mode"
#: Environment variables a child process started by oneiro reads back its mode and cycle from.
MODE_ENV = "ONEIRO_MODE"
CYCLE_ENV = "ONEIRO_CYCLE"
SLEEP_POLICIES = ("concurrent", "exclusive")

#: The cycle id of a dry run (``oneiro dream --dry-run``). A dry run writes nothing, so the gate
#: does not record the dispatches it refuses or shadows inside one.
DRY_RUN_CYCLE = "dry-run"
REASON_DREAM_GATE = "dream-mode-effect-gate"
REASON_ASLEEP = "asleep"
REASON_SHADOW_FAILED = "shadow-failed"
REASON_PIPELINE_FAILED = "pipeline-failed"
#: Journal kind of a direct call the structural gate refused.
REFUSED_EVENT = "effect_refused"
#: How deep registration looks through closures, partials and globals for an effectful pipeline's
#: raw function: enough for a wrapper of a wrapper of a partial; bounded so that registration of a
#: function with a large object graph stays instant.
REACH_DEPTH = 4

_MODE: contextvars.ContextVar[Mode] = contextvars.ContextVar("oneiro_mode", default=Mode.AWAKE)
_CYCLE: contextvars.ContextVar[str | None] = contextvars.ContextVar("oneiro_cycle", default=None)

#: Every gated function any Gate handed out (weakly: a dropped gate's wrappers may go).
_GATED: weakref.WeakSet[Callable[..., Any]] = weakref.WeakSet()


class Effect(StrEnum):
    PURE = "pure"
    EFFECTFUL = "effectful"


class DispatchStatus(StrEnum):
    OK = "ok"
    SIMULATED = "simulated"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True)
class DispatchResult:
    """What one dispatch did. ``value`` is the pipeline's (or shadow's) return value; ``reason``
    says why a dispatch was skipped or failed; ``source`` names the shadow answer (``replay:7``);
    ``seq`` is the ``dispatches`` row when the dispatch was recorded."""

    pipeline: str
    effect: Effect
    mode: Mode
    status: DispatchStatus
    value: Any = None
    reason: str | None = None
    error: str | None = None
    source: str | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is DispatchStatus.OK


@dataclass(frozen=True)
class Pipeline:
    """A registered pipeline: ``run`` is the caller's function, ``guarded`` the gated wrapper."""

    name: str
    effect: Effect
    run: Callable[..., Any]
    guarded: Callable[..., Any]
    shadow: Shadow | None

    def result(self, mode: Mode, status: DispatchStatus, **details: Any) -> DispatchResult:
        return DispatchResult(self.name, self.effect, mode, status, **details)


def current_mode() -> Mode:
    """The current execution context's mode (awake unless inside ``Gate.dreaming``)."""
    return _MODE.get()


def current_cycle() -> str | None:
    """The cycle the current context dreams for, if any."""
    return _CYCLE.get()


def spawn_thread(target: Callable[..., Any], /, *args: Any, **kwargs: Any) -> threading.Thread:
    """Start a daemon thread running ``target`` in a copy of the caller's context, so it inherits the
    mode (a plain ``threading.Thread`` would start awake). Returns the started thread."""
    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(target, *args), kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def child_environment() -> dict[str, str]:
    """Environment entries that carry the current context's mode into a child process."""
    env = {MODE_ENV: current_mode().value}
    cycle = current_cycle()
    if cycle is not None:
        env[CYCLE_ENV] = cycle
    return env


def adopt_mode(mode: Mode, cycle_id: str | None) -> None:
    """Set the mode of the calling context for good (a child process's entry point, before it runs
    anything). Not for in-process use: there, enter :meth:`Gate.dreaming`."""
    _MODE.set(mode)
    _CYCLE.set(cycle_id)


def request_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    """Canonical JSON of a call's arguments and its hash; InvalidInput if they are not JSON."""
    body = {"args": list(args), "kwargs": kwargs}
    try:
        return canonical_json(body), content_hash(body)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"effectful pipelines take JSON-serialisable arguments (they are recorded and replayed): {exc}"
        ) from exc


class Gate:
    """Registry of pipelines and the dispatch choke point for one store."""

    def __init__(self, store: Store, clock: Clock, sleep: str = "concurrent") -> None:
        if sleep not in SLEEP_POLICIES:
            raise ConfigError(f"sleep must be one of {SLEEP_POLICIES}, got {sleep!r}")
        self.store = store
        self.clock = clock
        self.sleep = sleep
        self._pipelines: dict[str, Pipeline] = {}
        self._lock = threading.Lock()
        #: Cycles this gate's contexts dream in right now (:meth:`dreaming`, possibly nested).
        self._dreams: list[str] = []
        self._dreams_lock = threading.Lock()
        self._host = socket.gethostname()

    # -- registration -----------------------------------------------------------------------
    def pipeline(
        self, name: str | None = None, *, effect: str | None = None, shadow: Shadow | None = None
    ) -> Callable[[F], F]:
        """Decorator registering ``fn`` under ``name`` (default: its ``__name__``). Returns the gated
        function for effectful pipelines (calling it while dreaming raises), ``fn`` itself for pure."""

        def decorate(fn: F) -> F:
            label = name if name is not None else getattr(fn, "__name__", None)
            entry = self._register(label, fn, effect, shadow)
            return cast(F, entry.guarded)

        return decorate

    def register(
        self, name: str, fn: Callable[..., Any], *, effect: str | None = None, shadow: Shadow | None = None
    ) -> None:
        """Register ``fn``. Its direct calls are not gated (only the decorator can wrap the name the
        caller holds); use :meth:`guarded` to get the gated function."""
        self._register(name, fn, effect, shadow)

    def guarded(self, name: str) -> Callable[..., Any]:
        """The gated function of a registered pipeline."""
        return self._lookup(name).guarded

    def pipelines(self) -> dict[str, Effect]:
        with self._lock:
            return {name: p.effect for name, p in self._pipelines.items()}

    def _register(self, name: Any, fn: Any, effect: Any, shadow: Any) -> Pipeline:
        label, cls = _validate(name, fn, effect, shadow)
        with self._lock:
            known = self._pipelines.get(label)
            if known is not None:
                return _same_or_refuse(known, fn, cls, shadow)
            self._refuse_effect_under_pure(label, fn, cls)
            guarded = self._guard(label, fn) if cls is Effect.EFFECTFUL else fn
            entry = Pipeline(label, cls, fn, guarded, shadow)
            self._pipelines[label] = entry
            return entry

    def _guard(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            self._refuse_if_closed(name, args, kwargs)
            return fn(*args, **kwargs)

        # functools.wraps points __wrapped__ at the raw function, which would run the effect
        # ungated (and inspect.unwrap follows it): keep the name and docstring, drop the door.
        del guarded.__wrapped__
        _GATED.add(guarded)
        return guarded

    def _refuse_if_closed(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if current_mode() is Mode.DREAM:
            self._journal_refusal(name, REASON_DREAM_GATE, current_cycle(), args, kwargs)
            raise EffectGateViolation(
                f"effectful pipeline {name!r} called directly while this context dreams "
                f"(cycle {current_cycle()}); call gate.dispatch({name!r}, ...) to get its shadow's answer"
            )
        if self._asleep():
            self._journal_refusal(name, REASON_ASLEEP, self._sleeping_cycle(), args, kwargs)
            raise EffectGateViolation(
                f"effectful pipeline {name!r} called while the store sleeps (sleep='exclusive'); "
                "wait for the cycle to end"
            )

    def _journal_refusal(
        self, name: str, reason: str, cycle_id: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        """Journal a refused direct call (``effect_refused``); a dry run writes nothing.

        The request is identified by its hash only (the arguments are whatever the refused code
        wanted to send out; the journal is not the place to keep them). Recording must never mask
        the refusal itself, so a store that cannot take the write (read-only, locked) is skipped.
        """
        if cycle_id == DRY_RUN_CYCLE:
            return
        try:
            digest: str | None = request_of(args, kwargs)[1]
        except InvalidInput:
            digest = None
        payload = {
            "pipeline": name,
            "reason": reason,
            "mode": current_mode().value,
            "sleep": self.sleep,
            "request_hash": digest,
            "thread": threading.current_thread().name,
        }
        try:
            self.store.journal_append(self.clock(), REFUSED_EVENT, payload, cycle_id=cycle_id)
        except OneiroError:
            return

    def _sleeping_cycle(self) -> str | None:
        with self._dreams_lock:
            if self._dreams:
                return self._dreams[0]
        lease = self._lease()
        return None if lease is None else lease.holder

    def _lease(self) -> Lease | None:
        """The dream lease that holds the store now (None when it is free). Wall-clock time: the
        lease is compared with other processes' clocks, whatever clock this gate is given."""
        lease = self.store.lease_holder()
        return None if free(lease, time.time(), self._host) else lease

    def _refuse_effect_under_pure(self, name: str, fn: Any, cls: Effect) -> None:
        """An effect cannot hide under a pure name: refuse a pure pipeline that reaches an
        effectful pipeline's raw or gated function (itself, or through a wrapper, partial, bound
        method, closure, default or global), and an effectful one whose function a pure pipeline
        already reaches. Calling the *gated* function from a pure pipeline's body stays allowed:
        that call is refused at run time while dreaming."""
        effectful = [p for p in self._pipelines.values() if p.effect is Effect.EFFECTFUL]
        if cls is Effect.PURE:
            for other in effectful:
                if _reaches(fn, _cores(other.run), through_calls=True) or _reaches(fn, [other.guarded]):
                    raise PipelineRegistrationError(_hidden_effect(name, other.name))
            return
        cores = _cores(fn)
        for other in self._pipelines.values():
            if other.effect is Effect.PURE and _reaches(other.run, cores, through_calls=True):
                raise PipelineRegistrationError(_hidden_effect(other.name, name))

    # -- dispatch ---------------------------------------------------------------------------
    def dispatch(self, name: str, /, *args: Any, **kwargs: Any) -> DispatchResult:
        """Run pipeline ``name`` as the mode allows; the result says what happened (see module doc).

        An :class:`EffectGateViolation` raised inside a pipeline is not turned into an ``error``
        result: it is a pipeline calling effects behind the gate's back, and propagates.
        """
        entry = self._lookup(name)
        if entry.effect is Effect.PURE:
            return self._run(entry, current_mode(), args, kwargs)
        request, digest = request_of(args, kwargs)
        mode = current_mode()
        if mode is Mode.DREAM:
            result = self._shadow(entry, args, kwargs, request, digest)
        elif self._asleep():
            result = entry.result(mode, DispatchStatus.SKIPPED, reason=REASON_ASLEEP)
        else:
            result = self._run(entry, mode, args, kwargs)
        return self._record(result, request, digest)

    def mode(self) -> Mode:
        """This context's mode; under ``sleep="exclusive"`` every context dreams while a cycle does."""
        if current_mode() is Mode.DREAM or self._asleep():
            return Mode.DREAM
        return Mode.AWAKE

    def _lookup(self, name: str) -> Pipeline:
        # Reads need no lock: registration replaces nothing, and dict.get is atomic.
        entry = self._pipelines.get(name)
        if entry is None:
            raise UnknownPipeline(
                f"no pipeline named {name!r}; register it with @gate.pipeline(effect=...) first"
            )
        return entry

    def _run(
        self, entry: Pipeline, mode: Mode, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> DispatchResult:
        try:
            value = entry.run(*args, **kwargs)
        except EffectGateViolation:
            raise
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            return entry.result(mode, DispatchStatus.ERROR, reason=REASON_PIPELINE_FAILED, error=message)
        return entry.result(mode, DispatchStatus.OK, value=value)

    def _shadow(
        self, entry: Pipeline, args: tuple[Any, ...], kwargs: dict[str, Any], request: str, digest: str
    ) -> DispatchResult:
        skipped = entry.result(Mode.DREAM, DispatchStatus.SKIPPED, reason=REASON_DREAM_GATE)
        if entry.shadow is None:
            return skipped
        call = ShadowCall(
            entry.name,
            args,
            dict(kwargs),
            request,
            digest,
            current_cycle(),
            self._replayable(entry.name, digest),
        )
        try:
            answer = entry.shadow.answer(call)
        except EffectGateViolation:
            raise
        except Exception as exc:
            message = (
                f"shadow {type(entry.shadow).__name__} of {entry.name!r} raised {type(exc).__name__}: {exc}"
            )
            return entry.result(Mode.DREAM, DispatchStatus.ERROR, reason=REASON_SHADOW_FAILED, error=message)
        if answer is None:
            return skipped
        return entry.result(Mode.DREAM, DispatchStatus.SIMULATED, value=answer.value, source=answer.source)

    def _replayable(self, name: str, digest: str) -> Callable[[], DispatchRow | None]:
        def lookup() -> DispatchRow | None:
            return self.store.latest_dispatch(name, digest)

        return lookup

    def _record(self, result: DispatchResult, request: str, digest: str) -> DispatchResult:
        if result.mode is Mode.DREAM and current_cycle() == DRY_RUN_CYCLE:
            return result
        response, error = (
            None,
            result.error or (result.reason if result.status is not DispatchStatus.OK else None),
        )
        if result.status in (DispatchStatus.OK, DispatchStatus.SIMULATED):
            try:
                response = canonical_json(result.value)
            except (TypeError, ValueError) as exc:
                error = f"response not recorded, it is not JSON: {exc}"
        seq = self.store.record_dispatch(
            Dispatch(
                ts=self.clock(),
                mode=result.mode.value,
                pipeline=result.pipeline,
                effect=result.effect.value,
                status=result.status.value,
                request_hash=digest,
                request=request,
                response=response,
                error=error,
                cycle_id=current_cycle(),
            )
        )
        return dataclasses.replace(result, seq=seq)

    def recorded(self, *, pipeline: str | None = None, limit: int = 100) -> list[DispatchRow]:
        """The newest recorded dispatches (of one pipeline, if given)."""
        return self.store.recent_dispatches(pipeline=pipeline, limit=limit)

    # -- modes ------------------------------------------------------------------------------
    @contextmanager
    def dreaming(self, cycle_id: str) -> Iterator[None]:
        """Dream mode for the calling context (and the threads, tasks and subprocesses it starts
        through oneiro) until the block ends; awake again afterwards, whatever happened inside.

        Under ``sleep="exclusive"`` every context of this gate is asleep for the block, beside
        every context anywhere while a cycle holds the store's dream lease. The mode is persisted
        in the store's ``meta`` while any of this gate's contexts dreams; each change is journaled
        as ``mode_change``.
        """
        if not isinstance(cycle_id, str) or not cycle_id:
            raise InvalidInput("a dream needs a non-empty cycle id", field="cycle_id")
        mode_token, cycle_token = _MODE.set(Mode.DREAM), _CYCLE.set(cycle_id)
        try:
            self._enter(cycle_id)
        except BaseException:
            _CYCLE.reset(cycle_token)
            _MODE.reset(mode_token)
            raise
        try:
            yield
        finally:
            _CYCLE.reset(cycle_token)
            _MODE.reset(mode_token)
            self._leave(cycle_id)

    def _enter(self, cycle_id: str) -> None:
        with self._dreams_lock:
            self._dreams.append(cycle_id)
            first = len(self._dreams) == 1
        if first:
            try:
                self._persist(Mode.DREAM, cycle_id)
            except BaseException:
                with self._dreams_lock:
                    self._dreams.remove(cycle_id)
                raise

    def _leave(self, cycle_id: str) -> None:
        with self._dreams_lock:
            self._dreams.remove(cycle_id)
            last = not self._dreams
        if last:
            self._persist(Mode.AWAKE, cycle_id)

    def _persist(self, mode: Mode, cycle_id: str) -> None:
        previous = Mode.AWAKE if mode is Mode.DREAM else Mode.DREAM
        payload = {"from": previous.value, "to": mode.value, "sleep": self.sleep, "pid": os.getpid()}
        with self.store.transaction():
            self.store.put_meta(MODE_KEY, mode.value)
            self.store.journal_append(self.clock(), "mode_change", payload, cycle_id=cycle_id)

    def store_mode(self) -> Mode:
        """The store's mode: ``dream`` while one of this gate's contexts dreams, or while a live
        dream lease holds the store (a cycle of any ``Memory``, process or host); a lease its
        holder left behind when it died or stopped renewing does not count."""
        with self._dreams_lock:
            if self._dreams:
                return Mode.DREAM
        return Mode.AWAKE if self._lease() is None else Mode.DREAM

    def _asleep(self) -> bool:
        return self.sleep == "exclusive" and self.store_mode() is Mode.DREAM


def _validate(name: Any, fn: Any, effect: Any, shadow: Any) -> tuple[str, Effect]:
    if not isinstance(name, str) or not name:
        raise PipelineRegistrationError(f"a pipeline needs a non-empty string name, got {name!r}")
    if not callable(fn):
        raise PipelineRegistrationError(f"pipeline {name!r}: {fn!r} is not callable")
    choices = ", ".join(repr(e.value) for e in Effect)
    if effect is None:
        raise PipelineRegistrationError(
            f"pipeline {name!r} has no effect class: declare effect={choices} (there is no default)"
        )
    if effect not in {e.value for e in Effect}:
        raise PipelineRegistrationError(f"pipeline {name!r}: unknown effect {effect!r}; use {choices}")
    cls = Effect(effect)
    if shadow is not None and cls is Effect.PURE:
        raise PipelineRegistrationError(
            f"pipeline {name!r} is pure: it runs in dream mode and takes no shadow"
        )
    if shadow is not None and not isinstance(shadow, Shadow):
        raise PipelineRegistrationError(
            f"pipeline {name!r}: shadow {shadow!r} is not a oneiro.shadows.Shadow"
        )
    return name, cls


def _same_or_refuse(known: Pipeline, fn: Any, cls: Effect, shadow: Any) -> Pipeline:
    if known.effect is not cls:
        raise PipelineRegistrationError(
            f"pipeline {known.name!r} is already registered as {known.effect.value}; "
            f"it cannot also be {cls.value}"
        )
    if known.run is not fn or known.shadow is not shadow:
        raise PipelineRegistrationError(
            f"pipeline {known.name!r} is already registered with another function or shadow; "
            "pick another name"
        )
    return known


def _hidden_effect(pure: str, effectful: str) -> str:
    return (
        f"pipeline {pure!r} would run effectful pipeline {effectful!r}'s function as pure; "
        f"dispatch {effectful!r} instead (an effect cannot be registered under a pure name)"
    )


def _cores(fn: Any) -> list[Any]:
    """``fn`` and what it wraps (a bound method's function, a partial's function, ``__wrapped__``):
    reaching any of them runs the same effect."""
    found: list[Any] = []
    frontier = [fn]
    for _ in range(REACH_DEPTH + 1):
        frontier = [obj for obj in frontier if not any(obj is f for f in found)]
        found.extend(frontier)
        frontier = [inner for obj in frontier for inner in _wrapped_by(obj)]
    return found


def _reaches(start: Any, targets: list[Any], *, through_calls: bool = False) -> bool:
    """Whether one of ``targets`` is ``start`` or is reached from it by wrapping (``__wrapped__``,
    ``functools.partial``, bound methods); with ``through_calls``, also through what its code
    holds or names (closure cells, defaults, globals it reads), up to REACH_DEPTH levels.

    A gated function is not looked into: calling it is refused at run time, so holding one is safe
    (and its closure holds the raw function by design)."""
    seen: set[int] = set()
    frontier: list[Any] = [start]
    for _ in range(REACH_DEPTH + 1):
        step: list[Any] = []
        for obj in frontier:
            if any(obj is t or _same_code(obj, t) for t in targets):
                return True
            if id(obj) in seen or _is_gated(obj):
                continue
            seen.add(id(obj))
            step.extend(_wrapped_by(obj))
            if through_calls:
                step.extend(_held_by(obj))
        frontier = step
    return False


def _is_gated(obj: Any) -> bool:
    try:
        return obj in _GATED
    except TypeError:  # not weak-referenceable, so never a gated function
        return False


def _same_code(obj: Any, target: Any) -> bool:
    """A copy of a raw function (``types.FunctionType(f.__code__, ...)``) shares its code object.
    Gated functions all share one code object, so for them only identity counts."""
    if not isinstance(obj, types.FunctionType) or not isinstance(target, types.FunctionType):
        return False
    return not _is_gated(target) and obj.__code__ is target.__code__


def _wrapped_by(obj: Any) -> Iterable[Any]:
    if isinstance(obj, types.MethodType):
        yield obj.__func__
    if isinstance(obj, functools.partial):
        yield obj.func
        yield from (a for a in (*obj.args, *obj.keywords.values()) if callable(a))
    inner = _plain_attr(obj, "__wrapped__")
    if callable(inner):
        yield inner


def _held_by(obj: Any) -> list[Any]:
    if not isinstance(obj, types.FunctionType):
        call = _plain_attr(type(obj), "__call__")
        return [call] if isinstance(call, types.FunctionType) else []
    held: list[Any] = [c.cell_contents for c in obj.__closure__ or () if _cell_filled(c)]
    held.extend(obj.__defaults__ or ())
    held.extend((obj.__kwdefaults__ or {}).values())
    held.extend(obj.__globals__.get(n) for n in _names(obj.__code__) if n in obj.__globals__)
    return [h for h in held if callable(h)]


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _cell_filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises)
    except ValueError:
        return False
    return True


def _plain_attr(obj: Any, attr: str) -> Any:
    """``obj.attr`` without running anything a property or ``__getattr__`` would run."""
    try:
        return inspect.getattr_static(obj, attr, None)
    except Exception:  # a hostile __class__ or __mro__; then there is nothing to follow
        return None
