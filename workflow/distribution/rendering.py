"""The message of a (release, kind, language), and of a daily digest: rendered once for
all its recipients, with their own parts (name, links) left as placeholders for
``mime.assemble``.

Each kind of message has its own template folder under ``templates/email/``, extending
``email/distribution/base.*`` (``digest`` too: a section per release). A rendering is
kept per process for the same content: the cache is keyed on everything the message is
made of, the texts themselves included, so a correction or any other edit is a new key
and is never sent with the old text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Final
from zoneinfo import ZoneInfo

import css_inline
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from config.settings import Settings
from workflow.dates import date_and_time, date_time_zone, long_date
from workflow.db import deliveries
from workflow.db.deliveries import ClaimedDigest
from workflow.db.releases import correction_notes
from workflow.db.tables import ReleaseRow, ReleaseTopicRow, RevisionRow, TopicRow, VersionRow
from workflow.distribution import digests, rules
from workflow.domain.topics import topic_name
from workflow.links import stable_release_url
from workflow.mail import mime
from workflow.mail.templates import environment, translator
from workflow.rendering import opening_words, render_markdown
from workflow.services.context import ServiceContext
from workflow.services.queries.attachments import Shown, placements_of, shown

# The template folder of each kind of message.
TEMPLATES: Final = {
    rules.RELEASE: "release",
    rules.EMBARGOED: "embargoed_release",
    rules.UPDATED: "embargo_update",
    rules.EMBARGO_MOVED: "embargo_change",
    rules.SUSPENDED: "embargo_suspended",
    rules.LIFTED: "embargo_lifted",
    rules.CORRECTION: "correction",
    rules.TRANSLATION: "translation",
    rules.WITHDRAWAL: "withdrawal",
    rules.DISREGARD: "disregard",
}
# What says a release is gone: its files are gone with it.
_TAKEN_DOWN: Final = frozenset({rules.WITHDRAWAL, rules.DISREGARD})


@dataclass(frozen=True, slots=True)
class Section:
    """One language version of the release, as the message shows it."""

    lang: str
    title: str
    subtitle: str
    body: str
    url: str
    note: str = ""  # a correction's public note for this version
    other_url: str = ""  # the public page in the other language, when there is one
    photo: Photo | None = None
    documents: tuple[Document, ...] = ()


@dataclass(frozen=True, slots=True)
class Photo:
    """The lead photo, hosted on the public site (never attached to the message)."""

    url: str
    alt: str
    caption: str
    credit: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Document:
    url: str
    title: str
    label: str  # "PDF"
    size: str  # "1.2 MB"


@dataclass(frozen=True, slots=True)
class Office:
    """Who sends the message, in both languages (from the settings)."""

    name_ko: str
    name_en: str
    address_ko: str
    address_en: str
    logo_url: str
    site_url: str

    @classmethod
    def of(cls, settings: Settings) -> Office:
        return cls(
            settings.office_name_ko,
            settings.office_name_en,
            settings.office_address_ko,
            settings.office_address_en,
            settings.office_logo_url,
            settings.public_base_url.rstrip("/") + "/",
        )

    def in_language(self, language: str) -> dict[str, str]:
        korean = language == "ko"
        return {
            "name": self.name_ko if korean else self.name_en,
            "address": self.address_ko if korean else self.address_en,
            "logo_url": self.logo_url,
            "site_url": self.site_url,
        }


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything a message is made of: equal facts, equal message."""

    template: str
    sections: tuple[Section, ...]
    embargo_until: datetime | None
    number: str
    moment: datetime
    zone: str
    contact: str
    notice: str
    office: Office
    frame: str  # the language of everything around the release's text
    topics: tuple[tuple[str, str], ...] = ()  # (Korean, English) names


@dataclass(frozen=True, slots=True)
class Kept:
    """What a delivery row says of its message: which one, in which language, and for an
    embargoed copy or notice, the text and the time it carries."""

    release_id: int
    kind: str
    language: str
    text_key: str = ""
    embargo_until: datetime | None = None
    # The language the reader chose ("ko", "en", "both"): greeting, notices and footer
    # speak it even when the release exists only in the other language.
    reader: str = ""


def render_variant(ctx: ServiceContext, kept: Kept) -> mime.Variant:
    """The message for every recipient of one (release, kind, language, text, time).
    "both" is one message with the original first and the translation after it."""
    with ctx.uow() as uow:
        facts = _facts(ctx, uow.session, kept)
    return rendered(facts)


