"""The exception hierarchy services raise. No HTTP here: ``api/errors.py`` maps each
error to the one JSON error body, and adds hints that name API routes."""

from __future__ import annotations

from typing import Any


class ParaLabError(Exception):
    """Base of the errors services raise; each subclass maps to one HTTP status."""

    status_code: int = 400
    error: str = "bad_request"
    headers: dict[str, str] | None = None

    def __init__(self, detail: str, extra: dict[str, Any] | list[Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(ParaLabError):
    status_code = 404
    error = "not_found"


class UnknownScenario(NotFound):
    """No scenario in the catalog has this id."""


class UnknownModel(NotFound):
    """No shipped model has this name."""


class InvalidInput(ParaLabError):
    status_code = 422
    error = "invalid_input"


class Conflict(ParaLabError):
    status_code = 409
    error = "conflict"


class RetryLater(ParaLabError):
    """Refused for now; ``Retry-After`` tells the client when to try again."""

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after_s)}


class TooManyRequests(RetryLater):
    status_code = 429
    error = "too_many_requests"


class Unavailable(RetryLater):
    status_code = 503
    error = "unavailable"
