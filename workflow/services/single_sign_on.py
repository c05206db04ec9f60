"""Signing in with the office's identity provider (OpenID Connect).

The provider says who someone is; Newsroom says what they may do. The staff account is
found by the email the provider vouches for (``email_verified``), lower-cased as every
staff email is; roles are never read from the provider. An email no account has is
refused, unless an admin has allowed single sign-on to make accounts, with one role they
chose, which admins then change as for anyone.

Two-factor sign-in after single sign-on follows the office's policy alone: someone it
does not cover is signed in (a second factor they turned on for password sign-ins is not
asked: the provider is the first factor and its own rules apply). Someone it covers is
signed in if the provider says it checked more than one factor (an ``amr`` with "mfa",
RFC 8176, or an ``acr`` among ``NEWSROOM_OIDC_MFA_ACR_VALUES``), as a ministry's provider
that enforces its own multi-factor sign-in does; otherwise they give Newsroom's code as
after a password, or set one up.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.db.tables import SecurityPolicyRow
from workflow.domain.admin_acts import AdminActKind
from workflow.domain.errors import ValidationFailed
from workflow.domain.states import Role
from workflow.domain.two_factor import TwoFactorPolicy, policy_covers
from workflow.domain.users import STAFF_ROLES, NewUser, User, staff_email
from workflow.openid_connect import Identity, SignOnFailed
from workflow.services import accounts, two_factor
from workflow.services.accounts import CodeNeeded, SignedIn
from workflow.services.admin_acts import record_admin_act
from workflow.services.context import ServiceContext, resolve_actor

# Roles a new account may get from single sign-on: never admin, which only an admin gives.
NEW_ACCOUNT_ROLES = frozenset(STAFF_ROLES - {Role.ADMIN})


def new_account_role_in(session: Session) -> Role | None:
    value = session.scalar(
        select(SecurityPolicyRow.sso_new_account_role).where(SecurityPolicyRow.id == 1)
    )
    return Role(value) if value else None


def new_account_role(ctx: ServiceContext) -> Role | None:
    with ctx.reading() as session:
        return new_account_role_in(session)


def set_new_account_role(ctx: ServiceContext, actor_id: int, role: str) -> Role | None:
    """Allow single sign-on to make an account, with ``role``, for an email no account
    has; ``""`` refuses such sign-ins again. Admins only."""
    chosen: Role | None = None
    if role:
        try:
            chosen = Role(role)
        except ValueError:
            chosen = None
        if chosen not in NEW_ACCOUNT_ROLES:
            allowed = ", ".join(sorted(r.value for r in NEW_ACCOUNT_ROLES))
            raise ValidationFailed("role", "must be empty or one of %(allowed)s", allowed=allowed)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("set the sign-in policy")
        now = ctx.clock.now()
        row = uow.session.get(SecurityPolicyRow, 1, with_for_update=True)
        changed_by = actor.id if actor.id > 0 else None
        if row is None:
            row = SecurityPolicyRow(id=1, two_factor=TwoFactorPolicy.OFF.value)
            uow.session.add(row)
        before = row.sso_new_account_role
        row.sso_new_account_role = chosen.value if chosen else None
        row.changed_at, row.changed_by = now, changed_by
        if before != row.sso_new_account_role:
            record_admin_act(
                uow,
                actor,
                AdminActKind.SIGN_IN_POLICY_CHANGED,
                at=now,
                details={
                    "sso_new_account_role": {"before": before, "after": row.sso_new_account_role}
                },
            )
        uow.commit()
    return chosen


def sign_in(ctx: ServiceContext, identity: Identity, address: str) -> SignedIn | CodeNeeded:
    """The session of the staff member ``identity`` (verified by the caller) is, or the
    second factor's step when the policy asks for Newsroom's own."""
    if not identity.email or not identity.email_verified:
        raise SignOnFailed("the provider did not vouch for an email address", identity.subject)
    try:
        email = staff_email(identity.email)
    except ValidationFailed:
        raise SignOnFailed(
            "the provider did not vouch for an email address", identity.email
        ) from None
    user = _account(ctx, email, identity.name)
    if not user.active:
        raise SignOnFailed("the account is deactivated", email)
    with ctx.reading() as session:
        covered = policy_covers(two_factor.policy_in(session), user.roles)
        has_second_factor = two_factor.is_on(session, user.id)
    trusted_acr = ctx.settings.oidc_mfa_acr_values
    provider_checked = "mfa" in identity.amr or bool(identity.acr and identity.acr in trusted_acr)
    if covered and not provider_checked:
        state = accounts.sign_in_state(ctx, user)
        return CodeNeeded(user, state, enrol=not has_second_factor)
    accounts.record_sign_in(ctx, user, address)
    return accounts.open_session(ctx, user)


def _account(ctx: ServiceContext, email: str, name: str) -> User:
    with ctx.uow() as uow:
        user = uow.users.by_email(email)
        if user is not None:
            return uow.users.get(user.id)
        role = new_account_role_in(uow.session)
        if role is None:
            raise SignOnFailed(
                "no staff account has this email address; an admin must add it first", email
            )
        try:
            new = NewUser.checked(email, name.strip() or email, [role.value])
        except ValidationFailed:  # a name we cannot show: the address stands in for it
            new = NewUser.checked(email, email, [role.value])
        now = ctx.clock.now()
        user_id = uow.users.add(new, now)
        # Made by the policy an admin set, for the person the provider vouched for: the
        # act is theirs, from where they signed in.
        record_admin_act(
            uow,
            User(user_id, new.name, new.roles, email=new.email, language=new.language),
            AdminActKind.USER_ADDED,
            at=now,
            target_id=user_id,
            details={
                "email": new.email,
                "name": new.name,
                "roles": sorted(role.value for role in new.roles),
                "language": new.language.value,
                "via": "single sign-on",
            },
        )
        uow.commit()
    with ctx.uow() as uow:
        return uow.users.get(user_id)
