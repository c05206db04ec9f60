"""Two-factor sign-in through HTTP: setting it up from the account page, signing in with
a code (a second step that is not yet a session), recovery codes, the lockout, the
office's policy, and the API's tokens. Codes are computed with pyotp from the secret
the page shows, at the service's clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.web import PASSWORD, Browser, form_token
from tests.html_inspection import html_error
from workflow.clock import FrozenClock
from workflow.db.tables import RecoveryCodeRow, TwoFactorRow
from workflow.domain.users import User
from workflow.services import accounts, two_factor
from workflow.services.context import ServiceContext

AUTHOR = "author@newsroom.example"
APPROVER = "approver@newsroom.example"
_SECRET = re.compile(r'<code class="secret" id="secret">([A-Z2-7 ]+)</code>')
_STATE = re.compile(r'name="state" value="([^"]+)"')
_CODES = re.compile(r"<li><code>([A-Z2-9-]{19})</code></li>")


@pytest.fixture
def passwords(ctx: ServiceContext, staff: Staff) -> None:
    for user_id in (staff.author, staff.approver, staff.admin, staff.translator):
        accounts.set_password(ctx, user_id, user_id, PASSWORD)


@pytest.fixture
def browser(app: FastAPI, passwords: None) -> Iterator[Browser]:
    with TestClient(app) as client:
        client.cookies.set("newsroom_lang", "en")
        yield Browser(client)


def user(ctx: ServiceContext, user_id: int) -> User:
    with ctx.uow() as uow:
        return uow.users.get(user_id)


def turned_on(ctx: ServiceContext, clock: FrozenClock, user_id: int) -> tuple[str, list[str]]:
    """Two-factor sign-in set up through the services: the secret and recovery codes;
    the clock moved on to the next step, so that a fresh code is usable."""
    person = user(ctx, user_id)
    secret = two_factor.start_enrolment(ctx, person).secret
    codes = two_factor.confirm_enrolment(ctx, person, pyotp.TOTP(secret).at(clock.now()))
    clock.advance(seconds=30)
    return secret, codes


def not_the_code(secret: str, clock: FrozenClock) -> str:
    """Six digits that are none of the codes accepted at this moment."""
    totp = pyotp.TOTP(secret)
    accepted = {totp.at(clock.now() + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in accepted)


def password_step(browser: Browser, email: str, next: str = "/office") -> httpx.Response:
    login = browser.page(f"/login?next={next}")
    return browser.client.post(
        "/login",
        data={
            "csrf_token": form_token(login.text),
            "email": email,
            "password": PASSWORD,
            "next": next,
        },
        follow_redirects=False,
    )


def code_step(browser: Browser, step: httpx.Response, code: str, action: str = "/login/code"):  # type: ignore[no-untyped-def]
    state = _STATE.search(step.text)
    assert state, step.text[:500]
    return browser.client.post(
        action,
        data={
            "csrf_token": form_token(step.text),
            "state": state.group(1),
            "code": code,
            "next": "/office",
        },
        follow_redirects=False,
    )


def test_setting_up_from_the_account_page_then_signing_in_with_a_code(
    browser: Browser, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    browser.log_in(AUTHOR)
    account = browser.page("/account")
    assert "Set up two-factor sign-in" in account.text
    refused = browser.submit(
        "/account", "/account/two-factor/start", {"current_password": "not it"}
    )
    assert refused.status_code == 422
    started = browser.submit(
        "/account", "/account/two-factor/start", {"current_password": PASSWORD}
    )
    assert (started.status_code, started.headers["location"]) == (303, "/account/two-factor")

    setup = browser.page("/account/two-factor")
    assert setup.headers["cache-control"] == "no-store"
    assert '<svg role="img" aria-label="QR code for your authenticator app"' in setup.text
    found = _SECRET.search(setup.text)
    assert found, setup.text[:1000]
    secret = found.group(1).replace(" ", "")
    # Stored encrypted, and not yet on: a password alone still signs in.
    with ctx.uow() as uow:
        row = uow.session.get(TwoFactorRow, staff.author)
        assert row is not None and row.confirmed_at is None
        assert secret not in row.secret
    wrong = browser.submit(
        "/account/two-factor",
        "/account/two-factor/confirm",
        {"code": not_the_code(secret, clock)},
    )
    assert wrong.status_code == 422
    assert "the code is not right" in wrong.text

    confirmed = browser.submit(
        "/account/two-factor",
        "/account/two-factor/confirm",
        {"code": pyotp.TOTP(secret).at(clock.now())},
    )
    assert confirmed.status_code == 200
    assert confirmed.headers["cache-control"] == "no-store"
    assert html_error(confirmed.text) is None
    codes = _CODES.findall(confirmed.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    with ctx.uow() as uow:
        stored = set(uow.session.scalars(select(RecoveryCodeRow.code_hash)))
    assert len(stored) == 10 and not any(c.replace("-", "") in "".join(stored) for c in codes)
    assert "10 recovery codes left" in browser.page("/account").text

    # Signing in again: the password leads to the code step, which is not a session.
    clock.advance(seconds=30)
    with TestClient(browser.client.app) as other_client:
        other = Browser(other_client)
        other_client.cookies.set("newsroom_lang", "en")
        step = password_step(other, AUTHOR)
        assert step.status_code == 200
        assert "Two-factor sign-in" in step.text
        assert "newsroom_session" not in other_client.cookies
        code = pyotp.TOTP(secret).at(clock.now())
        done = code_step(other, step, code)
        assert (done.status_code, done.headers["location"]) == (303, "/office")
        assert other.client.get("/office").status_code == 200

    # The same code again, within its 30 seconds, is refused: no replay.
    with TestClient(browser.client.app) as third_client:
        third_client.cookies.set("newsroom_lang", "en")
        third = Browser(third_client)
        replayed = code_step(third, password_step(third, AUTHOR), code)
        assert replayed.status_code == 401
        assert "the code is not right, or was already used" in replayed.text
        assert "newsroom_session" not in third_client.cookies


def test_a_recovery_code_signs_in_once(
    app: FastAPI, passwords: None, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    _secret, codes = turned_on(ctx, clock, staff.author)
    with TestClient(app) as client:
        client.cookies.set("newsroom_lang", "ko")
        browser = Browser(client)
        done = code_step(browser, password_step(browser, AUTHOR), codes[3].lower())
        assert done.status_code == 303
    with TestClient(app) as client:
        client.cookies.set("newsroom_lang", "ko")
        browser = Browser(client)
        again = code_step(browser, password_step(browser, AUTHOR), codes[3])
        assert again.status_code == 401
        assert "코드가 맞지 않거나 이미 사용된 코드입니다" in again.text
    assert two_factor.status(ctx, user(ctx, staff.author)).recovery_codes_left == 9


def test_wrong_codes_count_toward_the_lockout(
    browser: Browser, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    secret, _codes = turned_on(ctx, clock, staff.author)
    step = password_step(browser, AUTHOR)
    wrong = not_the_code(secret, clock)
    for _ in range(ctx.settings.login_max_failures_per_account):
        assert code_step(browser, step, wrong).status_code == 401
    # Locked out: even the right code is not checked now.
    locked = code_step(browser, step, pyotp.TOTP(secret).at(clock.now()))
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "newsroom_session" not in browser.client.cookies
    # The right password does not reset the count either: it is not a sign-in yet.
    assert password_step(browser, AUTHOR).status_code == 429


def test_the_second_step_expires_and_cannot_be_forged(
    browser: Browser, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    secret, _codes = turned_on(ctx, clock, staff.author)
    step = password_step(browser, AUTHOR)
    clock.advance(seconds=accounts.SIGN_IN_STATE_SECONDS + 1)
    late = code_step(browser, step, pyotp.TOTP(secret).at(clock.now()))
    assert late.status_code == 422
    assert "the sign-in took too long" in late.text
    assert 'action="/login"' in late.text
    forged = step.text.replace('name="state" value="', 'name="state" value="x')
    assert code_step(browser, httpx.Response(200, text=forged), "123456").status_code == 422
    assert "newsroom_session" not in browser.client.cookies


def test_the_policy_sends_an_approver_to_set_it_up_at_sign_in(
    app: FastAPI, passwords: None, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    with TestClient(app) as client:
        client.cookies.set("newsroom_lang", "en")
        admin = Browser(client)
        admin.log_in("admin@newsroom.example")
        page = admin.page("/office/admin/security")
        assert 'value="off" checked' in page.text
        bad = admin.submit(
            "/office/admin/security", "/office/admin/security", {"two_factor_policy": "nope"}
        )
        assert bad.status_code == 422
        saved = admin.submit(
            "/office/admin/security",
            "/office/admin/security",
            {"two_factor_policy": "approvers_and_admins"},
        )
        assert saved.status_code == 303
    assert two_factor.current_policy(ctx).value == "approvers_and_admins"

    # A press officer is not covered: the password signs in.
    with TestClient(app) as client:
        Browser(client).log_in(AUTHOR)

    # An approver is sent to set it up, in Korean, with no session until it is on.
    with TestClient(app) as client:
        client.cookies.set("newsroom_lang", "ko")
        approver = Browser(client)
        step = password_step(approver, APPROVER)
        assert step.status_code == 200
        assert "2단계 인증 설정" in step.text and "<svg" in step.text
        assert "newsroom_session" not in client.cookies
        found = _SECRET.search(step.text)
        assert found
        secret = found.group(1).replace(" ", "")
        done = code_step(approver, step, pyotp.TOTP(secret).at(clock.now()), action="/login/enrol")
        assert done.status_code == 200
        assert len(_CODES.findall(done.text)) == 10
        assert "newsroom_session" in client.cookies
        account = approver.page("/account")
        assert "끌 수 없습니다" in account.text  # the policy covers them
        refused = approver.submit(
            "/account", "/account/two-factor/off", {"code": pyotp.TOTP(secret).at(clock.now())}
        )
        assert refused.status_code == 403
    assert two_factor.status(ctx, user(ctx, staff.approver)).on


@pytest.mark.parametrize("persona", ["author", "approver", "translator"])
def test_only_admins_see_or_set_the_policy(
    app: FastAPI, passwords: None, ctx: ServiceContext, persona: str
) -> None:
    with TestClient(app) as client:
        browser = Browser(client)
        browser.log_in(f"{persona}@newsroom.example")
        assert client.get("/office/admin/security").status_code == 403
        token = form_token(browser.page("/account").text)
        refused = client.post(
            "/office/admin/security",
            data={"csrf_token": token, "two_factor_policy": "off"},
        )
        assert refused.status_code == 403
    with TestClient(app) as anonymous:
        went = anonymous.get("/office/admin/security", follow_redirects=False)
        assert went.status_code == 303 and went.headers["location"].startswith("/login")
        assert anonymous.get("/account/two-factor", follow_redirects=False).status_code == 303
    assert two_factor.current_policy(ctx).value == "off"


def test_turning_it_off_needs_a_code_and_new_recovery_codes_replace_the_old(
    browser: Browser, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    secret, codes = turned_on(ctx, clock, staff.author)
    signed_in = code_step(browser, password_step(browser, AUTHOR), codes[0])
    assert signed_in.status_code == 303
    renewed = browser.submit("/account", "/account/two-factor/recovery-codes", {"code": codes[1]})
    assert renewed.status_code == 200
    fresh = _CODES.findall(renewed.text)
    assert len(fresh) == 10 and not set(fresh) & set(codes)
    old = browser.submit("/account", "/account/two-factor/off", {"code": codes[2]})
    assert old.status_code == 401  # the old codes died with the renewal
    off = browser.submit(
        "/account", "/account/two-factor/off", {"code": pyotp.TOTP(secret).at(clock.now())}
    )
    assert off.status_code == 303
    assert not two_factor.status(ctx, user(ctx, staff.author)).on
    with ctx.uow() as uow:
        assert uow.session.scalars(select(RecoveryCodeRow)).all() == []


# --- the API -----------------------------------------------------------------------------


def test_the_api_asks_for_the_code_to_sign_in_and_to_make_a_token(
    client: TestClient, passwords: None, ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    secret, _codes = turned_on(ctx, clock, staff.author)
    totp = pyotp.TOTP(secret)
    body = {"email": AUTHOR, "password": PASSWORD, "name": "laptop"}

    missing = client.post("/api/v1/auth/token", json=body)
    assert missing.status_code == 401
    assert missing.json()["error"] == "second_factor_required"
    wrong = client.post(
        "/api/v1/auth/token",
        json={**body, "code": not_the_code(secret, clock)},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "authentication_failed"
    issued = client.post("/api/v1/auth/token", json={**body, "code": totp.at(clock.now())})
    assert issued.status_code == 201
    bearer = {"Authorization": f"Bearer {issued.json()['token']}"}

    # A signed-in caller making another token needs a fresh code too.
    clock.advance(seconds=30)
    assert (
        client.post("/api/v1/tokens", json={"name": "ci"}, headers=bearer).json()["error"]
        == "second_factor_required"
    )
    made = client.post(
        "/api/v1/tokens", json={"name": "ci", "code": totp.at(clock.now())}, headers=bearer
    )
    assert made.status_code == 201
    replayed = client.post(
        "/api/v1/tokens", json={"name": "ci 2", "code": totp.at(clock.now())}, headers=bearer
    )
    assert replayed.status_code == 401
    assert [t.name for t in accounts.list_tokens(ctx, staff.author)] == ["ci", "laptop"]

    clock.advance(seconds=30)
    login = client.post(
        "/api/v1/auth/login",
        json={"email": AUTHOR, "password": PASSWORD, "code": totp.at(clock.now())},
    )
    assert login.status_code == 200


def test_the_api_refuses_someone_the_policy_covers_until_they_set_it_up(
    client: TestClient, passwords: None, ctx: ServiceContext, staff: Staff
) -> None:
    two_factor.set_policy(ctx, staff.admin, "everyone")
    refused = client.post(
        "/api/v1/auth/token", json={"email": AUTHOR, "password": PASSWORD, "name": "laptop"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "two_factor_enrolment_required"
    wrong = client.post(
        "/api/v1/auth/token", json={"email": AUTHOR, "password": "nope", "name": "laptop"}
    )
    assert wrong.status_code == 401  # a wrong password says nothing of the policy
    assert accounts.list_tokens(ctx, staff.author) == []


def test_a_code_raced_by_two_requests_is_used_once(
    ctx: ServiceContext, clock: FrozenClock, staff: Staff
) -> None:
    """The compare-and-set on the time step: of two checks of one code, one passes."""
    secret, _codes = turned_on(ctx, clock, staff.author)
    code = pyotp.TOTP(secret).at(clock.now())
    person = user(ctx, staff.author)
    accounts.check_second_factor(ctx, person, code, "127.0.0.1")
    with pytest.raises(accounts.WrongSecondFactor):
        accounts.check_second_factor(ctx, person, code, "127.0.0.1")
    # A code of the step before the one used is refused as well.
    earlier = pyotp.TOTP(secret).at(clock.now() - timedelta(seconds=30))
    with pytest.raises(accounts.WrongSecondFactor):
        accounts.check_second_factor(ctx, person, earlier, "127.0.0.1")


def test_single_sign_on_is_not_found_when_it_is_not_set_up(browser: Browser) -> None:
    assert browser.client.get("/login/sso", follow_redirects=False).status_code == 404
    assert browser.client.get("/login/sso/callback?code=x&state=y").status_code == 404
    assert "/login/sso" not in browser.page("/login").text
