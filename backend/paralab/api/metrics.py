from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import State

from paralab.inference.service import InferenceService

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
"""Litestar appends the charset itself."""


@get("/metrics", include_in_schema=True, tags=["health"], media_type=PROMETHEUS_TEXT)
async def prometheus_metrics(state: State) -> Response[bytes]:
    """Prometheus text: requests by model and status, latency, batch sizes, queue, restarts."""
    service: InferenceService = state.inference
    return Response(service.metrics.render(), media_type=PROMETHEUS_TEXT)
