"""Shadows: what answers for an effectful pipeline while its caller dreams.

In dream mode the gate never runs an effectful pipeline. If the pipeline was registered with a
shadow, the gate asks the shadow instead; the shadow either returns an :class:`Answer` (the dispatch
result is ``simulated``) or ``None`` (it cannot answer, and the result is ``skipped``). A shadow
only ever sees a description of the call (:class:`ShadowCall`), never the pipeline's function, so
it cannot open the gate by accident.

The kinds:

- :class:`ReplayShadow` answers with the response of the most recent *awake* dispatch of the same
  pipeline with the same request (same canonical JSON of args and kwargs); otherwise it cannot.
- :class:`StubShadow` always answers with one fixed value.
- :class:`Simulation` is the base for a model of the world: a subclass implements ``simulate``.

A shadow that raises makes the dispatch an ``error`` with reason ``shadow-failed``; nothing
effectful runs either way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from oneiro.store.dispatches import DispatchRow


@dataclass(frozen=True)
class ShadowCall:
    """One effectful call a dreaming context asked for.

    ``recorded`` looks up the latest replayable awake dispatch for exactly this request; it is a
    function (not a row) so that shadows which never replay never pay for the query.
    """

    pipeline: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any]
    request: str
    request_hash: str
    cycle_id: str | None
    recorded: Callable[[], DispatchRow | None] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Answer:
    """A shadow's stand-in response; ``source`` says where it came from (e.g. ``replay:42``)."""

    value: Any
    source: str


class Shadow(ABC):
    """Answers for an effectful pipeline in dream mode, or declines with ``None``."""

    @abstractmethod
    def answer(self, call: ShadowCall) -> Answer | None:
        """Return a stand-in response for ``call``, or ``None`` when this shadow cannot answer."""


class ReplayShadow(Shadow):
    """Replays what the world answered last time this exact request was made while awake."""

    def answer(self, call: ShadowCall) -> Answer | None:
        row = call.recorded()
        if row is None:
            return None
        return Answer(row.response, f"replay:{row.seq}")


class StubShadow(Shadow):
    """Answers every call with the same value (e.g. ``{"status": "queued"}``)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def answer(self, call: ShadowCall) -> Answer:
        return Answer(self.value, "stub")


class Simulation(Shadow):
    """A model of the world behind an effectful pipeline.

    Subclasses implement :meth:`simulate` with the pipeline's own signature; it must not touch the
    world (the dreaming context's gate raises if it calls an effectful pipeline directly).
    """

    def answer(self, call: ShadowCall) -> Answer:
        return Answer(self.simulate(*call.args, **call.kwargs), f"simulation:{type(self).__name__}")

    @abstractmethod
    def simulate(self, *args: Any, **kwargs: Any) -> Any:
        """The imagined response to the call made with these arguments."""


class FirstAnswer(Shadow):
    """Asks each shadow in turn and returns the first answer (e.g. replay, else a simulation)."""

    def __init__(self, *shadows: Shadow) -> None:
        self.shadows = shadows

    def answer(self, call: ShadowCall) -> Answer | None:
        for shadow in self.shadows:
            found = shadow.answer(call)
            if found is not None:
                return found
        return None
