"""Releases pasted as the ministry's word processor gives them (../shared/fixtures): both
English samples and the Korean house-format sample, raw, through the API and the editor.
The public page and the release email show the same numbered paragraphs with the same
sub-points under each, in order, word for word; the Korean sample reads as its expected
structure, and its header block fills the title, subtitle, contact and embargo."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import html5lib
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from tests.e2e.office import Office, post, released_id
from tests.fixture_releases import PARAGRAPH, load
from workflow.clock import FrozenClock
from workflow.db.tables import ReleaseRow
from workflow.distribution.rendering import Kept, render_variant
from workflow.domain.house_format import (
    SEOUL,
    Point,
    Structure,
    parse_header,
    structure_of_html,
)
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

EMBARGO = datetime(2026, 12, 8, 6, 0, tzinfo=SEOUL)


@dataclass(frozen=True)
class Sample:
    """A sample as pasted: its title and subtitle, its body raw, and what a reader sees."""

    name: str
    language: str
    title: str
    subtitle: str
    body: str
    paragraphs: tuple[Point, ...]
    notes: tuple[str, ...] = ()
    attachments_line: str | None = None


def english(path: Path) -> Sample:
    """An English release as its page reads: its body is the text from its first
    numbered paragraph on, exactly as the file holds it ("o" and "°" points, lines of
    non-breaking spaces); the page's navigation above it is no part of a release."""
    sample = load(path)
    text = path.read_text(encoding="utf-8")
    start = next(i for i, line in enumerate(text.split("\n")) if PARAGRAPH.match(line))
    body = "\n".join(text.split("\n")[start:])
    paragraphs = tuple(
        Point(
            " ".join(PARAGRAPH.sub("", words).split()),
            tuple(Point(" ".join(p.split())) for p in points),
        )
        for words, points in sample.paragraphs
    )
    return Sample(path.name, "en", sample.title, "", body, paragraphs)


def korean(fixtures: Path) -> tuple[Sample, dict[str, Any]]:
    """The Korean sample, after its header block, and the structure it should read as."""
    raw = (fixtures / "formats" / "ko-house-format.txt").read_text(encoding="utf-8")
    want = json.loads((fixtures / "formats" / "ko-house-format.expected.json").read_text())
    pasted = parse_header(raw)
    sample = Sample(
        "ko-house-format.txt",
        "ko",
        pasted.title,
        pasted.subtitle,
        pasted.pasted_body,
        tuple(_point(p) for p in want["paragraphs"]),
        tuple(want["notes"]),
        want["attachments_line"],
    )
    return sample, want


def _point(item: dict[str, Any]) -> Point:
    return Point(item["text"], tuple(_point(p) for p in item["points"]))


def expected(sample: Sample) -> Structure:
    return Structure(sample.paragraphs, sample.notes, sample.attachments_line, (), 1)


def _words(text: str) -> str:
    return " ".join(text.split())


def _flattened(points: tuple[Point, ...]) -> Iterator[str]:
    for point in points:
        yield point.text
        yield from _flattened(point.points)


def read_on_both(ctx: ServiceContext, client: TestClient, release_id: int, lang: str) -> Structure:
    """The structure of the public page and of the release email, which must agree; the
    email's plain text carries every paragraph and point too, in order."""
    number = get_release(ctx, release_id).number
    assert number is not None
    page = client.get(f"/releases/{number}?lang={lang}")
    assert page.status_code == 200
    on_page = structure_of_html(page.text, "release-body")
    email = render_variant(ctx, Kept(release_id, "release", lang))
    in_email = structure_of_html(email.html, "body")
    assert on_page == in_email
    assert on_page.numbered_lists == 1, "the paragraphs are one numbered list"
    plain, position = _words(email.text), 0
    for words in _flattened(on_page.paragraphs):
        found = plain.find(words, position)
        assert found >= position, f"not in the plain-text email, in order: {words[:40]}"
        position = found + len(words)
    return on_page


def test_pasted_releases_read_the_same_on_the_page_and_in_the_email(
    api: Api,
    client: TestClient,
    ctx: ServiceContext,
    clock: FrozenClock,
    staff: Staff,
    fixtures_dir: Path,
) -> None:
    samples = [english(path) for path in sorted(fixtures_dir.glob("mofa-*.txt"))]
    assert len(samples) == 2, "both English samples"
    ko, want = korean(fixtures_dir)
    for sample in samples:
        assert len(sample.paragraphs) >= 4 and any(p.points for p in sample.paragraphs)
        release_id = api.ok(
            "author",
            "POST",
            "/api/v1/releases",
            json={
                "language": "en",
                "title": sample.title,
                "body": sample.body,
                "topics": [staff.health],
            },
        )["release_id"]
        for who, action in (("author", "submit"), ("approver", "approve"), ("author", "publish")):
            api.ok(who, "POST", f"/api/v1/releases/{release_id}/{action}")
        assert read_on_both(ctx, client, release_id, "en") == expected(sample), sample.name

    # The Korean sample: its header fills the fields, its embargo is the schedule's.
    pasted = parse_header((fixtures_dir / "formats" / "ko-house-format.txt").read_text())
    assert (pasted.title, pasted.subtitle) == (want["title"], want["subtitle"])
    assert (pasted.contact_name, pasted.contact_phone) == ("과장 홍길동", "02-2100-0000")
    assert pasted.department == "외교부 국제보건협력과"
    assert pasted.embargo_until == EMBARGO
    release_id = api.ok(
        "author",
        "POST",
        "/api/v1/releases",
        json={
            "language": "ko",
            "title": pasted.title,
            "subtitle": pasted.subtitle,
            "body": ko.body,
            "topics": [staff.health],
            "contact": {"name": pasted.contact_name, "phone": pasted.contact_phone},
        },
    )["release_id"]
    api.ok("author", "POST", f"/api/v1/releases/{release_id}/submit")
    api.ok("approver", "POST", f"/api/v1/releases/{release_id}/approve")
    when = EMBARGO.isoformat()
    api.ok(
        "author",
        "POST",
        f"/api/v1/releases/{release_id}/schedule",
        json={"publish_at": when, "embargo_until": when},
    )
    held = api.ok("author", "GET", f"/api/v1/releases/{release_id}")
    assert datetime.fromisoformat(held["embargo_until"]) == EMBARGO
    assert held["contact"]["name"] == "과장 홍길동"
    assert held["versions"]["ko"]["subtitle"] == want["subtitle"]
    clock.current = EMBARGO
    assert svc.publish_due(ctx) == [release_id]
    read = read_on_both(ctx, client, release_id, "ko")
    assert read == expected(ko)
    assert {k: v for k, v in want.items() if k not in ("title", "subtitle")} == read.as_json()


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def _tree(html: str) -> Element:
    return html5lib.parse(html, namespaceHTMLElements=False)


