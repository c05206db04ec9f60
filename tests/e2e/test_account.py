"""A person's own account: a password change ends every other session and every token
at once, and so does a deactivation; sessions are listed and ended one by one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.office import PASSWORD, Office, page
from workflow.services import accounts, people
from workflow.services.context import ServiceContext

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def bearer(client: TestClient, token: str, url: str = "/api/v1/auth/me") -> int:
    return client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_password_change_ends_every_other_session_and_token(
    client: TestClient, office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    here = office("author", lang="ko")
    other = accounts.log_in(ctx, "author@newsroom.example", PASSWORD, "127.0.0.9")
    token = accounts.create_token(ctx, staff.author, "laptop").token
    assert bearer(client, token) == 200

    shown = page(here, "/account").text
    assert "이 브라우저" in shown and "laptop" in shown
    changed = here.submit(
        "/account",
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    assert here.client.get("/office").status_code == 200  # this browser stays signed in
    assert accounts.session_user(ctx, other.session_token) is None
    assert bearer(client, token) == 401
    assert len(accounts.list_sessions(ctx, staff.author)) == 1
    accounts.check_credentials(ctx, "author@newsroom.example", NEW_PASSWORD, "127.0.0.1")


def test_a_wrong_current_password_changes_nothing_and_says_so_in_korean(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    here = office("author", lang="ko")
    refused = here.submit(
        "/account",
        "/account/password",
        {"current_password": "not my password", "new_password": NEW_PASSWORD},
    )
    assert refused.status_code == 422
    assert "현재 비밀번호가 맞지 않습니다" in refused.text
    accounts.check_credentials(ctx, "author@newsroom.example", PASSWORD, "127.0.0.1")


def test_a_session_is_ended_from_the_account_page(
    app: FastAPI, office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    here = office("author")
    other = accounts.log_in(ctx, "author@newsroom.example", PASSWORD, "127.0.0.9")
    sessions = accounts.list_sessions(ctx, staff.author, current_token=other.session_token)
    theirs = next(s for s in sessions if s.current)
    ended = here.submit("/account", f"/account/sessions/{theirs.id}/end", {})
    assert ended.status_code == 303
    assert accounts.session_user(ctx, other.session_token) is None


def test_deactivation_ends_every_session_and_token(
    client: TestClient, ctx: ServiceContext, staff: Staff, cheap_password_hashing: None
) -> None:
    accounts.set_password(ctx, staff.author, staff.author, PASSWORD)
    signed_in = accounts.log_in(ctx, "author@newsroom.example", PASSWORD, "127.0.0.1")
    token = accounts.create_token(ctx, staff.author, "ci").token
    people.deactivate_user(ctx, staff.admin, staff.author)
    assert bearer(client, token) == 401
    assert accounts.session_user(ctx, signed_in.session_token) is None
    assert accounts.list_sessions(ctx, staff.author) == []
