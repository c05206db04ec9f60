"""A journalist subscribes, confirms, changes their choices and leaves, through the
pages (forms with tokens, no JavaScript); forged and spent links get a clear 4xx page."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.test_subscriptions import confirmation_link, state
from tests.e2e.web import Browser, form_token
from tests.html_inspection import unlabelled_controls
from workflow.db.tables import NotificationRow, SubscriberRow
from workflow.services import subscribers
from workflow.services.context import ServiceContext

EMAIL = "reporter@press.example"


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


def subscribe(browser: Browser, email: str, topics: list[int], language: str = "both") -> str:
    response = browser.submit(
        "/subscribe",
        "/subscribe",
        {"email": email, "name": "Reporter", "topics": topics, "language": language},
    )
    assert response.status_code == 303, response.text[:500]
    return browser.page(response.headers["location"]).text


def confirmations_queued(ctx: ServiceContext, email: str) -> int:
    with ctx.uow() as uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(NotificationRow)
                .where(
                    NotificationRow.to_address == email,
                    NotificationRow.kind == "subscription_confirm",
                )
            )
            or 0
        )


def subscriber_choices(ctx: ServiceContext, email: str) -> tuple[str, list[str]]:
    with ctx.uow() as uow:
        subscriber_id = uow.session.scalars(
            select(SubscriberRow.id).where(SubscriberRow.email == email)
        ).one()
    links = subscribers.links_for(ctx, subscriber_id)
    view = subscribers.preferences(ctx, links["preferences"].split("token=")[1])
    return view.language, list(view.topics)


def preferences_path(ctx: ServiceContext, email: str) -> str:
    with ctx.uow() as uow:
        subscriber_id = uow.session.scalars(
            select(SubscriberRow.id).where(SubscriberRow.email == email)
        ).one()
    link = subscribers.links_for(ctx, subscriber_id)["preferences"]
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_subscribe_confirm_change_and_leave(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    form = browser.page("/subscribe?lang=en").text
    assert unlabelled_controls(form) == []
    assert "Global Health" in form and "Korean Peninsula" in form
    sent = subscribe(browser, EMAIL, [staff.health], "en")
    assert "confirmation link is on its way" in sent
    assert state(ctx, EMAIL) == "pending" and confirmations_queued(ctx, EMAIL) == 1

    # The emailed link shows a button; following it (as a mail scanner does) confirms nothing.
    token = confirmation_link(ctx, EMAIL)
    page = browser.page(f"/subscriptions/confirm?token={token}").text
    assert unlabelled_controls(page) == []
    assert 'action="/subscriptions/confirmation"' in page and 'method="post"' in page
    assert state(ctx, EMAIL) == "pending"
    confirmed = browser.submit(
        f"/subscriptions/confirm?token={token}", "/subscriptions/confirmation", {"token": token}
    )
    assert confirmed.status_code == 200 and "Subscription confirmed" in confirmed.text
    assert "Global Health" in confirmed.text
    assert state(ctx, EMAIL) == "active"
    again = browser.submit(
        f"/subscriptions/confirm?token={token}", "/subscriptions/confirmation", {"token": token}
    )
    assert again.status_code == 422 and "This link does not work" in again.text

    # Preferences: topics and language.
    path = preferences_path(ctx, EMAIL)
    page = browser.page(path).text
    assert unlabelled_controls(page) == []
    assert EMAIL in page and re.search(r'value="en" checked', page)
    preferences_token = path.split("token=")[1]
    saved = browser.submit(
        path,
        "/subscriptions/preferences",
        {"token": preferences_token, "topics": [staff.peninsula, staff.health], "language": "ko"},
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == path
    assert "Your choices are saved." in browser.page(path).text  # once, as a notice
    assert "Your choices are saved." not in browser.page(path).text
    assert subscriber_choices(ctx, EMAIL) == ("ko", ["Global Health", "Korean Peninsula"])
    refused = browser.submit(
        path, "/subscriptions/preferences", {"token": preferences_token, "language": "ko"}
    )
    assert refused.status_code == 422, "no topic is not a choice"
    assert subscriber_choices(ctx, EMAIL)[1] == ["Global Health", "Korean Peninsula"]

    # Unsubscribing from the same page; the link dies with it.
    left = browser.submit(
        path, "/subscriptions/preferences/unsubscribe", {"token": preferences_token}
    )
    assert left.status_code == 303 and left.headers["location"] == "/subscribe"
    assert "no more releases" in browser.page("/subscribe?lang=en").text
    assert state(ctx, EMAIL) == "unsubscribed"
    dead = browser.page(path, status=422).text
    assert "This link does not work" in dead or "이 링크는 사용할 수 없습니다" in dead


def test_the_form_says_the_same_for_a_known_address(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    new = subscribe(browser, "new@press.example", [staff.health])
    subscribe(browser, EMAIL, [staff.health])
    subscribers.confirm(ctx, confirmation_link(ctx, EMAIL))
    known = subscribe(browser, EMAIL, [staff.peninsula])
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", new) == strip.sub("", known)
    assert state(ctx, EMAIL) == "active", "the public form never changes an active subscriber"
    assert confirmations_queued(ctx, EMAIL) == 1


def test_bad_input_is_shown_on_the_form_and_nothing_is_stored(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    response = browser.submit(
        "/subscribe?lang=en",
        "/subscribe",
        {"email": "not an address", "topics": [staff.health], "language": "en"},
    )
    assert response.status_code == 422 and "valid email address" in response.text
    assert 'value="not an address"' in response.text
    response = browser.submit("/subscribe", "/subscribe", {"email": EMAIL, "language": "en"})
    assert response.status_code == 422 and "Choose at least one topic" in response.text
    with ctx.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(SubscriberRow)) == 0


def test_forms_without_their_token_are_refused(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    response = browser.client.post(
        "/subscribe",
        data={"email": EMAIL, "topics": [staff.health], "language": "ko"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    subscribe(browser, EMAIL, [staff.health])
    token = confirmation_link(ctx, EMAIL)
    response = browser.client.post(
        "/subscriptions/confirmation", data={"token": token}, follow_redirects=False
    )
    assert response.status_code == 403
    assert state(ctx, EMAIL) == "pending"


def test_forged_expired_and_malformed_links_get_a_clear_page(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock
) -> None:
    subscribe(browser, EMAIL, [staff.health])
    token = confirmation_link(ctx, EMAIL)
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    for url in (
        f"/subscriptions/confirm?token={forged}",
        f"/subscriptions/preferences?token={forged}",
        f"/subscriptions/preferences?token={token}",  # a confirm link is not a preferences link
    ):
        page = browser.page(url + "&lang=en", status=422).text
        assert "This link does not work" in page, url
    for url in ("/subscriptions/confirm", "/subscriptions/confirm?token=%3Cscript%3E"):
        browser.page(url, status=422)
    clock.advance(days=ctx.settings.confirmation_link_days + 1)
    expired = browser.page(f"/subscriptions/confirm?token={token}&lang=en", status=422).text
    assert "expired" in expired
    response = browser.submit("/subscribe", "/subscriptions/confirmation", {"token": token})
    assert response.status_code == 422
    assert state(ctx, EMAIL) == "pending"


def test_the_api_routes_keep_their_behaviour(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    """The pages sit beside the JSON API's subscription routes, never in their place."""
    subscribe(browser, EMAIL, [staff.health])
    token = confirmation_link(ctx, EMAIL)
    confirmed = browser.client.post(f"/subscriptions/confirm?token={token}")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "active"
    path = preferences_path(ctx, EMAIL)
    unsubscribe_token = subscribers.links_for(ctx, _id(ctx))["unsubscribe"].split("token=")[1]
    one_click = browser.client.post(
        f"/subscriptions/unsubscribe?token={quote(unsubscribe_token)}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert one_click.status_code == 200 and one_click.headers["content-type"].startswith(
        "text/plain"
    )
    assert state(ctx, EMAIL) == "unsubscribed"
    assert form_token(browser.page("/subscribe").text)
    browser.page(path, status=422)


