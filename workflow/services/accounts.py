"""Signing in: passwords, the second factor's codes, browser sessions, personal access
tokens, and the login lockout.

Every function is one short transaction. Setting a password, changing one's own, and
making or revoking a token each record an administrative act in it
(``admin_acts.record_admin_act``). Password checks (Argon2, tens of milliseconds)
run between transactions, never while one is open, so that a burst of logins does not
hold SQLite's write lock.

The lockout counts failed passwords over a sliding window three ways: for an email from
one client address (since that email's last success), for an email from anywhere, with a
much higher limit, and from one address for any email. Past a limit a login is refused
before any password is checked, with the seconds until the oldest counted failure leaves
the window. Someone guessing from one address locks out only themselves: the real user,
from another address, still signs in, unless failures from many addresses reach the
account-wide limit, which only a distributed attack does.
Two attempts racing at the edge of the limit may both be checked: the limit is a brake on
guessing, not an exact quota.

With a second factor on (``workflow.services.two_factor``), a right password is not yet a
success: it is recorded only with the right code, so that a guesser who knows the
password cannot reset the count between guesses of the code, and a wrong code counts as a
failed login.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import ceil
from typing import Any, Final, Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import and_, delete, func, select, update

from workflow.auth import (
    TOKEN_PREFIX,
    csrf_token,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from workflow.db.tables import ApiTokenRow, LoginAttemptRow, UserRow, WebSessionRow
from workflow.db.unit_of_work import UnitOfWork
from workflow.db.users import Credential, UserRepository, end_sign_ins
from workflow.domain.admin_acts import AdminActKind
from workflow.domain.errors import N_, DomainError, NotFound, PermissionDenied, ValidationFailed
from workflow.domain.two_factor import (
    EnrolmentRequired,
    SecondFactorRequired,
    TypedCode,
    policy_covers,
    read_code,
)
from workflow.domain.users import User, staff_email
from workflow.domain.values import single_line
from workflow.services import two_factor
from workflow.services.admin_acts import record_admin_act
from workflow.services.context import ServiceContext, resolve_actor

MAX_ADDRESS_LENGTH = 100
# How long the step between a right password and the second factor's code may take.
SIGN_IN_STATE_SECONDS: Final = 300
# Touching last_used_at on every request would make every read a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class AuthenticationFailed(DomainError):
    """Wrong email or password: one answer for both, so that emails cannot be probed."""

    code = "wrong_email_or_password"

    def __init__(self) -> None:
        super().__init__(N_("wrong email or password"))


class WrongSecondFactor(AuthenticationFailed):
    """A code that is not the second factor's, or was used already."""

    code = "wrong_code"

    def __init__(self) -> None:
        DomainError.__init__(self, N_("the code is not right, or was already used"))


class PasswordSignInOff(PermissionDenied):
    code = "password_sign_in_off"

    def __init__(self) -> None:
        super().__init__(N_("password sign-in is switched off: use single sign-on"))


