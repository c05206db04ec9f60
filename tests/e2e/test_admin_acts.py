"""The audit log through the ASGI app: acts made on the pages and through the API show
on the administration page with where they came from; its filters, pages and CSV export
(itself recorded); the same through the API; refusals in the page's language."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import httpx
import pytest

from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from tests.e2e.web import PASSWORD, Browser
from workflow.clock import FrozenClock
from workflow.domain.admin_acts import AdminActFilter, AdminActKind
from workflow.services import accounts, admin_acts, people
from workflow.services.context import ServiceContext

ADMIN = "admin@newsroom.example"


@pytest.fixture
def admin(client: TestClient, ctx: ServiceContext, staff: Staff) -> Browser:
    accounts.set_password(ctx, staff.admin, staff.admin, PASSWORD)
    browser = Browser(client)
    browser.log_in(ADMIN)
    return browser


def rows_of(page: httpx.Response) -> list[str]:
    """The audit table's rows, each as its cells' words."""
    body = (
        page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page.text else ""
    )
    return [
        " ".join(re.sub(r"<[^>]+>", " ", row).split())
        for row in re.findall(r"<tr id=\"act-\d+\">(.*?)</tr>", body, re.DOTALL)
    ]


def recorded(
    ctx: ServiceContext, staff: Staff, kind: AdminActKind
) -> list[admin_acts.AdminActView]:
    wanted = AdminActFilter.checked(kind=kind.value)
    return admin_acts.search_admin_acts(ctx, staff.admin, wanted).acts


def test_acts_on_the_pages_and_through_the_api_show_with_where_they_came_from(
    admin: Browser, api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    added = admin.submit("/office/admin/topics", "/office/admin/topics", {"name": "Trade"})
    assert added.status_code == 303
    api.ok("admin", "POST", "/api/v1/topics", json={"name": "Energy"})
    page = admin.page("/office/admin/acts?lang=en")
    rows = rows_of(page)
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(
        f"{when} admin@newsroom.example Topic added #4 name Energy testclient", rows[0]
    )
    assert re.fullmatch(
        f"{when} admin@newsroom.example Topic added #3 name Trade testclient", rows[1]
    )
    korean = admin.page("/office/admin/acts?lang=ko")
    assert "관리 기록" in korean.text and "주제 추가" in rows_of(korean)[0]
    assert {a.origin for a in recorded(ctx, staff, AdminActKind.TOPIC_ADDED)[:2]} == {"testclient"}


def test_every_kind_of_act_has_a_label_in_both_languages(admin: Browser) -> None:
    for lang in ("en", "ko"):
        page = admin.page(f"/office/admin/acts?lang={lang}").text
        options = re.findall(r'<option value="([a-z_.]+)"[^>]*>([^<]*)</option>', page)
        assert {value for value, _ in options} == {kind.value for kind in AdminActKind}
        assert [value for value, label in options if label == value] == [], lang


def test_the_filters_pick_out_acts_and_the_pages_keep_them(
    admin: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    for n in range(55):
        people.add_topic(ctx, staff.admin, f"Topic {n:02}")
    clock.advance(days=3)
    accounts.create_token(ctx, staff.author, "laptop")
    today = clock.now().astimezone(ctx.settings.office_zone).date()
    admin.log_in(ADMIN)  # the session of three days ago has ended

    topics = admin.page("/office/admin/acts?kind=topic.added&lang=en")
    assert "57 entries" in topics.text  # the fixture's two topics and these
    assert len(rows_of(topics)) == 50 and "Topic 54" in rows_of(topics)[0]
    assert 'href="/office/admin/acts?kind=topic.added&amp;page=2" rel="next"' in topics.text
    second = admin.page("/office/admin/acts?kind=topic.added&page=2&lang=en")
    # Made by calling the services, outside any request: no origin ("–").
    assert [r.split(" name ")[1].removesuffix(" –") for r in rows_of(second)][-2:] == [
        "Korean Peninsula",
        "Global Health",
    ]
    assert 'href="/office/admin/acts?kind=topic.added" rel="prev"' in second.text

    by_author = admin.page(f"/office/admin/acts?actor={staff.author}&lang=en")
    assert "1 entries" in by_author.text and "API token created" in rows_of(by_author)[0]
    assert f'<option value="{staff.author}" selected>author@newsroom.example</option>' in (
        by_author.text
    )
    later = admin.page(f"/office/admin/acts?since={today}&until={today}&lang=en")
    assert [r.split(" ")[2] for r in rows_of(later)] == ["author@newsroom.example"]
    earlier = today - timedelta(days=3)
    before = admin.page(f"/office/admin/acts?until={earlier}&kind=token.created&lang=en")
    assert "No entry matches." in before.text


@pytest.mark.parametrize(
    ("query", "english", "korean"),
    [
        ("since=2026-13-01", "Write dates as YYYY-MM-DD", "날짜는 YYYY-MM-DD 형식으로"),
        ("since=2026-12-02&until=2026-12-01", "The last day comes before", "종료일이 시작일보다"),
        ("kind=user.promoted", "Choose a kind of act", "목록에서 행위를"),
        ("actor=someone", "Choose someone from the list", "목록에서 수행자를"),
    ],
)
def test_a_bad_filter_is_refused_in_the_page_language(
    admin: Browser, query: str, english: str, korean: str
) -> None:
    for lang, message in (("en", english), ("ko", korean)):
        page = admin.page(f"/office/admin/acts?{query}&lang={lang}", status=422)
        assert message in page.text
        assert 'role="alert"' in page.text
        export = admin.client.get(f"/office/admin/acts/export?{query}&lang={lang}")
        assert export.status_code == 422 and message in export.text


def test_the_export_is_what_the_filter_picks_and_is_itself_recorded(
    admin: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    people.add_topic(ctx, staff.admin, "=Trade")
    response = admin.client.get("/office/admin/acts/export?kind=topic.added")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="admin-acts-')
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert [r["details"] for r in rows] == [
        '{"name": "Global Health"}',
        '{"name": "Korean Peninsula"}',
        '{"name": "=Trade"}',
    ]
    assert {(r["actor"], r["kind"], r["origin"]) for r in rows} == {
        ("console operator", "topic.added", "")
    } | {("admin@newsroom.example", "topic.added", "")}
    exports = recorded(ctx, staff, AdminActKind.ADMIN_ACTS_EXPORTED)
    assert [(e.actor, e.origin, e.details["kind"], e.details["rows"]) for e in exports] == [
        ("admin@newsroom.example", "testclient", "topic.added", 3)
    ]
    page = admin.page("/office/admin/acts?lang=en")
    assert "Audit log exported" in rows_of(page)[0]
    assert 'href="/office/admin/acts/export"' in page.text


def test_the_api_lists_and_exports_acts_for_admins_only(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    api.ok("admin", "POST", "/api/v1/topics", json={"name": "Trade"})
    listed = api.ok("admin", "GET", "/api/v1/admin-acts?kind=topic.added&per_page=2")
    assert listed["total"] == 3 and listed["page"] == 1 and listed["per_page"] == 2
    newest = listed["items"][0]
    assert (newest["actor"], newest["actor_roles"], newest["details"], newest["origin"]) == (
        "admin@newsroom.example",
        ["admin"],
        {"name": "Trade"},
        "testclient",
    )
    by_console = api.ok("admin", "GET", "/api/v1/admin-acts?actor=-2&kind=topic.added")
    assert [a["details"]["name"] for a in by_console["items"]] == [
        "Korean Peninsula",
        "Global Health",
    ]
    backwards = api("admin", "GET", "/api/v1/admin-acts?since=2026-12-02&until=2026-12-01")
    assert backwards.status_code == 422
    assert backwards.json()["message"] == "until: the last day comes before the first"
    assert api("admin", "GET", "/api/v1/admin-acts?kind=user.promoted").status_code == 422
    exported = api("admin", "GET", "/api/v1/admin-acts/export?actor=-2")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert len(exported.text.splitlines()) == 1 + len(
        admin_acts.search_admin_acts(ctx, staff.admin, AdminActFilter(actor_id=-2)).acts
    )
    before = admin_acts.search_admin_acts(ctx, staff.admin, AdminActFilter()).total
    for persona in ("author", "approver", "translator"):
        assert api(persona, "GET", "/api/v1/admin-acts").status_code == 403
        assert api(persona, "GET", "/api/v1/admin-acts/export").status_code == 403
    assert admin_acts.search_admin_acts(ctx, staff.admin, AdminActFilter()).total == before
