"""Published releases for the national archives, on a real database and real storage:
what an export holds is what the public was shown (both languages, corrections with
their dates, photos and documents byte for byte), read back whole by the reader, which
finds any damage; nothing unpublished or under embargo goes out; the export is recorded."""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Staff
from tests.integration.test_release_services import BODY_EN, BODY_KO
from tests.media import samples
from workflow.clock import FrozenClock
from workflow.domain.admin_acts import AdminActFilter
from workflow.domain.errors import PermissionDenied, ValidationFailed
from workflow.domain.values import Language
from workflow.origin import acting_from
from workflow.services import admin_acts, archive
from workflow.services import attachments as media
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.attachments import public_file
from workflow.services.queries.public import public_release
from workflow.services.queries.staff_release import get_release


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
            words={
                Language.KO: {"title": "사진 설명", "alt": "회의 장면", "credit": "외교부"},
                Language.EN: {"title": "The meeting"},
            },
        )
    if data[:2] == b"\xff\xd8":
        media.make_renditions(ctx, attachment_id)
    return attachment_id


def draft(ctx: ServiceContext, staff: Staff, title: str, *, english: bool = True) -> int:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title=title, body=BODY_KO, topics=[staff.health]
    ).release_id
    if english:
        svc.edit_version(
            ctx,
            staff.author,
            release_id,
            language="en",
            title=f"{title} (en)",
            body=BODY_EN,
            base_revision=0,
        )
    return release_id


def publish(ctx: ServiceContext, staff: Staff, release_id: int) -> str:
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    number = get_release(ctx, release_id).number
    assert number is not None
    return number


@pytest.fixture
def newsroom(ctx: ServiceContext, staff: Staff, clock: FrozenClock) -> dict[str, Any]:
    """A year of releases: one long ago, one with files corrected twice, one withdrawn,
    one under embargo, one never published."""
    old = publish(ctx, staff, draft(ctx, staff, "지난해 보도자료"))
    clock.advance(days=30)
    since = clock.now().astimezone(ctx.settings.office_zone).date()
    rich = draft(ctx, staff, "국제보건 회의")
    photo = attach(ctx, staff, rich, "회의 사진.jpg", samples.jpeg(320, 200))
    document = attach(ctx, staff, rich, "보도자료 원문.pdf", samples.PDF)
    rich_number = publish(ctx, staff, rich)
    for n, language in enumerate(("ko", "ko", "en"), start=1):
        clock.advance(hours=2)
        current = get_release(ctx, rich).versions[Language(language)].revision
        svc.correct_release(
            ctx,
            staff.author,
            rich,
            language=language,
            title="국제보건 회의" if language == "ko" else "Health Meeting",
            body=(BODY_KO if language == "ko" else BODY_EN) + f"\n\n{n}.",
            note=f"바로잡음 {n}" if language == "ko" else "Corrected the date.",
            base_revision=current,
        )
        svc.approve_release(ctx, staff.approver, rich)
    withdrawn = draft(ctx, staff, "철회된 보도자료", english=False)
    withdrawn_number = publish(ctx, staff, withdrawn)
    svc.withdraw_release(ctx, staff.approver, withdrawn, "날짜가 잘못되었습니다.")
    embargoed = draft(ctx, staff, "엠바고 보도자료")
    svc.submit_release(ctx, staff.author, embargoed)
    svc.approve_release(ctx, staff.approver, embargoed)
    svc.schedule_release(
        ctx,
        staff.author,
        embargoed,
        publish_at=clock.now() + timedelta(minutes=1),
        embargo_until=clock.now() + timedelta(days=2),
    )
    clock.advance(minutes=2)
    svc.publish_scheduled(ctx, embargoed)
    draft(ctx, staff, "초안")
    return {
        "since": since,
        "old": old,
        "rich": rich_number,
        "withdrawn": withdrawn_number,
        "photo": photo,
        "document": document,
    }