class TooManyAttempts(DomainError):
    """The login lockout refused the attempt; ``retry_after`` is in whole seconds."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            N_("too many failed logins; try again in %(seconds)s seconds"), seconds=retry_after
        )
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new browser session. ``session_token`` goes in the cookie, and only there."""

    user: User
    session_token: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CodeNeeded:
    """The password was right, and the sign-in waits for a second factor: its code, or
    (``enrol``) for someone the office's policy covers to set one up first. ``state``
    carries them to that step, signed and short-lived; it is not a session."""

    user: User
    state: str
    enrol: bool


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new personal access token; ``token`` is shown this once and never again."""

    id: int
    name: str
    token: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


# --- passwords -----------------------------------------------------------------------


def set_password(ctx: ServiceContext, actor_id: int, user_id: int, password: str) -> None:
    """Set ``user_id``'s password; admins may set anyone's, others only their own."""
    password_hash = hash_password(password)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        if actor.id != user_id:
            actor.require_admin("set other people's passwords")
        row = uow.session.get(UserRow, user_id)
        if row is None:
            raise NotFound("user", user_id)
        row.password_hash = password_hash
        now = ctx.clock.now()
        # A new password ends every session and token made with the old one.
        ended = end_sign_ins(uow.session, user_id, now)
        record_admin_act(
            uow,
            actor,
            AdminActKind.USER_PASSWORD_SET,
            at=now,
            target_id=user_id,
            details={
                "email": row.email,
                "sessions_ended": ended.sessions,
                "tokens_revoked": ended.tokens,
            },
        )
        uow.commit()


def change_own_password(
    ctx: ServiceContext,
    user_id: int,
    current_password: str,
    new_password: str,
    *,
    keep_session: str | None = None,
) -> None:
    """A signed-in user changes their password, giving the current one: every other
    session and every token ends at once; ``keep_session`` (the cookie's token of the
    browser asking, if any) stays signed in."""
    password_hash = hash_password(new_password)
    with ctx.uow() as uow:
        row = uow.session.get(UserRow, user_id)
        if row is None:
            raise NotFound("user", user_id)
        current_hash = row.password_hash
    if not verify_password(current_hash, current_password):
        raise ValidationFailed("current_password", "the current password is not right")
    with ctx.uow() as uow:
        user = uow.users.get(user_id)
        row = uow.session.get(UserRow, user_id)
        assert row is not None
        row.password_hash = password_hash
        kept = token_digest(keep_session) if keep_session else None
        now = ctx.clock.now()
        ended = end_sign_ins(uow.session, user_id, now, keep_session_hash=kept)
        record_admin_act(
            uow,
            user,
            AdminActKind.USER_PASSWORD_CHANGED,
            at=now,
            target_id=user_id,
            details={"sessions_ended": ended.sessions, "tokens_revoked": ended.tokens},
        )
        uow.commit()


def set_password_by_email(ctx: ServiceContext, actor_id: int, email: str, password: str) -> None:
    with ctx.uow() as uow:
        user = uow.users.by_email(staff_email(email))
        if user is None:
            raise NotFound("user", email)
    set_password(ctx, actor_id, user.id, password)


def add_user_with_password(
    ctx: ServiceContext,
    actor_id: int,
    *,
    email: str,
    name: str,
    roles: Iterable[str],
    language: str = "ko",
    password: str | None = None,
) -> int:
    """``people.add_user``, with an initial password when one is given."""
    from workflow.services.people import add_user

    password_hash = hash_password(password) if password is not None else None
    return add_user(
        ctx,
        actor_id,
        email=email,
        name=name,
        roles=roles,
        language=language,
        password_hash=password_hash,
    )


def check_credentials(ctx: ServiceContext, email: str, password: str, address: str) -> User:
    """The active user with this email and password, or ``AuthenticationFailed``;
    ``TooManyAttempts`` (checking nothing) while the email or address is locked out.
    The password alone: sign-ins and tokens go through ``sign_in``, ``log_in`` and
    ``create_token_with_password``, which also ask for a second factor."""
    user = _password_holder(ctx, email, password, address)
    _record_attempt(ctx, user.email, address[:MAX_ADDRESS_LENGTH], succeeded=True)
    return user


def _password_holder(ctx: ServiceContext, email: str, password: str, address: str) -> User:
    """The active user with this email and password; a failure is recorded, a success
    is not (the caller records it once the sign-in is complete)."""
    if not ctx.settings.password_sign_in:
        raise PasswordSignInOff()
    email = staff_email(email)
    address = address[:MAX_ADDRESS_LENGTH]
    with ctx.uow() as uow:
        now = ctx.clock.now()
        _refuse_if_locked_out(ctx, uow, email, address, now)
        row = uow.session.scalar(select(UserRow).where(UserRow.email == email))
        password_hash = row.password_hash if row is not None else None
        user = uow.users.get(row.id) if row is not None else None
    matched = verify_password(password_hash, password)
    if not matched or user is None or not user.active:
        _record_attempt(ctx, email, address, succeeded=False)
        raise AuthenticationFailed()
    return user


def record_sign_in(ctx: ServiceContext, user: User, address: str) -> None:
    """A sign-in completed some other way (single sign-on): it forgives past failures
    of the user's email as a password's does."""
    _record_attempt(ctx, user.email, address[:MAX_ADDRESS_LENGTH], succeeded=True)


def _record_attempt(ctx: ServiceContext, email: str, address: str, *, succeeded: bool) -> None:
    with ctx.uow() as uow:
        _add_attempt(ctx, uow, email, address, succeeded)
        uow.commit()


def _add_attempt(
    ctx: ServiceContext, uow: UnitOfWork, email: str, address: str, succeeded: bool
) -> None:
    now = ctx.clock.now()
    uow.session.add(LoginAttemptRow(email=email, address=address, succeeded=succeeded, at=now))
    if succeeded:
        # What counted against this email is forgiven; the window's rows are history.
        window_start = now - timedelta(seconds=ctx.settings.login_window_seconds)
        uow.session.execute(
            delete(LoginAttemptRow).where(
                LoginAttemptRow.email == email, LoginAttemptRow.at < window_start
            )
        )


SecondStep = Literal["code", "enrol"] | None


def _second_step(ctx: ServiceContext, user: User) -> SecondStep:
    """What the sign-in of ``user`` still needs after the first factor."""
    with ctx.reading() as session:
        if two_factor.is_on(session, user.id):
            return "code"
        if policy_covers(two_factor.policy_in(session), user.roles):
            return "enrol"
    return None


def check_second_factor(ctx: ServiceContext, user: User, code: str, address: str) -> None:
    """Use up ``code`` of the user's second factor, or ``WrongSecondFactor``. It is part
    of signing in: the lockout applies before the check, and a wrong code counts as a
    failed login of the user's email from ``address``; a right one completes the sign-in
    and forgives, as a right password alone does without a second factor."""
    address = address[:MAX_ADDRESS_LENGTH]
    typed: TypedCode | None
    try:
        typed = read_code(code)
    except ValidationFailed:
        typed = None  # not a code at all: a failure like any wrong code
    with ctx.uow() as uow:
        now = ctx.clock.now()
        _refuse_if_locked_out(ctx, uow, user.email, address, now)
        good = typed is not None and two_factor.use_code(uow, ctx.settings, user.id, typed, now)
        _add_attempt(ctx, uow, user.email, address, good)
        uow.commit()
    if not good:
        raise WrongSecondFactor()


def has_password(ctx: ServiceContext, user_id: int) -> bool:
    with ctx.reading() as session:
        found = session.scalar(select(UserRow.password_hash).where(UserRow.id == user_id))
    return found is not None


def start_two_factor(
    ctx: ServiceContext, user: User, current_password: str
) -> two_factor.Enrolment:
    """Start setting up a second factor from the account page, which needs the current
    password (accounts without one, signed in by single sign-on, need none): a session
    left open must not be enough to put someone else's phone on the account."""
    with ctx.uow() as uow:
        row = uow.session.get(UserRow, user.id)
        if row is None:
            raise NotFound("user", user.id)
        current_hash = row.password_hash
    if current_hash is not None and not verify_password(current_hash, current_password):
        raise ValidationFailed("current_password", "the current password is not right")
    return two_factor.start_enrolment(ctx, user)


