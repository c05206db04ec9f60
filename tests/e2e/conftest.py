"""The HTTP API through its ASGI app (no server): each test gets its own database."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from workflow.api import create_app
from workflow.services import accounts
from workflow.services.context import ServiceContext

with warnings.catch_warnings():
    # Starlette suggests another HTTP client package for its test client; httpx works.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PERSONAS = ("author", "officer", "approver", "approver_2", "translator", "admin")


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_password_hashing: None) -> None:
    """Every test here signs people in: Argon2 at its smallest cost (tests/conftest.py)."""


@pytest.fixture
def app(ctx: ServiceContext) -> FastAPI:
    return create_app(ctx)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


class Api:
    """Requests as one of the staff personas (by bearer token), or anonymously."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def __call__(self, who: str | None, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.request(method, url, headers=headers, **kwargs)

    def ok(self, who: str | None, method: str, url: str, **kwargs: Any) -> Any:
        response = self(who, method, url, **kwargs)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None


@pytest.fixture
def tokens(ctx: ServiceContext, staff: Staff) -> dict[str, str]:
    return {
        who: accounts.create_token(ctx, getattr(staff, who), f"{who}'s test token").token
        for who in PERSONAS
    }


@pytest.fixture
def api(client: TestClient, tokens: dict[str, str]) -> Api:
    return Api(client, tokens)
