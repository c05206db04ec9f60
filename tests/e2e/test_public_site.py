"""The public newsroom through its ASGI app: the list (pages, topics, words in Korean and
English), each release's page, the Atom feeds, and that nothing embargoed or scheduled
shows by any of those paths before its time."""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree as ET

import html5lib
import pytest

from tests.conftest import Staff
from tests.e2e.conftest import TestClient
from tests.e2e.published import number_of, past_the_public_cache, publish, schedule
from tests.e2e.web import Browser
from tests.fixture_releases import samples
from tests.html_inspection import unlabelled_controls
from workflow.clock import FrozenClock
from workflow.domain.values import Contact
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

ATOM = "{http://www.w3.org/2005/Atom}"

KO_BODY = (
    "1. 외교부는 5월 14일 국제보건 전문가 회의를 개최하였다.\n\n"
    "   - 코로나19 대응 경험을 공유하였다.\n"
)
EN_BODY = (
    "1. The Ministry hosted a meeting on the COVID-19 pandemic.\n\n"
    "   - Experts from the UN attended.\n"
)


@pytest.fixture
def browser(client: TestClient) -> Browser:
    return Browser(client)


def text_of(page: str) -> str:
    """What a reader sees: the page without its tags, white space collapsed."""
    without_tags = re.sub(r"<[^>]+>", " ", page)
    return " ".join(html.unescape(without_tags).split())


def numbers_listed(page: str) -> list[str]:
    return re.findall(r'<dd class="number">([0-9-]+)</dd>', page)


def check_page(browser: Browser, url: str, status: int = 200) -> str:
    """Fetch ``url`` as a page: valid HTML (``Browser.page``) and every control labelled."""
    page = browser.page(url, status=status).text
    assert unlabelled_controls(page) == [], url
    return page


def feed(client: TestClient, url: str) -> ET.Element:
    """The feed at ``url``, parsed: it must be well-formed XML with an Atom root."""
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)  # noqa: S314  # our own output, in a test
    assert root.tag == f"{ATOM}feed"
    return root


def feed_numbers(client: TestClient, url: str) -> list[str]:
    root = feed(client, url)
    return [
        entry.find(f"{ATOM}link").get("href").split("/releases/")[1].split("?")[0]  # type: ignore[union-attr]
        for entry in root.findall(f"{ATOM}entry")
    ]


# --- the checks themselves can fail ------------------------------------------------------


def test_the_label_check_finds_an_unlabelled_control() -> None:
    assert unlabelled_controls('<label for="a">A</label><input id="a" name="a">') == []
    assert unlabelled_controls('<label>B <input name="b"></label>') == []
    assert (
        unlabelled_controls('<input type="hidden" name="c"><select aria-label="D"></select>') == []
    )
    assert unlabelled_controls('<label for="x">X</label><input id="y" name="y">') == [
        "<input name='y' id='y'>"
    ]
    assert unlabelled_controls("<textarea name=t></textarea>") == ["<textarea name='t' id=None>"]


# --- the list ----------------------------------------------------------------------------