def renew_recovery_codes(ctx: ServiceContext, user: User, code: str, address: str) -> list[str]:
    """New recovery codes in place of every old one, given a code of the second factor
    (with the lockout); shown this once."""
    check_second_factor(ctx, user, code, address)
    return two_factor.replace_recovery_codes_after_check(ctx, user)


def turn_off_two_factor(ctx: ServiceContext, user: User, code: str, address: str) -> None:
    """Turn one's own second factor off, given a code of it (with the lockout); refused,
    before any code is used, when the office's policy requires it of them."""
    two_factor.may_turn_off(ctx, user)
    check_second_factor(ctx, user, code, address)
    two_factor.turn_off_after_check(ctx, user)


def _sign_in_serializer(ctx: ServiceContext) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        ctx.settings.secret_key,
        salt="newsroom.sign-in.second-factor",
        signer=_ClockSigner,
        signer_kwargs={"now": ctx.clock.now(), "digest_method": hashlib.sha256},
    )


class _ClockSigner(TimestampSigner):
    """Takes "now" from the service's clock, so that the state's age follows it."""

    def __init__(self, *args: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now.timestamp())


def sign_in_state(ctx: ServiceContext, user: User) -> str:
    """What carries ``user`` from their first factor to the second: signed with the
    secret key, valid for ``SIGN_IN_STATE_SECONDS``."""
    return str(_sign_in_serializer(ctx).dumps({"user": user.id}))


