"""Signing in: passwords, the lockout, browser sessions with CSRF, personal tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from workflow.clock import FrozenClock
from workflow.domain.errors import Conflict
from workflow.services import accounts, people
from workflow.services.context import ServiceContext

PASSWORD = "correct horse battery staple"
AUTHOR = "author@newsroom.example"


@pytest.fixture
def passwords(ctx: ServiceContext, staff: Staff) -> None:
    for user_id in (staff.author, staff.approver):
        accounts.set_password(ctx, user_id, user_id, PASSWORD)


def login(client: TestClient, email: str = AUTHOR, password: str = PASSWORD) -> dict[str, object]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    return {"status": response.status_code, "body": response.json(), "response": response}


def test_a_session_cookie_is_http_only_and_same_site_lax(
    client: TestClient, passwords: None
) -> None:
    response = client.post("/api/v1/auth/login", json={"email": AUTHOR, "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("newsroom_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert response.json()["user"]["roles"] == ["press_officer"]


def test_the_cookie_is_secure_over_https(app: FastAPI, passwords: None) -> None:
    with TestClient(app, base_url="https://newsroom.example") as client:
        response = client.post("/api/v1/auth/login", json={"email": AUTHOR, "password": PASSWORD})
    assert "Secure" in response.headers["set-cookie"]


def test_changes_by_cookie_need_the_csrf_token(
    client: TestClient, passwords: None, staff: Staff
) -> None:
    csrf = client.post("/api/v1/auth/login", json={"email": AUTHOR, "password": PASSWORD}).json()[
        "csrf_token"
    ]
    me = client.get("/api/v1/auth/me")  # reading needs no CSRF token
    assert (me.status_code, me.json()["csrf_token"]) == (200, csrf)
    draft = {"language": "ko", "title": "세션 시험", "body": "본문", "topics": [staff.health]}

    refused = client.post("/api/v1/releases", json=draft)
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["rule"]
    forged = client.post("/api/v1/releases", json=draft, headers={"X-CSRF-Token": "0" * 64})
    assert forged.status_code == 403
    accepted = client.post("/api/v1/releases", json=draft, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201

    # Logging out needs the token too, then ends the session.
    assert client.post("/api/v1/auth/logout").status_code == 403
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401


def test_an_ended_session_is_refused_even_with_its_cookie(
    client: TestClient, passwords: None
) -> None:
    body = client.post("/api/v1/auth/login", json={"email": AUTHOR, "password": PASSWORD}).json()
    stolen = client.cookies["newsroom_session"]
    client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
    client.cookies.set("newsroom_session", stolen)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: TestClient, passwords: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str | None] = []
    real = accounts.verify_password

    def spy(password_hash: str | None, password: str) -> bool:
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", spy)
    wrong = login(client, AUTHOR, "not the password")
    unknown = login(client, "nobody@newsroom.example", "not the password")
    no_password = login(client, "officer@newsroom.example", "not the password")
    assert wrong["status"] == unknown["status"] == no_password["status"] == 401
    assert wrong["body"] == unknown["body"] == no_password["body"]
    # An unknown email is checked against a dummy hash all the same: the same work.
    assert [h is not None for h in checked] == [True, False, False]


def test_an_address_is_one_account_however_it_is_typed(
    ctx: ServiceContext, client: TestClient, staff: Staff, passwords: None
) -> None:
    assert login(client, "Author@NewsRoom.Example")["status"] == 200
    with pytest.raises(Conflict, match="already exists"):
        people.add_user(
            ctx, staff.admin, email="AUTHOR@newsroom.example", name="Twin", roles=["translator"]
        )
    added = people.add_user(
        ctx, staff.admin, email="Choi.HaEun@Newsroom.example", name="Choi", roles=["translator"]
    )
    assert people.get_user(ctx, staff.admin, added).email == "choi.haeun@newsroom.example"


def test_a_deactivated_account_cannot_log_in_or_use_its_tokens(
    ctx: ServiceContext, client: TestClient, staff: Staff, passwords: None, api: Api
) -> None:
    assert api("author", "GET", "/api/v1/auth/me").status_code == 200
    people.deactivate_user(ctx, staff.admin, staff.author)
    assert login(client)["status"] == 401
    assert api("author", "GET", "/api/v1/auth/me").status_code == 401


def test_failed_logins_lock_the_account_out_for_a_while(
    ctx: ServiceContext, client: TestClient, passwords: None, clock: FrozenClock
) -> None:
    limit = ctx.settings.login_max_failures_per_account
    for _ in range(limit):
        assert login(client, password="a wrong password")["status"] == 401
        clock.advance(seconds=10)
    # Now even the right password is refused, before it is checked.
    locked = login(client)
    assert locked["status"] == 429
    response = locked["response"]
    retry_after = int(response.headers["Retry-After"])  # type: ignore[attr-defined]
    window = ctx.settings.login_window_seconds
    assert retry_after == window - 10 * limit
    assert locked["body"]["retry_after"] == retry_after  # type: ignore[index]
    # Another account from the same address is not locked by this one.
    assert login(client, "approver@newsroom.example")["status"] == 200
    clock.advance(seconds=retry_after)
    assert login(client)["status"] == 200


def test_a_success_forgives_earlier_failures(
    ctx: ServiceContext, client: TestClient, passwords: None
) -> None:
    limit = ctx.settings.login_max_failures_per_account
    for _ in range(limit - 1):
        login(client, password="a wrong password")
    assert login(client)["status"] == 200
    for _ in range(limit - 1):
        login(client, password="a wrong password")
    assert login(client)["status"] == 200


def test_failures_from_one_address_lock_that_address_out(
    ctx: ServiceContext, client: TestClient, passwords: None
) -> None:
    ctx.settings.login_max_failures_per_address = 3
    for n in range(3):
        assert login(client, f"guess{n}@newsroom.example", "a wrong password")["status"] == 401
    assert login(client)["status"] == 429
    token = client.post(
        "/api/v1/auth/token", json={"email": AUTHOR, "password": PASSWORD, "name": "cli"}
    )
    assert token.status_code == 429


def test_a_personal_token_is_shown_once_and_can_be_revoked(
    client: TestClient, passwords: None
) -> None:
    issued = client.post(
        "/api/v1/auth/token",
        json={"email": AUTHOR, "password": PASSWORD, "name": "laptop", "expires_in_days": 30},
    )
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("nrt_")
    bearer = {"Authorization": f"Bearer {token}"}

    listed = client.get("/api/v1/tokens", headers=bearer).json()
    assert [t["name"] for t in listed] == ["laptop"]
    assert token not in str(listed)
    # A bearer request changes things without any CSRF token.
    second = client.post("/api/v1/tokens", json={"name": "ci"}, headers=bearer)
    assert second.status_code == 201

    assert client.delete(f"/api/v1/tokens/{issued.json()['id']}", headers=bearer).status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    other = {"Authorization": f"Bearer {second.json()['token']}"}
    assert client.get("/api/v1/auth/me", headers=other).status_code == 200


def test_tokens_expire(
    ctx: ServiceContext, client: TestClient, staff: Staff, clock: FrozenClock
) -> None:
    issued = accounts.create_token(ctx, staff.author, "short", expires_in_days=1)
    bearer = {"Authorization": f"Bearer {issued.token}"}
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    clock.advance(days=1)
    response = client.get("/api/v1/auth/me", headers=bearer)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_someone_elses_token_cannot_be_revoked(ctx: ServiceContext, api: Api, staff: Staff) -> None:
    theirs = accounts.create_token(ctx, staff.approver, "theirs")
    assert api("author", "DELETE", f"/api/v1/tokens/{theirs.id}").status_code == 404


def test_the_actor_is_never_taken_from_the_request(api: Api, staff: Staff) -> None:
    response = api(
        "author",
        "POST",
        "/api/v1/releases",
        json={"language": "ko", "title": "t", "body": "b", "author_id": -2},
    )
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "author_id"


@pytest.fixture
def anonymous(client: TestClient) -> Iterator[TestClient]:
    client.cookies.clear()
    yield client


def test_garbage_credentials_are_401_not_500(anonymous: TestClient) -> None:
    headers: dict[str, str | bytes]
    for headers in (
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer \u00ff\u00fe".encode("latin-1")},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Cookie": "newsroom_session=%00%ff"},
    ):
        assert anonymous.get("/api/v1/auth/me", headers=headers).status_code == 401


def test_a_password_set_on_the_command_line_opens_a_session(
    ctx: ServiceContext, client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from workflow import cli

    monkeypatch.setattr(cli, "_context", lambda: ctx)
    result = CliRunner().invoke(cli.app, ["user", "password", AUTHOR], input=f"{PASSWORD}\n")
    assert (result.exit_code, result.output.strip()) == (0, f"password set for {AUTHOR}")
    assert login(client)["status"] == 200

    short = CliRunner().invoke(cli.app, ["user", "password", AUTHOR], input="short\n")
    assert short.exit_code == 2
    assert "password: must be at least 10 characters" in short.output
