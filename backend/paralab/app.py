"""``create_app(settings)``: the only place that assembles the application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from paralab import __version__
from paralab.api.dependencies import Services
from paralab.api.edge import Edge
from paralab.api.errors import EXCEPTION_HANDLERS
from paralab.api.health import HealthController
from paralab.api.inference import ModelController
from paralab.api.metrics import prometheus_metrics
from paralab.api.runs import RunController
from paralab.api.scenarios import ScenarioController
from paralab.api.ws import run_events_socket
from paralab.health import Readiness
from paralab.inference.service import InferenceService
from paralab.runs.service import RunService
from paralab.settings import Settings

API_DESCRIPTION = """\
ParaLab runs real concurrency scenarios in isolated subprocesses and streams their events,
and serves a CIFAR-10 classifier and an Oxford-IIIT Pet segmenter from a process pool.
Every error has the `ErrorBody` shape."""


VENDOR = "/vendor/swagger-ui"


class SwaggerPage(SwaggerRenderPlugin):
    """Swagger UI from our own files, started by a script file rather than an inline
    one (the Content-Security-Policy allows no inline scripts or styles)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>ParaLab API</title>
  <link rel="icon" type="image/png" href="{VENDOR}/favicon-32x32.png">
  <link rel="stylesheet" href="{VENDOR}/swagger-ui.css">
  <script src="{VENDOR}/swagger-ui-bundle.js"></script>
  <script src="{VENDOR}/swagger-ui-standalone-preset.js"></script>
  <script src="/vendor/swagger-init.js"></script>
</head>
<body><div id="swagger-container"></div></body>
</html>
""".encode()


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="ParaLab API",
        version=__version__,
        description=API_DESCRIPTION,
        path="/schema",
        render_plugins=[SwaggerPage(path="/")],
    )


class ParaLab(Litestar):
    """Litestar behind the edge (``api/edge.py``), which sees every request first, even
    those no route matches."""

    edge: Edge

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            await self.edge(scope, receive, send, super().__call__)


def create_app(settings: Settings | None = None) -> ParaLab:
    """Build the ParaLab app; services start and stop with the app's lifespan."""
    settings = settings or Settings.from_env()
    services = Services(readiness=Readiness())

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        # Stopped in reverse: inference first, then runs (cancelled, awaited), then the store.
        async with AsyncExitStack() as stack:
            services.runs = await stack.enter_async_context(RunService.running(settings))
            services.readiness.register("run_store", services.runs.readiness)
            inference = InferenceService.running(settings)
            services.inference = await stack.enter_async_context(inference)
            services.readiness.register("models", services.inference.readiness)
            yield

    frontend = create_static_files_router(
        path="/",
        directories=[settings.server.frontend_dir],
        html_mode=True,
        name="frontend",
        include_in_schema=False,
    )
    app = ParaLab(
        route_handlers=[
            HealthController,
            ScenarioController,
            RunController,
            ModelController,
            prometheus_metrics,
            run_events_socket,
            frontend,
        ],
        dependencies=services.dependencies(),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=openapi_config(),
        lifespan=[lifespan],
        state=State({"settings": settings, "services": services}),
        request_max_body_size=settings.server.max_body_bytes,
        debug=False,
    )
    app.edge = Edge(settings.server)
    return app
