"""Preview links: a release not yet public, shown read-only to someone outside the office.

Made and revoked through the API and the release page, opened by an anonymous client
with nothing but the address; the clock is frozen, so expiry is moved to, not waited for.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from config.settings import Settings
from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from tests.e2e.office import Office, page, post
from tests.e2e.published import draft
from tests.html_inspection import html_error
from tests.media import samples
from workflow.clock import FrozenClock
from workflow.db.tables import AuditRow, PreviewLinkRow, PreviewOpeningRow
from workflow.domain.errors import ValidationFailed
from workflow.domain.values import Language
from workflow.services import attachments as media
from workflow.services import preview_links as previews
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.subscription_tokens import make_token

BANNER_EN = "Draft: not for publication"
BANNER_KO = "초안: 공개하지 않은 자료입니다"
PRIVATE = {
    "cache-control": "no-store",
    "x-robots-tag": "noindex, nofollow",
    "referrer-policy": "no-referrer",
}


@pytest.fixture
def visitor(app: FastAPI) -> Iterator[TestClient]:
    """Someone outside the office: no session, no cookies, only the link."""
    with TestClient(app) as client:
        yield client


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def new_draft(ctx: ServiceContext, staff: Staff) -> int:
    """A draft in Korean (its original) and English."""
    release_id = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="한미 외교장관 회담",
        body="양국 장관은 **회담**했다.",
        topics=[staff.health],
    ).release_id
    svc.edit_version(
        ctx,
        staff.author,
        release_id,
        language="en",
        title="Korea-US Foreign Ministers Meet",
        body="The two ministers met.",
        base_revision=0,
    )
    return release_id


def make_link(api: Api, release_id: int, who: str = "author", **body: Any) -> dict[str, Any]:
    response = api(who, "POST", f"/api/v1/releases/{release_id}/preview-links", json=body or None)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def path_of(url: str) -> str:
    """The link's path on this app (the address carries the public base URL)."""
    return httpx.URL(url).raw_path.decode()


def opened(client: TestClient, url: str, status: int = 200, **kwargs: Any) -> httpx.Response:
    response = client.get(path_of(url), **kwargs)
    assert response.status_code == status, (response.status_code, response.text[:500])
    for header, value in PRIVATE.items():
        assert response.headers[header] == value, header
    if response.headers["content-type"].startswith("text/html"):
        assert html_error(response.text) is None
    return response


def same_apart_from_the_address(response: httpx.Response, address: str) -> str:
    """The page, with its own address (in the language switch's links) taken out."""
    return response.text.replace(path_of(address).rsplit("/", 1)[-1], "TOKEN")


