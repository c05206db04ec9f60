"""Photos and documents through the API: upload, list, re-word, arrange, remove; what a
hostile upload gets; and exactly when the public may fetch a file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Staff
from tests.e2e.conftest import Api
from tests.e2e.published import past_the_public_cache
from tests.integration.test_media_images import png_bomb
from tests.media import samples
from tests.s3_server import S3Server
from tests.s3_server import s3_server as start_s3_server
from workflow.clock import FrozenClock
from workflow.media.storage import LocalStorage, S3Storage
from workflow.services import attachments as media
from workflow.services import releases as svc
from workflow.services.context import ServiceContext


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with start_s3_server() as server:
        yield server


@pytest.fixture(params=["local", "s3"], autouse=True)
def media_backend(request: pytest.FixtureRequest, ctx: ServiceContext) -> str:
    """Every test here runs against both storage backends: the local disk, and an
    S3-speaking server on loopback (moto's)."""
    if request.param == "s3":
        server: S3Server = request.getfixturevalue("s3")
        settings = ctx.settings
        settings.media_backend = "s3"
        settings.s3_endpoint_url = server.endpoint_url
        settings.s3_bucket = server.create_bucket()
        settings.s3_region = server.region
        settings.s3_access_key_id = server.access_key_id
        settings.s3_secret_access_key = server.secret_access_key
    return str(request.param)


def new_draft(ctx: ServiceContext, staff: Staff, *, english: bool = False) -> int:
    release_id = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="한·미 외교장관 회담 개최",
        body="1. 외교부 장관은 회담을 가졌다.",
        topics=[staff.health],
    ).release_id
    if english:
        svc.edit_version(
            ctx,
            staff.author,
            release_id,
            language="en",
            title="Foreign Ministers Meet",
            body="1. The Minister held talks.",
            base_revision=0,
        )
    return release_id


def upload(
    api: Api, release_id: int, name: str, data: bytes, who: str = "author", **fields: str
) -> Any:
    return api(
        who,
        "POST",
        f"/api/v1/releases/{release_id}/attachments",
        files={"file": (name, data, "application/octet-stream")},
        data=fields,
    )


def raw_upload(api: Api, release_id: int, filename: str, data: bytes, **fields: str) -> Any:
    """An upload whose file name goes on the wire as it is: an HTTP client escapes the
    characters an attacker would send raw."""
    boundary = "newsroom-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    )
    body = b"".join(parts) + head.encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return api(
        "author",
        "POST",
        f"/api/v1/releases/{release_id}/attachments",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def publish(ctx: ServiceContext, staff: Staff, release_id: int) -> None:
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)


def test_a_photo_and_a_pdf_are_attached_and_listed_in_order(
    api: Api, ctx: ServiceContext, staff: Staff, media_backend: str
) -> None:
    release_id = new_draft(ctx, staff, english=True)
    photo = upload(
        api,
        release_id,
        "회담 사진.jpg",
        samples.jpeg(),
        alt="악수하는 두 장관",
        caption="회담에 앞서 악수하는 두 장관",
        credit="외교부",
        alt_en="The two ministers shaking hands",
    )
    assert photo.status_code == 201, photo.text
    body = photo.json()
    assert body["kind"] == "image" and body["content_type"] == "image/jpeg"
    assert body["status"] == "pending" and body["lead"] is True
    assert body["words"]["en"]["alt"] == "The two ministers shaking hands"
    assert body["public_url"].endswith(
        f"/files/{body['id']}/%ED%9A%8C%EB%8B%B4%20%EC%82%AC%EC%A7%84.jpg"
    )
    pdf = upload(api, release_id, "공동성명.pdf", samples.PDF, title="공동성명 전문")
    assert pdf.status_code == 201, pdf.text
    assert pdf.json()["label"] == "PDF" and pdf.json()["size"] == len(samples.PDF)

    listed = api.ok("author", "GET", f"/api/v1/releases/{release_id}/attachments")
    assert [a["id"] for a in listed] == [body["id"], pdf.json()["id"]]
    # The English version has no words of its own for the PDF yet: the original's show.
    assert listed[1]["words"]["en"]["title"] == "공동성명 전문"

    stored = {"local": LocalStorage, "s3": S3Storage}[media_backend]
    assert isinstance(ctx.media, stored)
    assert ctx.media.exists(hashlib.sha256(samples.PDF).hexdigest())

    trail = api.ok("author", "GET", f"/api/v1/releases/{release_id}/audit")
    assert any("공동성명.pdf" in (e.get("details") or {}).get("summary", "") for e in trail)


