"""Topics, users and roles. Listing topics is for all staff; the rest is for admins,
which the services check (a refusal names the rule)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status

from workflow.api.auth import Context, CurrentCaller
from workflow.api.errors import responses
from workflow.api.schemas import MAX_ID, RolesIn, TopicIn, TopicOut, UserIn, UserOut
from workflow.services import accounts, people

router = APIRouter(prefix="/api/v1", tags=["people"])

UserId = Annotated[int, Path(ge=1, le=MAX_ID)]
TopicId = Annotated[int, Path(ge=1, le=MAX_ID)]
ADMIN_READ = responses(401, 403, 404, 422)
ADMIN_WRITE = responses(400, 401, 403, 404, 409, 413, 422)


@router.get("/topics", response_model=list[TopicOut], responses=responses(401), summary="Topics")
def list_topics(ctx: Context, who: CurrentCaller) -> list[TopicOut]:
    return [TopicOut.of(topic) for topic in people.topics(ctx)]


@router.post(
    "/topics",
    status_code=status.HTTP_201_CREATED,
    response_model=TopicOut,
    responses=responses(400, 401, 403, 409, 413, 422),
    summary="Add a topic (admins)",
)
def add_topic(data: TopicIn, ctx: Context, who: CurrentCaller) -> TopicOut:
    topic_id = people.add_topic(ctx, who.user.id, data.name, data.name_ko)
    return _topic(ctx, topic_id)


@router.put(
    "/topics/{topic_id}",
    response_model=TopicOut,
    responses=responses(400, 401, 403, 404, 409, 413, 422),
    summary="Rename a topic in English and Korean (admins)",
)
def rename_topic(topic_id: TopicId, data: TopicIn, ctx: Context, who: CurrentCaller) -> TopicOut:
    people.rename_topic(ctx, who.user.id, topic_id, data.name, data.name_ko)
    return _topic(ctx, topic_id)


def _topic(ctx: Context, topic_id: int) -> TopicOut:
    return next(TopicOut.of(t) for t in people.topics(ctx) if t.id == topic_id)


@router.get(
    "/users", response_model=list[UserOut], responses=responses(401, 403), summary="Users (admins)"
)
def list_users(ctx: Context, who: CurrentCaller) -> list[UserOut]:
    return [UserOut.of(u) for u in people.list_users(ctx, who.user.id)]


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=responses(400, 401, 403, 409, 413, 422),
    summary="Add a user (admins)",
)
def add_user(data: UserIn, ctx: Context, who: CurrentCaller) -> UserOut:
    """With ``password`` the user can sign in at once; without, set one later."""
    user_id = accounts.add_user_with_password(
        ctx,
        who.user.id,
        email=data.email,
        name=data.name,
        roles=data.roles,
        language=data.language,
        password=data.password,
    )
    return UserOut.of(people.get_user(ctx, who.user.id, user_id))


@router.get("/users/{user_id}", response_model=UserOut, responses=ADMIN_READ, summary="A user")
def get_user(user_id: UserId, ctx: Context, who: CurrentCaller) -> UserOut:
    return UserOut.of(people.get_user(ctx, who.user.id, user_id))


@router.post(
    "/users/{user_id}/deactivate",
    response_model=UserOut,
    responses=ADMIN_READ,
    summary="Deactivate a user (admins)",
)
def deactivate_user(user_id: UserId, ctx: Context, who: CurrentCaller) -> UserOut:
    """The user can no longer sign in or act; their tokens and sessions stop working."""
    people.deactivate_user(ctx, who.user.id, user_id)
    return UserOut.of(people.get_user(ctx, who.user.id, user_id))


@router.put(
    "/users/{user_id}/roles",
    response_model=UserOut,
    responses=ADMIN_WRITE,
    summary="Set a user's roles (admins)",
)
def set_roles(user_id: UserId, data: RolesIn, ctx: Context, who: CurrentCaller) -> UserOut:
    people.set_roles(ctx, who.user.id, user_id, data.roles)
    return UserOut.of(people.get_user(ctx, who.user.id, user_id))
