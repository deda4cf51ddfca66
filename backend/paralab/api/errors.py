"""The API's side of errors: every failure becomes one JSON shape, ``ErrorBody``.

Services raise ``paralab.errors``; the handlers here turn those, Litestar's own HTTP
errors and anything unexpected into ``ErrorBody`` responses, and add the hints that name
API routes ("see GET /api/scenarios"), which the services must not know about.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from paralab.errors import ParaLabError, UnknownModel, UnknownScenario


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every 4xx and 5xx answer of the API has this shape."""

    status_code: int
    error: str
    """Short machine-readable code, e.g. ``not_found`` or ``validation_error``."""
    detail: str
    """What went wrong, in words a person can act on."""
    extra: dict[str, Any] | list[Any] | None = None


def _code_for(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


MAX_DETAIL = 500
"""Error details quote what the client sent: never echo a huge id back in full."""


def _respond(body: ErrorBody, headers: dict[str, str] | None = None) -> Response[ErrorBody]:
    if len(body.detail) > MAX_DETAIL:
        body = msgspec.structs.replace(body, detail=body.detail[:MAX_DETAIL] + " …")
    return Response(
        content=body, status_code=body.status_code, media_type=MediaType.JSON, headers=headers
    )


ROUTE_HINTS: dict[type[ParaLabError], str] = {
    UnknownScenario: "see GET /api/scenarios",
    UnknownModel: "see GET /api/models",
}
"""Where a client finds the ids it may use, appended to the error's detail."""


def _with_hint(exc: ParaLabError) -> str:
    for kind, hint in ROUTE_HINTS.items():
        if isinstance(exc, kind):
            return f"{exc.detail.rstrip('.')}: {hint}."
    return exc.detail


def paralab_error_handler(_: Request[Any, Any, Any], exc: ParaLabError) -> Response[ErrorBody]:
    body = ErrorBody(
        status_code=exc.status_code, error=exc.error, detail=_with_hint(exc), extra=exc.extra
    )
    return _respond(body, exc.headers)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    error = "validation_error" if exc.status_code == 400 else _code_for(exc.status_code)
    extra = exc.extra if isinstance(exc.extra, dict | list) else None
    detail = exc.detail
    if isinstance(extra, list) and any(_is_missing_body(item) for item in extra):
        detail = "The request needs a JSON body."  # Litestar only says "'data'"
    if exc.status_code == 413:  # Litestar's own body-size check: say what the limit is
        limit = request.route_handler.resolve_request_max_body_size()
        detail = f"The request body is larger than the limit of {limit:,} bytes."
    body = ErrorBody(status_code=exc.status_code, error=error, detail=detail, extra=extra)
    return _respond(body, exc.headers)


def _is_missing_body(item: object) -> bool:
    return (
        isinstance(item, dict) and item.get("source") == "body" and item.get("message") == "'data'"
    )


def internal_error_handler(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    body = ErrorBody(
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        error="internal_error",
        detail=f"Internal server error ({type(exc).__name__}).",
    )
    return _respond(body)


def recursion_error_handler(
    request: Request[Any, Any, Any], exc: RecursionError
) -> Response[ErrorBody]:
    """msgspec raises RecursionError on deeply nested JSON: the client's fault. Any other
    recursion error is ours."""
    if "deserializ" not in str(exc):
        return internal_error_handler(request, exc)
    body = ErrorBody(
        status_code=400, error="validation_error", detail="The request body is nested too deeply."
    )
    return _respond(body)


EXCEPTION_HANDLERS = {
    ParaLabError: paralab_error_handler,
    RecursionError: recursion_error_handler,
    HTTPException: http_error_handler,
    Exception: internal_error_handler,
}


def error_responses(*status_codes: int) -> dict[int, ResponseSpec]:
    """OpenAPI entries declaring the error shape for the given statuses (plus 400 and 500,
    which any handler can answer: a malformed request, an unexpected failure)."""
    return {
        code: ResponseSpec(
            data_container=ErrorBody,
            description=HTTPStatus(code).phrase,
            generate_examples=False,
        )
        for code in sorted({*status_codes, 400, 500})
    }
