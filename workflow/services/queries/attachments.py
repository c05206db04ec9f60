"""What the pages, the API, the emails and the feed read of a release's attachments, and
the one rule on which file anyone may fetch.

A file is public exactly when its release is (published, past any embargo) and a live
revision of one of its versions shows it: nothing of a draft, a scheduled or embargoed
release, a withdrawn one, or a file an approved correction removed is ever served.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import links
from workflow.db.tables import AttachmentRow, ReleaseRow, RevisionRow, VersionRow
from workflow.domain.attachments import Placement, Words
from workflow.domain.release_core import is_public
from workflow.domain.states import ReleaseState
from workflow.domain.values import Language
from workflow.media.inspection import ALLOWED
from workflow.services.context import ServiceContext

ORIGINAL = "original"
# The renditions a photo has (``workflow.media.images``), by the name a URL gives.
PHOTO_RENDITIONS = frozenset({ORIGINAL, "thumb", "page", "email", "preview"})
_LABELS = {t.content_type: t.label for t in ALLOWED}


@dataclass(frozen=True, slots=True)
class FileFacts:
    """What a file is, whatever a version says of it."""

    id: str
    release_id: int
    kind: str
    content_type: str
    filename: str
    size: int
    width: int | None
    height: int | None
    status: str
    upload_sha256: str
    renditions: Mapping[str, Mapping[str, Any]]

    @property
    def is_image(self) -> bool:
        return self.kind == "image"

    @property
    def label(self) -> str:
        """The type as people name it: "PDF", "HWP", "JPEG"."""
        return _LABELS.get(self.content_type, self.content_type)

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    def rendition(self, name: str) -> Mapping[str, Any] | None:
        return self.renditions.get(name) if self.is_image else None

    @property
    def size_text(self) -> str:
        """The size as a list of documents gives it: "1.2 MB", "340 KB"."""
        return human_size(self.size)

    def path(self, rendition: str = ORIGINAL) -> str:
        """Where the public fetches it (or this rendition of it)."""
        return links.file_path(self.id, served_name(self), rendition)


def human_size(size: int) -> str:
    """``size`` bytes in the units people read: 1,000 based, as file managers show."""
    if size < 1_000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1_000:.0f} KB"
    return f"{size / 1_000_000:.1f} MB"


@dataclass(frozen=True, slots=True)
class Shown:
    """An attachment as one version shows it: the file and the version's words, with
    the original's where the version has none yet."""

    file: FileFacts
    words: Words
    lead: bool = False

    @property
    def id(self) -> str:
        return self.file.id


@dataclass(frozen=True, slots=True)
class ServedFile:
    """The bytes to answer with, and how to name them."""

    sha256: str
    size: int
    content_type: str
    filename: str

    @property
    def disposition(self) -> Literal["inline", "attachment"]:
        """Photos and PDFs open in the browser; a word processor's file is saved."""
        inline = self.content_type.startswith("image/") or self.content_type == "application/pdf"
        return "inline" if inline else "attachment"


def file_facts(session: Session, ids: Iterable[str]) -> dict[str, FileFacts]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = session.scalars(select(AttachmentRow).where(AttachmentRow.id.in_(wanted)))
    return {row.id: _facts(row) for row in rows}


def _facts(row: AttachmentRow) -> FileFacts:
    return FileFacts(
        id=row.id,
        release_id=row.release_id,
        kind=row.kind,
        content_type=row.content_type,
        filename=row.filename,
        size=row.size,
        width=row.width,
        height=row.height,
        status=row.status,
        upload_sha256=row.upload_sha256,
        renditions=row.renditions or {},
    )


def shown(
    session: Session,
    placements: Sequence[Placement],
    fallback: Sequence[Placement] = (),
) -> list[Shown]:
    """``placements`` with their files, in order; empty words are the ``fallback``
    version's (the original's), so a translation never shows a photo with no alt text."""
    facts = file_facts(session, (p.attachment_id for p in placements))
    theirs = {p.attachment_id: p.words for p in fallback}
    lead = next((p.attachment_id for p in placements if p.is_image), None)
    result = []
    for placement in placements:
        file = facts.get(placement.attachment_id)
        if file is None:
            continue
        words = _with_fallback(placement.words, theirs.get(placement.attachment_id))
        result.append(Shown(file, words, lead=placement.attachment_id == lead))
    return result


def _with_fallback(words: Words, other: Words | None) -> Words:
    if other is None:
        return words
    return Words(
        title=words.title or other.title,
        alt=words.alt or other.alt,
        caption=words.caption or other.caption,
        credit=words.credit or other.credit,
    )


def placements_of(raw: Iterable[Mapping[str, Any]] | None) -> list[Placement]:
    return [Placement.from_json(p) for p in raw or ()]


