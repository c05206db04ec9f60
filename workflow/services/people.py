"""Managing users, their roles and the topic list: admins only."""

from __future__ import annotations

from collections.abc import Iterable

from workflow.domain.errors import Conflict, NotFound
from workflow.domain.users import NewUser, checked_roles, normalise_email
from workflow.domain.values import single_line
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
        resolve_actor(uow, actor_id).require_admin("manage users")
        if uow.users.by_email(new.email) is not None:
            raise Conflict(f"a user with the email {new.email} already exists")
        user_id = uow.users.add(new, ctx.clock.now(), password_hash)
        uow.commit()
        return user_id


def _user_id(ctx: ServiceContext, email: str) -> int:
    with ctx.uow() as uow:
        user = uow.users.by_email(normalise_email(email))
        if user is None:
            raise NotFound("user", email)
        return user.id


def deactivate_user(ctx: ServiceContext, actor_id: int, user_id: int) -> None:
    """The user can no longer act; everything they did stays in the history."""
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("manage users")
        uow.users.set_active(user_id, False)
        uow.commit()


def deactivate_user_by_email(ctx: ServiceContext, actor_id: int, email: str) -> None:
    deactivate_user(ctx, actor_id, _user_id(ctx, email))


def set_roles(ctx: ServiceContext, actor_id: int, user_id: int, roles: Iterable[str]) -> None:
    chosen = checked_roles(roles)
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("manage roles")
        uow.users.get(user_id)
        uow.users.set_roles(user_id, chosen)
        uow.commit()


def add_topic(ctx: ServiceContext, actor_id: int, name: str) -> int:
    name = single_line("name", name, max_length=100)
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("manage topics")
        if uow.topics.by_name(name) is not None:
            raise Conflict(f"the topic {name!r} already exists")
        topic_id = uow.topics.add(name, ctx.clock.now())
        uow.commit()
        return topic_id
