"""Single sign-on against a real OpenID provider on loopback (oidc-provider on Node.js):
the code flow with PKCE end to end, and every way an answer must not be believed: a
forged state, an ID token for another audience, expired, or signed with a key the
provider does not publish, another nonce, an email nobody has an account for or the
provider did not verify. Then the office's two-factor policy after single sign-on, and
password sign-in switched off."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from fastapi import FastAPI

from config.settings import Settings
from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.web import PASSWORD, Browser, form_token
from tests.oidc import CLIENT_ID, CLIENT_SECRET, Provider, start_provider
from workflow.api import create_app
from workflow.clock import FrozenClock
from workflow.services import accounts, people, single_sign_on, two_factor
from workflow.services.context import ServiceContext

ACCOUNTS = {
    "author-sub": {"email": "Author@Newsroom.example", "email_verified": True, "name": "Kim"},
    "approver-sub": {"email": "approver@newsroom.example", "email_verified": True, "name": "Lee"},
    "stranger-sub": {"email": "new@newsroom.example", "email_verified": True, "name": "Oh Se-ri"},
    "unverified-sub": {"email": "author@newsroom.example", "email_verified": False},
}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    yield from start_provider(ACCOUNTS)


@pytest.fixture
def clock() -> FrozenClock:
    # The provider signs with the real time; the service checks with its clock.
    return FrozenClock(datetime.now(UTC))


@pytest.fixture
def ctx(
    database_url: str, clock: FrozenClock, tmp_path: Path, provider: Provider
) -> Iterator[ServiceContext]:
    settings = Settings(
        database_url=database_url,
        environment="test",
        var_dir=tmp_path / "var",
        public_base_url="http://testserver",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_provider_name="Ministry sign-on",
    )
    context = ServiceContext.from_settings(settings, clock)
    yield context
    context.engine.dispose()


def sign_on(client: TestClient, provider: Provider, account: str, **how: object) -> httpx.Response:
    """The whole round trip: Newsroom to the provider and back to the callback."""
    provider.next_sign_in(account, **how)  # type: ignore[arg-type]
    start = client.get("/login/sso?next=/office/admin", follow_redirects=False)
    assert start.status_code == 303, start.text[:500]
    back = provider.authorize(start.headers["location"])
    return client.get(back.removeprefix("http://testserver"), follow_redirects=False)


def test_a_staff_member_signs_on_with_the_code_flow_and_pkce(
    client: TestClient, provider: Provider, staff: Staff
) -> None:
    page = client.get("/login?lang=en")
    assert "Sign in with Ministry sign-on" in page.text
    provider.next_sign_in("author-sub")
    start = client.get("/login/sso?next=/office/admin", follow_redirects=False)
    asked = parse_qs(urlsplit(start.headers["location"]).query)
    assert asked["client_id"] == [CLIENT_ID] and asked["response_type"] == ["code"]
    assert asked["code_challenge_method"] == ["S256"] and asked["code_challenge"][0]
    assert asked["state"][0] and asked["nonce"][0]
    assert asked["redirect_uri"] == ["http://testserver/login/sso/callback"]
    cookie = start.headers["set-cookie"]
    assert "newsroom_sso=" in cookie and "HttpOnly" in cookie and "Path=/login/sso" in cookie

    back = provider.authorize(start.headers["location"])
    done = client.get(back.removeprefix("http://testserver"), follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/office/admin")
    me = client.get("/api/v1/auth/me").json()
    assert me["email"] == "author@newsroom.example" and me["roles"] == ["press_officer"]
    # The flow's cookie is spent: the same answer a second time is refused.
    again = client.get(back.removeprefix("http://testserver"), follow_redirects=False)
    assert again.status_code == 401


def test_a_forged_state_is_refused(
    app: FastAPI, client: TestClient, provider: Provider, staff: Staff
) -> None:
    provider.next_sign_in("author-sub")
    start = client.get("/login/sso", follow_redirects=False)
    back = provider.authorize(start.headers["location"])
    query = parse_qs(urlsplit(back).query)
    forged = f"/login/sso/callback?code={query['code'][0]}&state=forged-{query['state'][0]}"
    refused = client.get(forged, headers={"Accept-Language": "en"}, follow_redirects=False)
    assert refused.status_code == 401
    assert "the sign-in state does not match this browser" in refused.text
    assert "newsroom_session" not in client.cookies
    # Nor does a browser that never began one get anywhere with a real answer.
    with TestClient(app) as stranger:
        other = stranger.get(back.removeprefix("http://testserver"), follow_redirects=False)
        assert other.status_code == 401 and "newsroom_session" not in stranger.cookies


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ({"claims": {"aud": "another-client"}}, "the ID token is not for this sign-in"),
        (
            {"claims": {"aud": [CLIENT_ID, "another-client"]}},
            "the ID token is not for this sign-in",
        ),
        ({"claims": {"iss": "http://127.0.0.1:1"}}, "the ID token is not for this sign-in"),
        ({"claims": {"nonce": "another-nonce"}}, "the ID token is not for this sign-in"),
        ({"exp": -600}, "the ID token is not for this sign-in"),
        ({"foreign_key": True}, "the signature of the ID token does not hold"),
    ],
    ids=["wrong-aud", "aud-without-azp", "wrong-iss", "wrong-nonce", "expired", "foreign-key"],
)
def test_an_id_token_that_does_not_hold_is_refused(
    client: TestClient, provider: Provider, staff: Staff, tamper: dict[str, object], reason: str
) -> None:
    client.cookies.set("newsroom_lang", "en")
    provider.tamper(**tamper)
    refused = sign_on(client, provider, "author-sub")
    assert refused.status_code == 401, refused.text[:300]
    assert reason in refused.text
    assert "newsroom_session" not in client.cookies
    assert client.get("/api/v1/auth/me").status_code == 401


def test_an_unknown_email_is_refused_until_an_admin_allows_new_accounts(
    client: TestClient, provider: Provider, ctx: ServiceContext, staff: Staff
) -> None:
    client.cookies.set("newsroom_lang", "ko")
    refused = sign_on(client, provider, "stranger-sub")
    assert refused.status_code == 401
    assert "이 이메일 주소의 직원 계정이 없습니다" in refused.text
    assert all(u.email != "new@newsroom.example" for u in people.list_users(ctx, staff.admin))

    single_sign_on.set_new_account_role(ctx, staff.admin, "translator")
    made = sign_on(client, provider, "stranger-sub")
    assert made.status_code == 303
    me = client.get("/api/v1/auth/me").json()
    assert (me["email"], me["name"], me["roles"]) == (
        "new@newsroom.example",
        "Oh Se-ri",
        ["translator"],
    )


def test_an_unverified_email_is_refused(
    client: TestClient, provider: Provider, staff: Staff
) -> None:
    refused = sign_on(client, provider, "unverified-sub")
    assert refused.status_code == 401
    assert "newsroom_session" not in client.cookies


def test_a_deactivated_account_is_refused(
    client: TestClient, provider: Provider, ctx: ServiceContext, staff: Staff
) -> None:
    people.deactivate_user(ctx, staff.admin, staff.author)
    assert sign_on(client, provider, "author-sub").status_code == 401


def test_the_policy_asks_newsrooms_second_factor_unless_the_provider_checked_two(
    app: FastAPI, provider: Provider, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    two_factor.set_policy(ctx, staff.admin, "approvers_and_admins")
    # The provider says it checked a password and a one-time code: that is enough.
    with TestClient(app) as client:
        done = sign_on(client, provider, "approver-sub", amr=["pwd", "otp", "mfa"])
        assert done.status_code == 303 and "newsroom_session" in client.cookies
    # A password alone at the provider: Newsroom's own, set up first.
    with TestClient(app) as client:
        client.cookies.set("newsroom_lang", "en")
        step = sign_on(client, provider, "approver-sub", amr=["pwd"])
        assert step.status_code == 200
        assert "Set up two-factor sign-in" in step.text
        assert "newsroom_session" not in client.cookies
    # A press officer is not covered: a password at the provider will do.
    with TestClient(app) as client:
        assert sign_on(client, provider, "author-sub", amr=["pwd"]).status_code == 303


def test_an_acr_the_office_trusts_counts_as_two_factors(
    provider: Provider, ctx: ServiceContext, staff: Staff
) -> None:
    two_factor.set_policy(ctx, staff.admin, "everyone")
    ctx.settings.oidc_mfa_acr_values = ["urn:gov:loa:high"]
    with TestClient(create_app(ctx)) as client:
        assert sign_on(client, provider, "author-sub", acr="urn:gov:loa:high").status_code == 303
    with TestClient(create_app(ctx)) as client:
        assert sign_on(client, provider, "author-sub", acr="urn:gov:loa:low").status_code == 200


def test_with_two_factor_on_the_code_follows_single_sign_on_when_covered(
    app: FastAPI, provider: Provider, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    with ctx.uow() as uow:
        approver = uow.users.get(staff.approver)
    secret = two_factor.start_enrolment(ctx, approver).secret
    two_factor.confirm_enrolment(ctx, approver, pyotp.TOTP(secret).at(clock.now()))
    clock.advance(seconds=30)
    two_factor.set_policy(ctx, staff.admin, "approvers_and_admins")
    with TestClient(app) as client:
        client.cookies.set("newsroom_lang", "en")
        step = sign_on(client, provider, "approver-sub")
        assert "Type the six digits" in step.text
        browser = Browser(client)
        token = form_token(step.text)
        state = step.text.split('name="state" value="')[1].split('"')[0]
        done = browser.client.post(
            "/login/code",
            data={"csrf_token": token, "state": state, "code": pyotp.TOTP(secret).at(clock.now())},
            follow_redirects=False,
        )
        assert done.status_code == 303 and "newsroom_session" in client.cookies


def test_password_sign_in_can_be_switched_off(
    provider: Provider, ctx: ServiceContext, staff: Staff
) -> None:
    accounts.set_password(ctx, staff.author, staff.author, PASSWORD)
    ctx.settings.password_sign_in = False
    with TestClient(create_app(ctx)) as client:
        page = client.get("/login?lang=en")
        assert "Sign in with Ministry sign-on" in page.text
        assert 'name="password"' not in page.text
        api = client.post(
            "/api/v1/auth/token",
            json={"email": "author@newsroom.example", "password": PASSWORD, "name": "cli"},
        )
        assert api.status_code == 403
        assert api.json()["message"] == "password sign-in is switched off: use single sign-on"
        assert sign_on(client, provider, "author-sub").status_code == 303
    assert accounts.list_tokens(ctx, staff.author) == []
