from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency

from paralab.inference.service import InferenceService

PROMETHEUS_TEXT = "text/plain; version=0.0.4"
"""Litestar appends the charset itself."""


@get("/metrics", include_in_schema=True, tags=["health"], media_type=PROMETHEUS_TEXT)
async def prometheus_metrics(inference: NamedDependency[InferenceService]) -> Response[bytes]:
    """Prometheus text: requests by model and status, latency, batch sizes, queue, restarts."""
    return Response(inference.metrics.render(), media_type=PROMETHEUS_TEXT)
