"""The app's services, handed to handlers by Litestar dependency injection.

``create_app`` makes one ``Services``; the lifespan fills it as each service starts, and
handlers name what they need (``runs: RunService``) instead of reading ``app.state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from litestar.di import Provide

from paralab.api.shutdown import Shutdown
from paralab.health import Readiness
from paralab.inference.service import InferenceService
from paralab.runs.service import RunService


@dataclass
class Services:
    readiness: Readiness
    runs: RunService | None = None
    inference: InferenceService | None = None
    shutdown: Shutdown = field(default_factory=Shutdown)

    def provide_runs(self) -> RunService:
        assert self.runs is not None, "the run service starts with the app"
        return self.runs

    def provide_inference(self) -> InferenceService:
        assert self.inference is not None, "the inference service starts with the app"
        return self.inference

    def provide_readiness(self) -> Readiness:
        return self.readiness

    def provide_shutdown(self) -> Shutdown:
        return self.shutdown

    async def go_away(self, grace_s: float) -> None:
        """Before the server closes its connections: cancel the runs (each records why,
        and its followers get its last events), then end every open stream with a
        going-away frame."""
        self.shutdown.stopping = True
        if self.runs is not None:
            await self.runs.manager.shutdown()
        await self.shutdown.begin(grace_s)

    def dependencies(self) -> dict[str, Provide]:
        return {
            "runs": Provide(self.provide_runs, sync_to_thread=False),
            "inference": Provide(self.provide_inference, sync_to_thread=False),
            "readiness": Provide(self.provide_readiness, sync_to_thread=False),
            "shutdown": Provide(self.provide_shutdown, sync_to_thread=False),
        }