def test_changing_words_order_and_files_voids_approvals(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    first = upload(api, release_id, "a.jpg", samples.jpeg(), alt="첫 사진").json()["id"]
    second = upload(api, release_id, "b.png", samples.png(), alt="둘째 사진").json()["id"]
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)

    arranged = api.ok(
        "author", "PUT", f"/api/v1/releases/{release_id}/attachments", json={"lead": second}
    )
    assert [a["id"] for a in arranged] == [second, first]
    assert api.ok("author", "GET", f"/api/v1/releases/{release_id}")["state"] == "in_review"

    changed = api.ok(
        "author",
        "PATCH",
        f"/api/v1/releases/{release_id}/attachments/{first}",
        json={"words": {"ko": {"caption": "새 설명"}}},
    )
    assert changed["words"]["ko"] == {
        "title": "",
        "alt": "첫 사진",
        "caption": "새 설명",
        "credit": "",
    }

    removed = api.ok("author", "DELETE", f"/api/v1/releases/{release_id}/attachments/{first}")
    assert removed["state"] == "in_review"
    assert [
        a["id"] for a in api.ok("author", "GET", f"/api/v1/releases/{release_id}/attachments")
    ] == [second]


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("photo.jpg", samples.HTML, 415),
        ("photo.jpg", samples.SVG, 415),
        ("statement.pdf", samples.ELF, 415),
        ("empty.pdf", b"", 415),
        ("truncated.jpg", samples.jpeg()[:2_000], 422),
        ("bomb.png", png_bomb(30_000, 30_000), 422),
        ("../../etc/passwd.pdf", samples.PDF, 422),
        ("nul\x00.pdf", samples.PDF, 422),
        ("evil\u202egpj.pdf", samples.PDF, 422),
        ("x" * 500 + ".pdf", samples.PDF, 422),
    ],
)
def test_a_hostile_upload_is_refused_and_nothing_changes(
    api: Api, ctx: ServiceContext, staff: Staff, name: str, data: bytes, status: int
) -> None:
    release_id = new_draft(ctx, staff)
    before = api.ok("author", "GET", f"/api/v1/releases/{release_id}")
    answer = raw_upload(api, release_id, name, data, alt="사진")
    assert answer.status_code == status, answer.text
    assert answer.json()["message"]
    after = api.ok("author", "GET", f"/api/v1/releases/{release_id}")
    assert after["versions"] == before["versions"]
    assert api.ok("author", "GET", f"/api/v1/releases/{release_id}/attachments") == []


