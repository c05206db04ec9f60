"""What search engines and link previews read: the sitemap lists exactly the public
releases, robots.txt keeps them out of the office, and a release page carries its
canonical address, its other language and its Open Graph card."""

from __future__ import annotations

import re
from xml.etree import ElementTree as ET

import html5lib
import pytest

from tests.conftest import Staff
from tests.e2e.conftest import Api, TestClient
from tests.e2e.published import past_the_public_cache, publish, schedule
from tests.e2e.test_attachments_api import upload
from tests.e2e.test_unpublishing import release_id_of
from tests.media import samples
from workflow.clock import FrozenClock
from workflow.services import attachments as media
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.web.link_previews import summary

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
XHTML = "{http://www.w3.org/1999/xhtml}"
KO_BODY = "1. 외교부는 **한-아세안** [포럼](https://example.org/x)을 개최하였다.\n"
EN_BODY = "1. The Ministry hosted the forum.\n"


def meta(page: str) -> dict[str, str]:
    """Each <meta> property or name in the page's head, with its content."""
    tree = html5lib.parse(page, namespaceHTMLElements=False)
    found = {}
    for element in tree.iter("meta"):
        key = element.get("property") or element.get("name")
        if key:
            found[key] = element.get("content", "")
    return found


def links(page: str, rel: str) -> dict[str, str]:
    tree = html5lib.parse(page, namespaceHTMLElements=False)
    return {
        element.get("hreflang") or rel: element.get("href", "")
        for element in tree.iter("link")
        if element.get("rel") == rel
    }


def test_the_sitemap_lists_exactly_the_public_releases(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    public = publish(ctx, staff, clock, ko=("공개", KO_BODY), en=("Public", EN_BODY))
    gone = publish(ctx, staff, clock, ko=("잘못 게시", KO_BODY))
    schedule(ctx, staff, clock, in_hours=2, ko=("예정", KO_BODY))
    svc.unpublish_release(ctx, staff.approver, release_id_of(ctx, gone), "잘못 게시됨")
    past_the_public_cache(ctx, clock)
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)  # noqa: S314  # our own output, in a test
    urls = root.findall(f"{SITEMAP}url")
    locations = [u.findtext(f"{SITEMAP}loc") for u in urls]
    base = ctx.settings.public_base_url
    assert sorted(locations) == [
        f"{base}/releases/{public}?lang=en",
        f"{base}/releases/{public}?lang=ko",
    ]
    for url in urls:
        assert url.findtext(f"{SITEMAP}lastmod")
        alternates = {a.get("hreflang") for a in url.findall(f"{XHTML}link")}
        assert alternates == {"ko", "en"}


def test_robots_keep_crawlers_out_of_the_office_and_previews(client: TestClient) -> None:
    robots = client.get("/robots.txt").text
    assert "Disallow: /office" in robots and "Disallow: /preview/" in robots
    assert re.search(r"^Sitemap: http.*/sitemap\.xml$", robots, re.MULTILINE)


def test_a_release_page_has_its_card_canonical_address_and_other_language(
    api: Api, client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("한-아세안 포럼", KO_BODY), en=("ASEAN Forum", EN_BODY))
    release_id = release_id_of(ctx, number)
    page = client.get(f"/releases/{number}?lang=ko").text
    tags = meta(page)
    base = ctx.settings.public_base_url
    assert tags["og:title"] == "한-아세안 포럼"
    assert tags["og:description"] == "1. 외교부는 한-아세안 포럼을 개최하였다."
    assert tags["og:url"] == f"{base}/releases/{number}?lang=ko"
    assert tags["og:locale"] == "ko_KR" and tags["og:locale:alternate"] == "en_US"
    assert tags["twitter:card"] == "summary" and "og:image" not in tags
    assert links(page, "canonical") == {"canonical": f"{base}/releases/{number}?lang=ko"}
    assert links(page, "alternate") == {
        "ko": f"{base}/releases/{number}?lang=ko",
        "en": f"{base}/releases/{number}?lang=en",
        "x-default": f"{base}/releases/{number}",
    }

    # With a lead photo (a correction adds it), the card shows its 1200×630 crop.
    photo = upload(
        api,
        release_id,
        "forum.jpg",
        samples.jpeg(),
        alt="포럼 참석자",
        note="사진을 더했습니다.",
        alt_en="Forum participants",
        note_en="A photo was added.",
    ).json()
    media.make_renditions(ctx, photo["id"])
    svc.approve_release(ctx, staff.approver, release_id)
    past_the_public_cache(ctx, clock)
    tags = meta(client.get(f"/releases/{number}?lang=en").text)
    assert tags["og:image"] == f"{base}/files/{photo['id']}/r/preview"
    assert tags["og:image:alt"] == "Forum participants"
    assert tags["twitter:card"] == "summary_large_image"
    image = client.get(f"/files/{photo['id']}/r/preview")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("짧은 글", "짧은 글"),
        ("# 제목\n\n- 항목 *강조*", "제목 항목 강조"),
        ("word " * 100, ("word " * 40).strip() + "…"),
    ],
)
def test_a_summary_is_plain_words_cut_between_words(text: str, expected: str) -> None:
    assert summary(text) == expected
