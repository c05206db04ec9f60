"""Managing users, their roles and the topic list: admins only. Each change records an
administrative act (``admin_acts.record_admin_act``) in its own transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select

from workflow.db.tables import UserRoleRow, UserRow
from workflow.db.unit_of_work import UnitOfWork
from workflow.db.users import end_sign_ins
from workflow.domain.admin_acts import AdminActKind
from workflow.domain.errors import Conflict, NotFound
from workflow.domain.states import Role
from workflow.domain.topics import Topic
from workflow.domain.users import NewUser, checked_roles, staff_email
from workflow.domain.values import Language, single_line
from workflow.services.admin_acts import record_admin_act
from workflow.services.context import ServiceContext, resolve_actor


def add_user(
    ctx: ServiceContext,
    actor_id: int,
    *,
    email: str,
    name: str,
    roles: Iterable[str],
    language: str = "ko",
    password_hash: str | None = None,
) -> int:
    """Create a user with the given roles; returns the new id."""
    new = NewUser.checked(email, name, roles, language)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("manage users")
        if uow.users.by_email(new.email) is not None:
            raise Conflict(
                "a user with the email %(email)s already exists",
                code="email_taken",
                email=new.email,
            )
        now = ctx.clock.now()
        user_id = uow.users.add(new, now, password_hash)
        record_admin_act(
            uow,
            actor,
            AdminActKind.USER_ADDED,
            at=now,
            target_id=user_id,
            details={
                "email": new.email,
                "name": new.name,
                "roles": sorted(role.value for role in new.roles),
                "language": new.language.value,
                "with_password": password_hash is not None,
            },
        )
        uow.commit()
        return user_id


def _user_id(ctx: ServiceContext, email: str) -> int:
    with ctx.uow() as uow:
        user = uow.users.by_email(staff_email(email))
        if user is None:
            raise NotFound("user", email)
        return user.id


def _keep_an_admin(uow: UnitOfWork, user_id: int) -> None:
    """Refuse to leave the office without an active admin: nobody could then manage users
    but the console operator on the server."""
    # Locked (on PostgreSQL; SQLite's write transactions are serial anyway), so that two
    # admins demoting each other at once cannot both pass this check.
    admins = set(
        uow.session.scalars(
            select(UserRow.id)
            .join(UserRoleRow, UserRoleRow.user_id == UserRow.id)
            .where(UserRoleRow.role == Role.ADMIN.value, UserRow.active.is_(True))
            .with_for_update(of=UserRow)
        )
    )
    if admins == {user_id}:
        raise Conflict(
            "this is the last active admin: make someone else an admin first", code="last_admin"
        )


def deactivate_user(ctx: ServiceContext, actor_id: int, user_id: int) -> None:
    """The user can no longer act; everything they did stays in the history."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("manage users")
        _keep_an_admin(uow, user_id)
        user = uow.users.get(user_id)
        uow.users.set_active(user_id, False)
        now = ctx.clock.now()
        # Nothing they signed in with before may act for them any more.
        ended = end_sign_ins(uow.session, user_id, now)
        record_admin_act(
            uow,
            actor,
            AdminActKind.USER_DEACTIVATED,
            at=now,
            target_id=user_id,
            details={
                "email": user.email,
                "was_active": user.active,
                "sessions_ended": ended.sessions,
                "tokens_revoked": ended.tokens,
            },
        )
        uow.commit()


def deactivate_user_by_email(ctx: ServiceContext, actor_id: int, email: str) -> None:
    deactivate_user(ctx, actor_id, _user_id(ctx, email))


def set_roles(ctx: ServiceContext, actor_id: int, user_id: int, roles: Iterable[str]) -> None:
    chosen = checked_roles(roles)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("manage roles")
        user = uow.users.get(user_id)
        if Role.ADMIN not in chosen:
            _keep_an_admin(uow, user_id)
        if user.roles == chosen:
            return  # nothing to change, nor to record
        uow.users.set_roles(user_id, chosen)
        record_admin_act(
            uow,
            actor,
            AdminActKind.USER_ROLES_SET,
            at=ctx.clock.now(),
            target_id=user_id,
            details={
                "email": user.email,
                "before": sorted(role.value for role in user.roles),
                "after": sorted(role.value for role in chosen),
            },
        )
        uow.commit()


