"""Journalists' subscriptions, without an account: the links in their emails are their
authority (signed, and invalidated when superseded; see ``subscription_tokens``).

``POST /subscriptions/unsubscribe`` is the RFC 8058 one-click target of every
distribution email's ``List-Unsubscribe`` header: no login, no cookie, no confirmation
page, no redirect, effective at once. A ``GET`` on the same link (a person clicking in
the body of the email) is the web page with a button (``workflow.web.routers.subscriptions``),
because mail scanners follow links.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from workflow.api.auth import Context
from workflow.api.errors import json_responses, responses
from workflow.api.schemas import MAX_EMAIL_LENGTH, ONE_LINE, Id, says
from workflow.services import subscribers

router = APIRouter(tags=["subscriptions"])

Token = Annotated[str, Query(min_length=10, max_length=500, pattern=r"^[A-Za-z0-9._\-:]+$")]
# A time of day, or nothing (each release as it is published).
DIGEST_TIME = r"^(([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?$"


class SubscribeIn(BaseModel):
    email: Annotated[
        str,
        Field(max_length=320, pattern=ONE_LINE),
        says(format="email", maxLength=MAX_EMAIL_LENGTH),
    ]
    name: str = Field(default="", max_length=200, pattern=ONE_LINE)
    topics: list[Id] = Field(min_length=1, max_length=100)
    language: str = Field(default="ko", pattern="^(ko|en|both)$")
    delivery: Literal["each", "digest"] = Field(
        default="each",
        description="each release as it is published, or one daily digest at `digest_time`",
    )
    digest_time: str = Field(
        default="",
        max_length=8,
        pattern=DIGEST_TIME,
        description="the digest's time of day, HH:MM, in the office's time zone",
        examples=["08:00"],
    )


class SubscribeOut(BaseModel):
    message: str


class SubscriptionOut(BaseModel):
    state: str
    topics: list[str]
    language: str
    delivery: Literal["each", "digest"]
    digest_time: str = Field(description="HH:MM for a daily digest, empty for each release")


@router.post(
    "/api/v1/subscriptions",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SubscribeOut,
    responses=responses(413, 422),
    summary="Ask to receive releases (double opt-in)",
)
def subscribe(body: SubscribeIn, ctx: Context) -> SubscribeOut:
    """Always the same answer, whether the address was new, pending or already on the
    list, so that the form tells no one who subscribes."""
    subscribers.subscribe(
        ctx,
        body.email,
        body.name,
        body.topics,
        body.language,
        delivery=body.delivery,
        digest_time=body.digest_time,
    )
    return SubscribeOut(
        message="If the address can receive our releases, a confirmation link is on its way to it."
    )


@router.post(
    "/subscriptions/confirm",
    response_model=SubscriptionOut,
    responses=responses(409, 422),
    summary="Confirm a subscription (the link in the confirmation email)",
)
def confirm(token: Token, ctx: Context) -> SubscriptionOut:
    view = subscribers.confirm(ctx, token)
    return SubscriptionOut(
        state=view.state,
        topics=list(view.topics),
        language=view.language,
        delivery="digest" if view.digest_time else "each",
        digest_time=view.digest_time,
    )


@router.post(
    "/subscriptions/unsubscribe",
    response_class=PlainTextResponse,
    responses={**json_responses(422), 200: {"content": {"text/plain": {}}, "description": "Done"}},
    summary="Unsubscribe at once (RFC 8058 one-click)",
)
def unsubscribe(token: Token, ctx: Context) -> PlainTextResponse:
    subscribers.unsubscribe(ctx, token)
    return PlainTextResponse("You are unsubscribed and will receive no more releases.\n")
