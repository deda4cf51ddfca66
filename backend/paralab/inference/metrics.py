"""Prometheus metrics of the inference service (one registry per service instance)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class InferenceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "paralab_inference_requests",
            "Predict requests by model, variant and HTTP status.",
            ["model", "variant", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "paralab_inference_latency_seconds",
            "Predict latency from arrival to answer.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "paralab_inference_batch_size",
            "Images per forward pass sent to a worker.",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "paralab_inference_queue_depth",
            "Requests waiting for a batch, per model and variant.",
            ["model", "variant"],
            registry=self.registry,
        )
        self.worker_restarts = Counter(
            "paralab_inference_worker_restarts",
            "Times the worker pool was rebuilt after a worker died.",
            registry=self.registry,
        )
        self.resubmitted = Counter(
            "paralab_inference_resubmitted_batches",
            "Batches resubmitted to a rebuilt pool after the pool broke (a batch that was in "
            "the worker that died is split: one per image).",
            registry=self.registry,
        )
        self.ready = Gauge(
            "paralab_inference_ready",
            "1 when every worker has loaded the models.",
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