def test_an_export_holds_what_the_public_was_shown_and_reads_back_whole(
    ctx: ServiceContext, staff: Staff, newsroom: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "archive"
    with acting_from("cli:archivist@records"):
        export = archive.read_releases(ctx, staff.admin, newsroom["since"])
    written = archive.write_archive(ctx, export, target)
    assert (written.releases, written.files) == (2, 2)

    found = archive.read_archive(target)
    assert [r["number"] for r in found.releases] == [newsroom["rich"], newsroom["withdrawn"]]
    assert (found.files, found.bytes) == (2, written.bytes)
    assert found.manifest["since"] == newsroom["since"].isoformat()
    rich, withdrawn = found.releases

    # Every language version as the public reads it, with its own corrections and dates.
    public = public_release(ctx, newsroom["rich"])
    assert rich["state"] == "published" and rich["ended"] is None
    assert rich["published_at"] == public.published_at.isoformat()
    assert rich["topics"] == ["Global Health"] and rich["primary_language"] == "ko"
    assert [v["language"] for v in rich["versions"]] == ["ko", "en"]
    for version in rich["versions"]:
        seen = public.versions[Language(version["language"])]
        assert (version["title"], version["subtitle"], version["body"]) == (
            seen.title,
            seen.subtitle,
            seen.body,
        )
        assert [(c["published_at"], c["note"]) for c in reversed(version["corrections"])] == [
            (c.published_at.isoformat(), c.note) for c in seen.corrections
        ]
        assert [
            (a["id"], a["title"], a["alt"], a["caption"], a["credit"], a["lead"])
            for a in version["attachments"]
        ] == [
            (s.id, s.words.title, s.words.alt, s.words.caption, s.words.credit, s.lead)
            for s in seen.attachments
        ]
    assert [c["note"] for c in rich["versions"][0]["corrections"]] == ["바로잡음 1", "바로잡음 2"]

    # Each file is the one the public fetches, byte for byte, where the record says.
    by_id = {a["id"]: a for a in rich["attachments"]}
    assert set(by_id) == {newsroom["photo"], newsroom["document"]}
    for attachment_id, entry in by_id.items():
        served = public_file(ctx, attachment_id, "original")
        assert served is not None
        data = (target / entry["path"]).read_bytes()
        assert data == b"".join(ctx.media.read(served.sha256))
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] == served.sha256
        assert entry["path"] == f"files/{served.sha256}/{served.filename}"
        assert (entry["size"], entry["content_type"]) == (served.size, served.content_type)
    assert by_id[newsroom["photo"]]["filename"] == "회의 사진.jpg"
    assert by_id[newsroom["photo"]]["sha256"] != hashlib.sha256(samples.jpeg(320, 200)).hexdigest()

    # A withdrawn release: its text, the reason, when.
    assert withdrawn["state"] == "withdrawn"
    assert withdrawn["ended"]["how"] == "withdrawn"
    assert withdrawn["ended"]["reason"] == "날짜가 잘못되었습니다."
    assert [v["language"] for v in withdrawn["versions"]] == ["ko"]

    # The lines are UTF-8 JSON, one a release, Korean as it is.
    lines = (target / "releases.jsonl").read_bytes().decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == found.releases
    assert "국제보건 회의" in lines[0]

    recorded = admin_acts.search_admin_acts(
        ctx, staff.admin, AdminActFilter.checked(kind="releases.exported")
    ).acts
    assert [(a.actor_id, a.origin, a.details) for a in recorded] == [
        (
            staff.admin,
            "cli:archivist@records",
            {"since": newsroom["since"].isoformat(), "releases": 2, "files": 2},
        )
    ]


def test_without_a_day_every_published_release_goes_but_none_under_embargo(
    ctx: ServiceContext, staff: Staff, newsroom: dict[str, Any], clock: FrozenClock, tmp_path: Path
) -> None:
    everything = archive.read_releases(ctx, staff.admin, None)
    assert [r["number"] for r in everything.releases] == [
        newsroom["old"],
        newsroom["rich"],
        newsroom["withdrawn"],
    ]
    clock.advance(days=3)  # the embargo has lifted
    later = archive.read_releases(ctx, staff.admin, date(2000, 1, 1))
    assert len(later.releases) == 4
    tomorrow = clock.now().astimezone(ctx.settings.office_zone).date() + timedelta(days=1)
    assert archive.read_releases(ctx, staff.admin, tomorrow).releases == []
    with pytest.raises(PermissionDenied):
        archive.read_releases(ctx, staff.officer, None)


def test_the_reader_names_what_is_damaged(
    ctx: ServiceContext, staff: Staff, newsroom: dict[str, Any], tmp_path: Path
) -> None:
    target = tmp_path / "archive"
    archive.write_archive(ctx, archive.read_releases(ctx, staff.admin, None), target)
    record = next(
        r for r in archive.read_archive(target).releases if r["number"] == newsroom["rich"]
    )
    photo = next(a for a in record["attachments"] if a["kind"] == "image")
    file = target / photo["path"]
    original = file.read_bytes()
    file.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(ValidationFailed, match=f"{photo['path']}: does not match its size"):
        archive.read_archive(target)
    file.write_bytes(original)
    lines = target / "releases.jsonl"
    text = lines.read_text(encoding="utf-8")
    lines.write_text(text.replace("국제보건", "국제 보건"), encoding="utf-8")
    with pytest.raises(ValidationFailed, match=r"releases\.jsonl: its SHA-256 is not the manifest"):
        archive.read_archive(target)
    lines.write_text(text, encoding="utf-8")
    file.unlink()
    with pytest.raises(ValidationFailed, match="No such file"):
        archive.read_archive(target)
    with pytest.raises(ValidationFailed, match="is not an empty folder"):
        archive.write_archive(ctx, archive.read_releases(ctx, staff.admin, None), target)
