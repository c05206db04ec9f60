"""While the database cannot be reached, every request is told so: 503 with Retry-After,
as JSON for the API and as a page for the web interface, never a 500.

The database here is a PostgreSQL URL on a port nobody listens on: exactly what the
service sees while PostgreSQL restarts. The restart itself, with a worker and API
traffic, is ``tests/integration/test_faults.py::test_a_postgresql_restart_...``.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from config.settings import Settings
from tests.e2e.conftest import TestClient
from tests.e2e.web import form_token
from tests.integration.conftest import free_port
from workflow.api import create_app
from workflow.api.errors import is_unavailable
from workflow.services.context import ServiceContext


@pytest.fixture
def down() -> Iterator[TestClient]:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/newsroom"
    context = ServiceContext.from_settings(Settings(database_url=url, environment="test"))
    app: FastAPI = create_app(context)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    context.engine.dispose()


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/api/v1/public/releases", {}),
        ("GET", "/api/v1/public/releases/2026-0001", {}),
        (
            "POST",
            "/api/v1/auth/token",
            {"json": {"email": "a@b.example", "password": "x" * 12, "name": "laptop"}},
        ),
        ("GET", "/api/v1/releases", {"headers": {"Authorization": "Bearer nrt_whatever"}}),
    ],
)
def test_the_api_answers_503_with_retry_after(
    down: TestClient, method: str, url: str, kwargs: dict[str, object]
) -> None:
    response = down.request(method, url, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"] == "unavailable"
    assert response.json()["retry_after"] == 5


def test_a_page_answers_503_as_a_page(down: TestClient) -> None:
    login = down.get("/login")
    assert login.status_code == 200, "the login form itself needs no database"
    response = down.post(
        "/login",
        data={"csrf_token": form_token(login.text), "email": "a@b.example", "password": "x"},
        follow_redirects=False,
    )
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["retry-after"] == "5"
    assert "<html" in response.text


def test_readyz_says_which_check_failed(down: TestClient) -> None:
    response = down.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] != "ok"


def test_only_an_unreachable_database_is_an_outage() -> None:
    refused = OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))
    dropped = InterfaceError("SELECT 1", {}, psycopg.InterfaceError("closed"))
    dropped.connection_invalidated = True
    broken_rule = IntegrityError("INSERT", {}, psycopg.IntegrityError("duplicate key"))
    assert is_unavailable(refused) and is_unavailable(dropped)
    assert not is_unavailable(broken_rule), "a bug stays a 500, with its traceback"
