"""The reference for framework overhead: a bare Litestar endpoint that accepts the same
multipart upload as /api/models/{name}/predict and answers a fixed JSON."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, post
from litestar.datastructures import UploadFile

FIXED = {"model": "bare", "label": "cat", "scores": [{"label": "cat", "score": 1.0}]}


@post("/api/models/{name:str}/predict", status_code=200)
async def predict(name: str, request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    upload = form.get("file")
    if isinstance(upload, UploadFile):
        await upload.read()
    return FIXED


app = Litestar([predict])
