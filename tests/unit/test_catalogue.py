"""The interface catalogue: every string the code and templates translate has its Korean
in ``messages.po``, the committed ``messages.mo`` is that ``.po`` compiled, the
translator speaks each language with its plurals, and dates are in each language's form."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from workflow.catalogue import DOMAIN, LOCALE_DIR, Translator
from workflow.dates import date_and_time, date_time_zone, long_date
from workflow.domain.errors import DomainError, InvalidTransition, NotFound, ValidationFailed
from workflow.domain.values import Language
from workflow.services.accounts import AuthenticationFailed
from workflow.web.pages import environment
from workflow.web.refusals import FIELDS, THINGS, refusal_text

ROOT = Path(__file__).resolve().parent.parent.parent
PO = LOCALE_DIR / "ko" / "LC_MESSAGES" / f"{DOMAIN}.po"
MO = PO.with_suffix(".mo")

Key = tuple[str | tuple[str, ...], str | None]


def read_catalogue(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_mo(file) if path.suffix == ".mo" else read_po(file)


def korean_texts() -> dict[str | tuple[str, ...], str | tuple[str, ...]]:
    """Each msgid of the ``.po`` with a Korean that is used (not empty, not fuzzy)."""
    return {
        m.id: m.string
        for m in read_catalogue(PO)
        if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }


def message_keywords() -> list[str]:
    """The Makefile's extra keywords for extraction, as ``pybabel`` arguments."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    found = re.search(r"^MESSAGE_KEYWORDS := ((?:.*\\\n)*.*)$", makefile, re.MULTILINE)
    assert found, "the Makefile names its keywords"
    return found.group(1).replace("\\\n", " ").split()


def extracted(tmp_path: Path) -> Catalog:
    """What ``make messages`` extracts: the same command, the same mapping and keywords."""
    pot = tmp_path / "messages.pot"
    mapping = str(ROOT / "babel.cfg")
    arguments = ["extract", "-F", mapping, *message_keywords(), "-o", str(pot), "."]
    CommandLineInterface().run(["pybabel", "--quiet", *arguments])
    return read_catalogue(pot)


def test_every_extracted_string_has_its_korean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    found = {m.id for m in extracted(tmp_path) if m.id}
    assert "Log in" in found and "Saved." in found, "templates and Python are both read"
    missing = sorted(map(str, found - korean_texts().keys()))
    assert not missing, f"no Korean for (run `make messages`, then fill in the .po): {missing}"


def test_the_compiled_catalogue_is_the_po_compiled() -> None:
    def entries(catalogue: Catalog, *, used_only: bool) -> dict[Key, object]:
        # read_mo gives a plural's forms as lists, read_po as tuples.
        return {
            (tuple(m.id) if m.pluralizable else m.id, m.context): (
                tuple(m.string) if m.pluralizable else m.string
            )
            for m in catalogue
            if m.id and m.string and not (used_only and m.fuzzy)
        }

    assert entries(read_catalogue(MO), used_only=False) == entries(
        read_catalogue(PO), used_only=True
    ), "messages.mo is stale: run `make compile-messages`"


def test_python_speaks_korean_and_english_with_plurals() -> None:
    korean, english = Translator(Language.KO), Translator(Language.EN)
    assert korean("Log in") == "로그인" and english("Log in") == "Log in"
    assert korean("Signed in as %(name)s", name="Kim") == "Kim 님으로 로그인됨"
    assert (
        korean("an English string the catalogue lacks") == "an English string the catalogue lacks"
    )
    assert english.ngettext("%(num)s file", "%(num)s files", 1) == "1 file"
    assert english.ngettext("%(num)s file", "%(num)s files", 2) == "2 files"
    assert korean.ngettext("%(num)s file", "%(num)s files", 2) == "2 files"  # no Korean yet


def test_templates_speak_the_language_of_their_render() -> None:
    template = environment().from_string(
        '{{ _("Log in") }}|{% for lang in ["en"] %}{{ _("Log in") }}{% endfor %}'
        '|{{ _("Signed in as %(name)s", name="<b>") }}'
        "|{% trans count=2 %}{{ count }} file{% pluralize %}{{ count }} files{% endtrans %}"
    )
    assert template.render(lang="ko") == "로그인|로그인|&lt;b&gt; 님으로 로그인됨|2 files"
    assert template.render(lang="en") == "Log in|Log in|Signed in as &lt;b&gt;|2 files"