def _facts(ctx: ServiceContext, session: Session, kept: Kept) -> Facts:
    release = session.get(ReleaseRow, kept.release_id)
    assert release is not None
    base = rules.base_kind(kept.kind)
    languages = [kept.language]
    if kept.language == rules.BOTH:
        other = "en" if release.primary_language == "ko" else "ko"
        languages = [release.primary_language, other]
    under_embargo = base in rules.EMBARGO_KINDS
    revisions = rules.revisions(kept.text_key) if under_embargo else {}
    public_url = ctx.settings.public_base_url.rstrip("/")
    texts = {lang: _text(session, kept.release_id, lang, revisions.get(lang)) for lang in languages}
    other_urls: dict[str, str] = {}
    if release.number and kept.language != rules.BOTH and not under_embargo:
        other_urls = _other_language_urls(session, release, public_url, kept.language)
    placements = {lang: placements_of(text.attachments) for lang, text in texts.items()}
    sections = []
    for lang in languages:
        text = texts[lang]
        suffix = "" if lang == release.primary_language else f"?lang={lang}"
        if release.number and not under_embargo:
            url = f"{public_url}/releases/{release.number}{suffix}"
        else:
            # Before it is public: the address that says until when, then leads to it.
            url = stable_release_url(public_url, release.id, lang)
        files: list[Shown] = []
        if not under_embargo and base not in _TAKEN_DOWN:
            # Files are public with the release: an embargoed copy could only link to
            # addresses that answer 404 until the embargo ends.
            others = [p for other, theirs in placements.items() if other != lang for p in theirs]
            files = shown(session, placements[lang], others)
        sections.append(
            Section(
                lang,
                text.title,
                text.subtitle,
                text.body,
                url,
                other_url=other_urls.get(lang, ""),
                photo=_photo(public_url, files),
                documents=tuple(
                    Document(
                        public_url + f.file.path(),
                        f.words.title or f.file.filename,
                        f.file.label,
                        f.file.size_text,
                    )
                    for f in files
                    if not f.file.is_image
                ),
            )
        )
    embargo_until = kept.embargo_until if under_embargo else None
    moment = release.published_at or release.publish_at or ctx.clock.now()
    if base == rules.CORRECTION:
        sections = _with_latest_notes(session, kept.release_id, sections)
    notice = release.withdrawal_reason if base in _TAKEN_DOWN else ""
    return Facts(
        template=TEMPLATES[base],
        sections=tuple(sections),
        embargo_until=embargo_until,
        number=release.number or "",
        moment=moment,
        zone=ctx.settings.office_timezone,
        contact=" · ".join(
            x for x in (release.contact_name, release.contact_phone, release.contact_email) if x
        ),
        notice=notice,
        office=Office.of(ctx.settings),
        frame=kept.reader if kept.reader in ("ko", "en") else languages[0],
        topics=_topic_names(session, kept.release_id),
    )


@lru_cache(maxsize=64)
def rendered(facts: Facts) -> mime.Variant:
    zone = ZoneInfo(facts.zone)
    lang = facts.frame
    sections = [
        {
            "lang": section.lang,
            "title": section.title,
            "subtitle": section.subtitle,
            "body": section.body,
            "body_html": Markup(render_markdown(section.body)),  # noqa: S704  # nh3
            "url": section.url,
            "other_url": section.other_url,
            "note": section.note,
            "photo": section.photo,
            "documents": section.documents,
            # Labels follow each version in a message holding both, else the reader.
            "speaks": section.lang if len(facts.sections) > 1 else lang,
        }
        for section in facts.sections
    ]
    for section_values in sections:
        section_values["when"] = date_and_time(facts.moment, str(section_values["speaks"]), zone)
    values: dict[str, Any] = {
        "lang": lang,
        "translators": {code: translator(code) for code in ("ko", "en")},
        "office": facts.office.in_language(lang),
        "sections": sections,
        "embargo_until": (
            date_time_zone(facts.embargo_until, lang, zone) if facts.embargo_until else ""
        ),
        "title": " / ".join(section.title for section in facts.sections),
        "number": facts.number,
        "contact": facts.contact,
        "notice": facts.notice,
        "topics": ", ".join(
            korean if lang == "ko" else english for korean, english in facts.topics
        ),
        "preheader": preheader(facts.sections[0]),
        "recipient_name": mime.NAME,
        "unsubscribe_url": mime.UNSUBSCRIBE,
        "preferences_url": mime.PREFERENCES,
    }
    return _render(facts.template, values)


