"""Every subject, whatever its language and length, decodes back exactly: no space lost
or added where the header folds, every line within 78 characters, folded with CRLF."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.header import decode_header, make_header

from hypothesis import given, settings
from hypothesis import strategies as st

from workflow.mail import mime

KOREAN = st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), min_size=1)
ENGLISH = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-"), min_size=1
)
MARKS = st.sampled_from(
    ["[정정]", "[엠바고]", "2026-0412", "·", "「포럼」", "(정정)", "e.g.", "=?x?="]
)
WORD = st.one_of(KOREAN, ENGLISH, MARKS)
SUBJECT = st.lists(WORD, min_size=1, max_size=40).map(" ".join)


def parsed(encoded: str) -> str:
    message = message_from_bytes(
        f"Subject: {encoded}\r\n\r\n".encode("ascii"), policy=policy.default
    )
    return str(message["Subject"])


@settings(max_examples=300, deadline=None)
@given(SUBJECT)
def test_any_subject_decodes_back_exactly(subject: str) -> None:
    encoded = mime.encoded_text(subject)
    assert encoded.isascii()
    assert "\n" not in encoded.replace("\r\n ", "")  # folds are CRLF and a space, only
    assert parsed(encoded) == subject
    if not subject.isascii() or "=?" in subject:
        assert str(make_header(decode_header(encoded))) == subject
        assert all(len(line) <= 78 for line in f"Subject: {encoded}".split("\r\n"))


def test_the_subject_reported_to_lose_its_space_keeps_it() -> None:
    subject = (
        "[엠바고] 2026-0001 국제보건 협력 강화를 위한 글로벌 전문가 회의 개최 및 "
        "한-아세안 기후·보건 협력 포럼 개최 안내"
    )
    encoded = mime.encoded_text(subject)
    for word in encoded.split("\r\n "):
        decoded = str(make_header(decode_header(word)))
        assert decoded == decoded.strip(), "an encoded word must not begin or end with a space"
    assert parsed(encoded) == subject
    assert "위한 글로벌" in parsed(encoded)


def test_a_prepared_head_has_no_bare_line_feed() -> None:
    prepared = mime.prepare(
        mime.Variant(
            subject="국제보건 협력 강화를 위한 글로벌 전문가 회의 " * 4, text="t", html="h"
        ),
        sender="외교부 뉴스룸 <news@press.example>",
    )
    assert "\n" not in prepared.head.replace("\r\n", "")
