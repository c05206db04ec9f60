"""Two-factor sign-in: a person's authenticator and recovery codes, and the office's
policy of whose sign-in needs them.

Setting it up takes two steps: ``start_enrolment`` keeps a new secret, not yet in force,
for the QR code; ``confirm_enrolment`` turns it on once the person types a code from it,
and gives the recovery codes, shown that once. Whatever else needs a code (signing in,
a token, new recovery codes, turning it off) goes through ``workflow.services.accounts``,
which counts a wrong code toward the login lockout; ``use_code`` here is the check
itself. A TOTP code is accepted once: the time step it belongs to is recorded with a
compare-and-set, so two requests with the same code (or a code replayed within its
30 s) cannot both pass, and a recovery code is marked used the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from workflow.db.tables import RecoveryCodeRow, SecurityPolicyRow, TwoFactorRow
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain.admin_acts import AdminActKind
from workflow.domain.errors import Conflict, NotFound, ValidationFailed
from workflow.domain.two_factor import (
    TwoFactorPolicy,
    TypedCode,
    checked_policy,
    policy_covers,
    read_code,
    require_may_turn_off,
    step_usable,
)
from workflow.domain.users import User, staff_email
from workflow.one_time_codes import (
    SecretBox,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    recovery_digest,
)
from workflow.services.admin_acts import record_admin_act
from workflow.services.context import ServiceContext, resolve_actor


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A secret waiting to be confirmed: what the QR code and the text show."""

    secret: str
    uri: str


@dataclass(frozen=True, slots=True)
class TwoFactorStatus:
    on: bool
    since: datetime | None
    recovery_codes_left: int
    # Whether the office's policy requires it of this person.
    required: bool


def box(settings: Settings) -> SecretBox:
    return SecretBox(settings.secret_key, settings.previous_secret_keys)


# --- the office's policy ---------------------------------------------------------------


def policy_in(session: Session) -> TwoFactorPolicy:
    value = session.scalar(select(SecurityPolicyRow.two_factor).where(SecurityPolicyRow.id == 1))
    return TwoFactorPolicy(value) if value else TwoFactorPolicy.OFF


def current_policy(ctx: ServiceContext) -> TwoFactorPolicy:
    with ctx.reading() as session:
        return policy_in(session)


def set_policy(ctx: ServiceContext, actor_id: int, value: str) -> TwoFactorPolicy:
    """Set whose sign-in needs a second factor (admins only). It applies from each
    person's next sign-in: sessions and tokens already made stay until they end."""
    policy = checked_policy(value)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("set the sign-in policy")
        now = ctx.clock.now()
        row = uow.session.get(SecurityPolicyRow, 1, with_for_update=True)
        changed_by = actor.id if actor.id > 0 else None
        before = row.two_factor if row is not None else TwoFactorPolicy.OFF.value
        if row is None:
            uow.session.add(
                SecurityPolicyRow(
                    id=1, two_factor=policy.value, changed_at=now, changed_by=changed_by
                )
            )
        else:
            row.two_factor, row.changed_at, row.changed_by = policy.value, now, changed_by
        if before != policy.value:
            record_admin_act(
                uow,
                actor,
                AdminActKind.SIGN_IN_POLICY_CHANGED,
                at=now,
                details={"two_factor": {"before": before, "after": policy.value}},
            )
        uow.commit()
    return policy


# --- one person's second factor ----------------------------------------------------------


def is_on(session: Session, user_id: int) -> bool:
    confirmed = session.scalar(
        select(TwoFactorRow.confirmed_at).where(TwoFactorRow.user_id == user_id)
    )
    return confirmed is not None


def status(ctx: ServiceContext, user: User) -> TwoFactorStatus:
    with ctx.uow() as uow:
        row = uow.session.get(TwoFactorRow, user.id)
        left = uow.session.scalar(
            select(func.count())
            .select_from(RecoveryCodeRow)
            .where(RecoveryCodeRow.user_id == user.id, RecoveryCodeRow.used_at.is_(None))
        )
        on = row is not None and row.confirmed_at is not None
        return TwoFactorStatus(
            on=on,
            since=row.confirmed_at if row is not None else None,
            recovery_codes_left=(left or 0) if on else 0,
            required=policy_covers(policy_in(uow.session), user.roles),
        )


def start_enrolment(ctx: ServiceContext, user: User) -> Enrolment:
    """A new secret for ``user``, kept but not in force until confirmed; starting again
    replaces one not yet confirmed. Refused while a second factor is on."""
    secret = new_secret()
    with ctx.uow() as uow:
        row = uow.session.get(TwoFactorRow, user.id, with_for_update=True)
        if row is not None and row.confirmed_at is not None:
            raise Conflict("two-factor sign-in is already on; turn it off first")
        sealed = box(ctx.settings).seal(secret)
        if row is None:
            uow.session.add(
                TwoFactorRow(user_id=user.id, secret=sealed, created_at=ctx.clock.now())
            )
        else:
            row.secret, row.created_at, row.last_used_step = sealed, ctx.clock.now(), None
        uow.commit()
    return Enrolment(secret, provisioning_uri(secret, user.email))