def state_user(ctx: ServiceContext, state: str) -> User:
    """The active user a sign-in state carries, or ``ValidationFailed`` when it is
    forged, too old, or its user can no longer sign in."""
    expired = ValidationFailed("state", "the sign-in took too long; enter your password again")
    try:
        payload = _sign_in_serializer(ctx).loads(state, max_age=SIGN_IN_STATE_SECONDS)
    except SignatureExpired:
        raise expired from None
    except BadSignature:
        raise ValidationFailed("state", "the sign-in is not valid; start again") from None
    user_id = payload.get("user") if isinstance(payload, dict) else None
    if not isinstance(user_id, int):
        raise ValidationFailed("state", "the sign-in is not valid; start again")
    with ctx.uow() as uow:
        try:
            user = uow.users.get(user_id)
        except NotFound:
            raise expired from None
    if not user.active:
        raise expired
    return user


def _refuse_if_locked_out(
    ctx: ServiceContext, uow: UnitOfWork, email: str, address: str, now: datetime
) -> None:
    settings = ctx.settings
    window = timedelta(seconds=settings.login_window_seconds)
    since = now - window
    last_success = uow.session.scalar(
        select(func.max(LoginAttemptRow.at)).where(
            LoginAttemptRow.email == email, LoginAttemptRow.succeeded.is_(True)
        )
    )
    account_since = max(since, last_success) if last_success is not None else since
    retry_after = 0
    same_email = LoginAttemptRow.email == email
    for condition, after, limit in (
        (
            and_(same_email, LoginAttemptRow.address == address),
            account_since,
            settings.login_max_failures_per_account,
        ),
        (same_email, account_since, settings.login_max_failures_per_account_everywhere),
        (LoginAttemptRow.address == address, since, settings.login_max_failures_per_address),
    ):
        failures = list(
            uow.session.scalars(
                select(LoginAttemptRow.at)
                .where(condition, LoginAttemptRow.succeeded.is_(False), LoginAttemptRow.at > after)
                .order_by(LoginAttemptRow.at)
            )
        )
        if len(failures) >= limit:
            # Allowed again once enough of the oldest failures have left the window.
            frees_at = failures[len(failures) - limit] + window
            retry_after = max(retry_after, ceil((frees_at - now).total_seconds()))
    if retry_after > 0:
        raise TooManyAttempts(retry_after)


# --- browser sessions ----------------------------------------------------------------


def sign_in(ctx: ServiceContext, email: str, password: str, address: str) -> SignedIn | CodeNeeded:
    """The web's first step: check the password (with the lockout) and open a session,
    or, when a second factor is on or the policy requires one, say so with the state
    that carries the user to ``finish_sign_in`` or to setting one up."""
    user = _password_holder(ctx, email, password, address)
    step = _second_step(ctx, user)
    if step is None:
        _record_attempt(ctx, user.email, address[:MAX_ADDRESS_LENGTH], succeeded=True)
        return open_session(ctx, user)
    return CodeNeeded(user, sign_in_state(ctx, user), enrol=step == "enrol")


def finish_sign_in(ctx: ServiceContext, state: str, code: str, address: str) -> SignedIn:
    """The second step: the code of the user the state carries opens their session."""
    user = state_user(ctx, state)
    check_second_factor(ctx, user, code, address)
    return open_session(ctx, user)


def finish_sign_in_by_enrolling(
    ctx: ServiceContext, state: str, code: str, address: str
) -> tuple[SignedIn, list[str]]:
    """For someone the policy sent to set up a second factor: the first code from it
    turns it on and opens their session; answers the recovery codes, shown once. A
    wrong code counts toward the lockout as at any sign-in."""
    user = state_user(ctx, state)
    address = address[:MAX_ADDRESS_LENGTH]
    with ctx.uow() as uow:
        _refuse_if_locked_out(ctx, uow, user.email, address, ctx.clock.now())
    try:
        codes = two_factor.confirm_enrolment(ctx, user, code)
    except ValidationFailed:
        _record_attempt(ctx, user.email, address, succeeded=False)
        raise WrongSecondFactor() from None
    _record_attempt(ctx, user.email, address, succeeded=True)
    return open_session(ctx, user), codes


