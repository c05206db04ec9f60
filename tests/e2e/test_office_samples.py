"""Both sample press releases (../shared/fixtures) typed into the editor come out the same
in its preview (the script's endpoint and the "Preview" button) and on the public page:
every numbered paragraph, with its sub-points under it, in order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from xml.etree.ElementTree import Element

import html5lib
import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.office import Office, page, post, released_id
from tests.fixture_releases import PARAGRAPH, SampleRelease, samples
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

Structure = list[tuple[str, list[str]]]


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def _text(element: Element) -> str:
    return " ".join("".join(element.itertext()).split())


def structure(html: str, container: str) -> Structure:
    """The numbered paragraphs and their sub-points of the release text inside the
    element whose class (or editor preview language) is ``container``."""
    tree = html5lib.parse(html, namespaceHTMLElements=False)
    holder = next(
        e
        for e in tree.iter()
        if container in (e.get("class") or "").split() or e.get("data-preview") == container
    )
    body = next(e for e in holder.iter() if e.get("class") == "release-body")
    lists = body.findall("ol")
    assert len(lists) == 1, "one numbered list: the paragraphs are numbered 1, 2, 3… in order"
    assert lists[0].get("start") in (None, "1")
    found = []
    for item in lists[0].findall("li"):
        paragraph = item.find("p")
        assert paragraph is not None
        points = [_text(p) for sub in item.findall("ul") for p in sub.findall("li")]
        found.append((_text(paragraph), points))
    return found


def expected(sample: SampleRelease) -> Structure:
    return [
        (" ".join(PARAGRAPH.sub("", text).split()), [" ".join(p.split()) for p in points])
        for text, points in sample.paragraphs
    ]


def test_both_samples_read_the_same_in_the_editor_and_on_the_public_page(
    office: Office, ctx: ServiceContext, staff: Staff, fixtures_dir: Path
) -> None:
    found = samples(fixtures_dir)
    assert len(found) == 2, "both sample releases"
    author = office("author")
    for sample in found:
        want = expected(sample)
        assert len(want) >= 4 and any(points for _, points in want)

        # The script's preview endpoint.
        fragment = author.submit(
            "/office/releases/new",
            "/office/preview",
            {"lang": "en", "title": sample.title, "body": sample.markdown},
        )
        assert fragment.status_code == 200
        assert structure(f"<div class='x'>{fragment.text}</div>", "x") == want

        # The editor without JavaScript: the "Preview" button.
        form = {"primary": "en", "title_en": sample.title, "body_en": sample.markdown}
        previewed = post(
            author, "/office/releases/new", "/office/releases/new", {**form, "preview": "1"}, 200
        )
        assert structure(previewed.text, "en") == want

        # Saved through the editor, published, and read by the public.
        saved = post(
            author,
            "/office/releases/new",
            "/office/releases/new",
            {**form, "topics": [staff.health], "details": "1"},
        )
        release_id = released_id(saved)
        svc.submit_release(ctx, staff.author, release_id)
        svc.approve_release(ctx, staff.approver, release_id)
        svc.publish_release(ctx, staff.author, release_id)
        number = get_release(ctx, release_id).number
        public = page(author, f"/releases/{number}?lang=en")
        assert structure(public.text, "release-page") == want
        assert re.search(r'<h1 class="release-title">([^<]+)</h1>', public.text).group(1) == (  # type: ignore[union-attr]
            sample.title
        )
