"""The message of a (release, kind, language): rendered once for all its recipients,
with their own parts (name, links) left as placeholders for ``mime.assemble``.

Each kind of message has its own template folder under ``templates/email/``, extending
``email/distribution/base.*``. A rendering is kept per process for the same content: the
cache is keyed on everything the message is made of, the texts themselves included, so
a correction or any other edit is a new key and is never sent with the old text.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, tzinfo
from functools import lru_cache
from typing import Final

import css_inline
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.db.releases import correction_notes
from workflow.db.tables import ReleaseRow, RevisionRow, VersionRow
from workflow.distribution import rules
from workflow.links import stable_release_url
from workflow.mail import mime
from workflow.mail.templates import environment
from workflow.rendering import render_markdown
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
class Facts:
    """Everything a message is made of: equal facts, equal message."""

    template: str
    sections: tuple[Section, ...]
    embargo_until: str
    number: str
    date: str
    contact: str
    notice: str


@dataclass(frozen=True, slots=True)
class Kept:
    """What a delivery row says of its message: which one, in which language, and for an
    embargoed copy or notice, the text and the time it carries."""

    release_id: int
    kind: str
    language: str
    text_key: str = ""
    embargo_until: datetime | None = None


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
    zone = ctx.settings.office_zone
    embargo_until = ""
    if under_embargo and kept.embargo_until is not None:
        embargo_until = _office_time(kept.embargo_until, zone)
    moment = release.published_at or release.publish_at or ctx.clock.now()
    if base == rules.CORRECTION:
        sections = _with_latest_notes(session, kept.release_id, sections)
    notice = release.withdrawal_reason if base in _TAKEN_DOWN else ""
    return Facts(
        template=TEMPLATES[base],
        sections=tuple(sections),
        embargo_until=embargo_until,
        number=release.number or "",
        date=f"{moment.astimezone(zone):%Y-%m-%d}",
        contact=" · ".join(
            x for x in (release.contact_name, release.contact_phone, release.contact_email) if x
        ),
        notice=notice,
    )


@lru_cache(maxsize=64)
def rendered(facts: Facts) -> mime.Variant:
    sections = [
        {
            "lang": section.lang,
            "title": section.title,
            "subtitle": section.subtitle,
            "body": section.body,
            "body_html": Markup(render_markdown(section.body)),  # noqa: S704  # nh3
            "url": section.url,
            "note": section.note,
            "photo": section.photo,
            "documents": section.documents,
        }
        for section in facts.sections
    ]
    values = {
        # Greeting, notices and links speak the first section's language.
        "lang": facts.sections[0].lang,
        "sections": sections,
        "embargo_until": facts.embargo_until,
        "title": " / ".join(section.title for section in facts.sections),
        "number": facts.number,
        "date": facts.date,
        "contact": facts.contact,
        "notice": facts.notice,
        "recipient_name": mime.NAME,
        "unsubscribe_url": mime.UNSUBSCRIBE,
        "preferences_url": mime.PREFERENCES,
    }
    env = environment()
    folder = f"email/{facts.template}"
    subject = " ".join(env.get_template(f"{folder}/subject.txt").render(values).split())
    values["subject"] = subject
    return mime.Variant(
        subject=subject,
        text=env.get_template(f"{folder}/body.txt").render(values),
        html=css_inline.inline(env.get_template(f"{folder}/body.html").render(values)),
    )


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


def _office_time(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
