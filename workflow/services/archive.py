"""Published releases for the national archives: JSON Lines with the files beside them,
and the reader that checks such an archive back.

An archive is a folder (the format is in ``docs/operations.md``)::

    manifest.json           what it is, when it was made, and the SHA-256 of releases.jsonl
    releases.jsonl          one release a line, in order of first publication
    files/<sha256>/<name>   each photo or document once, as the public was served it

``read_releases`` reads, in one transaction, every release published (and past any
embargo) whose publication, correction, withdrawal, unpublication or supersession
happened on or after a day, and records the export as an administrative act;
``write_archive`` writes them; ``read_archive`` reads an archive back, checking the
manifest, every line and every file's size and SHA-256, and raises ``ArchiveDamaged``
naming the first thing that is wrong.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Any, Final

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from workflow.db.tables import (
    AuditRow,
    ReleaseRow,
    ReleaseTopicRow,
    RevisionRow,
    TopicRow,
    VersionCorrectionRow,
    VersionRow,
)
from workflow.domain.admin_acts import AdminActKind
from workflow.domain.errors import ValidationFailed
from workflow.domain.states import Action, ReleaseState
from workflow.domain.values import Language
from workflow.services.admin_acts import record_admin_act
from workflow.services.context import Actor, ServiceContext, resolve_actor
from workflow.services.queries.attachments import ORIGINAL, Shown, placements_of, served, shown

FORMAT: Final = "newsroom-archive"
VERSION: Final = 1
MANIFEST: Final = "manifest.json"
RELEASES: Final = "releases.jsonl"
FILES: Final = "files"

# What a release that has left the public side says happened to it.
_ENDINGS: Final = {
    ReleaseState.WITHDRAWN: Action.WITHDRAW,
    ReleaseState.UNPUBLISHED: Action.UNPUBLISH,
    ReleaseState.SUPERSEDED: Action.SUPERSEDE,
}
# Amended while published, the public still reads the live text: published.
_ARCHIVED_STATE: Final = {
    ReleaseState.CORRECTION_IN_REVIEW: ReleaseState.PUBLISHED,
    ReleaseState.CORRECTION_CHANGES_REQUESTED: ReleaseState.PUBLISHED,
}
_CORRECTION_STATES: Final = (
    ReleaseState.CORRECTION_IN_REVIEW.value,
    ReleaseState.CORRECTION_CHANGES_REQUESTED.value,
)


class ArchiveDamaged(ValidationFailed):
    """An archive that is not what its manifest and lines say."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__("archive", f"{where}: {problem}")


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """A file the archive carries: where its bytes are in storage, and where it goes."""

    sha256: str
    size: int
    path: str  # relative to the archive's folder, with "/"


@dataclass(frozen=True, slots=True)
class ReleaseExport:
    since: date | None
    exported_at: datetime
    releases: list[dict[str, Any]]
    files: list[ArchivedFile]


