"""The interface catalogue: every string the code and templates translate has its Korean
in ``messages.po``, the committed ``messages.mo`` is that ``.po`` compiled, the
translator speaks each language with its plurals, and dates are in each language's form."""

from __future__ import annotations

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
from workflow.domain.values import Language
from workflow.web.pages import environment

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


def extracted(tmp_path: Path) -> Catalog:
    """What ``make messages`` extracts: the same command, the same mapping."""
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot), "."]
    )
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