def add_topic(ctx: ServiceContext, actor_id: int, name: str, name_ko: str = "") -> int:
    """A new topic: ``name`` in English (unique), ``name_ko`` in Korean (empty: the
    English name stands in until an admin sets one)."""
    name = single_line("name", name, max_length=100)
    name_ko = single_line("name_ko", name_ko, max_length=100, required=False)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("manage topics")
        if uow.topics.by_name(name) is not None:
            raise Conflict("the topic %(name)r already exists", code="topic_taken", name=name)
        now = ctx.clock.now()
        topic_id = uow.topics.add(name, now, name_ko)
        record_admin_act(
            uow,
            actor,
            AdminActKind.TOPIC_ADDED,
            at=now,
            target_id=topic_id,
            details={"name": name, **({"name_ko": name_ko} if name_ko else {})},
        )
        uow.commit()
        return topic_id


def rename_topic(
    ctx: ServiceContext, actor_id: int, topic_id: int, name: str, name_ko: str
) -> None:
    """Set a topic's English and Korean names (the Korean may be empty)."""
    name = single_line("name", name, max_length=100)
    name_ko = single_line("name_ko", name_ko, max_length=100, required=False)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("manage topics")
        if uow.topics.by_name(name) not in (None, topic_id):
            raise Conflict("the topic %(name)r already exists", code="topic_taken", name=name)
        if not uow.topics.rename(topic_id, name, name_ko):
            raise NotFound("topic", topic_id)
        record_admin_act(
            uow,
            actor,
            AdminActKind.TOPIC_RENAMED,
            at=ctx.clock.now(),
            target_id=topic_id,
            details={"name": name, "name_ko": name_ko},
        )
        uow.commit()


@dataclass(frozen=True, slots=True)
class UserView:
    id: int
    email: str
    name: str
    roles: list[str]
    active: bool
    language: str
    has_password: bool


def _user_views(uow: UnitOfWork, user_ids: Iterable[int] | None = None) -> list[UserView]:
    query = select(UserRow).order_by(UserRow.id)
    if user_ids is not None:
        query = query.where(UserRow.id.in_(list(user_ids)))
    rows = list(uow.session.scalars(query))
    roles: dict[int, list[str]] = {row.id: [] for row in rows}
    for user_id, role in uow.session.execute(
        select(UserRoleRow.user_id, UserRoleRow.role)
        .where(UserRoleRow.user_id.in_(list(roles)))
        .order_by(UserRoleRow.role)
    ):
        roles[user_id].append(role)
    return [
        UserView(
            row.id,
            row.email,
            row.name,
            roles[row.id],
            row.active,
            row.language,
            row.password_hash is not None,
        )
        for row in rows
    ]


def list_users(ctx: ServiceContext, actor_id: int) -> list[UserView]:
    """Every account, active or not, in the order they were created: admins only."""
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("manage users")
        return _user_views(uow)


def get_user(ctx: ServiceContext, actor_id: int, user_id: int) -> UserView:
    """One account as an admin sees it."""
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("manage users")
        found = _user_views(uow, [user_id])
        if not found:
            raise NotFound("user", user_id)
        return found[0]


def list_topics(ctx: ServiceContext) -> list[tuple[int, str]]:
    """The managed topic list: ids and English names, by name."""
    with ctx.uow() as uow:
        return uow.topics.all()


def topics(ctx: ServiceContext) -> list[Topic]:
    """Every topic with its English and Korean names, by the English one."""
    with ctx.uow() as uow:
        return uow.topics.records()


def topics_in(ctx: ServiceContext, language: Language | str) -> list[tuple[int, str]]:
    """Each topic's id and name in ``language``, in that language's order."""
    named = [(t.id, t.name_in(language)) for t in topics(ctx)]
    return sorted(named, key=lambda pair: pair[1].casefold())