def _render(template: str, values: dict[str, Any]) -> mime.Variant:
    """A template folder's subject and bodies, with the recipient's parts as placeholders."""
    env = environment()
    folder = f"email/{template}"
    subject = " ".join(env.get_template(f"{folder}/subject.txt").render(values).split())
    values["subject"] = subject
    return mime.Variant(
        subject=subject,
        text=env.get_template(f"{folder}/body.txt").render(values),
        html=css_inline.inline(env.get_template(f"{folder}/body.html").render(values)),
    )


# What a mail program shows after the subject in its list: about one line.
PREHEADER_LENGTH: Final = 110


def preheader(section: Section) -> str:
    """The subtitle, else the start of the text."""
    return opening_words(section.subtitle or section.body, PREHEADER_LENGTH)


def _topic_names(session: Session, release_id: int) -> tuple[tuple[str, str], ...]:
    """The release's topics as (Korean, English) names."""
    rows = session.execute(
        select(TopicRow.name, TopicRow.name_ko)
        .join(ReleaseTopicRow, ReleaseTopicRow.topic_id == TopicRow.id)
        .where(ReleaseTopicRow.release_id == release_id)
        .order_by(TopicRow.name)
    )
    return tuple((topic_name(name, name_ko, "ko"), name) for name, name_ko in rows)


def _other_language_urls(
    session: Session, release: ReleaseRow, public_url: str, language: str
) -> dict[str, str]:
    """The other language's public page, for a message in one language whose release
    shows both."""
    other = "en" if language == "ko" else "ko"
    live = session.scalar(
        select(VersionRow.live_revision).where(
            VersionRow.release_id == release.id, VersionRow.language == other
        )
    )
    if not live:
        return {}
    suffix = "" if other == release.primary_language else f"?lang={other}"
    return {language: f"{public_url}/releases/{release.number}{suffix}"}


def _with_latest_notes(session: Session, release_id: int, sections: list[Section]) -> list[Section]:
    """Each version's note of the latest correction, for the versions it changed (those
    corrected at that moment; a reader of both may have only one changed)."""
    notes = {s.lang: correction_notes(session, release_id, s.lang) for s in sections}
    latest = max((found[0][0] for found in notes.values() if found), default=None)
    return [
        replace(s, note=notes[s.lang][0][1])
        if notes[s.lang] and notes[s.lang][0][0] == latest
        else s
        for s in sections
    ]


def _text(session: Session, release_id: int, language: str, number: int | None) -> RevisionRow:
    """Revision ``number`` of a version, or without one its public text (its live
    revision), or its latest before publication."""
    if number is None:
        version = session.scalar(
            select(VersionRow).where(
                VersionRow.release_id == release_id, VersionRow.language == language
            )
        )
        number = version.live_revision or version.revision if version else None
    text = session.scalar(
        select(RevisionRow).where(
            RevisionRow.release_id == release_id,
            RevisionRow.language == language,
            RevisionRow.number == number,
        )
    )
    assert text is not None, f"release {release_id} has no {language} text"
    return text


# The email rendition is 1,200 pixels wide, shown at 600: sharp on a 2x screen.
EMAIL_WIDTH = 600


def _photo(public_url: str, files: list[Shown]) -> Photo | None:
    lead = next((f for f in files if f.lead), None)
    made = lead.file.rendition("email") if lead is not None else None
    if lead is None or made is None:
        return None
    width, height = int(made["width"]), int(made["height"])
    return Photo(
        url=public_url + lead.file.path("email"),
        alt=lead.words.alt,
        caption=lead.words.caption,
        credit=lead.words.credit,
        width=min(width, EMAIL_WIDTH),
        height=round(height * min(width, EMAIL_WIDTH) / width) if width else height,
    )


# --- daily digests -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    """One release in a digest, in one language."""

    lang: str
    title: str
    summary: str  # Markdown: the subtitle, or the body's first paragraph
    url: str
    number: str
    public_at: datetime


