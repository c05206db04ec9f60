"""The web interface's frame: signing in and out through forms, form tokens, error pages,
the KOR/ENG switch (the catalogue itself: tests/unit/test_catalogue.py)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.web import PASSWORD, Browser, form_token
from tests.html_inspection import dangerous_markup, html_error
from workflow.services import accounts
from workflow.services.context import ServiceContext
from workflow.web import pages

AUTHOR = "author@newsroom.example"


@pytest.fixture
def browser(client: TestClient, ctx: ServiceContext, staff: Staff) -> Browser:
    accounts.set_password(ctx, staff.author, staff.author, PASSWORD)
    return Browser(client)


def test_logging_in_sends_you_where_you_were_going(browser: Browser) -> None:
    login = browser.page("/login?next=/office/releases")
    assert 'name="next" value="/office/releases"' in login.text
    token = form_token(login.text)
    response = browser.client.post(
        "/login",
        data={"csrf_token": token, "email": AUTHOR, "password": PASSWORD, "next": "/office/x"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/office/x"
    assert "newsroom_session" in browser.client.cookies


def test_a_wrong_password_is_refused_on_the_page_in_its_language(browser: Browser) -> None:
    response = browser.submit("/login", "/login", {"email": AUTHOR, "password": "nope"})
    assert response.status_code == 401
    assert '<html lang="ko">' in response.text
    assert "이메일 또는 비밀번호가 맞지 않습니다" in response.text
    assert "wrong email or password" not in response.text
    assert html_error(response.text) is None
    assert "newsroom_session" not in browser.client.cookies
    english = browser.submit("/login?lang=en", "/login", {"email": AUTHOR, "password": "nope"})
    assert "wrong email or password" in english.text


def test_an_unknown_release_is_told_in_the_page_language_and_the_api_keeps_english(
    browser: Browser,
) -> None:
    korean = browser.page("/releases/2099-9999?lang=ko", status=404)
    assert "보도자료 2099-9999이(가) 없습니다" in korean.text
    assert "does not exist" not in korean.text
    english = browser.page("/releases/2099-9999?lang=en", status=404)
    assert "release 2099-9999 does not exist" in english.text
    api = browser.client.get("/api/v1/public/releases/2099-9999", headers={"Accept-Language": "ko"})
    assert api.status_code == 404
    assert api.json() == {
        "error": "not_found",
        "code": "release_not_found",
        "message": "release 2099-9999 does not exist",
    }


def test_an_unknown_user_gets_the_same_answer(browser: Browser) -> None:
    unknown = browser.submit("/login", "/login", {"email": "who@x.example", "password": "nope"})
    known = browser.submit("/login", "/login", {"email": AUTHOR, "password": "nope"})
    assert unknown.status_code == known.status_code == 401
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", unknown.text) == strip.sub("", known.text)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil", "x"])
def test_login_never_redirects_off_the_site(browser: Browser, target: str) -> None:
    token = form_token(browser.page("/login").text)
    response = browser.client.post(
        "/login",
        data={"csrf_token": token, "email": AUTHOR, "password": PASSWORD, "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/office"


def test_a_form_without_its_token_is_refused_and_changes_nothing(browser: Browser) -> None:
    response = browser.client.post(
        "/login", data={"email": AUTHOR, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "이 사이트에서 온 것이 아닙니다" in response.text  # the page's language: Korean
    assert html_error(response.text) is None
    assert "newsroom_session" not in browser.client.cookies


def test_another_visitors_token_is_refused(client: TestClient, browser: Browser) -> None:
    stolen = form_token(browser.page("/login").text)
    client.cookies.clear()
    client.get("/login")  # a fresh visitor cookie of their own
    response = client.post(
        "/login",
        data={"csrf_token": stolen, "email": AUTHOR, "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_logging_out_ends_the_session(browser: Browser, ctx: ServiceContext) -> None:
    browser.log_in(AUTHOR)
    session = browser.client.cookies["newsroom_session"]
    response = browser.submit("/login", "/logout", {})
    assert response.status_code == 303
    assert accounts.session_user(ctx, session) is None


def test_a_page_error_is_a_page_and_an_api_error_stays_json(browser: Browser) -> None:
    page = browser.page("/no/such/page", status=404)
    assert "Not found" in page.text or "찾을 수 없습니다" in page.text
    api = browser.client.get("/api/v1/no/such/thing")
    assert api.status_code == 404
    assert api.json()["error"] == "not_found"


def test_the_language_switch_is_remembered(browser: Browser) -> None:
    english = browser.page("/login?lang=en")
    assert '<html lang="en">' in english.text
    assert browser.page("/login").text.count("Log in") >= 2
    korean = browser.page("/login?lang=ko")
    assert '<html lang="ko">' in korean.text and "로그인" in korean.text


@pytest.mark.parametrize(
    ("header", "expected"),
    [("en-GB,en;q=0.9", "en"), ("fr, ko;q=0.5, en;q=0.4", "ko"), ("fr", "ko"), ("", "ko")],
)
def test_the_browser_language_decides_for_a_first_visit(
    client: TestClient, header: str, expected: str
) -> None:
    page = client.get("/login", headers={"Accept-Language": header})
    assert f'<html lang="{expected}">' in page.text


def test_release_text_renders_markdown_and_never_markup_from_the_writer() -> None:
    template = pages.environment().get_template("web/release_text.html")
    html = template.render(
        text_lang="en",
        text={
            "title": "<b>Title</b>",
            "subtitle": "",
            "body": "1. First\n\n   - point <script>alert(1)</script>\n\n[x](javascript:alert(1))",
        },
    )
    assert "&lt;b&gt;Title&lt;/b&gt;" in html
    assert "<li>" in html
    assert dangerous_markup(html) == []
