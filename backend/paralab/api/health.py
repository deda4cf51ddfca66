from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import msgspec
from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Reference,
    Schema,
)

from paralab.api.errors import ErrorBody, error_responses
from paralab.health import CheckResult, Readiness, ReadinessReport


class Liveness(msgspec.Struct, frozen=True):
    status: str


class NotReady(ErrorBody, kw_only=True):
    """The 503 of ``/health/ready``: an ``ErrorBody`` that also carries the report."""

    ready: bool
    checks: dict[str, CheckResult]


def _not_ready(report: ReadinessReport) -> NotReady:
    failing = [
        f"{name} ({result.detail})" if result.detail else name
        for name, result in report.checks.items()
        if not result.ready
    ]
    detail = f"Not ready: {', '.join(failing)}." if failing else "Not ready: no service started."
    return NotReady(
        status_code=503, error="not_ready", detail=detail, ready=False, checks=report.checks
    )


@dataclass
class _ExtendedRef(Schema):
    """A schema that is a ``$ref`` plus more keywords (valid in OpenAPI 3.1 / JSON Schema
    2020-12): "an ``ErrorBody``, and also ...". Litestar's ``Schema`` has no ``$ref``."""

    ref: str | None = None


@dataclass
class ReadyOperation(Operation):
    """Document the 503 as what it is: an ``ErrorBody`` plus ``ready`` and ``checks``
    (the frontend and monitors read the checks from it)."""

    def __post_init__(self) -> None:
        if not self.responses:
            return
        schema = _ExtendedRef(
            ref="#/components/schemas/ErrorBody",
            properties={
                "ready": Schema(type=OpenAPIType.BOOLEAN, const=False),
                "checks": Schema(
                    type=OpenAPIType.OBJECT,
                    additional_properties=Reference(ref="#/components/schemas/CheckResult"),
                ),
            },
            required=["ready", "checks"],
        )
        self.responses["503"] = OpenAPIResponse(
            description="Not ready: an ErrorBody with the failing checks",
            content={MediaType.JSON: OpenAPIMediaType(schema=schema)},
        )


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", responses=error_responses())
    async def live(self) -> Liveness:
        """The process answers: it is alive (says nothing about its services)."""
        return Liveness(status="ok")

    @get("/ready", responses=error_responses(503), operation_class=ReadyOperation)
    async def ready(self, readiness: NamedDependency[Readiness]) -> Response[ReadinessReport]:
        """200 when every service is ready to work, 503 with the failing checks otherwise."""
        report = readiness.report()
        if report.ready:
            return Response(report, status_code=200)
        # The annotation documents the 200; ReadyOperation documents this 503.
        return cast("Response[ReadinessReport]", Response(_not_ready(report), status_code=503))