def test_a_release_takes_so_many_files_and_no_more(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    ctx.settings.max_attachments_per_release = 2
    release_id = new_draft(ctx, staff)
    for n in range(2):
        assert upload(api, release_id, f"{n}.pdf", samples.PDF).status_code == 201
    refused = upload(api, release_id, "3.pdf", samples.PDF)
    assert refused.status_code == 422 and "at most 2" in refused.json()["message"]
    assert len(api.ok("author", "GET", f"/api/v1/releases/{release_id}/attachments")) == 2


def test_a_photo_without_alt_text_or_by_a_translator_is_refused(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    assert upload(api, release_id, "a.jpg", samples.jpeg()).status_code == 422
    assert (
        upload(api, release_id, "a.jpg", samples.jpeg(), "translator", alt="x").status_code == 403
    )
    assert upload(api, 999_999, "a.pdf", samples.PDF).status_code == 404


def test_an_upload_over_the_limit_is_refused_while_it_streams(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    ctx.settings.max_attachment_bytes = 100_000
    release_id = new_draft(ctx, staff)
    answer = upload(api, release_id, "big.pdf", samples.PDF + b"%" * 500_000)
    assert answer.status_code == 413
    slightly = upload(api, release_id, "big.pdf", b"%PDF-1.4\n" + b"0" * 100_000 + b"\n%%EOF\n")
    assert slightly.status_code == 413, slightly.text
    assert api.ok("author", "GET", f"/api/v1/releases/{release_id}/attachments") == []


def test_files_are_public_exactly_while_their_release_and_text_are(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = new_draft(ctx, staff)
    photo = upload(api, release_id, "사진.jpg", samples.jpeg(), alt="사진").json()
    pdf = upload(api, release_id, "성명.pdf", samples.PDF, title="성명").json()
    media.make_renditions(ctx, photo["id"])
    photo_url = photo["public_url"].removeprefix(ctx.settings.public_base_url)
    pdf_url = pdf["public_url"].removeprefix(ctx.settings.public_base_url)
    preview = f"/files/{photo['id']}/r/preview"

    # A draft: staff only.
    for url in (photo_url, pdf_url, preview):
        assert api(None, "GET", url).status_code == 404
    staff_copy = api("officer", "GET", pdf["staff_url"])
    assert staff_copy.status_code == 200 and staff_copy.content == samples.PDF
    assert api(None, "GET", pdf["staff_url"]).status_code == 401

    # Scheduled under embargo: still nothing.
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    now = clock.now()
    svc.schedule_release(
        ctx,
        staff.author,
        release_id,
        publish_at=now + timedelta(hours=1),
        embargo_until=now + timedelta(hours=2),
    )
    clock.advance(hours=1)
    assert svc.publish_due(ctx) == [release_id]
    assert api(None, "GET", pdf_url).status_code == 404  # published, still under embargo
    assert api(None, "GET", preview).status_code == 404

    clock.advance(hours=1)
    past_the_public_cache(ctx, clock)
    served = api(None, "GET", pdf_url)
    assert served.status_code == 200 and served.content == samples.PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["etag"] == f'"{hashlib.sha256(samples.PDF).hexdigest()}"'
    assert "filename*=UTF-8''%EC%84%B1%EB%AA%85.pdf" in served.headers["content-disposition"]
    part = api(None, "GET", pdf_url, headers={"Range": "bytes=0-7"})
    assert part.status_code == 206 and part.content == samples.PDF[:8]
    photo_served = api(None, "GET", photo_url)
    assert photo_served.status_code == 200 and photo_served.headers["content-type"] == "image/jpeg"
    assert photo_served.content != samples.jpeg()  # re-encoded, never as uploaded
    assert api(None, "GET", preview).status_code == 200
    assert api(None, "GET", f"/files/{photo['id']}/r/upload").status_code == 422

    # A correction that removes the PDF: served until it is approved, then gone.
    api.ok(
        "author",
        "DELETE",
        f"/api/v1/releases/{release_id}/attachments/{pdf['id']}",
        params={"note_ko": "첨부 파일을 바로잡았습니다."},
    )
    assert api(None, "GET", pdf_url).status_code == 200
    svc.approve_release(ctx, staff.approver, release_id)
    assert api(None, "GET", pdf_url).status_code == 404
    assert api(None, "GET", photo_url).status_code == 200

    # Withdrawn: every file is gone.
    svc.withdraw_release(ctx, staff.approver, release_id, "잘못 배포되었습니다.")
    assert api(None, "GET", photo_url).status_code == 404
    assert api(None, "GET", preview).status_code == 404


def test_a_change_to_a_published_release_needs_a_public_note(
    api: Api, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_draft(ctx, staff)
    publish(ctx, staff, release_id)
    refused = upload(api, release_id, "성명.pdf", samples.PDF, title="성명")
    assert refused.status_code == 422 and refused.json()["fields"][0]["field"] == "note"
    accepted = upload(
        api, release_id, "성명.pdf", samples.PDF, title="성명", note="성명 전문을 첨부했습니다."
    )
    assert accepted.status_code == 201
    assert (
        api.ok("author", "GET", f"/api/v1/releases/{release_id}")["state"] == "correction_in_review"
    )


def test_the_upload_form_is_described_in_the_openapi_document(api: Api) -> None:
    document = api.ok(None, "GET", "/openapi.json")
    operation = document["paths"]["/api/v1/releases/{release_id}/attachments"]["post"]
    form = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file"] and "alt_en" in form["properties"]
    assert {"201", "413", "415", "422"} <= set(operation["responses"])


def test_the_public_page_the_feed_and_the_email_show_the_files(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = new_draft(ctx, staff, english=True)
    photo = upload(
        api,
        release_id,
        "사진.jpg",
        samples.jpeg(),
        alt="악수하는 두 장관",
        caption="회담장에서",
        credit="외교부",
        alt_en="The ministers shake hands",
        caption_en="At the talks",
    ).json()
    upload(
        api, release_id, "공동성명.pdf", samples.PDF, title="공동성명", title_en="Joint statement"
    )
    media.make_renditions(ctx, photo["id"])
    publish(ctx, staff, release_id)
    number = api.ok("author", "GET", f"/api/v1/releases/{release_id}")["number"]
    past_the_public_cache(ctx, clock)

    korean = api(None, "GET", f"/releases/{number}?lang=ko").text
    assert f'src="/files/{photo["id"]}/r/page"' in korean
    assert 'alt="악수하는 두 장관"' in korean and "회담장에서" in korean and "외교부" in korean
    assert "공동성명" in korean and "(PDF, 0 KB)" not in korean and "(PDF, 142 B)" in korean
    english = api(None, "GET", f"/releases/{number}?lang=en").text
    assert 'alt="The ministers shake hands"' in english and "At the talks" in english
    assert "Joint statement" in english
    # Words the English version lacks are the original's, never none.
    assert "외교부" in english

    public = api.ok(None, "GET", f"/api/v1/public/releases/{number}")["versions"]["en"]
    assert [a["kind"] for a in public["attachments"]] == ["image", "document"]
    assert public["attachments"][0]["alt"] == "The ministers shake hands"
    assert public["attachments"][0]["renditions"]["preview"] == f"/files/{photo['id']}/r/preview"
    assert public["attachments"][1]["title"] == "Joint statement"

    feed = api(None, "GET", "/feed.atom?lang=en").text
    assert 'rel="enclosure"' in feed and 'type="application/pdf"' in feed
    assert f'length="{len(samples.PDF)}"' in feed and 'title="Joint statement"' in feed

    from workflow.distribution.rendering import Kept, render_variant

    variant = render_variant(ctx, Kept(release_id, "release", "en"))
    assert f"/files/{photo['id']}/r/email" in variant.html
    assert 'alt="The ministers shake hands"' in variant.html
    assert "Joint statement (PDF, 142 B)" in variant.text