def _id(ctx: ServiceContext) -> int:
    with ctx.uow() as uow:
        return uow.session.scalars(
            select(SubscriberRow.id).where(SubscriberRow.email == EMAIL)
        ).one()


@pytest.mark.parametrize(
    ("language", "heading", "done"),
    [
        ("en", "<h1>Unsubscribe</h1>", "You are unsubscribed"),
        ("ko", "<h1>구독 해지</h1>", "구독이 해지되었습니다"),
    ],
)
def test_the_emails_unsubscribe_link_leads_to_a_page_in_the_readers_language(
    browser: Browser, ctx: ServiceContext, staff: Staff, language: str, heading: str, done: str
) -> None:
    subscribe(browser, EMAIL, [staff.health], language=language)
    browser.client.post(f"/subscriptions/confirm?token={confirmation_link(ctx, EMAIL)}")
    link = subscribers.links_for(ctx, _id(ctx))["unsubscribe"]
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    # The browser asks for the other language; the page speaks the subscriber's.
    other = "ko" if language == "en" else "en"
    shown = browser.page(path, headers={"Accept-Language": other}).text
    assert heading in shown and f'<html lang="{language}">' in shown
    assert "<main" in shown and "<header" in shown and "<footer" in shown, "the site's landmarks"
    assert state(ctx, EMAIL) == "active", "opening the link changes nothing"
    left = browser.submit(path, "/subscriptions/unsubscription", {"token": path.split("token=")[1]})
    assert left.status_code == 200 and done in left.text
    assert state(ctx, EMAIL) == "unsubscribed"
    # Asked for in the other language by the switch, the page follows the switch.
    assert f'<html lang="{other}">' in browser.page(f"{path}&lang={other}").text


def test_a_forged_unsubscribe_link_is_told_so_on_a_page(browser: Browser) -> None:
    refused = browser.page("/subscriptions/unsubscribe?token=forged.token.value", status=422)
    assert "<h1" in refused.text and "<main" in refused.text
