"""A release's stable address, ``/r/<id>``, the link in embargoed copies, over HTTP: a
page with the embargo's end and nothing of the text while the release is not public, a
redirect to its page by number (with the same ``?lang=``) once it is, a page saying it
was withdrawn if it never became public, and a 404 in the page's language for no release."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.published import draft, number_of, past_the_public_cache, schedule
from tests.e2e.web import Browser
from workflow.clock import FrozenClock
from workflow.links import stable_release_url
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.web.i18n import LANGUAGE_COOKIE
from workflow.web.public_cache import CACHED_PATHS

KO = ("엠바고 회의 개최", "1. 외교부는 비공개단어 회의를 개최하였다.\n")
EN = ("Embargoed Meeting", "1. The Ministry hosted a secretword meeting.\n")
SECRETS = (KO[0], EN[0], "비공개단어", "secretword")


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


def link(release_id: int, language: str | None = None) -> str:
    """The path of the address an email carries."""
    return stable_release_url("http://testserver", release_id, language).removeprefix(
        "http://testserver"
    )


def held_back(browser: Browser, url: str) -> str:
    """The page at ``url``, which must show nothing of the release and be kept by no one."""
    response = browser.page(url)
    assert response.headers["cache-control"] == "no-store"
    assert not any(secret in response.text for secret in SECRETS), url
    return response.text


def redirect(client: TestClient, url: str) -> httpx.Response:
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303, (url, response.status_code, response.text[:300])
    assert response.headers["cache-control"] == "no-store"
    return response


def test_the_address_carries_the_language_and_only_a_page_language() -> None:
    assert stable_release_url("https://press.example/", 7, "en") == (
        "https://press.example/r/7?lang=en"
    )
    assert stable_release_url("https://press.example", 7, "ko").endswith("/r/7?lang=ko")
    assert stable_release_url("https://press.example", 7, "both") == "https://press.example/r/7"
    assert stable_release_url("https://press.example", 7, None) == "https://press.example/r/7"


def test_before_publication_it_is_under_embargo_until_further_notice(
    browser: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff, ko=KO, en=EN)  # approved, not scheduled
    english = held_back(browser, link(release_id, "en"))
    assert "This press release is under embargo until further notice." in english
    korean = held_back(browser, link(release_id, "ko"))
    assert "이 보도자료는 추후 공지가 있을 때까지 엠바고가 걸려 있습니다." in korean
    # Without ?lang=, the language the reader chose before (its cookie) speaks.
    browser.client.cookies.set(LANGUAGE_COOKIE, "en")
    assert "until further notice" in held_back(browser, link(release_id))


def test_under_a_future_embargo_it_says_until_when_then_leads_to_the_release(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    # Scheduled at 10:00 in Seoul (the clock starts at 09:00), embargoed until 12:00.
    release_id = schedule(ctx, staff, clock, in_hours=1, embargo_hours=3, ko=KO, en=EN)
    scheduled = held_back(browser, link(release_id, "en"))
    assert "This press release is under embargo until 14 May 2026, 12:00 KST." in scheduled
    korean = held_back(browser, link(release_id, "ko"))
    assert "이 보도자료는 2026년 5월 14일 12:00 KST까지 엠바고가 걸려 있습니다." in korean

    clock.advance(hours=1)
    assert svc.publish_due(ctx) == [release_id]  # published, still under embargo
    number = number_of(ctx, release_id)
    clock.advance(hours=2, seconds=-0.2)
    published = held_back(browser, link(release_id, "en"))
    assert "until 14 May 2026, 12:00 KST" in published and number not in published
    assert browser.client.get(f"/releases/{number}").status_code == 404

    # Past the embargo, within the public page cache's bound: the embargo page is gone.
    clock.advance(seconds=0.4)
    assert redirect(browser.client, link(release_id, "en")).headers["location"] == (
        f"/releases/{number}?lang=en"
    )
    assert redirect(browser.client, link(release_id, "ko")).headers["location"] == (
        f"/releases/{number}?lang=ko"
    )
    assert redirect(browser.client, link(release_id)).headers["location"] == f"/releases/{number}"
    page = browser.client.get(link(release_id, "en"), follow_redirects=True)
    assert page.status_code == 200 and "secretword" in page.text
    assert not CACHED_PATHS.match(link(release_id))


def test_withdrawn_before_it_was_public_says_so_and_nothing_more(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = schedule(ctx, staff, clock, in_hours=1, embargo_hours=3, ko=KO, en=EN)
    clock.advance(hours=1)
    svc.publish_due(ctx)
    svc.withdraw_release(ctx, staff.approver, release_id, "Issued in error.")
    english = held_back(browser, link(release_id, "en"))
    assert "This press release was withdrawn before it was made public." in english
    assert "under embargo" not in english and "Issued in error." not in english
    korean = held_back(browser, link(release_id, "ko"))
    assert "이 보도자료는 공개되기 전에 철회되었으며 공개되지 않습니다." in korean
    clock.advance(hours=3)  # the embargo's time passes: it stays withdrawn
    assert "withdrawn before it was made public" in held_back(browser, link(release_id, "en"))


def test_withdrawn_after_it_was_public_it_leads_to_the_withdrawal_notice(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = draft(ctx, staff, ko=KO, en=EN)
    svc.publish_release(ctx, staff.author, release_id)
    clock.advance(minutes=5)
    svc.withdraw_release(ctx, staff.approver, release_id, "Issued in error.")
    past_the_public_cache(ctx, clock)
    number = number_of(ctx, release_id)
    response = redirect(browser.client, link(release_id, "en"))
    assert response.headers["location"] == f"/releases/{number}?lang=en"
    notice = browser.page(response.headers["location"]).text
    assert "This press release was withdrawn" in notice


def test_an_unknown_release_is_not_found_in_the_page_language(browser: Browser) -> None:
    korean = browser.page(link(999_999, "ko"), status=404).text
    assert "찾을 수 없습니다" in korean and "이 주소에는 보도자료가 없습니다." in korean
    english = browser.page(link(999_999, "en"), status=404).text
    assert "There is no press release at this address." in english
    browser.page("/r/0", status=422)
    assert browser.client.get("/r/abc").status_code == 422


def test_the_embargo_outlives_no_check_of_the_cache(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """Asked again and again under embargo, the address still answers with the release
    the moment the embargo lifts."""
    release_id = schedule(ctx, staff, clock, in_hours=1, embargo_hours=1, ko=KO)
    clock.advance(hours=1, seconds=-0.5)
    for _ in range(3):
        held_back(browser, link(release_id, "ko"))
    clock.advance(seconds=0.5)
    svc.publish_due(ctx)
    number = number_of(ctx, release_id)
    location = redirect(browser.client, link(release_id, "ko")).headers["location"]
    assert location == f"/releases/{number}?lang=ko"
