"""A topic's English and Korean names: an admin sets them on the topics page or through
the API, and the public pages, the topic filter, the subscription form and the feeds
show the name in the page's language (the English one until a Korean one is set)."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from tests.e2e.published import past_the_public_cache, publish
from tests.e2e.web import PASSWORD, Browser
from workflow.clock import FrozenClock
from workflow.services import accounts, people
from workflow.services.context import ServiceContext

ATOM = "{http://www.w3.org/2005/Atom}"
KO_BODY = "1. 외교부는 국제보건 회의를 개최하였다.\n"
EN_BODY = "1. The Ministry hosted a meeting on global health.\n"


@pytest.fixture
def admin(client: TestClient, ctx: ServiceContext, staff: Staff) -> Browser:
    accounts.set_password(ctx, staff.admin, staff.admin, PASSWORD)
    browser = Browser(client)
    browser.log_in("admin@newsroom.example")
    return browser


def categories(reader: Browser, url: str) -> list[str | None]:
    feed = ET.fromstring(reader.client.get(url).content)  # noqa: S314  # our own output
    return [c.get("term") for c in feed.iter(f"{ATOM}category")]


def shown(page: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", page).split())


def test_korean_pages_show_the_korean_name_once_an_admin_sets_it(
    admin: Browser, app: object, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("국제보건 회의", KO_BODY), en=("Health", EN_BODY))
    reader = Browser(TestClient(app))  # type: ignore[arg-type]
    before = shown(reader.page(f"/releases/{number}?lang=ko").text)
    assert "Global Health" in before, "the English name stands in until a Korean one is set"

    page = f"/office/admin/topics/{staff.health}"
    saved = admin.submit(
        "/office/admin/topics", page, {"name": "Global Health", "name_ko": "국제보건"}
    )
    assert saved.status_code == 303
    assert 'value="국제보건"' in admin.page("/office/admin/topics").text
    past_the_public_cache(ctx, clock)

    korean = shown(reader.page(f"/releases/{number}?lang=ko").text)
    assert "국제보건" in korean and "Global Health" not in korean
    english = shown(reader.page(f"/releases/{number}?lang=en").text)
    assert "Global Health" in english and "국제보건" not in english
    listing = reader.page("/?lang=ko").text
    assert f'<option value="{staff.health}"' in listing and ">국제보건</option>" in listing
    assert "국제보건" in reader.page(f"/?lang=ko&topic={staff.health}").text
    assert "국제보건" in reader.page("/subscribe?lang=ko").text

    assert categories(reader, "/feed.atom?lang=ko") == ["국제보건"]
    assert categories(reader, "/feed.atom?lang=en") == ["Global Health"]


def test_a_topic_is_added_with_both_names_and_the_english_one_stays_unique(
    admin: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    added = admin.submit(
        "/office/admin/topics", "/office/admin/topics", {"name": "Trade", "name_ko": "통상"}
    )
    assert added.status_code == 303
    trade = next(t for t in people.topics(ctx) if t.name == "Trade")
    assert (trade.name_in("ko"), trade.name_in("en")) == ("통상", "Trade")
    taken = admin.submit(
        "/office/admin/topics?lang=ko",
        f"/office/admin/topics/{trade.id}",
        {"name": "global health", "name_ko": ""},
    )
    assert taken.status_code == 409 and "이미 있습니다" in taken.text
    assert next(t for t in people.topics(ctx) if t.id == trade.id).name == "Trade"


def test_the_api_carries_both_names(api: Api, staff: Staff) -> None:
    listed = api.ok("author", "GET", "/api/v1/topics")
    assert {"id": staff.health, "name": "Global Health", "name_ko": ""} in listed
    created = api.ok("admin", "POST", "/api/v1/topics", json={"name": "Trade", "name_ko": "통상"})
    assert created["name"] == "Trade" and created["name_ko"] == "통상"
    renamed = api.ok(
        "admin",
        "PUT",
        f"/api/v1/topics/{staff.health}",
        json={"name": "Global Health", "name_ko": "국제보건"},
    )
    assert renamed == {"id": staff.health, "name": "Global Health", "name_ko": "국제보건"}
    refused = api("author", "PUT", f"/api/v1/topics/{staff.health}", json={"name": "X"})
    assert refused.status_code == 403
    missing = api("admin", "PUT", "/api/v1/topics/999999", json={"name": "X"})
    assert missing.status_code == 404 and missing.json()["code"] == "topic_not_found"
