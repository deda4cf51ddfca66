"""The API's side of errors: every failure becomes one JSON shape, ``ErrorBody``.

Services raise ``paralab.errors``; the handlers here turn those, Litestar's own HTTP
errors and anything unexpected into ``ErrorBody`` responses, and add the hints that name
API routes ("see GET /api/scenarios"), which the services must not know about.
"""

from __future__ import annotations

import logging
import re
from enum import Enum
from http import HTTPStatus
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from paralab.api.edge import request_id_of
from paralab.errors import ParaLabError, UnknownModel, UnknownScenario

log = logging.getLogger("paralab.api")


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every 4xx and 5xx answer of the API has this shape."""

    status_code: int
    error: str
    """Short machine-readable code, e.g. ``not_found`` or ``validation_error``."""
    detail: str
    """What went wrong, in words a person can act on."""
    extra: dict[str, Any] | list[Any] | None = None
    request_id: str = ""
    """The request's ``X-Request-ID``: quote it when reporting a problem; the server's
    log names it beside the traceback of any internal error."""


def _code_for(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


MAX_DETAIL = 500
"""Error details quote what the client sent: never echo a huge id back in full."""


def _respond(
    request: Request[Any, Any, Any], body: ErrorBody, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    if len(body.detail) > MAX_DETAIL:
        body = msgspec.structs.replace(body, detail=body.detail[:MAX_DETAIL] + " …")
    body = msgspec.structs.replace(body, request_id=request_id_of(request.scope))
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


def paralab_error_handler(
    request: Request[Any, Any, Any], exc: ParaLabError
) -> Response[ErrorBody]:
    body = ErrorBody(
        status_code=exc.status_code, error=exc.error, detail=_with_hint(exc), extra=exc.extra
    )
    return _respond(request, body, exc.headers)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorBody]:
    error = "validation_error" if exc.status_code == 400 else _code_for(exc.status_code)
    extra = exc.extra if isinstance(exc.extra, dict | list) else None
    detail = exc.detail
    if isinstance(extra, list) and any(_is_missing_body(item) for item in extra):
        detail = "The request needs a JSON body."  # Litestar only says "'data'"
    if isinstance(extra, list) and (choices := _enum_choices_detail(request, extra)):
        detail = choices  # Litestar only says "Validation failed for ..."
    if exc.status_code == 413:  # Litestar's own body-size check: say what the limit is
        limit = request.route_handler.resolve_request_max_body_size()
        detail = f"The request body is larger than the limit of {limit:,} bytes."
    body = ErrorBody(status_code=exc.status_code, error=error, detail=detail, extra=extra)
    return _respond(request, body, exc.headers)


def _is_missing_body(item: object) -> bool:
    return (
        isinstance(item, dict) and item.get("source") == "body" and item.get("message") == "'data'"
    )


_ENUM_MESSAGE = re.compile(r"Invalid enum value (?P<value>.*)")


def _enum_choices_detail(request: Request[Any, Any, Any], extra: list[Any]) -> str:
    """A sentence per parameter whose value is not one of its allowed values, naming them
    (msgspec says only "Invalid enum value 'bogus'")."""
    sentences = []
    for item in extra:
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            continue
        match = _ENUM_MESSAGE.fullmatch(item["message"])
        allowed = _allowed_values(request, str(item.get("key", "")))
        if match is None or not allowed:
            continue
        item["allowed"] = allowed
        source = getattr(item.get("source"), "value", item.get("source"))  # a ParamType
        where = f"The {source} parameter" if source else "The value"
        names = ", ".join(repr(value) for value in allowed)
        sentences.append(f"{where} {item['key']} must be one of {names} (got {match['value']}).")
    return " ".join(sentences)


def _allowed_values(request: Request[Any, Any, Any], key: str) -> list[Any]:
    for name, field in request.route_handler.parsed_fn_signature.parameters.items():
        alias = getattr(field.kwarg_definition, "query", None)
        if key in (name, alias):
            return _choices(field.annotation)
    return []


def _choices(annotation: Any) -> list[Any]:
    """The values a ``Literal`` or ``Enum`` annotation allows (inside ``Annotated`` or
    ``X | None``); empty for any other type."""
    origin = get_origin(annotation)
    if origin is Literal:
        return list(get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [member.value for member in annotation]
    if origin is Annotated:
        return _choices(get_args(annotation)[0])
    if origin is Union or origin is UnionType:
        return [value for arg in get_args(annotation) for value in _choices(arg)]
    return []


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    request_id = request_id_of(request.scope)
    log.error(
        "internal error on %s %s (request %s)",
        request.method,
        request.url.path,
        request_id,
        exc_info=exc,
    )
    body = ErrorBody(
        status_code=HTTP_500_INTERNAL_SERVER_ERROR,
        error="internal_error",
        detail=f"Internal server error ({type(exc).__name__}); the server's log has its "
        f"traceback under request {request_id}.",
    )
    return _respond(request, body)


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
    return _respond(request, body)


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
