"""``/docs``: Swagger UI for ``/openapi.json``, served from the project's own copy (the
``swagger-ui-bundle`` package), never from a public CDN, and started by a script file so
that the Content-Security-Policy needs no inline script."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

router = APIRouter(include_in_schema=False)

ASSETS = "/docs/assets"
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Newsroom API</title>
<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{ASSETS}/swagger-ui-bundle.js"></script>
<script src="/static/docs/swagger-init.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def documentation() -> HTMLResponse:
    return HTMLResponse(PAGE)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")
