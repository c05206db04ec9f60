"""The ministry's house format read into canonical Markdown, its header block, and the
structure a reader sees read back from the rendered HTML."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workflow.domain.house_format import (
    SEOUL,
    Point,
    Structure,
    canonical_body,
    parse_header,
    structure,
    structure_of_html,
)
from workflow.domain.values import body_text
from workflow.rendering import render_markdown

NBSP = "\xa0"


def paragraphs(markdown: str) -> list[tuple[str, list[str]]]:
    """Each numbered paragraph's words and its first-level points' words."""
    return [(p.text, [q.text for q in p.points]) for p in structure(markdown).paragraphs]


# --- each convention ------------------------------------------------------------------


def test_o_points_go_under_their_numbered_paragraph_in_one_list() -> None:
    pasted = "1. First.\n\n\no Point a.\n\n\no Point b.\n\n\n2. Second.\n\n\no Point c.\n"
    body = canonical_body(pasted)
    assert body == ("1. First.\n\n   - Point a.\n   - Point b.\n\n2. Second.\n\n   - Point c.\n")
    read = structure(body)
    assert read.numbered_lists == 1
    assert paragraphs(body) == [("First.", ["Point a.", "Point b."]), ("Second.", ["Point c."])]


def test_lines_of_non_breaking_spaces_separate_paragraphs_and_are_never_empty_ones() -> None:
    pasted = f"1. First.\n\n{NBSP}\n\n° Point.\n\n{NBSP}\n\n2. Second.\n{NBSP}{NBSP} \n"
    body = canonical_body(pasted)
    html = render_markdown(body)
    assert NBSP not in body and "&nbsp;" not in html and "<p></p>" not in html
    assert paragraphs(body) == [("First.", ["Point."]), ("Second.", [])]


@pytest.mark.parametrize("mark", ["o", "○", "°", "ㅇ", "-", "·", "•"])
def test_every_mark_is_a_point(mark: str) -> None:
    body = canonical_body(f"1. Paragraph.\n{mark} A point.\n{mark} Another.\n2. Next.\n")
    assert paragraphs(body) == [("Paragraph.", ["A point.", "Another."]), ("Next.", [])]


def test_a_different_mark_goes_a_level_deeper_and_a_mark_used_above_comes_back() -> None:
    pasted = "1. P.\nㅇ a\n- a1\n- a2\n○ a2x\nㅇ b\n- b1\n"
    read = structure(canonical_body(pasted)).paragraphs
    assert read == (
        Point(
            "P.",
            (
                Point("a", (Point("a1"), Point("a2", (Point("a2x"),)))),
                Point("b", (Point("b1"),)),
            ),
        ),
    )


def test_more_indentation_goes_deeper_even_with_the_same_mark() -> None:
    pasted = "1. P.\n\n  - a\n      - a1\n  - b\n"
    assert structure(canonical_body(pasted)).paragraphs == (
        Point("P.", (Point("a", (Point("a1"),)), Point("b"))),
    )


def test_lettered_points_are_a_nested_ordered_list_under_their_paragraph() -> None:
    pasted = "1. 합의하였다.\n\n  가. 첫째\n\n  나. 둘째\n\n    ○ 세부\n\n  다. 셋째\n"
    body = canonical_body(pasted)
    assert body == ("1. 합의하였다.\n\n   1. 첫째\n   2. 둘째\n      - 세부\n   3. 셋째\n")
    assert structure(body).paragraphs == (
        Point("합의하였다.", (Point("첫째"), Point("둘째", (Point("세부"),)), Point("셋째"))),
    )


def test_lettered_paragraphs_with_nothing_numbered_above_are_their_own_list() -> None:
    body = canonical_body("가. 첫째 문단\nㅇ 세부\n나. 둘째 문단\n")
    assert body == "1. 첫째 문단\n\n   - 세부\n\n2. 둘째 문단\n"


def test_a_note_after_the_list_is_a_paragraph_that_keeps_its_mark() -> None:
    body = canonical_body("1. P.\nㅇ a\n\n※ 참고 사항.\n\n* Another note.\n")
    assert body == "1. P.\n\n   - a\n\n※ 참고 사항.\n\n\\* Another note.\n"
    html = render_markdown(body)
    assert "<p>※ 참고 사항.</p>" in html and "<p>* Another note.</p>" in html
    assert structure(body).notes == ("참고 사항.", "Another note.")


def test_a_note_between_numbered_paragraphs_stays_with_the_one_it_follows() -> None:
    body = canonical_body("1. P.\n\n※ about P\n\n2. Q.\n\n* about Q\n\n3. R.\n")
    read = structure(body)
    assert read.numbered_lists == 1
    assert [p.text for p in read.paragraphs] == ["P.", "Q.", "R."]
    assert read.notes == ("about P", "about Q")


def test_a_wrapped_line_continues_its_paragraph() -> None:
    body = canonical_body("1. The first\nparagraph goes on.\no A point\nthat goes on too.\n")
    assert paragraphs(body) == [("The first paragraph goes on.", ["A point that goes on too."])]


def test_a_paragraph_between_numbered_ones_stays_inside_the_list() -> None:
    body = canonical_body("1. P.\no a\n\nMore about P.\n\n2. Q.\n")
    read = structure(body)
    assert read.numbered_lists == 1
    assert read.paragraphs == (Point("P. More about P.", (Point("a"),)), Point("Q."))


def test_the_attachments_line_and_other_paragraphs_stay_text() -> None:
    body = canonical_body("Lead paragraph.\n\n1. P.\n° a\n\n붙임: 사진 2매.  끝.\n")
    read = structure(body)
    assert read.others == ("Lead paragraph.",)
    assert read.attachments_line == "사진 2매."
    assert "붙임: 사진 2매.  끝." in body


def test_words_that_look_like_markdown_stay_words() -> None:
    body = canonical_body("1. # of visitors rose.\no > 50 attended.\no 3. was the rank.\n")
    assert paragraphs(body) == [("# of visitors rose.", ["> 50 attended.", "3. was the rank."])]


def test_points_before_any_numbered_paragraph_are_a_list_of_their_own() -> None:
    body = canonical_body("Lead.\n\nㅇ a\n- a1\nㅇ b\n")
    assert body == "Lead.\n\n- a\n  - a1\n- b\n"


# --- Markdown is left alone, and the form is stable -------------------------------------

MARKDOWN = [
    "1. First\n\n   - point\n\n   - point two\n\n2. Second\n",
    "1. First\n2. Second\n3. Third\n",
    "# Heading\n\nA paragraph with *emphasis* and a [link](https://example.org).\n",
    "- one\n- two\n  - nested\n* star list\n",
    "Steps:\n\n1. Do this\n\nThen:\n\n2. Do that\n",
    "| a | b |\n|---|---|\n| 1 | 2 |\n",
    "```\nㅇ code keeps its marks\n\xa0\n```\n",
    "Plain text\nover two lines.\n\nAnother paragraph.",
    "※ A note on its own.\n",
    "",
]


@pytest.mark.parametrize("text", MARKDOWN)
def test_markdown_is_kept_as_written(text: str) -> None:
    assert canonical_body(text) == text


HOUSE = [
    "1. P.\n\n\no a\n\n\no b\n\n\n2. Q.\n",
    f"1. P.\n{NBSP}\n° a\n{NBSP}\n2. Q.\n",
    "1. 문단\n  ㅇ a\n    - a1\n  가. x\n  나. y\n※ 주\n붙임: 사진.  끝.\n",
    "가. 첫째\n나. 둘째\n",
    "1. P.\n- a\n\n* note\n",
    "```\ncode\n```\n\n1. P.\nㅇ a\n\n```\nmore\n```\n\n2. Q.\n",
]


@pytest.mark.parametrize("text", HOUSE)
def test_the_canonical_form_is_stable(text: str) -> None:
    once = canonical_body(text)
    assert once != text
    assert canonical_body(once) == once


def test_the_domain_stores_the_canonical_form() -> None:
    assert body_text("body", "1. P.\r\n\xa0\r\no a\r\n") == "1. P.\n\n   - a\n"
    assert body_text("body", MARKDOWN[0]) == MARKDOWN[0]


# --- the header block ------------------------------------------------------------------

HEADER = """보도자료