def test_counts_and_dates_are_in_the_page_language(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    first = publish(ctx, staff, clock, ko=("보도자료 하나", KO_BODY), en=("Release one", EN_BODY))
    english = text_of(check_page(browser, "/?lang=en"))
    assert "1 release " in english and "1 releases" not in english
    assert "14 May 2026" in english
    assert "보도자료 1건" in text_of(check_page(browser, "/?lang=ko"))
    publish(ctx, staff, clock, ko=("보도자료 둘", KO_BODY), en=("Release two", EN_BODY))
    assert "2 releases" in text_of(check_page(browser, "/?lang=en"))
    found = text_of(check_page(browser, "/?lang=en&q=Release+one"))
    assert "1 release contains “Release one”." in found
    release = text_of(check_page(browser, f"/releases/{first}?lang=en"))
    assert "14 May 2026" in release and "2026-05-14" not in release


def test_the_list_is_newest_first_in_pages_with_number_date_and_hits(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    ctx.settings.public_page_size = 2
    numbers = [
        publish(ctx, staff, clock, ko=(f"보도자료 {i}", KO_BODY), en=(f"Release {i}", EN_BODY))
        for i in range(5)
    ]
    first = check_page(browser, "/?lang=ko")
    assert numbers_listed(first) == [numbers[4], numbers[3]]
    assert "보도자료 4" in first and "조회수" in first and "등록일" in first
    assert "2026년 5월 14일" in first  # the date, in the office's time zone
    assert 'href="/?page=2"' in first and 'href="/?page=3"' in first
    last = check_page(browser, "/?page=3")
    assert numbers_listed(last) == [numbers[0]]
    assert check_page(browser, "/?page=9").count('class="release-item"') == 0
    english = check_page(browser, "/?lang=en")
    assert "Release 4" in english and "Hit" in english
    browser.page("/?page=0", status=422)


def test_a_korean_only_release_is_not_on_the_english_list(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    korean_only = publish(ctx, staff, clock, ko=("국문 전용", KO_BODY))
    both = publish(ctx, staff, clock, ko=("국영문", KO_BODY), en=("Both", EN_BODY))
    assert numbers_listed(check_page(browser, "/?lang=ko")) == [both, korean_only]
    assert numbers_listed(check_page(browser, "/?lang=en")) == [both]


def test_the_topic_filter_and_the_language_switch_keep_the_query(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    ctx.settings.public_page_size = 1
    health = [
        publish(ctx, staff, clock, ko=(f"보건 {i}", KO_BODY), topics=[staff.health])
        for i in range(2)
    ]
    peninsula = publish(ctx, staff, clock, ko=("한반도", KO_BODY), topics=[staff.peninsula])
    page = check_page(browser, f"/?topic={staff.peninsula}&lang=ko")
    assert numbers_listed(page) == [peninsula]
    page = check_page(browser, f"/?topic={staff.health}&q=외교&page=2")
    assert numbers_listed(page) == [health[0]]
    switch = re.search(r'<a href="([^"]+)"[^>]*lang="en">ENG</a>', page)
    assert switch is not None
    query = parse_qs(urlsplit(html.unescape(switch.group(1))).query)
    assert query == {"topic": [str(staff.health)], "q": ["외교"], "page": ["2"], "lang": ["en"]}
    everything = check_page(browser, "/?q=&topic=&lang=ko")  # the form, as sent
    assert numbers_listed(everything) == [peninsula]
    assert 'href="/?page=2"' in everything, "empty fields are left out of the links"
    previous = re.search(r'<a href="([^"]+)" rel="prev"', page)
    assert previous is not None
    assert parse_qs(urlsplit(html.unescape(previous.group(1))).query) == {
        "topic": [str(staff.health)],
        "q": ["외교"],
    }


# --- search ------------------------------------------------------------------------------


@pytest.fixture
def searchable(ctx: ServiceContext, staff: Staff, clock: FrozenClock) -> dict[str, str]:
    return {
        "health": publish(
            ctx, staff, clock, ko=("국제보건 전문가 회의", KO_BODY), en=("Global Health", EN_BODY)
        ),
        "peninsula": publish(
            ctx,
            staff,
            clock,
            ko=("한반도 평화 프로세스", "1. 정부는 한반도 평화를 위해 노력하고 있다.\n"),
            en=("Peace on the Korean Peninsula", "1. Diplomats met in Geneva.\n"),
        ),
    }


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("외교", ["health"]),  # two syllables, inside 외교부는
        ("코로나", ["health"]),  # inside 코로나19
        ("외교부", ["health"]),
        ("외교 코로나", ["health"]),  # every word must occur
        ("외교 한반도", []),
        ("한반도", ["peninsula"]),  # in the title
        ("평화", ["peninsula"]),
        ("회의", ["health"]),
        ("없는낱말", []),
    ],
)
def test_korean_words_are_found_inside_longer_ones(
    browser: Browser, searchable: dict[str, str], words: str, expected: list[str]
) -> None:
    page = check_page(browser, f"/?lang=ko&q={words}")
    assert numbers_listed(page) == [searchable[name] for name in expected]


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("pandemic", ["health"]),
        ("PANDEMIC", ["health"]),  # case does not matter
        ("covid", ["health"]),  # inside COVID-19
        ("UN", ["health"]),  # shorter than a trigram
        ("geneva diplomats", ["peninsula"]),
        ("Korean Peninsula", ["peninsula"]),
        ("50%", []),  # LIKE wildcards are plain characters
        ("_", []),
        ('"', []),
    ],
)
def test_english_words_are_found_in_the_english_text(
    browser: Browser, searchable: dict[str, str], words: str, expected: list[str]
) -> None:
    page = check_page(browser, f"/?lang=en&q={words}")
    assert numbers_listed(page) == [searchable[name] for name in expected]


