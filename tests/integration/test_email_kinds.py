"""Every kind of subscriber message, in both languages, as the SMTP server received it:
the office's frame, the reader's language around the text, the headers a list message
needs, and a text part that says what the HTML says."""

from __future__ import annotations

import re
from email.header import decode_header, make_header

import pytest

from tests.conftest import Staff
from tests.email_gallery import every_kind
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.services.context import ServiceContext

KINDS = (
    "release",
    "embargoed_release",
    "embargo_suspended",
    "embargo_update",
    "embargo_change",
    "embargo_lifted",
    "correction",
    "withdrawal",
    "translation",
    "disregard",
    "digest",
)
# What each kind says first (its preheader and notice), per language.
OPENING = {
    ("embargoed_release", "ko"): "엠바고: ",
    ("embargoed_release", "en"): "EMBARGOED: not for publication",
    ("embargo_suspended", "ko"): "게시가 미뤄졌습니다",
    ("embargo_suspended", "en"): "Publication of the release below is postponed",
    ("embargo_change", "en"): "The embargo on the release below has moved",
    ("withdrawal", "ko"): "철회되었습니다: 행사가 연기되었습니다.",
    ("withdrawal", "en"): "has been withdrawn: 행사가 연기되었습니다.",
    ("disregard", "en"): "published in error. Please disregard it.",
    ("translation", "en"): "The English translation of a release sent to you earlier.",
    ("correction", "ko"): "지원 금액을 바로잡습니다.",
    ("correction", "en"): "The amount is corrected.",
}
WORDS = {
    "ko": (
        "외교부",
        "보도자료",
        "03172 서울특별시 종로구 사직로8길 60",
        "구독 해지",
        "주제·언어 변경",
    ),
    "en": (
        "Ministry of Foreign Affairs",
        "Press Release",
        "60 Sajik-ro 8-gil, Jongno-gu, Seoul 03172, Republic of Korea",
        "Unsubscribe",
        "Change your topics or languages",
    ),
}


@pytest.fixture
def gallery(ctx: ServiceContext, staff: Staff, clock: FrozenClock, faulty: FaultyHandler):  # type: ignore[no-untyped-def]
    return every_kind(ctx, staff, clock, faulty)


def test_every_kind_reaches_readers_of_both_languages(gallery) -> None:  # type: ignore[no-untyped-def]
    # A Korean original's translation is English: only its English readers are told.
    expected = {f"{kind}-{lang}" for kind in KINDS for lang in ("ko", "en")} - {"translation-ko"}
    expected |= {"korean_only-ko", "korean_only-en"}
    assert sorted(gallery) == sorted(expected)


def test_each_message_is_framed_by_the_office_in_the_readers_language(gallery) -> None:  # type: ignore[no-untyped-def]
    for name, mail in gallery.items():
        html, text = mail.html, mail.text
        assert f'<html lang="{mail.lang}">' in html, name
        for words in WORDS[mail.lang]:
            assert words in html and words in text, (name, words)
        topic = "글로벌 보건" if mail.lang == "ko" else "Global Health"
        if mail.kind not in (
            "embargoed_release",
            "embargo_update",
            "embargo_change",
            "embargo_suspended",
            "digest",
        ):
            assert f"({topic})" in mail.text or f"on {topic}." in mail.text, (name, "topic")
        other = WORDS["en" if mail.lang == "ko" else "ko"]
        assert other[3] not in html and other[3] not in text, f"{name}: the other language's footer"
        # A table 600 pixels wide at most, its styles inlined, no script.
        assert 'role="presentation"' in html and "max-width: 600px" in html, name
        assert "<script" not in html.lower(), name
        assert re.search(r'<td[^>]*class="content"[^>]*style="', html), f"{name}: CSS inlined"
        # The reader's own links, as words, in both parts.
        assert "/subscriptions/" in text or "/unsubscribe" in text, name
        assert ">http" not in html, f"{name}: a link shown as a raw address"


def test_each_kind_says_what_it_is_first(gallery) -> None:  # type: ignore[no-untyped-def]
    for (kind, lang), opening in OPENING.items():
        mail = gallery[f"{kind}-{lang}"]
        preheader = re.search(r'class="preheader"[^>]*>([^<]*)<', mail.html)
        assert preheader is not None and opening in preheader.group(1), (kind, lang)
        assert opening in mail.text, (kind, lang)


def test_an_english_reader_of_a_korean_only_release_is_addressed_in_english(gallery) -> None:  # type: ignore[no-untyped-def]
    mail = gallery["korean_only-en"]
    assert "재외국민 안전 공지" in mail.text, "the release exists in Korean only"
    assert mail.text.count("Dear ") == 1 and "Read on the website" in mail.text
    assert "님께" not in mail.text and "웹사이트에서 읽기" not in mail.text


def test_the_embargo_is_a_banner_before_anything_else(gallery) -> None:  # type: ignore[no-untyped-def]
    for lang, banner in (
        ("ko", "엠바고: 2026년 5월 14일 12:00 KST 이전 보도 금지"),
        ("en", "EMBARGOED: not for publication or broadcast before 14 May 2026, 12:00 KST"),
    ):
        mail = gallery[f"embargoed_release-{lang}"]
        assert 'class="embargo"' in mail.html and banner in mail.html
        assert mail.text.index(banner) < mail.text.index(
            "글로벌 보건" if lang == "ko" else "Global"
        )
        assert "journalists it trusts" in mail.text or "사전 배포 대상" in mail.text
        assert "/files/" not in mail.html, "no link that answers 404 until the embargo ends"


def test_buttons_lead_to_the_page_and_the_other_language(gallery) -> None:  # type: ignore[no-untyped-def]
    korean = gallery["embargo_lifted-ko"]
    assert "웹사이트에서 읽기" in korean.html and "영문으로 읽기" in korean.html
    assert "영문으로 읽기" in korean.text
    pages = re.findall(r'href="([^"]+/releases/[^"]+)"', korean.html)
    assert any(page.endswith("?lang=en") for page in pages), pages
    # The button names the language it leads to, in the reader's.
    english = gallery["embargo_lifted-en"]
    assert "Read on the website" in english.html and "Read in Korean" in english.html
    assert "Read in English" not in english.html
    withdrawn = gallery["disregard-ko"]
    assert "/releases/" not in withdrawn.html, "a release published in error is not linked"


def test_subjects_decode_back_to_the_words_and_carry_the_kind(gallery) -> None:  # type: ignore[no-untyped-def]
    prefixes = {
        "correction": ("[정정]", "[CORRECTED]"),
        "withdrawal": ("[철회]", "[WITHDRAWN]"),
        "translation": ("[번역본]", "[TRANSLATION]"),
        "disregard": ("[배포 취소]", "[PLEASE DISREGARD]"),
        "embargoed_release": ("[엠바고 ", "EMBARGOED UNTIL "),
    }
    for name, mail in gallery.items():
        subject = str(mail.message["Subject"])
        raw = mail.message.get("Subject", failobj="")
        assert str(make_header(decode_header(str(raw)))) == subject, name
        if mail.kind in prefixes:
            ko, en = prefixes[mail.kind]
            assert subject.startswith(ko if mail.lang == "ko" else en), (name, subject)
        for header in ("Message-ID", "List-Unsubscribe", "List-Id", "Date", "From"):
            assert mail.message[header], (name, header)
