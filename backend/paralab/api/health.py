from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency

from paralab.api.errors import error_responses
from paralab.health import Readiness, ReadinessReport


class Liveness(msgspec.Struct, frozen=True):
    status: str


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", responses=error_responses())
    async def live(self) -> Liveness:
        """The process answers: it is alive (says nothing about its services)."""
        return Liveness(status="ok")

    @get("/ready", responses=error_responses(503))
    async def ready(self, readiness: NamedDependency[Readiness]) -> Response[ReadinessReport]:
        """200 when every service is ready to work, 503 with the failing checks otherwise."""
        report = readiness.report()
        return Response(report, status_code=200 if report.ready else 503)