@dataclass(frozen=True, slots=True)
class Archive:
    manifest: dict[str, Any]
    releases: list[dict[str, Any]]
    files: int = 0
    bytes: int = 0


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def check_target(directory: Path) -> None:
    """Refuse a folder that is not empty (or a file): an archive is written whole, into
    a new or empty folder, never over another."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ValidationFailed("directory", f"{directory} is not an empty folder")


def read_releases(ctx: ServiceContext, who: Actor, since: date | None) -> ReleaseExport:
    """The published releases (see the module's docstring) as archive records, read in
    one transaction that records the export. Admins only."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        actor.require_admin("export releases for the archives")
        now = ctx.clock.now()
        start = datetime.combine(since, time(), ctx.settings.office_zone) if since else None
        records, files = _records(uow.session, now, start)
        record_admin_act(
            uow,
            actor,
            AdminActKind.RELEASES_EXPORTED,
            at=now,
            details={
                "since": since.isoformat() if since else None,
                "releases": len(records),
                "files": len(files),
            },
        )
        uow.commit()
    return ReleaseExport(since, now, records, files)


def _selected(session: Session, now: datetime, start: datetime | None) -> list[ReleaseRow]:
    public_change = or_(
        AuditRow.action.in_(
            [Action.PUBLISH.value, *(action.value for action in _ENDINGS.values())]
        ),
        and_(AuditRow.action == Action.APPROVE.value, AuditRow.from_state.in_(_CORRECTION_STATES)),
    )
    query = select(ReleaseRow).where(
        ReleaseRow.number.is_not(None),
        ReleaseRow.published_at.is_not(None),
        or_(ReleaseRow.embargo_until.is_(None), ReleaseRow.embargo_until <= now),
    )
    if start is not None:
        query = query.where(
            select(AuditRow.id)
            .where(AuditRow.release_id == ReleaseRow.id, AuditRow.at >= start, public_change)
            .exists()
        )
    return list(session.scalars(query.order_by(ReleaseRow.published_at, ReleaseRow.number)))


def _records(
    session: Session, now: datetime, start: datetime | None
) -> tuple[list[dict[str, Any]], list[ArchivedFile]]:
    releases = _selected(session, now, start)
    ids = [r.id for r in releases]
    topics: dict[int, list[str]] = {i: [] for i in ids}
    for release_id, name in session.execute(
        select(ReleaseTopicRow.release_id, TopicRow.name)
        .join(TopicRow, TopicRow.id == ReleaseTopicRow.topic_id)
        .where(ReleaseTopicRow.release_id.in_(ids))
        .order_by(TopicRow.name)
    ):
        topics[release_id].append(name)
    superseding = [r.superseded_by for r in releases if r.superseded_by]
    numbers: dict[int, str | None] = {
        row.id: row.number
        for row in session.execute(
            select(ReleaseRow.id, ReleaseRow.number).where(ReleaseRow.id.in_(superseding))
        )
    }
    records: list[dict[str, Any]] = []
    files: dict[str, ArchivedFile] = {}
    for release in releases:
        versions, shown_files = _versions(session, release)
        attachments = []
        for item in shown_files:
            entry, archived = _file_entry(item)
            attachments.append(entry)
            if archived is not None:
                files.setdefault(archived.path, archived)
        records.append(
            {
                "number": release.number,
                "state": _ARCHIVED_STATE.get(ReleaseState(release.state), release.state),
                "primary_language": release.primary_language,
                "published_at": _iso(release.published_at),
                "embargo_until": _iso(release.embargo_until),
                "ended": _ending(session, release, numbers),
                "topics": topics[release.id],
                "contact": {
                    "name": release.contact_name,
                    "phone": release.contact_phone,
                    "email": release.contact_email,
                },
                "versions": versions,
                "attachments": attachments,
            }
        )
    return records, list(files.values())


def _ending(
    session: Session, release: ReleaseRow, numbers: Mapping[int, str | None]
) -> dict[str, Any] | None:
    state = ReleaseState(release.state)
    action = _ENDINGS.get(state)
    if action is None:
        return None
    at = session.scalar(
        select(func.max(AuditRow.at)).where(
            AuditRow.release_id == release.id, AuditRow.action == action.value
        )
    )
    return {
        "how": state.value,
        "at": _iso(at),
        "reason": release.withdrawal_reason,
        "by_number": numbers.get(release.superseded_by) if release.superseded_by else None,
    }


def _versions(session: Session, release: ReleaseRow) -> tuple[list[dict[str, Any]], list[Shown]]:
    """Each live language version (the original first) with its text, its corrections
    (oldest first) and its files' words; and the files they show, once each."""
    live = session.execute(
        select(VersionRow.language, RevisionRow)
        .join(
            RevisionRow,
            and_(
                RevisionRow.release_id == VersionRow.release_id,
                RevisionRow.language == VersionRow.language,
                RevisionRow.number == VersionRow.live_revision,
            ),
        )
        .where(VersionRow.release_id == release.id)
    ).all()
    texts = {Language(language): revision for language, revision in live}
    order = sorted(texts, key=lambda lang: (lang != release.primary_language, lang.value))
    original = texts.get(Language(release.primary_language))
    fallback = placements_of(original.attachments) if original is not None else []
    corrections: dict[str, list[dict[str, Any]]] = {}
    for row in session.scalars(
        select(VersionCorrectionRow)
        .where(VersionCorrectionRow.release_id == release.id)
        .order_by(VersionCorrectionRow.published_at, VersionCorrectionRow.id)
    ):
        corrections.setdefault(row.language, []).append(
            {"published_at": _iso(row.published_at), "note": row.note, "revision": row.revision}
        )
    versions: list[dict[str, Any]] = []
    files: dict[str, Shown] = {}
    for language in order:
        revision = texts[language]
        items = shown(session, placements_of(revision.attachments), fallback)
        for item in items:
            files.setdefault(item.id, item)
        versions.append(
            {
                "language": language.value,
                "revision": revision.number,
                "title": revision.title,
                "subtitle": revision.subtitle,
                "body": revision.body,
                "body_format": "markdown",
                "corrections": corrections.get(language.value, []),
                "attachments": [
                    {
                        "id": item.id,
                        "lead": item.lead,
                        "title": item.words.title,
                        "alt": item.words.alt,
                        "caption": item.words.caption,
                        "credit": item.words.credit,
                    }
                    for item in items
                ],
            }
        )
    return versions, list(files.values())


def _file_entry(item: Shown) -> tuple[dict[str, Any], ArchivedFile | None]:
    facts = item.file
    public = served(facts, ORIGINAL)  # a photo as re-encoded, never as uploaded
    entry: dict[str, Any] = {
        "id": facts.id,
        "kind": facts.kind,
        "content_type": public.content_type if public else facts.content_type,
        "filename": public.filename if public else facts.filename,
        "width": facts.width,
        "height": facts.height,
        "size": None,
        "sha256": None,
        "path": None,  # a photo whose renditions are not made yet has no file to give
    }
    if public is None:
        return entry, None
    path = f"{FILES}/{public.sha256}/{_safe_name(public.filename)}"
    entry.update(size=public.size, sha256=public.sha256, path=path)
    return entry, ArchivedFile(public.sha256, public.size, path)


def _safe_name(name: str) -> str:
    """The file's name as one path segment: uploads' names are checked, but an archive
    is read far from here."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    return base if base not in ("", ".", "..") and not base.startswith(".") else "file"


@dataclass(frozen=True, slots=True)
class WrittenArchive:
    releases: int
    files: int
    bytes: int


def write_archive(ctx: ServiceContext, export: ReleaseExport, directory: Path) -> WrittenArchive:
    """Write ``export`` into ``directory`` (new, or empty): the files first, each checked
    against its SHA-256 as it is copied from storage, then the lines, then the manifest,
    so that an archive with a manifest is whole."""
    check_target(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = 0
    for item in export.files:
        written += _copy(ctx, item, directory / item.path)
    lines = b"".join(
        json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"
        for record in export.releases
    )
    _write(directory / RELEASES, lines)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": _iso(export.exported_at),
        "since": export.since.isoformat() if export.since else None,
        "releases": len(export.releases),
        "files": len(export.files),
        "releases_sha256": hashlib.sha256(lines).hexdigest(),
    }
    _write(directory / MANIFEST, json.dumps(manifest, indent=2).encode("utf-8") + b"\n")
    return WrittenArchive(len(export.releases), len(export.files), written)


def _copy(ctx: ServiceContext, item: ArchivedFile, target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    with target.open("xb") as out:
        for chunk in ctx.media.read(item.sha256):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if digest.hexdigest() != item.sha256 or size != item.size:
        raise ArchiveDamaged(item.path, "the stored file does not match its SHA-256")
    return size


def _write(path: Path, data: bytes) -> None:
    with path.open("xb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


# --- reading an archive back ------------------------------------------------------------

_RELEASE_KEYS: Final = frozenset(
    {
        "number",
        "state",
        "primary_language",
        "published_at",
        "embargo_until",
        "ended",
        "topics",
        "contact",
        "versions",
        "attachments",
    }
)


def read_archive(directory: Path) -> Archive:
    """The archive in ``directory``, every part checked: ``ArchiveDamaged`` names the
    first that is wrong."""
    manifest = _manifest(directory)
    try:
        lines = (directory / RELEASES).read_bytes()
    except OSError as error:
        raise ArchiveDamaged(RELEASES, error.strerror or "cannot be read") from None
    if hashlib.sha256(lines).hexdigest() != manifest.get("releases_sha256"):
        raise ArchiveDamaged(RELEASES, "its SHA-256 is not the manifest's")
    releases = list(_lines(lines))
    if len(releases) != manifest.get("releases"):
        raise ArchiveDamaged(RELEASES, f"{len(releases)} lines, the manifest says otherwise")
    files, size = _check_files(directory, releases)
    if files != manifest.get("files"):
        raise ArchiveDamaged(FILES, f"{files} files, the manifest says otherwise")
    return Archive(manifest, releases, files, size)


def _manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except OSError as error:
        raise ArchiveDamaged(MANIFEST, error.strerror or "cannot be read") from None
    except ValueError:
        raise ArchiveDamaged(MANIFEST, "is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveDamaged(MANIFEST, f"is not a manifest of a {FORMAT}")
    if manifest.get("version") != VERSION:
        raise ArchiveDamaged(MANIFEST, f"version {manifest.get('version')!r} is not {VERSION}")
    return manifest


def _lines(data: bytes) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            record = json.loads(line.decode("utf-8"))
        except ValueError:
            raise ArchiveDamaged(f"{RELEASES} line {number}", "is not JSON in UTF-8") from None
        if not isinstance(record, dict) or set(record) != _RELEASE_KEYS:
            raise ArchiveDamaged(f"{RELEASES} line {number}", "is not a release record")
        yield record


def _check_files(directory: Path, releases: Iterable[dict[str, Any]]) -> tuple[int, int]:
    seen: dict[str, str] = {}
    size = 0
    for record in releases:
        for entry in record["attachments"]:
            path, sha256 = entry.get("path"), entry.get("sha256")
            if path is None or path in seen:
                continue
            relative = PurePosixPath(path)
            parts = relative.parts
            if relative.is_absolute() or ".." in parts or not parts or parts[0] != FILES:
                raise ArchiveDamaged(path, f"is not a path inside {FILES}/")
            digest, length = _digest(directory.joinpath(*relative.parts), path)
            if digest != sha256 or length != entry.get("size"):
                raise ArchiveDamaged(path, "does not match its size and SHA-256")
            seen[path] = digest
            size += length
    return len(seen), size


def _digest(path: Path, name: str) -> tuple[str, int]:
    digest, length = hashlib.sha256(), 0
    try:
        with path.open("rb") as source:
            while chunk := source.read(1 << 20):
                digest.update(chunk)
                length += len(chunk)
    except OSError as error:
        raise ArchiveDamaged(name, error.strerror or "cannot be read") from None
    return digest.hexdigest(), length