배포일시: 2026. 12. 7.(월) 10:00
보도일시: 2026. 12. 8.(화) 06:00 이후 보도 가능 (엠바고)
담당부서: 외교부 국제보건협력과
담당자: 과장 홍길동 (02-2100-0000), 사무관 김민지 (02-2100-0001)

제목: 한-아세안 협력 포럼 개최
부제: 공동 대응하기로 합의

1. 외교부는 포럼을 개최하였다.

  ㅇ 50여 명이 참석하였다.
"""


def test_the_header_block_fills_title_subtitle_contact_and_embargo() -> None:
    pasted = parse_header(HEADER)
    assert pasted.title == "한-아세안 협력 포럼 개최"
    assert pasted.subtitle == "공동 대응하기로 합의"
    assert (pasted.contact_name, pasted.contact_phone) == ("과장 홍길동", "02-2100-0000")
    assert pasted.department == "외교부 국제보건협력과"
    assert pasted.embargo_until == datetime(2026, 12, 8, 6, 0, tzinfo=SEOUL)
    assert pasted.found == {
        "title",
        "subtitle",
        "contact_name",
        "contact_phone",
        "department",
        "embargo_until",
    }
    assert pasted.pasted_body == "1. 외교부는 포럼을 개최하였다.\n\n  ㅇ 50여 명이 참석하였다.\n"
    assert pasted.body == "1. 외교부는 포럼을 개최하였다.\n\n   - 50여 명이 참석하였다.\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "보도일시: 2026년 12월 8일(화) 오후 2시 30분 이후",
            datetime(2026, 12, 8, 14, 30, tzinfo=SEOUL),
        ),
        ("보도일시: 2026-12-08 18:00", datetime(2026, 12, 8, 18, 0, tzinfo=SEOUL)),
        ("보도일시: 2026. 12. 8.(화) 조간", None),
        ("보도일시: 즉시 보도 가능", None),
        ("보도일시: 2026. 13. 8. 06:00", None),
    ],
)
def test_the_embargo_time(line: str, expected: datetime | None) -> None:
    pasted = parse_header(f"{line}\n제목: T\n\n본문.")
    assert pasted.embargo_until == expected
    assert ("embargo_until" in pasted.found) == (expected is not None)


def test_the_first_contact_with_an_email_and_a_text_without_a_header() -> None:
    pasted = parse_header("담당자: 홍길동 사무관(☎ 02-2100-0000, hong@mofa.go.kr) / 김민지\n\n본문")
    assert pasted.contact_name == "홍길동 사무관"
    assert pasted.contact_phone == "02-2100-0000"
    assert pasted.contact_email == "hong@mofa.go.kr"
    assert pasted.body == "본문"
    plain = parse_header("1. 본문\nㅇ 점\n")
    assert plain.found == frozenset() and plain.title == ""
    assert plain.body == "1. 본문\n\n   - 점\n"


# --- the structure, read from HTML ------------------------------------------------------


def test_the_structure_is_read_inside_the_named_element() -> None:
    html = (
        "<p>보도자료 번호</p><div class='body x'><ol><li><p>A <em>b</em>c</p>"
        "<ul><li>d<br>e</li></ul></li></ol><p>※ 주</p></div><p>footer</p>"
    )
    assert structure_of_html(html, "body") == Structure(
        paragraphs=(Point("A bc", (Point("d e"),)),), notes=("주",), numbered_lists=1
    )
    with pytest.raises(ValueError, match="no element"):
        structure_of_html(html, "release-body")


# --- round trip: any document in the format -------------------------------------------

# Words of both languages, drawn from a list: generating text is what costs most here.
VOCABULARY = [
    *("외교부는", "포럼을", "개최하였다", "참석자들은", "협력을", "합의", "보건", "아세안"),
    *("The", "Ministry", "held", "a", "webinar", "on", "global", "health", "ROK", "UN"),
]
WORDS = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=4).map(" ".join)
# Where a writer separates lines: nothing, blank lines, or lines of (non-breaking) spaces.
GAP = st.sampled_from(["\n", "\n\n", "\n\n\n", f"\n{NBSP}\n", f"\n\n{NBSP}\n\n", "\n \u3000\n"])
MARKS = [*"o○°ㅇ-·•", "가."]


def points(depth: int) -> st.SearchStrategy[tuple[Point, ...]]:
    if depth == 0:
        return st.just(())
    return st.lists(st.builds(Point, WORDS, points(depth - 1)), max_size=min(depth, 2)).map(tuple)


# Built once: hypothesis validates a strategy the first time it draws from it.
PARAGRAPHS = st.lists(st.builds(Point, WORDS, points(3)), min_size=1, max_size=4)
STEPS = st.sampled_from([0, 2])  # indentation a level, or none: marks decide
LEVEL_MARKS = st.permutations(MARKS)
NOTE_MARKS = st.sampled_from(["※", "* "])
ATTACHMENTS = st.none() | WORDS


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, Structure]:
    """A release in the house format, and the structure a reader sees in it."""
    paragraphs = draw(PARAGRAPHS)
    step = draw(STEPS)
    notes: list[str] = []
    out: list[str] = []

    def write(point: Point, level: int, marks: list[str], position: int) -> None:
        mark = marks[level - 1]
        label = f"{'가나다라'[position]}." if mark == "가." else mark
        out.extend([" " * (step * level) + f"{label} {point.text}", draw(GAP)])
        for at, sub in enumerate(point.points):
            write(sub, level + 1, marks, at)

    for number, paragraph in enumerate(paragraphs, start=1):
        marks = draw(LEVEL_MARKS)[:3]  # a different mark at each level
        out.extend([f"{number}. {paragraph.text}", draw(GAP)])
        for at, point in enumerate(paragraph.points):
            write(point, 1, marks, at)
        if draw(st.booleans()):
            note = draw(WORDS)
            notes.append(note)
            out.extend([f"{draw(NOTE_MARKS)}{note}", "\n\n"])
    attachments = draw(ATTACHMENTS)
    if attachments is not None:
        # A paragraph of its own: a line right under another continues it.
        out.append(f"\n붙임: {attachments}  끝.\n")
    return "".join(out), Structure(tuple(paragraphs), tuple(notes), attachments, (), 1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_document_in_the_format_reads_back_as_written(
    document: tuple[str, Structure],
) -> None:
    pasted, written = document
    body = canonical_body(pasted)
    assert canonical_body(body) == body
    assert structure(body) == written
