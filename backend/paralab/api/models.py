from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import State, UploadFile
from litestar.exceptions import HTTPException
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, QueryParameter

from paralab.errors import InvalidInput, ParaLabError, error_responses
from paralab.inference.schemas import Classification, Segmentation, Variant
from paralab.inference.service import InferenceService
from paralab.training.manifest import Manifest


class TensorSpec(msgspec.Struct, frozen=True):
    name: str
    datatype: str
    shape: list[int]
    description: str


class ModelSummary(msgspec.Struct, frozen=True):
    name: str
    version: str
    task: str
    classes: list[str]
    variants: list[str]
    ready: bool


class ModelMetadata(msgspec.Struct, frozen=True, kw_only=True):
    """In the spirit of KServe's v2 model metadata, plus how the model was made."""

    name: str
    versions: list[str]
    platform: str
    task: str
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    classes: list[str]
    variants: dict[str, Any]
    """Per variant: file, bytes, sha256, runtime, latency_ms, metrics."""
    metrics: dict[str, float]
    """On the held-out split."""
    latency_note: str
    """How ``latency_ms`` of each variant was measured."""
    training: dict[str, Any]
    ready: bool


@dataclass
class PredictOperation(Operation):
    """The predict handler reads its body itself (multipart or raw): describe both."""

    def __post_init__(self) -> None:
        binary = Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY)
        self.request_body = RequestBody(
            required=True,
            description="The image: a multipart field `file`, or the raw bytes as the body.",
            content={
                "multipart/form-data": OpenAPIMediaType(
                    schema=Schema(
                        type=OpenAPIType.OBJECT, properties={"file": binary}, required=["file"]
                    )
                ),
                "application/octet-stream": OpenAPIMediaType(schema=binary),
                "image/*": OpenAPIMediaType(schema=binary),
            },
        )


def _service(state: State) -> InferenceService:
    service: InferenceService = state.inference
    return service


def _metadata(manifest: Manifest, ready: bool) -> ModelMetadata:
    height, width, channels = manifest.input_size
    output_name = "probabilities" if manifest.task == "classification" else "mask"
    return ModelMetadata(
        name=manifest.name,
        versions=[manifest.version],
        platform="tensorflow-keras+litert",
        task=manifest.task,
        inputs=[
            TensorSpec(
                "image",
                "BYTES",
                [-1],
                f"An encoded image (JPEG, PNG, GIF, WebP, BMP, TIFF); resized to "
                f"{width}x{height}x{channels} by the server.",
            )
        ],
        outputs=[
            TensorSpec(
                output_name, "FP32", list(manifest.output.shape), manifest.output.description
            )
        ],
        classes=list(manifest.classes),
        variants=msgspec.to_builtins(manifest.files),
        metrics=dict(manifest.metrics),
        latency_note=manifest.latency_note,
        training={
            "data": msgspec.to_builtins(manifest.training_data),
            "architecture": msgspec.to_builtins(manifest.architecture),
            "epochs": manifest.epochs,
            "training_seconds": manifest.training_seconds,
            "seed": manifest.seed,
            "baseline": msgspec.to_builtins(manifest.baseline),
        },
        ready=ready,
    )


async def _image_bytes(request: Request[Any, Any, Any]) -> bytes:
    """The upload: multipart field ``file``, or the raw request body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("Multipart requests must carry the image in a field named 'file'.")
        data: bytes = await upload.read()
        return data
    return await request.body()


class ModelController(Controller):
    path = "/api/models"
    tags = ["models"]

    @get("/", responses=error_responses())
    async def list_models(self, state: State) -> list[ModelSummary]:
        """The shipped models and whether the workers have loaded them."""
        service = _service(state)
        return [
            ModelSummary(m.name, m.version, m.task, list(m.classes), list(m.files), service.ready)
            for m in service.manifests.values()
        ]

    @get("/{name:str}", responses=error_responses(404))
    async def get_model(self, name: FromPath[str], state: State) -> ModelMetadata:
        """Inputs, outputs, classes, versions, variants and held-out metrics of one model."""
        service = _service(state)
        return _metadata(service.manifest(name), service.ready)

    @post(
        "/{name:str}/predict",
        status_code=200,
        responses=error_responses(404, 413, 415, 422, 503, 504),
        operation_class=PredictOperation,
    )
    async def predict(
        self,
        name: FromPath[str],
        request: Request[Any, Any, Any],
        state: State,
        variant: Annotated[Variant, QueryParameter()] = "keras",
    ) -> Classification | Segmentation:
        """Classify or segment one image (multipart field ``file`` or a raw image body)."""
        service = _service(state)
        service.manifest(name)
        try:
            payload = await _image_bytes(request)
        except (ParaLabError, HTTPException) as exc:
            service.count_refused(name, variant, exc.status_code)
            raise
        return await service.predict(name, variant, payload)