def _field(tree: Element, element_id: str) -> str:
    found = next(e for e in tree.iter() if e.get("id") == element_id)
    return found.text or "" if found.tag == "textarea" else found.get("value") or ""


def _preview(html: str, lang: str) -> Structure:
    tree = _tree(html)
    holder = next(e for e in tree.iter() if e.get("data-preview") == lang)
    return structure_of_html(html5lib.serialize(holder, tree="etree"), "release-body")


def test_the_editor_reads_the_header_and_shows_the_canonical_form_before_saving(
    office: Office, ctx: ServiceContext, staff: Staff, fixtures_dir: Path
) -> None:
    ko, want = korean(fixtures_dir)
    raw = (fixtures_dir / "formats" / "ko-house-format.txt").read_text(encoding="utf-8")
    author = office("author")
    form = {"primary": "ko", "body_ko": raw, "details": "1", "topics": [staff.health]}

    # Without the script: "Read the header" fills the fields, and saves nothing.
    read = post(
        author, "/office/releases/new", "/office/releases/new", {**form, "read_header": "1"}, 200
    )
    tree = _tree(read.text)
    assert _field(tree, "title_ko") == want["title"]
    assert _field(tree, "subtitle_ko") == want["subtitle"]
    assert (_field(tree, "contact_name"), _field(tree, "contact_phone")) == (
        "과장 홍길동",
        "02-2100-0000",
    )
    body = _field(tree, "body_ko")
    assert body.startswith("1. 외교부는") and "보도일시" not in body
    notice = next(e for e in tree.iter() if e.get("data-header-read") is not None)
    assert notice.get("hidden") is None
    said = _words("".join(notice.itertext()))
    assert "2026-12-08 06:00 KST" in said and "외교부 국제보건협력과" in said
    assert _preview(read.text, "ko") == expected(ko)
    with ctx.uow() as uow:  # nothing saved: the officer confirms by saving
        assert uow.session.scalar(select(func.count()).select_from(ReleaseRow)) == 0

    # Saved as filled in: the text stored is the one the preview showed.
    filled = {
        **form,
        "title_ko": _field(tree, "title_ko"),
        "subtitle_ko": _field(tree, "subtitle_ko"),
        "contact_name": _field(tree, "contact_name"),
        "contact_phone": _field(tree, "contact_phone"),
        "body_ko": body,
    }
    release_id = released_id(post(author, "/office/releases/new", "/office/releases/new", filled))
    saved = get_release(ctx, release_id)
    version = saved.versions[saved.primary_language]
    assert (version.title, version.subtitle, version.body) == (
        want["title"],
        want["subtitle"],
        body,
    )
    assert saved.contact["name"] == "과장 홍길동"


def test_the_preview_and_the_script_s_header_reading_show_what_is_stored(
    office: Office, fixtures_dir: Path
) -> None:
    author = office("author")
    sample = english(sorted(fixtures_dir.glob("mofa-*.txt"))[1])

    # The script's preview, as typing goes: the canonical form of the raw paste.
    fragment = author.submit(
        "/office/releases/new",
        "/office/preview",
        {"lang": "en", "title": sample.title, "body": sample.body},
    )
    assert fragment.status_code == 200
    assert structure_of_html(fragment.text, "release-body") == expected(sample)

    # The "Preview" button: the textarea and the preview both show what will be kept.
    shown = post(
        author,
        "/office/releases/new",
        "/office/releases/new",
        {"primary": "en", "title_en": sample.title, "body_en": sample.body, "preview": "1"},
        200,
    )
    assert "\xa0\n" not in _field(_tree(shown.text), "body_en")
    assert _preview(shown.text, "en") == expected(sample)

    # What the script asks on paste.
    raw = (fixtures_dir / "formats" / "ko-house-format.txt").read_text(encoding="utf-8")
    answer = author.submit("/office/releases/new", "/office/header", {"body": raw})
    assert answer.status_code == 200
    read = answer.json()
    assert set(read["found"]) == {
        "title",
        "subtitle",
        "contact_name",
        "contact_phone",
        "department",
        "embargo_until",
    }
    assert read["embargo"] == "2026-12-08 06:00 KST"
    assert read["body"] == parse_header(raw).body
    plain = author.submit("/office/releases/new", "/office/header", {"body": sample.body}).json()
    assert plain["found"] == [] and plain["title"] == ""
