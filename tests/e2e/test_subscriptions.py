"""Journalists subscribe, confirm and unsubscribe over HTTP, without an account; staff
read a release's delivery report."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import Staff
from tests.e2e.conftest import Api
from workflow import handlers, outbox
from workflow.clock import FrozenClock
from workflow.db.tables import NotificationRow, SubscriberRow
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.subscription_tokens import subscription_links


def confirmation_link(ctx: ServiceContext, email: str) -> str:
    with ctx.uow() as uow:
        body = uow.session.scalars(
            select(NotificationRow.body_text)
            .where(
                NotificationRow.to_address == email, NotificationRow.kind == "subscription_confirm"
            )
            .order_by(NotificationRow.id.desc())
        ).first()
    assert body is not None, "no confirmation email was queued"
    match = re.search(r"https?://\S+/subscriptions/confirm\?token=(\S+)", body)
    assert match is not None, body
    return match.group(1)


def state(ctx: ServiceContext, email: str) -> str:
    with ctx.uow() as uow:
        return uow.session.scalars(
            select(SubscriberRow.state).where(SubscriberRow.email == email)
        ).one()


def test_double_opt_in_then_one_click_unsubscribe(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    email = "reporter@press.example"
    first = api(
        None,
        "POST",
        "/api/v1/subscriptions",
        json={"email": email, "name": "Reporter", "topics": [staff.health], "language": "en"},
    )
    assert first.status_code == 202
    assert state(ctx, email) == "pending"
    token = confirmation_link(ctx, email)
    confirmed = api(None, "POST", f"/subscriptions/confirm?token={token}")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "active"
    again = api(None, "POST", f"/subscriptions/confirm?token={token}")
    assert again.status_code == 422, "a used confirmation link changes nothing"
    assert "token" in again.text
    assert state(ctx, email) == "active"
    # The same answer for an address already on the list: the form tells no one.
    repeat = api(
        None, "POST", "/api/v1/subscriptions", json={"email": email, "topics": [staff.health]}
    )
    assert repeat.status_code == 202 and repeat.json() == first.json()

    with ctx.uow() as uow:
        subscriber = uow.session.scalars(
            select(SubscriberRow).where(SubscriberRow.email == email)
        ).one()
        subscriber_id, version = subscriber.id, subscriber.token_version
    links = subscription_links(
        ctx.settings, subscriber_id, version, purposes=("unsubscribe", "preferences")
    )
    path = links["unsubscribe"].split("://", 1)[1].split("/", 1)[1]
    page = api(None, "GET", f"/{path}")
    assert page.status_code == 200 and '<form method="post"' in page.text
    assert state(ctx, email) == "active", "a GET (a mail scanner) unsubscribes no one"
    # RFC 8058: a POST with the one-click body, no cookie, no login; no redirect.
    done = api(
        None,
        "POST",
        f"/{path}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert state(ctx, email) == "unsubscribed"
    assert api(None, "POST", f"/{path}").status_code == 200, "repeating it is harmless"


def test_forged_and_malformed_links_are_refused_and_change_nothing(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    api(
        None,
        "POST",
        "/api/v1/subscriptions",
        json={"email": "someone@press.example", "topics": [staff.health]},
    )
    token = confirmation_link(ctx, "someone@press.example")
    tampered = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for url in (
        f"/subscriptions/confirm?token={tampered}",
        f"/subscriptions/unsubscribe?token={tampered}",
        "/subscriptions/unsubscribe?token=<script>alert(1)</script>",
    ):
        response = api(None, "POST", url)
        assert response.status_code == 422, (url, response.text)
        assert response.status_code < 500
    assert state(ctx, "someone@press.example") == "pending"
    bad = api(
        None,
        "POST",
        "/api/v1/subscriptions",
        json={"email": "a@b.example\r\nBcc: x@y.example", "topics": [staff.health]},
    )
    assert bad.status_code == 422


def test_staff_read_the_delivery_report_of_a_release(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="보고서", body="1. 본문", topics=[staff.health]
    ).release_id
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    with ctx.uow() as uow:
        uow.session.add(
            SubscriberRow(
                email="j@press.example",
                name="",
                language="ko",
                state="active",
                embargo_trusted=False,
                hard_bounces=0,
                token_version=1,
                created_at=ctx.clock.now(),
            )
        )
        uow.commit()
    with ctx.uow() as uow:
        subscriber_id = uow.session.scalars(select(SubscriberRow.id)).one()
        from workflow.db.tables import SubscriberTopicRow

        uow.session.add(SubscriberTopicRow(subscriber_id=subscriber_id, topic_id=staff.health))
        uow.commit()
    svc.publish_release(ctx, staff.author, release_id)
    with ctx.uow() as uow:
        events = [e.event for e in outbox.pending(uow.session, ctx.clock.now())]
    assert sum(handlers.plan_deliveries(ctx, e) for e in events) == 1
    report = api.ok("approver", "GET", f"/api/v1/releases/{release_id}/deliveries")
    assert report == {
        "counts": {"pending": 1},
        "failures": [],
        "possible_duplicates": 0,
        "by_kind": {"release": {"pending": 1}},
        "subscribers": 1,
        "subscribers_reached": 0,
        "folded_at": None,
    }
    assert api(None, "GET", f"/api/v1/releases/{release_id}/deliveries").status_code == 401
    assert api("approver", "GET", "/api/v1/releases/99999/deliveries").status_code == 404


def test_an_old_confirmation_link_neither_revives_an_address_nor_works_late(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    left = "left@press.example"
    api(None, "POST", "/api/v1/subscriptions", json={"email": left, "topics": [staff.health]})
    token = confirmation_link(ctx, left)
    assert api(None, "POST", f"/subscriptions/confirm?token={token}").status_code == 200
    with ctx.uow() as uow:
        row = uow.session.scalars(select(SubscriberRow).where(SubscriberRow.email == left)).one()
        links = subscription_links(
            ctx.settings, row.id, row.token_version, purposes=("unsubscribe", "preferences")
        )
    path = links["unsubscribe"].split("://", 1)[1].split("/", 1)[1]
    assert api(None, "POST", f"/{path}").status_code == 200
    replayed = api(None, "POST", f"/subscriptions/confirm?token={token}")
    assert replayed.status_code == 422, replayed.text
    assert state(ctx, left) == "unsubscribed", "a replayed link resubscribes no one"

    late = "late@press.example"
    api(None, "POST", "/api/v1/subscriptions", json={"email": late, "topics": [staff.health]})
    token = confirmation_link(ctx, late)
    clock.advance(days=ctx.settings.confirmation_link_days + 1)
    expired = api(None, "POST", f"/subscriptions/confirm?token={token}")
    assert expired.status_code == 422 and "expired" in expired.text
    assert state(ctx, late) == "pending"