@dataclass(frozen=True, slots=True)
class DigestFacts:
    """Everything a digest is made of: equal facts, equal message (so subscribers of the
    same releases and language share one rendering)."""

    reader: str  # ko, en or both
    day: datetime  # its cutoff: the day is the office's calendar day of it
    releases: int
    entries: tuple[Entry, ...]
    zone: str
    office: Office


def render_digests(ctx: ServiceContext, batch: Sequence[ClaimedDigest]) -> dict[int, mime.Variant]:
    """The message of each digest of ``batch`` by its id: a section per release, oldest
    first, each in the language it was planned in ("both": the original, then the
    translation), with the live text as it is now. A digest left with no release (all
    withdrawn since it was planned) has none."""
    public_url = ctx.settings.public_base_url.rstrip("/")
    entries: dict[tuple[int, str], tuple[Entry, ...]] = {}
    carried: dict[int, list[tuple[int, str]]] = {}
    with ctx.uow() as uow:
        session = uow.session
        for item in deliveries.digest_items(session, [digest.id for digest in batch]):
            key = (item.release_id, item.language)
            carried.setdefault(item.digest_id, []).append(key)
            if key not in entries:
                entries[key] = _entries(session, item, public_url)
    office = Office.of(ctx.settings)
    variants = {}
    for digest in batch:
        keys = carried.get(digest.id)
        if not keys:
            continue
        facts = DigestFacts(
            reader=digest.language,
            day=digest.cutoff,
            releases=len(keys),
            entries=tuple(entry for key in keys for entry in entries[key]),
            zone=ctx.settings.office_timezone,
            office=office,
        )
        variants[digest.id] = rendered_digest(facts)
    return variants


def _entries(session: Session, item: deliveries.DigestItem, public_url: str) -> tuple[Entry, ...]:
    release = session.get(ReleaseRow, item.release_id)
    assert release is not None
    languages = [item.language]
    if item.language == rules.BOTH:
        other = "en" if release.primary_language == "ko" else "ko"
        languages = [release.primary_language, other]
    found = []
    for lang in languages:
        text = _text(session, item.release_id, lang, None)
        suffix = "" if lang == release.primary_language else f"?lang={lang}"
        if release.number:
            url = f"{public_url}/releases/{release.number}{suffix}"
        else:
            url = stable_release_url(public_url, release.id, lang)
        found.append(
            Entry(
                lang=lang,
                title=text.title,
                summary=digests.summary(text.subtitle, text.body),
                url=url,
                number=release.number or "",
                public_at=item.public_at,
            )
        )
    return tuple(found)


@lru_cache(maxsize=64)
def rendered_digest(facts: DigestFacts) -> mime.Variant:
    """The base's frame and its loop of sections, one per release in each language it is
    shown in, with its summary where a release shows its text."""
    zone = ZoneInfo(facts.zone)
    lang = "en" if facts.reader == "en" else "ko"  # the frame; a reader of both: Korean
    sections = []
    for entry in facts.entries:
        # Labels follow each version for a reader of both, else the reader's language.
        speaks = entry.lang if facts.reader == rules.BOTH else lang
        when = date_and_time(entry.public_at, speaks, zone)
        if entry.number:
            # The base's meta line shows a message's one number; a digest has one per
            # release, which leads the release's own line.
            when = f"{translator(speaks)('No. %(number)s', number=entry.number)} · {when}"
        sections.append(
            {
                "lang": entry.lang,
                "title": entry.title,
                "subtitle": "",
                "body": entry.summary,
                "body_html": Markup(render_markdown(entry.summary)),  # noqa: S704  # nh3
                "url": entry.url,
                "other_url": "",
                "note": "",
                "photo": None,
                "documents": (),
                "speaks": speaks,
                "when": when,
            }
        )
    titles = " · ".join(entry.title for entry in facts.entries)
    values: dict[str, Any] = {
        "lang": lang,
        "translators": {code: translator(code) for code in ("ko", "en")},
        "office": facts.office.in_language(lang),
        "sections": sections,
        "embargo_until": "",
        "title": titles,
        "number": "",
        "contact": "",
        "notice": "",
        "topics": "",
        "day": long_date(facts.day, lang, zone),
        "count": facts.releases,
        "preheader": opening_words(titles, PREHEADER_LENGTH),
        "recipient_name": mime.NAME,
        "unsubscribe_url": mime.UNSUBSCRIBE,
        "preferences_url": mime.PREFERENCES,
    }
    return _render("digest", values)