def public_file(ctx: ServiceContext, attachment_id: str, rendition: str) -> ServedFile | None:
    """The file anyone may fetch at ``attachment_id`` and ``rendition`` now, or None."""
    with ctx.uow() as uow:
        session = uow.session
        found = session.execute(
            select(AttachmentRow, ReleaseRow.state, ReleaseRow.embargo_until)
            .join(ReleaseRow, ReleaseRow.id == AttachmentRow.release_id)
            .where(AttachmentRow.id == attachment_id)
        ).first()
        if found is None:
            return None
        row, state, embargo_until = found
        if not is_public(ReleaseState(state), embargo_until, ctx.clock.now()):
            return None
        live = session.scalars(
            select(RevisionRow.attachments)
            .join(
                VersionRow,
                (VersionRow.release_id == RevisionRow.release_id)
                & (VersionRow.language == RevisionRow.language)
                & (VersionRow.live_revision == RevisionRow.number),
            )
            .where(RevisionRow.release_id == row.release_id)
        )
        if not any(p.get("id") == attachment_id for shown_ in live for p in shown_ or ()):
            return None
        return served(_facts(row), rendition)


def staff_file(
    ctx: ServiceContext, release_id: int, attachment_id: str, rendition: str
) -> ServedFile | None:
    """Any file of the release, for staff (who see every release): None if it has no
    such file, or the rendition does not exist (yet)."""
    with ctx.uow() as uow:
        row = uow.session.get(AttachmentRow, attachment_id)
        if row is None or row.release_id != release_id:
            return None
        facts = _facts(row)
    return served(facts, rendition)


def served(facts: FileFacts, rendition: str) -> ServedFile | None:
    """The bytes ``rendition`` of the file names: a document's own, a photo's
    re-encoded original or one of its renditions (never the photo as uploaded)."""
    if not facts.is_image:
        if rendition != ORIGINAL:
            return None
        return ServedFile(facts.upload_sha256, facts.size, facts.content_type, facts.filename)
    made = facts.rendition(rendition)
    if made is None or not facts.ready:
        return None
    filename = facts.filename
    if rendition != ORIGINAL:
        stem = filename.rsplit(".", 1)[0]
        filename = f"{stem}-{rendition}"
    filename = _with_extension(filename, made["content_type"])
    return ServedFile(made["sha256"], int(made["size"]), made["content_type"], filename)


_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def _with_extension(name: str, content_type: str) -> str:
    extension = _EXTENSIONS.get(content_type, "")
    stem, dot, _ = name.rpartition(".")
    base = stem if dot else name
    return f"{base}{extension}"


def served_name(facts: FileFacts) -> str:
    """The name the public file is served under: a photo's as re-encoded."""
    made = facts.rendition(ORIGINAL)
    if facts.is_image:
        return _with_extension(facts.filename, made["content_type"] if made else "image/jpeg")
    return facts.filename


def primary_language(ctx: ServiceContext, release_id: int) -> Language | None:
    """The release's original language; None when there is no such release."""
    with ctx.reading() as session:
        found = session.scalar(
            select(ReleaseRow.primary_language).where(ReleaseRow.id == release_id)
        )
    return None if found is None else Language(found)


def staff_attachments(ctx: ServiceContext, release_id: int) -> list[dict[Language, Shown]]:
    """Every attachment of the release's current text, in order, as each version
    shows it."""
    with ctx.uow() as uow:
        release = uow.releases.get(release_id)
        original = release.versions[release.primary_language].text.attachments
        result: list[dict[Language, Shown]] = [{} for _ in original]
        for language, version in release.versions.items():
            fallback = original if language is not release.primary_language else ()
            for index, item in enumerate(shown(uow.session, version.text.attachments, fallback)):
                result[index][language] = item
        return result


def public_documents(
    ctx: ServiceContext, release_ids: Sequence[int], language: Language
) -> dict[int, list[Shown]]:
    """The documents each public release's live ``language`` text shows (its other
    text's where it has no such version): the feed's enclosures. The caller lists only
    releases that are public."""
    if not release_ids:
        return {}
    live = (
        (VersionRow.release_id == RevisionRow.release_id)
        & (VersionRow.language == RevisionRow.language)
        & (VersionRow.live_revision == RevisionRow.number)
    )
    with ctx.reading() as session:
        rows = session.execute(
            select(RevisionRow.release_id, RevisionRow.language, RevisionRow.attachments)
            .join(VersionRow, live)
            .where(RevisionRow.release_id.in_(list(release_ids)))
        ).all()
        chosen: dict[int, list[Placement]] = {}
        for release_id, row_language, raw in rows:
            if row_language == language.value or release_id not in chosen:
                chosen[release_id] = placements_of(raw)
        if not any(chosen.values()):
            return {}
        return {
            release_id: [s for s in shown(session, placements) if not s.file.is_image]
            for release_id, placements in chosen.items()
        }
