"""A release's distribution page through the ASGI app: the counts are the delivery rows',
the page reloads itself while messages are going out, failures show the relay's reply,
and the chart of deliveries over time is an accessible inline SVG with a table."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from tests.e2e.web import PASSWORD, Browser
from tests.html_inspection import unlabelled_controls
from tests.integration.test_distribution import handle_events, published_release, subscribe
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.db.tables import DeliveryRow
from workflow.distribution import reports, sending
from workflow.services import accounts
from workflow.services.context import ServiceContext
from workflow.services.retention import run_retention

GONE = "gone@press.example"


@pytest.fixture
def relay(faulty: FaultyHandler) -> FaultyHandler:
    """The loopback SMTP server, refusing one address."""
    faulty.faults.refuse = {GONE}
    return faulty


@pytest.fixture
def translator(client: TestClient, ctx: ServiceContext, staff: Staff) -> Browser:
    """Any member of staff may read a distribution report; a translator will do."""
    accounts.set_password(ctx, staff.translator, staff.translator, PASSWORD)
    browser = Browser(client)
    browser.log_in("translator@newsroom.example")
    return browser


def row_counts(ctx: ServiceContext, release_id: int) -> Counter[str]:
    with ctx.uow() as uow:
        return Counter(
            uow.session.scalars(
                select(DeliveryRow.state).where(DeliveryRow.release_id == release_id)
            )
        )


def shown_counts(page: str) -> dict[str, int]:
    found = re.findall(r'<div class="count state-(\w+)"><dt>[^<]*</dt><dd>(\d+)</dd></div>', page)
    return {state: int(count) for state, count in found}


def test_the_counts_follow_the_deliveries_as_they_go_out(
    translator: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock, relay: FaultyHandler
) -> None:
    subscribe(ctx, GONE, [staff.health])
    for i in range(4):
        subscribe(ctx, f"j{i}@press.example", [staff.health], language="en" if i % 2 else "ko")
    subscribe(ctx, "other@press.example", [staff.peninsula])  # not this release's topic
    release_id = published_release(ctx, staff)
    url = f"/office/releases/{release_id}/distribution?lang=en"

    empty = translator.page(url)
    assert "No emails to journalists are planned for this release yet." in empty.text
    assert 'http-equiv="refresh"' not in empty.text

    handle_events(ctx)
    planned = translator.page(url)
    assert shown_counts(planned.text) == {
        "sent": 0, "pending": 5, "sending": 0, "deferred": 0, "failed": 0, "bounced": 0,
        "duplicate": 0,
    }  # fmt: skip
    assert '<meta http-equiv="refresh" content="5">' in planned.text
    assert '<progress id="progress" value="0" max="5"' in planned.text
    assert "No delivery has settled yet." in planned.text

    clock.advance(minutes=1)
    sending.send_batch(ctx, limit=2, connections=1)  # the refused one and one more
    halfway = translator.page(url)
    counts = row_counts(ctx, release_id)
    assert counts == {"failed": 1, "sent": 1, "pending": 3}
    shown = shown_counts(halfway.text)
    assert {k: v for k, v in shown.items() if v} == dict(counts)
    assert '<progress id="progress" value="2" max="5"' in halfway.text
    assert "2 of 5 emails settled (40 %)." in halfway.text
    assert 'http-equiv="refresh"' in halfway.text

    clock.advance(minutes=1)
    sending.send_batch(ctx, limit=10, connections=2)
    done = translator.page(url)
    counts = row_counts(ctx, release_id)
    assert counts == {"sent": 4, "failed": 1}
    assert {k: v for k, v in shown_counts(done.text).items() if v} == dict(counts)
    assert 'http-equiv="refresh"' not in done.text, "nothing left to wait for"
    assert "5 of 5 emails settled (100 %)." in done.text
    assert "4 of 5 journalists reached: sent at least one email." in done.text
    assert len(relay.received()) == 4

    failures = done.text.split('<table class="failures">', 1)[1].split("</table>", 1)[0]
    assert failures.count("<tr>") == 2  # the header and the one failure
    assert GONE in failures and "<code>550 5.1.1 &lt;gone@press.example&gt;" in failures


def deliver(
    ctx: ServiceContext, release_id: int, subscriber_id: int, kind: str, state: str
) -> None:
    """A delivery row as planning and sending leave it."""
    now = ctx.clock.now()
    with ctx.uow() as uow:
        uow.session.add(
            DeliveryRow(
                release_id=release_id,
                subscriber_id=subscriber_id,
                kind=kind,
                language="ko",
                state=state,
                next_attempt_at=now,
                message_id=f"<{release_id}.{subscriber_id}.{kind}@test>",
                created_at=now,
                sent_at=now if state in ("sent", "bounced") else None,
            )
        )
        uow.commit()


def kind_rows(page: str) -> dict[str, list[int]]:
    table = page.split('<table class="kinds">', 1)[1].split("</table>", 1)[0]
    return {
        kind: [int(n) for n in re.findall(r"<td>(\d+)</td>", cells)]
        for kind, cells in re.findall(
            r'<tr class="kind-(\w+)"><th scope="row">[^<]*</th>(.*?)</tr>', table
        )
    }


def test_the_report_splits_by_kind_and_counts_the_journalists_reached(
    translator: Browser, api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published_release(ctx, staff, english=False)
    trusted, korean, english = (
        subscribe(ctx, f"{who}@press.example", [staff.health]) for who in ("t", "k", "e")
    )
    deliver(ctx, release_id, trusted, "embargo", "sent")
    deliver(ctx, release_id, trusted, "notice:1a2b3c4d", "sent")
    deliver(ctx, release_id, trusted, "lifted", "sent")
    for journalist in (korean, english):
        deliver(ctx, release_id, journalist, "release", "sent")
    deliver(ctx, release_id, trusted, "correction:5e6f7a8b", "sent")
    deliver(ctx, release_id, korean, "correction:5e6f7a8b", "sent")
    deliver(ctx, release_id, english, "correction:5e6f7a8b", "bounced")
    deliver(ctx, release_id, korean, "correction:9c0d1e2f", "pending")

    page = translator.page(f"/office/releases/{release_id}/distribution?lang=en").text
    assert "8 of 9 emails settled (88 %)." in page
    assert "3 of 3 journalists reached: sent at least one email." in page
    # Sent, pending, sending, deferred, failed, bounced; kinds in the order first planned.
    assert kind_rows(page) == {
        "embargo": [1, 0, 0, 0, 0, 0],
        "notice": [1, 0, 0, 0, 0, 0],
        "lifted": [1, 0, 0, 0, 0, 0],
        "release": [2, 0, 0, 0, 0, 0],
        "correction": [2, 1, 0, 0, 0, 1],
    }
    assert list(kind_rows(page)) == ["embargo", "notice", "lifted", "release", "correction"]
    korean_page = translator.page(f"/office/releases/{release_id}/distribution?lang=ko").text
    assert "기자 3명 중 3명에게 이메일이 한 건 이상 발송되었습니다." in korean_page
    assert "엠바고 사전 배포" in korean_page and "정정" in korean_page

    report = api.ok("approver", "GET", f"/api/v1/releases/{release_id}/deliveries")
    assert report["counts"] == {"sent": 7, "bounced": 1, "pending": 1}
    assert report["by_kind"] == {
        "embargo": {"sent": 1},
        "notice": {"sent": 1},
        "lifted": {"sent": 1},
        "release": {"sent": 2},
        "correction": {"sent": 2, "bounced": 1, "pending": 1},
    }
    assert list(report["by_kind"]) == ["embargo", "notice", "lifted", "release", "correction"]
    assert (report["subscribers"], report["subscribers_reached"]) == (3, 3)


def test_a_journalist_whose_every_email_failed_is_not_reached(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published_release(ctx, staff, english=False)
    lost, waiting, reached = (
        subscribe(ctx, f"{who}@press.example", [staff.health]) for who in ("l", "w", "r")
    )
    deliver(ctx, release_id, lost, "release", "failed")
    deliver(ctx, release_id, lost, "correction:5e6f7a8b", "bounced")
    deliver(ctx, release_id, waiting, "release", "deferred")
    deliver(ctx, release_id, reached, "release", "sent")
    report = api.ok("approver", "GET", f"/api/v1/releases/{release_id}/deliveries")
    assert (report["subscribers"], report["subscribers_reached"]) == (3, 1)


def test_the_chart_is_an_accessible_svg_with_a_table_that_adds_up(
    translator: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock, relay: FaultyHandler
) -> None:
    subscribe(ctx, GONE, [staff.health])
    for i in range(5):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff, english=False)
    handle_events(ctx)
    for _ in range(3):
        clock.advance(minutes=10)
        sending.send_batch(ctx, limit=2, connections=1)

    for lang in ("en", "ko"):
        page = translator.page(f"/office/releases/{release_id}/distribution?lang={lang}")
        svg = page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
        assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
        assert '<title id="chart-title">' in svg and '<desc id="chart-desc">' in svg
        assert svg.count('<rect class="sent"') + svg.count('<rect class="failed"') >= 3
        assert unlabelled_controls(page.text) == []
    desc = re.search(r'<desc id="chart-desc">([^<]*)</desc>', page.text.replace("\n", " "))
    assert desc is not None and "5" in desc.group(1) and "1" in desc.group(1)

    english = translator.page(f"/office/releases/{release_id}/distribution?lang=en")
    assert "5 sent and 1 failed or bounced" in english.text
    table = english.text.split('<details class="timeline-table">', 1)[1].split("</details>", 1)[0]
    cells = re.findall(
        r"<tr><th scope=\"row\">[^<]*</th><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td></tr>", table
    )
    assert len(cells) == 24
    assert sum(int(sent) for sent, _, _ in cells) == 5
    assert sum(int(failed) for _, failed, _ in cells) == 1
    timeline = reports.delivery_timeline(ctx, release_id, 24)
    assert [(b.sent, b.failed, b.bounced) for b in timeline] == [
        tuple(int(c) for c in row) for row in cells
    ]


def test_only_staff_see_it_and_an_unknown_release_is_a_404_page(
    client: TestClient, translator: Browser, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published_release(ctx, staff, english=False)
    anonymous = TestClient(client.app)
    response = anonymous.get(f"/office/releases/{release_id}/distribution", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    page = translator.page("/office/releases/99999/distribution", status=404)
    assert "보도자료 99999이(가) 없습니다" in page.text  # the page's language: Korean
    translator.page("/office/releases/0/distribution", status=422)


@pytest.mark.parametrize(
    ("lang", "note"),
    [
        ("en", "Some of these emails were deleted with their recipients"),
        ("ko", "보존 기간 규정에 따라 수신자 정보와 함께 삭제"),
    ],
)
def test_deliveries_deleted_by_retention_still_count_and_the_page_says_so(
    translator: Browser,
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    relay: FaultyHandler,
    lang: str,
    note: str,
) -> None:
    subscribe(ctx, GONE, [staff.health])
    for i in range(3):
        subscribe(ctx, f"j{i}@press.example", [staff.health])
    release_id = published_release(ctx, staff)
    handle_events(ctx)
    sending.send_batch(ctx, limit=10, connections=2)
    url = f"/office/releases/{release_id}/distribution?lang={lang}"
    before = translator.page(url)
    assert note not in before.text
    clock.advance(days=ctx.settings.retention_delivery_days + 1)
    assert run_retention(ctx).deliveries == 4
    translator.log_in("translator@newsroom.example")  # a year on, the session has ended
    after = translator.page(url)
    assert shown_counts(after.text) == shown_counts(before.text)
    assert note in after.text and GONE in before.text and GONE not in after.text
