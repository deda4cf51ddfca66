from __future__ import annotations

from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

from paralab.cli import main
from paralab.openapi import OPENAPI_PATH, render_openapi


def test_committed_openapi_json_is_current() -> None:
    assert main(["export-openapi", "--check"]) == 0, "run `python -m paralab export-openapi`"


def test_check_fails_on_a_stale_file(tmp_path: Path) -> None:
    stale = tmp_path / "openapi.json"
    stale.write_text(OPENAPI_PATH.read_text().replace("ParaLab API", "Old API"))
    assert main(["export-openapi", "--check", "--path", str(stale)]) == 1
    assert main(["export-openapi", "--path", str(stale)]) == 0
    assert stale.read_text() == render_openapi()


def test_schema_is_openapi_3_1_and_declares_the_error_shape(client: TestClient[Litestar]) -> None:
    document = client.get("/schema/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert "ErrorBody" in document["components"]["schemas"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (method, path, status)


def test_docs_ui_loads_only_local_assets(client: TestClient[Litestar]) -> None:
    page = client.get("/schema")
    assert page.status_code == 200
    assert "swagger-ui-bundle.js" in page.text
    assert "http://" not in page.text
    assert "https://" not in page.text
    assert client.get("/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200


def test_predict_documents_both_ways_to_send_the_image(client: TestClient[Litestar]) -> None:
    schema = client.get("/schema/openapi.json").json()
    body = schema["paths"]["/api/models/{name}/predict"]["post"]["requestBody"]
    multipart = body["content"]["multipart/form-data"]["schema"]
    assert multipart["required"] == ["file"]
    assert multipart["properties"]["file"]["format"] == "binary"
    assert body["content"]["image/*"]["schema"]["format"] == "binary"
