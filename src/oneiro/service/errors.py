"""How the HTTP service answers an error: always JSON of :class:`oneiro.dto.ErrorOut` (a stable
``code``, the message, the field it names), never a traceback.

A :class:`~oneiro.errors.OneiroError` keeps the code :data:`oneiro.dto.ERROR_CODES` gives it and
gets the status of the most specific class below. Errors that only an HTTP edge has (no token, a
body over the limit, a path nobody serves) have codes of their own, :data:`EDGE_CODES`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from oneiro.dto import ErrorOut
from oneiro.errors import (
    BudgetError,
    ConstraintViolation,
    CycleRunning,
    CycleStateError,
    EffectGateViolation,
    InvalidInput,
    IsolationUnavailable,
    OneiroError,
    RevisionError,
    StoreReadOnly,
    UnknownCycle,
    UnknownEntry,
    UnknownRevision,
)

log = logging.getLogger("oneiro.service")

#: Status by the most specific class, first match wins; any other OneiroError is the server's
#: (500): a store or plugin failure the client cannot fix by changing its request.
STATUS: tuple[tuple[type[OneiroError], int], ...] = (
    (UnknownCycle, 404),
    (UnknownRevision, 404),
    (UnknownEntry, 404),
    (CycleRunning, 409),
    (CycleStateError, 409),
    (ConstraintViolation, 409),
    (RevisionError, 409),
    (EffectGateViolation, 409),
    (StoreReadOnly, 403),
    (IsolationUnavailable, 501),
    (BudgetError, 400),
    (InvalidInput, 400),
)

#: Codes of errors that exist only at the HTTP edge, with their status.
EDGE_CODES: dict[str, int] = {
    "unauthorized": 401,
    "payload_too_large": 413,
    "not_found": 404,
    "method_not_allowed": 405,
    "malformed_json": 400,
    "forbidden_host": 421,
    "internal": 500,
}


class EdgeError(Exception):
    """An error of the HTTP edge itself, answered with one of :data:`EDGE_CODES`."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = EDGE_CODES[code]
        self.headers = headers


def status_of(error: OneiroError) -> int:
    return next((status for kind, status in STATUS if isinstance(error, kind)), 500)


def error_response(status: int, body: ErrorOut, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def edge_response(code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return error_response(EDGE_CODES[code], ErrorOut(code=code, message=message), headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into :class:`ErrorOut` JSON."""

    async def oneiro_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OneiroError)
        return error_response(status_of(exc), ErrorOut.from_domain(exc))

    async def edge_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EdgeError)
        return edge_response(exc.code, str(exc), exc.headers)

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return _validation_response(exc.errors())

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code)
        if code is None:
            body = ErrorOut(code="http_error", message=str(exc.detail))
            return error_response(exc.status_code, body, dict(exc.headers or {}))
        return edge_response(code, str(exc.detail), dict(exc.headers or {}))

    async def internal_error(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error", exc_info=exc)
        return edge_response("internal", f"internal error ({type(exc).__name__}); this is a defect in oneiro")

    app.add_exception_handler(OneiroError, oneiro_error)
    app.add_exception_handler(EdgeError, edge_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, internal_error)


def _validation_response(errors: Any) -> JSONResponse:
    """A request FastAPI could not parse: malformed JSON is ``malformed_json``; a body or a query
    of the wrong shape is ``invalid_input``, naming the first field at fault."""
    first = errors[0] if errors else {}
    if first.get("type") == "json_invalid":
        return edge_response("malformed_json", f"malformed JSON: {first.get('msg', 'cannot be parsed')}")
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = ".".join(loc) or None
    message = str(first.get("msg", "invalid request"))
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    body = ErrorOut(code="invalid_input", message=message, field=field)
    return error_response(422, body)


#: The error responses every route documents in the OpenAPI schema.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "invalid input or malformed JSON"),
        (404, "unknown id"),
        (409, "conflicts with the store's state (a cycle running, a revision decided)"),
        (413, "request body over the limit"),
        (422, "a request of the wrong shape"),
        (500, "server error"),
    )
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorOut, "description": "no bearer token, or a wrong one"},
    403: {"model": ErrorOut, "description": "the store is open read-only"},
}
