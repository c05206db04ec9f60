"""The press office's pages as several staff members use them at once: one browser (one
cookie jar) each, signed in through the login form."""

from __future__ import annotations

import re
from contextlib import ExitStack
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.web import PASSWORD, Browser
from tests.html_inspection import html_error, unlabelled_controls
from workflow.services import accounts
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

EMAILS = {
    "author": "author@newsroom.example",
    "officer": "officer@newsroom.example",
    "approver": "approver@newsroom.example",
    "approver_2": "director@newsroom.example",
    "translator": "translator@newsroom.example",
    "officer_approver": "both@newsroom.example",
    "admin": "admin@newsroom.example",
}
_TEXTAREA = re.compile(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', re.S)


class Office:
    """A browser per persona, each signed in on first use."""

    def __init__(self, app: FastAPI, ctx: ServiceContext, staff: Staff, stack: ExitStack):
        self.app, self.ctx, self.staff, self.stack = app, ctx, staff, stack
        self.browsers: dict[str, Browser] = {}
        for persona in EMAILS:
            user_id = getattr(staff, persona)
            accounts.set_password(ctx, user_id, user_id, PASSWORD)

    def __call__(self, persona: str, lang: str = "en") -> Browser:
        if persona not in self.browsers:
            client = self.stack.enter_context(TestClient(self.app))
            client.cookies.set("newsroom_lang", lang)
            browser = Browser(client)
            browser.log_in(EMAILS[persona])
            self.browsers[persona] = browser
        return self.browsers[persona]

    def state(self, release_id: int) -> str:
        return get_release(self.ctx, release_id).state.value


def page(browser: Browser, url: str, status: int = 200, **kwargs: Any) -> httpx.Response:
    """A page that must be valid HTML with every form control labelled."""
    response = browser.page(url, status=status, **kwargs)
    assert unlabelled_controls(response.text) == [], url
    return response


def post(
    browser: Browser, page_url: str, action: str, data: dict[str, Any], status: int = 303
) -> httpx.Response:
    """Fill in the form on ``page_url`` and post it; an answer that is a page must be
    valid HTML."""
    response = browser.submit(page_url, action, data)
    assert response.status_code == status, (action, response.status_code, response.text[:800])
    if response.headers.get("content-type", "").startswith("text/html"):
        assert html_error(response.text) is None
    return response


def released_id(response: httpx.Response) -> int:
    """The release a post-redirect-get leads to."""
    match = re.match(r"^/office/releases/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def textareas(html: str) -> dict[str, str]:
    import html as html_module

    return {name: html_module.unescape(text) for name, text in _TEXTAREA.findall(html)}
