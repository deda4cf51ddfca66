from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi.spec import (
    Example,
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import PathParameter, QueryParameter

from paralab.api.errors import error_responses
from paralab.errors import InvalidInput, ParaLabError
from paralab.inference.schemas import (
    Classification,
    ModelMetadata,
    ModelSummary,
    Segmentation,
    Variant,
)
from paralab.inference.service import InferenceService


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


ModelName = Annotated[
    str,
    PathParameter(
        description="A served model (GET /api/models).",
        examples=[Example(value="cifar10-cnn"), Example(value="oxford-pets-fcn")],
    ),
]


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
    async def list_models(self, inference: NamedDependency[InferenceService]) -> list[ModelSummary]:
        """The shipped models and whether the workers have loaded them."""
        return inference.models()

    @get("/{name:str}", responses=error_responses(404))
    async def get_model(
        self, name: ModelName, inference: NamedDependency[InferenceService]
    ) -> ModelMetadata:
        """Inputs, outputs, classes, versions, variants and held-out metrics of one model."""
        return inference.metadata(name)

    @post(
        "/{name:str}/predict",
        status_code=200,
        responses=error_responses(404, 413, 415, 422, 503, 504),
        operation_class=PredictOperation,
    )
    async def predict(
        self,
        name: ModelName,
        request: Request[Any, Any, Any],
        inference: NamedDependency[InferenceService],
        variant: Annotated[Variant, QueryParameter()] = "keras",
    ) -> Classification | Segmentation:
        """Classify or segment one image (multipart field ``file`` or a raw image body)."""
        inference.manifest(name)  # an unknown model is a 404 before the upload is read
        try:
            payload = await _image_bytes(request)
        except (ParaLabError, HTTPException) as exc:
            inference.count_refused(name, variant, exc.status_code)
            raise
        return await inference.predict(name, variant, payload)
