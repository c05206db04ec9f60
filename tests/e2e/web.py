"""Driving the web interface through its ASGI app: a browser-like client that reads the
form token from the page it was given, signs in through the login form, and checks
every page it receives is valid HTML."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.e2e.conftest import TestClient
from tests.html_inspection import html_error

PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(page: str) -> str:
    match = _TOKEN.search(page)
    assert match, "the page has no form token"
    return match.group(1)


class Browser:
    """One visitor's cookie jar over the app; ``page`` fetches and validates a page."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def page(self, url: str, status: int = 200, **kwargs: Any) -> httpx.Response:
        response = self.client.get(url, **kwargs)
        assert response.status_code == status, (url, response.status_code, response.text[:500])
        assert response.headers["content-type"].startswith("text/html")
        problem = html_error(response.text)
        assert problem is None, f"{url} is not valid HTML: {problem}"
        return response

    def submit(
        self, page_url: str, action: str, data: dict[str, Any], **kwargs: Any
    ) -> httpx.Response:
        """Post ``data`` to ``action`` with the token of the form on ``page_url``, as a
        person filling in that page would; redirects are not followed."""
        token = form_token(self.page(page_url).text)
        return self.client.post(
            action, data={"csrf_token": token, **data}, follow_redirects=False, **kwargs
        )

    def log_in(self, email: str, password: str = PASSWORD) -> httpx.Response:
        response = self.submit("/login", "/login", {"email": email, "password": password})
        assert response.status_code == 303, response.text[:500]
        return response