def test_every_korean_text_keeps_the_placeholders_of_its_english() -> None:
    problems = [(m.id, [str(e) for e in errors]) for m, errors in read_catalogue(PO).check()]
    assert not problems


@pytest.mark.parametrize(
    ("language", "day", "moment", "with_zone"),
    [
        ("ko", "2026년 12월 7일", "2026년 12월 7일 06:05", "2026년 12월 7일 06:05 KST"),
        ("en", "7 December 2026", "7 December 2026, 06:05", "7 December 2026, 06:05 KST"),
    ],
)
def test_dates_are_written_as_each_language_writes_them(
    language: str, day: str, moment: str, with_zone: str
) -> None:
    seoul = ZoneInfo("Asia/Seoul")
    late_on_the_6th_in_utc = datetime(2026, 12, 6, 21, 5, tzinfo=UTC)
    assert long_date(late_on_the_6th_in_utc, language, seoul) == day
    assert date_and_time(late_on_the_6th_in_utc, language, seoul) == moment
    assert date_time_zone(late_on_the_6th_in_utc, language, seoul) == with_zone


def literal_arguments(error_class: str, position: int) -> set[str]:
    """The literal strings passed as argument ``position`` to ``error_class(...)`` in
    the project's code."""
    found: set[str] = set()
    for path in (ROOT / "workflow").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == error_class
                and len(node.args) > position
                and isinstance(node.args[position], ast.Constant)
            ):
                found.add(node.args[position].value)
    return found


def test_every_refused_field_and_missing_thing_has_a_name_to_show() -> None:
    fields = literal_arguments("ValidationFailed", 0) | literal_arguments("UnsupportedFile", 0)
    assert "current_password" in fields
    assert not sorted(fields - FIELDS), "name them in workflow/web/refusals.py FIELDS"
    things = literal_arguments("NotFound", 0)
    assert "release" in things
    assert not sorted(things - THINGS), "name them in workflow/web/refusals.py THINGS"


def test_every_action_and_state_a_transition_names_has_a_name_to_show() -> None:
    from workflow.domain.states import Action, ReleaseState
    from workflow.web.refusals import ACTIONS, STATES

    assert {a.value for a in Action} == ACTIONS
    assert {s.value for s in ReleaseState} == STATES


def test_a_refused_transition_reads_as_korean_on_a_korean_page() -> None:
    from workflow.domain.errors import InvalidTransition
    from workflow.domain.values import Language
    from workflow.web.refusals import refusal_text

    error = InvalidTransition("approve", "published", ["correct", "withdraw"])
    text = refusal_text(error, Translator(Language.KO))
    assert text == "게시됨 상태의 보도자료에는 승인 작업을 할 수 없습니다"
    assert refusal_text(error, Translator(Language.EN)) == (
        "cannot approve a release that is published"
    )


@pytest.mark.parametrize(
    ("error", "korean", "code"),
    [
        (AuthenticationFailed(), "이메일 또는 비밀번호가 맞지 않습니다", "wrong_email_or_password"),
        (
            NotFound("release", "2099-9999"),
            "보도자료 2099-9999이(가) 없습니다",
            "release_not_found",
        ),
        (
            ValidationFailed("current_password", "the current password is not right"),
            "현재 비밀번호: 현재 비밀번호가 맞지 않습니다",
            "validation_failed",
        ),
        (
            ValidationFailed("password", "must be at least %(limit)s characters", limit=10),
            "비밀번호: 10자 이상이어야 합니다",
            "validation_failed",
        ),
        (
            InvalidTransition("publish", "scheduled", [], "it is not due until %(when)s", when="x"),
            "게시 예약됨 상태의 보도자료에는 게시 작업을 할 수 없습니다: x 전에는 공개할 수 없습니다",
            "invalid_transition",
        ),
    ],
)
def test_a_refusal_has_a_stable_code_an_english_message_and_its_korean(
    error: DomainError, korean: str, code: str
) -> None:
    assert error.code == code
    assert refusal_text(error, Translator(Language.KO)) == korean
    english = refusal_text(error, Translator(Language.EN))
    assert english == error.message.split(" (allowed from")[0]