def log_in(
    ctx: ServiceContext, email: str, password: str, address: str, code: str | None = None
) -> SignedIn:
    """The API's sign-in in one request: the password and, when a second factor is on,
    its ``code``; someone the policy covers who has none is refused until they set it
    up (in the browser)."""
    user = _password_holder(ctx, email, password, address)
    _complete_sign_in(ctx, user, code, address)
    return open_session(ctx, user)


def _complete_sign_in(ctx: ServiceContext, user: User, code: str | None, address: str) -> None:
    step = _second_step(ctx, user)
    if step == "enrol":
        raise EnrolmentRequired()
    if step == "code":
        if code is None:
            raise SecondFactorRequired()
        check_second_factor(ctx, user, code, address)
    else:
        _record_attempt(ctx, user.email, address[:MAX_ADDRESS_LENGTH], succeeded=True)


def open_session(ctx: ServiceContext, user: User) -> SignedIn:
    """A new browser session for ``user``, whose sign-in is complete."""
    token = new_token()
    with ctx.uow() as uow:
        now = ctx.clock.now()
        expires_at = now + timedelta(hours=ctx.settings.session_hours)
        uow.session.add(
            WebSessionRow(
                user_id=user.id,
                token_hash=token_digest(token),
                created_at=now,
                expires_at=expires_at,
            )
        )
        uow.commit()
    return SignedIn(user, token, csrf_token(ctx.settings.secret_key, token), expires_at)


def log_out(ctx: ServiceContext, session_token: str) -> None:
    """End the session whose cookie holds ``session_token`` (nothing if there is none)."""
    with ctx.uow() as uow:
        uow.session.execute(
            update(WebSessionRow)
            .where(
                WebSessionRow.token_hash == token_digest(session_token),
                WebSessionRow.revoked_at.is_(None),
            )
            .values(revoked_at=ctx.clock.now())
        )
        uow.commit()


@dataclass(frozen=True, slots=True)
class SessionView:
    id: int
    created_at: datetime
    expires_at: datetime
    current: bool  # the browser asking


def list_sessions(
    ctx: ServiceContext, user_id: int, *, current_token: str | None = None
) -> list[SessionView]:
    """The user's live browser sessions, newest first."""
    current = token_digest(current_token) if current_token else None
    with ctx.uow() as uow:
        rows = uow.session.scalars(
            select(WebSessionRow)
            .where(
                WebSessionRow.user_id == user_id,
                WebSessionRow.revoked_at.is_(None),
                WebSessionRow.expires_at > ctx.clock.now(),
            )
            .order_by(WebSessionRow.id.desc())
        )
        return [
            SessionView(r.id, r.created_at, r.expires_at, r.token_hash == current) for r in rows
        ]


def end_session(ctx: ServiceContext, user_id: int, session_id: int) -> None:
    """End one of the user's own sessions (another's is not found); twice is harmless."""
    with ctx.uow() as uow:
        row = uow.session.get(WebSessionRow, session_id)
        if row is None or row.user_id != user_id:
            raise NotFound("session", session_id)
        if row.revoked_at is None:
            row.revoked_at = ctx.clock.now()
        uow.commit()


def session_user(ctx: ServiceContext, session_token: str) -> User | None:
    """The active user of a live session, or None."""
    found = _holder(ctx, WebSessionRow, session_token)
    return None if found is None else found[1]


# --- personal access tokens ----------------------------------------------------------


def _token_days(ctx: ServiceContext, expires_in_days: int | None) -> int:
    days = ctx.settings.token_expiry_days if expires_in_days is None else expires_in_days
    longest = ctx.settings.token_max_expiry_days
    if not 1 <= days <= longest:
        raise ValidationFailed("expires_in_days", "must be between 1 and %(limit)s", limit=longest)
    return days


