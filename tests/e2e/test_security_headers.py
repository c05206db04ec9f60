"""Every answer carries the security headers, whatever made it; no page has an inline
script for the policy to forbid; /docs runs from the project's own files."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.published import past_the_public_cache, publish
from workflow.clock import FrozenClock
from workflow.services.context import ServiceContext
from workflow.web.security_headers import CONTENT_SECURITY_POLICY

KO_BODY = "1. 외교부는 회의를 개최하였다.\n"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def assert_guarded(response: object, *, https: bool = False) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "'unsafe-inline'" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] in ("strict-origin-when-cross-origin", "no-referrer")
    assert "camera=()" in headers["permissions-policy"]
    assert ("strict-transport-security" in headers) is https


def test_every_kind_of_answer_carries_the_headers(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("회의", KO_BODY))
    past_the_public_cache(ctx, clock)
    for url, status in [
        ("/", 200),
        (f"/releases/{number}", 200),
        (f"/releases/{number}", 200),  # kept by the public page cache this time
        ("/api/v1/public/releases", 200),
        ("/api/v1/releases", 401),
        ("/releases/2099-9999", 404),
        ("/static/newsroom.css", 200),
        ("/feed.atom", 200),
        ("/login", 200),
        ("/docs", 200),
        ("/openapi.json", 200),
    ]:
        response = client.get(url)
        assert response.status_code == status, url
        assert_guarded(response)
    too_large = client.post("/api/v1/releases", content=b"x" * (ctx.settings.max_body_bytes + 1))
    assert too_large.status_code == 413
    assert_guarded(too_large)


def test_hsts_only_when_the_public_address_is_https(
    client: TestClient, ctx: ServiceContext
) -> None:
    assert_guarded(client.get("/"))
    ctx.settings.public_base_url = "https://press.mofa.example"
    assert_guarded(client.get("/"), https=True)


@pytest.mark.parametrize("url", ["/", "/login", "/subscribe", "/docs"])
def test_no_page_has_an_inline_script(client: TestClient, url: str) -> None:
    page = client.get(url).text
    assert INLINE_SCRIPT.search(page) is None, url
    assert not re.search(r'\son[a-z]+="', page), f"{url}: an inline event handler"


def test_the_api_documentation_comes_from_this_site(client: TestClient) -> None:
    page = client.get("/docs").text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(source.startswith("/") for source in sources), sources
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
    assert client.get("/redoc").status_code == 404