def links(api: Api, release_id: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = api.ok(
        "author", "GET", f"/api/v1/releases/{release_id}/preview-links"
    )
    return found


def stored(ctx: ServiceContext) -> tuple[int, int, int]:
    """Links, openings and audit entries in the database."""
    with ctx.uow() as uow:
        return tuple(  # type: ignore[return-value]
            uow.session.scalar(select(func.count()).select_from(table)) or 0
            for table in (PreviewLinkRow, PreviewOpeningRow, AuditRow)
        )


def trail(ctx: ServiceContext, release_id: int) -> list[tuple[str, str | None, str]]:
    with ctx.uow() as uow:
        rows = uow.session.execute(
            select(AuditRow.action, AuditRow.from_state, AuditRow.to_state)
            .where(AuditRow.release_id == release_id)
            .order_by(AuditRow.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


# --- a link, opened ------------------------------------------------------------------------


def test_a_link_shows_the_current_text_read_only_and_records_every_opening(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = new_draft(ctx, staff)
    link = make_link(api, release_id)
    assert set(link) == {"id", "url", "expires_at"}
    assert link["url"].startswith(f"{ctx.settings.public_base_url}/preview/")
    assert link["id"] not in link["url"].rsplit(".", 1)[-1]  # the signature, not the id
    assert datetime.fromisoformat(link["expires_at"]) == clock.now() + timedelta(days=7)

    shown = opened(visitor, link["url"]).text
    assert BANNER_EN in shown and BANNER_KO in shown
    assert '<meta name="robots" content="noindex, nofollow">' in shown
    assert shown.index("한미 외교장관 회담") < shown.index("Korea-US Foreign Ministers Meet")
    assert "<strong>회담</strong>" in shown
    assert "<form" not in shown.split('id="content"')[1]  # read-only: nothing to post

    # The current text, not the text when the link was made.
    svc.edit_version(
        ctx,
        staff.author,
        release_id,
        language="en",
        title="Korea-US Foreign Ministers Agree",
        body="The two ministers agreed.",
        base_revision=1,
    )
    clock.advance(minutes=5)
    shown = opened(visitor, link["url"]).text
    assert "Korea-US Foreign Ministers Agree" in shown
    assert "Korea-US Foreign Ministers Meet" not in shown

    [listed] = links(api, release_id)
    assert listed["id"] == link["id"] and listed["url"] == link["url"]
    assert listed["created_by"] == "Kim Min-ji"
    assert listed["open_count"] == 2
    assert datetime.fromisoformat(listed["last_opened_at"]) == clock.now()
    assert listed["status"] == "open" and listed["revoked_at"] is None
    with ctx.uow() as uow:
        clients = uow.session.scalars(select(PreviewOpeningRow.client)).all()
    # Kept as a keyed hash: the same reader twice, and never the address itself.
    assert len(clients) == 2 and len(set(clients)) == 1
    assert clients[0] == previews.client_key(ctx.settings, "testclient") != "testclient"
    assert ("create_preview_link", "draft", "draft") in trail(ctx, release_id)


def test_the_page_speaks_the_visitors_language_and_the_banner_both(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff
) -> None:
    link = make_link(api, new_draft(ctx, staff))
    korean = opened(visitor, link["url"], headers={"Accept-Language": "ko"}).text
    english = opened(visitor, link["url"], headers={"Accept-Language": "en"}).text
    assert '<html lang="ko">' in korean and "까지 열립니다" in korean
    assert '<html lang="en">' in english and "This link opens until" in english
    for shown in (korean, english):
        assert BANNER_EN in shown and BANNER_KO in shown


def test_an_approver_may_share_a_preview_too(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    svc.submit_release(ctx, staff.author, release_id)
    link = make_link(api, release_id, "approver", expires_in_days=30)
    assert datetime.fromisoformat(link["expires_at"]) == ctx.clock.now() + timedelta(days=30)
    opened(visitor, link["url"])
    assert links(api, release_id)[0]["created_by"] == "Lee Jun-ho"


# --- what does not open --------------------------------------------------------------------


def test_a_forged_link_is_not_found_as_an_unknown_one_is(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    link = make_link(api, release_id)
    token = path_of(link["url"]).rsplit("/", 1)[1]
    other_key = Settings(secret_key="another key altogether, long enough to be one")
    forged = {
        "signature changed": token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        "id changed": previews.preview_token(ctx.settings, "x" * 22).split(".")[0]
        + "."
        + token.split(".")[1],
        "unknown id, signed": previews.preview_token(ctx.settings, "NoSuchLinkAtAll0123456"),
        "another key": previews.preview_token(other_key, link["id"]),
        "a subscription link": make_token(ctx.settings, 1, 1, "unsubscribe"),
        "the bare id": link["id"],
        "cut short": token[:20],
    }
    before = stored(ctx)
    pages = {
        kind: same_apart_from_the_address(opened(visitor, f"/preview/{value}", 404), value)
        for kind, value in forged.items()
    }
    assert stored(ctx) == before
    assert len(set(pages.values())) == 1, "each refusal must look like any other"
    assert "이 주소에는 미리보기가 없습니다" in pages["another key"]  # Korean, unless asked
    assert "한미" not in pages["unknown id, signed"]
    opened(visitor, link["url"])  # the real one still opens


def test_an_expired_link_has_ended(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = new_draft(ctx, staff)
    link = make_link(api, release_id, expires_in_days=2)
    clock.advance(days=2, seconds=-1)
    opened(visitor, link["url"])
    clock.advance(seconds=1)
    before = stored(ctx)
    ended = opened(visitor, link["url"], 410, headers={"Accept-Language": "ko"}).text
    assert "미리보기가 종료되었습니다" in ended and "한미" not in ended
    assert '<meta name="robots" content="noindex, nofollow">' in ended
    assert stored(ctx) == before  # an ended link records no opening
    assert links(api, release_id)[0]["status"] == "expired"


def test_a_revoked_link_has_ended_and_revoking_again_changes_nothing(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = new_draft(ctx, staff)
    link, other = make_link(api, release_id), make_link(api, release_id)
    opened(visitor, link["url"])
    clock.advance(minutes=1)
    assert api("approver", "DELETE", f"/api/v1/preview-links/{link['id']}").status_code == 204
    ended = opened(visitor, link["url"], 410, headers={"Accept-Language": "en"}).text
    assert "This preview has ended" in ended
    opened(visitor, other["url"])  # only that one

    before = stored(ctx)
    assert api("author", "DELETE", f"/api/v1/preview-links/{link['id']}").status_code == 204
    assert stored(ctx) == before
    listed = {item["id"]: item for item in links(api, release_id)}
    assert listed[link["id"]]["status"] == "revoked"
    assert datetime.fromisoformat(listed[link["id"]]["revoked_at"]) == clock.now()
    assert listed[other["id"]]["status"] == "open"
    assert [a for a, *_ in trail(ctx, release_id)].count("revoke_preview_link") == 1


def test_an_ended_link_looks_the_same_however_it_ended(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    revoked = make_link(api, new_draft(ctx, staff))
    api.ok("author", "DELETE", f"/api/v1/preview-links/{revoked['id']}")
    expiring = make_link(api, new_draft(ctx, staff), expires_in_days=1)
    abandoned_id = new_draft(ctx, staff)
    abandoned = make_link(api, abandoned_id)
    svc.abandon_release(ctx, staff.author, abandoned_id)
    clock.advance(days=1)
    headers = {"Accept-Language": "en"}
    answers = {
        same_apart_from_the_address(opened(visitor, link["url"], 410, headers=headers), link["url"])
        for link in (revoked, expiring, abandoned)
    }
    assert len(answers) == 1


def test_publication_ends_the_link(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = draft(ctx, staff, ko=("승인된 보도자료", "본문"))
    link = make_link(api, release_id)
    assert ("create_preview_link", "approved", "approved") in trail(ctx, release_id)
    opened(visitor, link["url"])
    clock.advance(minutes=1)
    svc.publish_release(ctx, staff.author, release_id)
    assert "승인된 보도자료" not in opened(visitor, link["url"], 410).text
    assert links(api, release_id)[0]["status"] == "ended"


def test_withdrawal_of_a_scheduled_release_ends_the_link(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = draft(ctx, staff, ko=("예약된 보도자료", "본문"))
    svc.schedule_release(ctx, staff.author, release_id, publish_at=clock.now() + timedelta(days=2))
    link = make_link(api, release_id)
    opened(visitor, link["url"])
    clock.advance(minutes=1)
    svc.withdraw_release(ctx, staff.approver, release_id, "일정이 취소되었습니다.")
    opened(visitor, link["url"], 410)


def test_a_link_ended_by_rejection_stays_ended_when_the_release_is_reopened(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = new_draft(ctx, staff)
    svc.submit_release(ctx, staff.author, release_id)
    link = make_link(api, release_id)
    clock.advance(minutes=1)
    svc.reject_release(ctx, staff.approver, release_id, "다시 쓰십시오.")
    opened(visitor, link["url"], 410)
    clock.advance(minutes=1)
    svc.reopen_release(ctx, staff.author, release_id)
    opened(visitor, link["url"], 410)
    opened(visitor, make_link(api, release_id)["url"])  # a new decision, a new link


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["published", "abandoned", "rejected", "withdrawn"])
def test_a_release_past_its_preview_gets_no_link_and_nothing_is_stored(
    api: Api, ctx: ServiceContext, staff: Staff, state: str
) -> None:
    if state == "abandoned":
        release_id = new_draft(ctx, staff)
        svc.abandon_release(ctx, staff.author, release_id)
    elif state == "rejected":
        release_id = new_draft(ctx, staff)
        svc.submit_release(ctx, staff.author, release_id)
        svc.reject_release(ctx, staff.approver, release_id, "아닙니다.")
    else:
        release_id = draft(ctx, staff, ko=("제목", "본문"))
        svc.publish_release(ctx, staff.author, release_id)
        if state == "withdrawn":
            svc.withdraw_release(ctx, staff.approver, release_id, "잘못 공개했습니다.")
    before = stored(ctx)
    response = api("author", "POST", f"/api/v1/releases/{release_id}/preview-links")
    assert response.status_code == 409, response.text
    assert "not yet public" in response.json()["message"]
    assert stored(ctx) == before


@pytest.mark.parametrize("days", [0, 31, 365, -1, 7.5, None, "a week"])
def test_a_term_outside_one_to_thirty_days_is_refused(
    api: Api, ctx: ServiceContext, staff: Staff, days: object
) -> None:
    release_id = new_draft(ctx, staff)
    before = stored(ctx)
    response = api(
        "author",
        "POST",
        f"/api/v1/releases/{release_id}/preview-links",
        json={"expires_in_days": days},
    )
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == "expires_in_days"
    assert stored(ctx) == before
    with pytest.raises(ValidationFailed):
        previews.create_preview_link(ctx, staff.author, release_id, expires_in_days=31)


def test_translators_and_admins_may_not_share_see_or_revoke_links(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    link = make_link(api, release_id)
    before = stored(ctx)
    for who in ("translator", "admin"):
        made = api(who, "POST", f"/api/v1/releases/{release_id}/preview-links")
        assert made.status_code == 403
        assert made.json()["rule"] == "only press officers and approvers share previews"
        assert api(who, "GET", f"/api/v1/releases/{release_id}/preview-links").status_code == 403
        assert api(who, "DELETE", f"/api/v1/preview-links/{link['id']}").status_code == 403
    assert stored(ctx) == before
    assert links(api, release_id)[0]["status"] == "open"


def test_an_unknown_release_or_link_is_not_found(api: Api, ctx: ServiceContext) -> None:
    assert api("author", "POST", "/api/v1/releases/999/preview-links").status_code == 404
    assert api("author", "GET", "/api/v1/releases/999/preview-links").status_code == 404
    assert api("author", "DELETE", "/api/v1/preview-links/NoSuchLink").status_code == 404
    assert stored(ctx) == (0, 0, 0)


def test_the_endpoints_and_their_answers_are_documented(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    create = paths["/api/v1/releases/{release_id}/preview-links"]["post"]
    assert {"201", "403", "404", "409", "422"} <= set(create["responses"])
    listing = paths["/api/v1/releases/{release_id}/preview-links"]["get"]
    assert {"200", "403", "404"} <= set(listing["responses"])
    revoke = paths["/api/v1/preview-links/{link_id}"]["delete"]
    assert {"204", "403", "404"} <= set(revoke["responses"])
    assert not any(path.startswith("/preview") for path in paths)  # pages, not API


# --- photos and documents ------------------------------------------------------------------


def attach(ctx: ServiceContext, staff: Staff, release_id: int, name: str, data: bytes) -> str:
    with tempfile.NamedTemporaryFile() as file:
        file.write(data)
        file.flush()
        attachment_id, _ = media.upload_attachment(
            ctx,
            staff.author,
            release_id,
            path=Path(file.name),
            filename=name,
            words={Language.KO: {"alt": "두 장관의 악수", "title": "공동성명"}},
        )
    return attachment_id


def test_the_preview_shows_photos_and_documents_through_the_link_alone(
    api: Api, visitor: TestClient, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    photo = attach(ctx, staff, release_id, "악수.jpg", samples.jpeg(800, 500))
    media.make_renditions(ctx, photo)
    document = attach(ctx, staff, release_id, "공동성명.pdf", samples.PDF)
    elsewhere = new_draft(ctx, staff)
    stranger = attach(ctx, staff, elsewhere, "다른.pdf", samples.PDF)
    link = make_link(api, release_id)
    base = path_of(link["url"])

    shown = opened(visitor, link["url"]).text
    assert f'src="{base}/files/{photo}?rendition=page"' in shown
    assert 'alt="두 장관의 악수"' in shown
    assert f'href="{base}/files/{document}?rendition=original"' in shown

    image = opened(visitor, f"{base}/files/{photo}?rendition=page")
    assert image.headers["content-type"] == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    pdf = opened(visitor, f"{base}/files/{document}?rendition=original")
    assert pdf.content == samples.PDF
    assert visitor.head(f"{base}/files/{document}").status_code == 200
    # Fetching files is not opening the preview.
    assert links(api, release_id)[0]["open_count"] == 1

    opened(visitor, f"{base}/files/{stranger}", 404)  # another release's file
    opened(visitor, f"/preview/{link['id']}/files/{document}", 404)  # unsigned
    media.remove_attachment(ctx, staff.author, release_id, document)
    opened(visitor, f"{base}/files/{document}", 404)  # no longer in the text
    api.ok("author", "DELETE", f"/api/v1/preview-links/{link['id']}")
    opened(visitor, f"{base}/files/{photo}?rendition=page", 410)


# --- the release page ----------------------------------------------------------------------


def test_the_release_page_lists_the_links_and_makes_and_revokes_them(
    office: Office, visitor: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = new_draft(ctx, staff)
    url = f"/office/releases/{release_id}"
    author = office("author")
    assert 'id="preview-links"' in page(author, url).text
    made = post(author, url, f"{url}/preview-links", {"expires_in_days": "3"})
    assert made.headers["location"] == f"{url}#preview-links"
    shown = page(author, url).text
    [address] = re.findall(r'class="preview-url" readonly value="([^"]+)"', shown)
    assert "Kim Min-ji" in shown and "Not yet" in shown

    clock.advance(minutes=10)
    opened(visitor, address)
    shown = page(author, url).text
    row = shown.split('class="preview-url"')[1].split("</tr>")[0]
    assert '<td class="count">1</td>' in row and "Not yet" not in row
    assert "Opens" in row

    [revoke] = re.findall(rf'action="({url}/preview-links/[^"]+/revoke)"', shown)
    post(office("approver"), url, revoke, {})
    opened(visitor, address, 410)
    shown = page(author, url).text
    assert "Revoked" in shown and 'class="preview-url"' not in shown
    assert ("revoke_preview_link", "draft", "draft") in trail(ctx, release_id)


def test_the_release_page_refuses_a_bad_term_in_the_pages_language(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    url = f"/office/releases/{release_id}"
    before = stored(ctx)
    for typed in ("31", "soon"):
        refused = post(
            office("author", lang="ko"),
            url,
            f"{url}/preview-links",
            {"expires_in_days": typed},
            status=422,
        )
        assert "1일에서 30일 사이의 일수여야 합니다" in refused.text
    assert stored(ctx) == before


def test_only_those_who_may_share_see_the_links_on_the_page(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    url = f"/office/releases/{release_id}"
    post(office("author"), url, f"{url}/preview-links", {})
    assert "/preview/" in page(office("approver"), url).text
    for who in ("translator", "admin"):
        shown = page(office(who), url).text
        assert 'id="preview-links"' not in shown and "/preview/" not in shown
    refused = post(office("translator"), url, f"{url}/preview-links", {}, status=403)
    assert "only press officers and approvers share previews" in refused.text


def test_a_public_release_page_offers_no_new_link(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff, ko=("제목", "본문"))
    svc.publish_release(ctx, staff.author, release_id)
    shown = page(office("author"), f"/office/releases/{release_id}").text
    assert "Only a release not yet public can be previewed." in shown
    assert 'name="expires_in_days"' not in shown


def test_the_release_page_sends_its_officer_a_test_email(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    from workflow.db.tables import DeliveryRow, NotificationRow

    release_id = new_draft(ctx, staff)
    url = f"/office/releases/{release_id}"
    author = office("author", lang="ko")
    assert "나에게 테스트 메일 보내기" in page(author, url).text
    sent = post(author, url, f"{url}/test-email", {})
    assert sent.headers["location"] == f"{url}#preview-links"
    assert "테스트 메일을 author@newsroom.example(으)로 보냈습니다." in page(author, url).text
    with ctx.uow() as uow:
        queued = [
            (n.to_address, n.subject[:7])
            for n in uow.session.scalars(
                select(NotificationRow).where(NotificationRow.kind == "test_email")
            )
        ]
        deliveries = uow.session.scalar(select(func.count()).select_from(DeliveryRow))
    assert queued == [("author@newsroom.example", "[TEST] ")]
    assert deliveries == 0
    refused = post(office("translator"), url, f"{url}/test-email", {}, status=403)
    assert "only press officers, approvers and admins send test emails" in refused.text
