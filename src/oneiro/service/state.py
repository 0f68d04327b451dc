"""What every route shares: the memory, the token, the dream runner, the event log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from oneiro.memory import Memory
from oneiro.service.dreams import DreamRunner, HypothesisWatch
from oneiro.service.sse import EventLog


@dataclass
class Service:
    memory: Memory
    token: str | None
    runner: DreamRunner
    watch: HypothesisWatch
    events: EventLog


def get_service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


Svc = Annotated[Service, Depends(get_service)]
