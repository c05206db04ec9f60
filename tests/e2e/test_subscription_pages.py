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


def digest_choice(ctx: ServiceContext, email: str) -> tuple[str, str]:
    with ctx.uow() as uow:
        subscriber_id = uow.session.scalars(
            select(SubscriberRow.id).where(SubscriberRow.email == email)
        ).one()
    token = subscribers.links_for(ctx, subscriber_id)["preferences"].split("token=")[1]
    view = subscribers.preferences(ctx, token)
    return view.delivery, view.digest_time


def test_a_daily_digest_is_chosen_on_the_form_and_the_preferences_page(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    form = browser.page("/subscribe?lang=ko").text
    assert unlabelled_controls(form) == []
    assert "하루 한 번" in form and "Asia/Seoul" in form
    # A time that is not one: refused in the page's language, nothing stored.
    for language, words in (("ko", "08:00처럼 시와 분으로"), ("en", "such as 08:00")):
        refused = browser.submit(
            f"/subscribe?lang={language}",
            "/subscribe",
            {
                "email": EMAIL,
                "topics": [staff.health],
                "language": "ko",
                "delivery": "digest",
                "digest_time": "25:00",
            },
        )
        assert refused.status_code == 422 and words in refused.text
        assert 'value="25:00"' in refused.text and re.search(
            r'value="digest" checked', refused.text
        )
    with ctx.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(SubscriberRow)) == 0

    response = browser.submit(
        "/subscribe?lang=ko",
        "/subscribe",
        {
            "email": EMAIL,
            "topics": [staff.health],
            "language": "ko",
            "delivery": "digest",
            "digest_time": "07:30",
        },
    )
    assert response.status_code == 303
    subscribers.confirm(ctx, confirmation_link(ctx, EMAIL))
    assert digest_choice(ctx, EMAIL) == ("digest", "07:30")

    path = preferences_path(ctx, EMAIL)
    page = browser.page(path).text
    assert unlabelled_controls(page) == []
    assert re.search(r'value="digest" checked', page) and 'value="07:30"' in page
    token = path.split("token=")[1]
    mistaken = browser.submit(
        path,
        "/subscriptions/preferences",
        {
            "token": token,
            "topics": [staff.health],
            "language": "ko",
            "delivery": "digest",
            "digest_time": "7시 반",
        },
    )
    assert mistaken.status_code == 422 and "08:00처럼 시와 분으로" in mistaken.text
    assert digest_choice(ctx, EMAIL) == ("digest", "07:30"), "nothing changed"
    each = browser.submit(
        path,
        "/subscriptions/preferences",
        {"token": token, "topics": [staff.health], "language": "ko", "delivery": "each"},
    )
    assert each.status_code == 303
    assert digest_choice(ctx, EMAIL) == ("each", "")
    assert re.search(r'value="each" checked', browser.page(path).text)


def test_the_api_takes_a_daily_digest_and_refuses_a_time_that_is_not_one(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    def ask(**choice: str):  # type: ignore[no-untyped-def]
        return browser.client.post(
            "/api/v1/subscriptions",
            json={"email": EMAIL, "topics": [staff.health], "language": "en", **choice},
        )

    for wrong in ({"delivery": "digest", "digest_time": "8:61"}, {"delivery": "weekly"}):
        assert ask(**wrong).status_code == 422
    missing = ask(delivery="digest")
    assert missing.status_code == 422 and "digest_time" in missing.text
    with ctx.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(SubscriberRow)) == 0
    assert ask(delivery="digest", digest_time="18:00").status_code == 202
    token = confirmation_link(ctx, EMAIL)
    confirmed = browser.client.post(f"/subscriptions/confirm?token={token}")
    assert confirmed.status_code == 200
    assert (confirmed.json()["delivery"], confirmed.json()["digest_time"]) == ("digest", "18:00")