def pending_enrolment(ctx: ServiceContext, user: User) -> Enrolment | None:
    """The secret started and not yet confirmed, if any."""
    with ctx.uow() as uow:
        row = uow.session.get(TwoFactorRow, user.id)
        if row is None or row.confirmed_at is not None:
            return None
        secret = box(ctx.settings).open(row.secret)
    return Enrolment(secret, provisioning_uri(secret, user.email))


def confirm_enrolment(ctx: ServiceContext, user: User, code: str) -> list[str]:
    """Turn the started secret on, given a code from it: answers the recovery codes,
    which are shown this once."""
    typed = read_code(code)
    if typed.kind != "totp":
        raise ValidationFailed("code", "type the six digits your authenticator app shows")
    codes = new_recovery_codes()
    with ctx.uow() as uow:
        now = ctx.clock.now()
        row = uow.session.get(TwoFactorRow, user.id, with_for_update=True)
        if row is None or row.confirmed_at is not None:
            raise Conflict("there is no two-factor set-up waiting for a code; start again")
        step = matching_step(box(ctx.settings).open(row.secret), typed.value, now)
        if step is None:
            raise WrongCode()
        row.confirmed_at, row.last_used_step = now, step
        _replace_recovery_codes(uow, user.id, codes, now)
        record_admin_act(uow, user, AdminActKind.TWO_FACTOR_TURNED_ON, at=now, target_id=user.id)
        uow.commit()
    return codes


def replace_recovery_codes_after_check(ctx: ServiceContext, user: User) -> list[str]:
    """New recovery codes in place of every old one, shown this once. Only once the
    caller has checked a code (``accounts.renew_recovery_codes``)."""
    codes = new_recovery_codes()
    with ctx.uow() as uow:
        if not is_on(uow.session, user.id):
            raise Conflict("two-factor sign-in is not on")
        _replace_recovery_codes(uow, user.id, codes, ctx.clock.now())
        uow.commit()
    return codes


def turn_off_after_check(ctx: ServiceContext, user: User) -> None:
    """Turn one's own second factor off; refused when the office's policy requires it
    of them. Only once the caller has checked a code (``accounts.turn_off_two_factor``)."""
    with ctx.uow() as uow:
        require_may_turn_off(policy_in(uow.session), user.roles)
        _remove(uow, user.id)
        record_admin_act(
            uow, user, AdminActKind.TWO_FACTOR_TURNED_OFF, at=ctx.clock.now(), target_id=user.id
        )
        uow.commit()


def may_turn_off(ctx: ServiceContext, user: User) -> None:
    """``PermissionDenied`` when the office's policy requires a second factor of ``user``."""
    with ctx.reading() as session:
        require_may_turn_off(policy_in(session), user.roles)


def reset(ctx: ServiceContext, actor_id: int, email: str) -> None:
    """An admin takes away someone's second factor (a lost phone and lost recovery
    codes): they sign in with their password alone, and set it up again (at once, if the
    policy covers them)."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("reset two-factor sign-in")
        user = uow.users.by_email(staff_email(email))
        if user is None:
            raise NotFound("user", email)
        was_on = is_on(uow.session, user.id)
        _remove(uow, user.id)
        record_admin_act(
            uow,
            actor,
            AdminActKind.TWO_FACTOR_RESET,
            at=ctx.clock.now(),
            target_id=user.id,
            details={"email": user.email, "was_on": was_on},
        )
        uow.commit()


def use_code(
    uow: UnitOfWork, settings: Settings, user_id: int, typed: TypedCode, now: datetime
) -> bool:
    """Whether ``typed`` is a good code of the user's second factor, used up if so: the
    TOTP step is recorded, a recovery code marked used. In the caller's transaction."""
    if typed.kind == "recovery":
        used = uow.session.execute(
            update(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.user_id == user_id,
                RecoveryCodeRow.code_hash == recovery_digest(typed.value),
                RecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return bool(used.rowcount)  # type: ignore[attr-defined]
    row = uow.session.get(TwoFactorRow, user_id)
    if row is None or row.confirmed_at is None:
        return False
    step = matching_step(box(settings).open(row.secret), typed.value, now)
    if step is None or not step_usable(step, row.last_used_step):
        return False
    # Compare-and-set: of two requests racing with the same code, one moves the step.
    moved = uow.session.execute(
        update(TwoFactorRow)
        .where(
            TwoFactorRow.user_id == user_id,
            or_(TwoFactorRow.last_used_step.is_(None), TwoFactorRow.last_used_step < step),
        )
        .values(last_used_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


class WrongCode(ValidationFailed):
    def __init__(self) -> None:
        super().__init__("code", "the code is not right, or was already used")


def _replace_recovery_codes(uow: UnitOfWork, user_id: int, codes: list[str], now: datetime) -> None:
    uow.session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
    uow.session.execute(
        insert(RecoveryCodeRow),
        [{"user_id": user_id, "code_hash": recovery_digest(c), "created_at": now} for c in codes],
    )


def _remove(uow: UnitOfWork, user_id: int) -> None:
    uow.session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.user_id == user_id))
    uow.session.execute(delete(TwoFactorRow).where(TwoFactorRow.user_id == user_id))