def test_search_reads_only_the_live_text(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("원래 제목", KO_BODY))
    release_id = _id_of(ctx, number)
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="정정안 제목",
        body=KO_BODY.replace("외교부는", "비공개단어가"),
        note="제목을 바로잡았습니다.",
        base_revision=1,
    )
    assert numbers_listed(check_page(browser, "/?lang=ko&q=비공개단어")) == []
    assert numbers_listed(check_page(browser, "/?lang=ko&q=외교")) == [number]
    svc.approve_release(ctx, staff.approver, release_id)
    past_the_public_cache(ctx, clock)
    assert numbers_listed(check_page(browser, "/?lang=ko&q=비공개단어")) == [number]
    assert numbers_listed(check_page(browser, "/?lang=ko&q=외교부는")) == []


def _id_of(ctx: ServiceContext, number: str) -> int:
    from sqlalchemy import select

    from workflow.db.tables import ReleaseRow

    with ctx.uow() as uow:
        release_id = uow.session.scalar(select(ReleaseRow.id).where(ReleaseRow.number == number))
    assert release_id is not None
    return release_id


# --- embargo and schedule ----------------------------------------------------------------


def test_nothing_embargoed_or_scheduled_shows_before_its_time_by_any_path(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    public = publish(ctx, staff, clock, ko=("공개단어 제목", KO_BODY), en=("Publicword", EN_BODY))
    scheduled = schedule(
        ctx, staff, clock, in_hours=1, ko=("예약단어 제목", KO_BODY), en=("Scheduledword", EN_BODY)
    )
    embargoed = schedule(
        ctx,
        staff,
        clock,
        in_hours=1,
        embargo_hours=3,
        ko=("엠바고단어 제목", KO_BODY),
        en=("Embargoword", EN_BODY),
    )
    clock.advance(hours=2)  # the scheduler publishes both; one is still under embargo
    assert sorted(svc.publish_due(ctx)) == sorted([scheduled, embargoed])
    embargoed_number = number_of(ctx, embargoed)
    scheduled_number = number_of(ctx, scheduled)

    def visible(number: str, korean_word: str, english_word: str) -> dict[str, bool]:
        return {
            "list ko": number in numbers_listed(check_page(browser, "/?lang=ko")),
            "list en": number in numbers_listed(check_page(browser, "/?lang=en")),
            "topic": number in numbers_listed(check_page(browser, f"/?topic={staff.health}")),
            "search ko": number
            in numbers_listed(check_page(browser, f"/?lang=ko&q={korean_word}")),
            "search en": number
            in numbers_listed(check_page(browser, f"/?lang=en&q={english_word}")),
            "feed ko": number in feed_numbers(browser.client, "/feed.atom?lang=ko"),
            "feed en": number in feed_numbers(browser.client, "/feed.atom?lang=en"),
            "feed topic": number
            in feed_numbers(browser.client, f"/feed.atom?lang=ko&topic={staff.health}"),
            "page": browser.client.get(f"/releases/{number}").status_code == 200,
            "api": browser.client.get(f"/api/v1/public/releases/{number}").status_code == 200,
        }

    everywhere = dict.fromkeys(visible(public, "공개단어", "publicword"), True)
    nowhere = dict.fromkeys(everywhere, False)
    assert visible(public, "공개단어", "publicword") == everywhere
    # Published on time by the scheduler.
    assert visible(scheduled_number, "예약단어", "scheduledword") == everywhere
    assert visible(embargoed_number, "엠바고단어", "embargoword") == nowhere, "embargo holds"
    page = check_page(browser, f"/releases/{embargoed_number}", status=404)
    assert "엠바고단어" not in page and "Embargoword" not in page
    clock.advance(hours=1, seconds=1)
    assert visible(embargoed_number, "엠바고단어", "embargoword") == everywhere


def test_a_scheduled_release_has_no_page_at_any_guessed_number(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    first = publish(ctx, staff, clock, ko=("첫 번째", KO_BODY))
    schedule(ctx, staff, clock, in_hours=1, ko=("예약됨", KO_BODY))
    year, sequence = first.split("-")
    for guess in (f"{year}-{int(sequence) + n:04d}" for n in range(1, 4)):
        page = check_page(browser, f"/releases/{guess}", status=404)
        assert "예약됨" not in page
    assert "예약됨" not in check_page(browser, "/?lang=ko")
    check_page(browser, "/releases/not-a-number", status=422)


# --- one release -------------------------------------------------------------------------


def test_a_release_page_shows_text_meta_and_the_other_language(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(
        ctx,
        staff,
        clock,
        ko=("국제보건 협력", KO_BODY),
        en=("Global Health Cooperation", EN_BODY),
        contact=Contact("Kim Min-ji", "02-2100-7000", "press@mofa.example"),
    )
    korean = check_page(browser, f"/releases/{number}?lang=ko")
    shown = text_of(korean)
    assert "국제보건 협력" in shown and number in shown and "2026년 5월 14일" in shown
    assert "조회수 1" in shown
    assert "<ol>" in korean and "<ul>" in korean  # numbered paragraphs, sub-points
    assert f'href="/releases/{number}?lang=en"' in korean
    assert "press@mofa.example" in korean
    english = check_page(browser, f"/releases/{number}?lang=en")
    assert "Global Health Cooperation" in english and "Hit 1" in text_of(english)
    assert f'href="/releases/{number}?lang=ko"' in english
    korean_only = publish(ctx, staff, clock, ko=("국문만", KO_BODY))
    page = check_page(browser, f"/releases/{korean_only}?lang=en")
    assert "국문만" in page, "shown in the language it has"
    assert 'class="other-language"' not in page


def test_a_reader_of_the_public_pages_gets_no_cookie_but_a_form_gets_its_token(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("쿠키 없음", KO_BODY))
    for url in ("/", f"/releases/{number}", "/?q=쿠키"):
        response = client.get(url)
        assert response.status_code == 200
        assert "set-cookie" not in response.headers, url
    subscribe = client.get("/subscribe")
    assert "newsroom_visitor=" in subscribe.headers["set-cookie"], "the form's token is bound"


def test_a_corrected_release_shows_its_note_and_a_withdrawn_one_no_body(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, en=("Original Title", EN_BODY))
    release_id = _id_of(ctx, number)
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="en",
        title="Corrected Title",
        body=EN_BODY,
        note="The date of the meeting was corrected.",
        base_revision=1,
    )
    under_review = text_of(check_page(browser, f"/releases/{number}?lang=en"))
    assert "Original Title" in under_review and "Corrected Title" not in under_review
    assert "was corrected" not in under_review
    svc.approve_release(ctx, staff.approver, release_id)
    past_the_public_cache(ctx, clock)
    corrected = text_of(check_page(browser, f"/releases/{number}"))
    assert "Corrected Title" in corrected
    assert ": The date of the meeting was corrected." in corrected and "Updated " in corrected
    assert "Corrected" in text_of(check_page(browser, "/?lang=en"))

    svc.withdraw_release(ctx, staff.approver, release_id, "Issued in error.")
    past_the_public_cache(ctx, clock)
    withdrawn = check_page(browser, f"/releases/{number}")
    shown = text_of(withdrawn)
    assert "This press release was withdrawn" in shown and "Issued in error." in shown
    assert "Corrected Title" in shown
    assert "Experts from the UN" not in shown and "release-body" not in withdrawn
    assert number not in numbers_listed(check_page(browser, "/"))
    assert number not in feed_numbers(browser.client, "/feed.atom?lang=en")


def test_each_language_page_lists_only_its_own_corrections_with_their_dates(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("원래 제목", KO_BODY), en=("Original Title", EN_BODY))
    release_id = _id_of(ctx, number)
    korean_page, english_page = f"/releases/{number}?lang=ko", f"/releases/{number}?lang=en"
    check_page(browser, korean_page), check_page(browser, english_page)  # kept by the cache

    def correct(language: str, title: str, note: str, base: int) -> str:
        """Correct one version, approved a day after the last; the date its page shows."""
        clock.advance(days=1)
        svc.correct_release(
            ctx,
            staff.officer,
            release_id,
            language=language,
            title=title,
            body=KO_BODY if language == "ko" else EN_BODY,
            note=note,
            base_revision=base,
        )
        svc.approve_release(ctx, staff.approver, release_id)
        return clock.now().astimezone(ctx.settings.office_zone)

    korean_day = correct("ko", "고친 제목", "제목의 날짜를 바로잡았습니다.", 1)
    english_day = correct("en", "Corrected Title", "The date in the title was corrected.", 1)
    korean_date = f"{korean_day.year}년 {korean_day.month}월 {korean_day.day}일"
    english_date = f"{english_day.day} {english_day:%B} {english_day.year}"
    past_the_public_cache(ctx, clock)
    korean = text_of(check_page(browser, korean_page))
    english = text_of(check_page(browser, english_page))
    assert f"수정 내역 {korean_date} 수정: 제목의 날짜를 바로잡았습니다." in korean
    assert "The date in the title was corrected." not in korean
    assert f"Updates Updated {english_date}: The date in the title was corrected." in english
    assert "제목의 날짜를 바로잡았습니다." not in english

    later_day = correct("ko", "다시 고친 제목", "참석자 수를 고쳤습니다.", 2)
    later_date = f"{later_day.year}년 {later_day.month}월 {later_day.day}일"
    past_the_public_cache(ctx, clock)
    korean = text_of(check_page(browser, korean_page))
    assert (
        f"{later_date} 수정: 참석자 수를 고쳤습니다. {korean_date} 수정: 제목의 날짜를 바로잡았습니다."
        in korean
    ), "every earlier note stays, the newest first"
    english = text_of(check_page(browser, english_page))
    assert "참석자 수를" not in english and "The date in the title was corrected." in english
    public = browser.client.get(f"/api/v1/public/releases/{number}").json()
    assert [c["note"] for c in public["versions"]["ko"]["corrections"]] == [
        "참석자 수를 고쳤습니다.",
        "제목의 날짜를 바로잡았습니다.",
    ]
    assert [c["note"] for c in public["versions"]["en"]["corrections"]] == [
        "The date in the title was corrected."
    ]


def test_the_sample_releases_keep_every_paragraph_and_sub_point_in_order(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock, fixtures_dir: Path
) -> None:
    found = samples(fixtures_dir)
    assert len(found) == 2
    for sample in found:
        number = publish(ctx, staff, clock, en=(sample.title, sample.markdown))
        page = check_page(browser, f"/releases/{number}?lang=en")
        document = html5lib.parse(page, namespaceHTMLElements=False)
        body = document.find(".//div[@class='release-body']")
        assert body is not None
        assert document.findtext(".//h1[@class='release-title']") == sample.title
        paragraphs = body.findall("./ol/li")
        assert len(paragraphs) == len(sample.paragraphs)
        for item, (paragraph, points) in zip(paragraphs, sample.paragraphs, strict=True):
            expected = re.sub(r"^\d+\.\s+", "", paragraph)
            assert " ".join("".join(item.find("p").itertext()).split()) == " ".join(  # type: ignore[union-attr]
                expected.split()
            )
            shown_points = [
                " ".join("".join(li.itertext()).split()) for li in item.findall("./ul/li")
            ]
            assert shown_points == [" ".join(p.split()) for p in points]


# --- feeds -------------------------------------------------------------------------------


def test_feeds_per_language_and_topic_are_valid_atom(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    health = publish(ctx, staff, clock, ko=("보건 <협력> & 연대", KO_BODY), en=("Health", EN_BODY))
    peninsula = publish(ctx, staff, clock, ko=("한반도", KO_BODY), topics=[staff.peninsula])
    root = feed(client, "/feed.atom?lang=ko")
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "ko"
    assert root.findtext(f"{ATOM}title") == "외교부 보도자료"
    for required in ("id", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == ["한반도", "보건 <협력> & 연대"]
    for entry in entries:
        for required in ("id", "title", "updated", "published"):
            assert entry.findtext(f"{ATOM}{required}"), required
    assert feed_numbers(client, "/feed.atom?lang=en") == [health]
    assert feed_numbers(client, f"/feed.atom?lang=ko&topic={staff.peninsula}") == [peninsula]
    assert client.get("/feed.atom?lang=ko&topic=999").status_code == 404
    assert client.get("/feed.atom?lang=fr").status_code == 422


def test_a_feed_reader_gets_each_entrys_summary_and_sanitised_text(
    client: TestClient, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    import feedparser

    hostile = EN_BODY + "\n<script>alert(1)</script> [x](javascript:alert(2))\n"
    publish(ctx, staff, clock, ko=("보건 협력", KO_BODY), en=("Health", hostile))
    publish(ctx, staff, clock, ko=("한반도", KO_BODY))  # no English version
    english = feedparser.parse(client.get("/feed.atom?lang=en").content)
    assert not english.bozo, english.bozo_exception
    [entry] = english.entries
    assert entry.summary.startswith("The Ministry hosted a meeting on the COVID-19 pandemic.")
    [content] = entry.content
    assert content.type == "text/html" and content.language == "en"
    assert "<li>" in content.value and "Experts from the UN attended." in content.value
    # The typed markup stays words: no element, no link.
    assert "<script" not in content.value and 'href="javascript' not in content.value
    korean = feedparser.parse(client.get("/feed.atom?lang=ko").content)
    assert [e.title for e in korean.entries] == ["한반도", "보건 협력"]
    assert all("국제보건 전문가 회의" in e.content[0].value for e in korean.entries)
    page = client.get("/?lang=en").text
    assert 'type="application/atom+xml"' in page and 'href="/feed.atom?lang=en"' in page


# --- every page --------------------------------------------------------------------------


def test_every_public_page_is_valid_html_with_labelled_controls(
    browser: Browser, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    number = publish(ctx, staff, clock, ko=("보도자료", KO_BODY), en=("Release", EN_BODY))
    withdrawn = publish(ctx, staff, clock, ko=("철회", KO_BODY))
    svc.withdraw_release(ctx, staff.approver, _id_of(ctx, withdrawn), "오류")
    for lang in ("ko", "en"):
        for url in (
            "/",
            "/?q=외교&topic=1&page=1",
            "/?q=nothing-matches",
            f"/releases/{number}",
            f"/releases/{withdrawn}",
            "/subscribe",
            "/subscribe/sent",
        ):
            check_page(browser, f"{url}{'&' if '?' in url else '?'}lang={lang}")
        check_page(browser, f"/releases/2099-0001?lang={lang}", status=404)