def create_token(
    ctx: ServiceContext,
    actor_id: int,
    name: str,
    expires_in_days: int | None = None,
    *,
    code: str | None = None,
    address: str = "",
) -> IssuedToken:
    """A new personal access token for the actor; it acts with the actor's roles. With
    a second factor on, its ``code`` is needed (a wrong one counts toward the lockout,
    from ``address``); someone the policy covers who has none gets no token."""
    name = single_line("name", name, max_length=100)
    days = _token_days(ctx, expires_in_days)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_active()
        if actor.id <= 0:
            raise PermissionDenied("tokens are for people, not for system actors")
    step = _second_step(ctx, actor)
    if step == "enrol":
        raise EnrolmentRequired()
    if step == "code":
        if code is None:
            raise SecondFactorRequired()
        check_second_factor(ctx, actor, code, address)
    return _issue_token(ctx, actor, name, days)


def _issue_token(ctx: ServiceContext, user: User, name: str, days: int) -> IssuedToken:
    token = new_token(TOKEN_PREFIX)
    with ctx.uow() as uow:
        now = ctx.clock.now()
        row = ApiTokenRow(
            user_id=user.id,
            name=name,
            token_hash=token_digest(token),
            created_at=now,
            expires_at=now + timedelta(days=days),
        )
        uow.session.add(row)
        uow.flush()
        record_admin_act(
            uow,
            user,
            AdminActKind.TOKEN_CREATED,
            at=now,
            target_id=row.id,
            details={"name": name, "expires_at": row.expires_at.isoformat()},
        )
        uow.commit()
        return IssuedToken(row.id, name, token, row.created_at, row.expires_at)


def create_token_with_password(
    ctx: ServiceContext,
    email: str,
    password: str,
    address: str,
    *,
    name: str,
    expires_in_days: int | None = None,
    code: str | None = None,
) -> IssuedToken:
    """Exchange an email and password (with the lockout), and the second factor's
    ``code`` when it is on, for a personal access token."""
    name = single_line("name", name, max_length=100)
    days = _token_days(ctx, expires_in_days)
    user = _password_holder(ctx, email, password, address)
    _complete_sign_in(ctx, user, code, address)
    return _issue_token(ctx, user, name, days)


def list_tokens(ctx: ServiceContext, actor_id: int) -> list[TokenView]:
    """The actor's own tokens, newest first (never the tokens themselves)."""
    with ctx.uow() as uow:
        rows = uow.session.scalars(
            select(ApiTokenRow)
            .where(ApiTokenRow.user_id == actor_id)
            .order_by(ApiTokenRow.id.desc())
        )
        return [
            TokenView(r.id, r.name, r.created_at, r.expires_at, r.last_used_at, r.revoked_at)
            for r in rows
        ]


def revoke_token(ctx: ServiceContext, actor_id: int, token_id: int) -> None:
    """Revoke one of the actor's own tokens; revoking it twice is harmless (and recorded
    once)."""
    with ctx.uow() as uow:
        row = uow.session.get(ApiTokenRow, token_id, with_for_update=True)
        # Someone else's token is "not found": its existence is not the caller's business.
        if row is None or row.user_id != actor_id:
            raise NotFound("token", token_id)
        if row.revoked_at is not None:
            return
        row.revoked_at = now = ctx.clock.now()
        record_admin_act(
            uow,
            uow.users.get(actor_id),
            AdminActKind.TOKEN_REVOKED,
            at=now,
            target_id=token_id,
            details={"name": row.name},
        )
        uow.commit()


def token_user(ctx: ServiceContext, token: str) -> User | None:
    """The active user a live personal access token belongs to, or None."""
    found = _holder(ctx, ApiTokenRow, token)
    if found is None:
        return None
    row, user = found
    now = ctx.clock.now()
    if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
        with ctx.uow() as uow:
            uow.session.execute(
                update(ApiTokenRow).where(ApiTokenRow.id == row.id).values(last_used_at=now)
            )
            uow.commit()
    return user


def _holder(
    ctx: ServiceContext, credential: type[Credential], token: str
) -> tuple[Credential, User] | None:
    """The live token or session ``token`` and its active user, or None: one statement
    outside any transaction, since every signed-in request makes it."""
    with ctx.reading() as session:
        found = UserRepository(session).by_credential(credential, token_digest(token))
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or row.expires_at <= ctx.clock.now() or not user.active:
        return None
    return found
