"""Commands on a release's photos and documents, and the renditions of a photo.

An upload is inspected before anything is kept: its type is read from its bytes, its name
checked, a photo decoded (at reduced scale where the format allows) so that a corrupt
file or a decompression bomb is refused at once. The bytes then go to storage under
their SHA-256, and one transaction records the file and shows it in every language
version (``Release.change_attachments``): the change is reviewed like any edit. The
photo's renditions, the re-encoded original among them, are made by a task after the
upload (``make_renditions``), because decoding a large photo takes longer than a request
should wait.

Bytes stored for an upload the transaction then refused stay in storage unreferenced;
being content-addressed they take no room twice and are never served.
"""

from __future__ import annotations

import logging
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final

from sqlalchemy import select

from workflow.db.tables import AttachmentRow
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain.attachments import (
    AttachmentKind,
    Placement,
    Words,
    reordered,
    with_lead,
)
from workflow.domain.errors import N_, NotFound, TooLarge, UnsupportedFile, ValidationFailed
from workflow.domain.release import Release
from workflow.domain.users import User
from workflow.domain.values import Language
from workflow.media import images, inspection
from workflow.media.storage import TooLarge as StorageTooLarge
from workflow.services.context import Actor, ServiceContext, resolve_actor
from workflow.services.releases import Outcome, next_actions

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
PENDING, READY, FAILED = "pending", "ready", "failed"
# Refusals that say the bytes are not a type a release may carry (415); others are 422.
_TYPE_REFUSALS = frozenset({"type_not_allowed", "content_mismatch", "empty"})
# One fixed sentence per kind of refusal, so that the pages find each in their Korean
# catalogue; the inspection's own words go to the log.
REFUSALS: Final = {
    "type_not_allowed": N_(
        "a release carries photos (JPEG, PNG, WebP) and documents "
        "(PDF, HWP, HWPX, Word, Excel, PowerPoint) only"
    ),
    "content_mismatch": N_("the file is damaged, or is not what its type says"),
    "empty": N_("the file is empty"),
    "corrupt_image": N_("the image is damaged or incomplete"),
    "too_many_pixels": N_("the image has too many pixels"),
    "bad_filename": N_(
        "the file name must be a plain name of at most 255 bytes, without "
        "folders, control or direction characters"
    ),
}


@dataclass(frozen=True, slots=True)
class Inspected:
    """An upload that passed inspection, still in its temporary file."""

    path: Path
    file_type: inspection.FileType
    filename: str
    size: int
    width: int | None = None
    height: int | None = None


def inspect_upload(ctx: ServiceContext, path: Path, filename: str) -> Inspected:
    """What the file at ``path`` really is, or a refusal: too large (413), a type a
    release may not carry (415), a corrupt or oversized photo or a bad name (422)."""
    size = path.stat().st_size
    limit = ctx.settings.max_attachment_bytes
    if size > limit:
        raise TooLarge(limit)
    try:
        file_type = inspection.detect(path)
        name = inspection.checked_filename(filename, file_type)
        if file_type.kind != "image":
            return Inspected(path, file_type, name, size)
        info = images.verify_image(path, max_pixels=ctx.settings.max_image_pixels)
    except inspection.RefusedFile as refused:
        log.info("upload refused: %s (%s)", refused.message, refused.code)
        message = REFUSALS.get(refused.code, refused.message)
        code = f"file_{refused.code}"
        if refused.code in _TYPE_REFUSALS:
            raise UnsupportedFile(refused.field, message, code=code) from None
        raise ValidationFailed(refused.field, message, code=code) from None
    return Inspected(path, file_type, name, size, info.width, info.height)


def _chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk


def words_by_language(
    release: Release, fields: Mapping[Language, Mapping[str, str]]
) -> dict[Language, Words]:
    """Each version's words for a new attachment, from the fields given for it."""
    return {language: Words.checked(**fields.get(language, {})) for language in release.versions}


def upload_attachment(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    path: Path,
    filename: str,
    words: Mapping[Language, Mapping[str, str]],
    notes: Mapping[Language, str] | None = None,
) -> tuple[str, Outcome]:
    """Attach the file at ``path`` (a temporary file the caller removes) to the release,
    last in its order, with each version's ``words``; the new attachment's id."""
    inspected = inspect_upload(ctx, path, filename)
    with path.open("rb") as source:
        try:
            stored = ctx.media.put_stream(
                _chunks(source), max_bytes=ctx.settings.max_attachment_bytes
            )
        except StorageTooLarge:
            raise TooLarge(ctx.settings.max_attachment_bytes) from None
    attachment_id = secrets.token_urlsafe(16)
    kind = AttachmentKind(inspected.file_type.kind)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        release = uow.releases.get(release_id, for_update=True)
        now = ctx.clock.now()
        given = words_by_language(release, words)
        placements = {
            language: (*version.text.attachments, Placement(attachment_id, kind, given[language]))
            for language, version in release.versions.items()
        }
        release.change_attachments(
            actor,
            placements,
            now,
            summary=f"attached {inspected.filename}",
            limit=ctx.settings.max_attachments_per_release,
            notes=notes,
            uploaded=[attachment_id],
        )
        uow.session.add(
            AttachmentRow(
                id=attachment_id,
                release_id=release_id,
                kind=kind.value,
                content_type=inspected.file_type.content_type,
                filename=inspected.filename,
                upload_sha256=stored.sha256,
                size=stored.size,
                width=inspected.width,
                height=inspected.height,
                status=PENDING if kind is AttachmentKind.IMAGE else READY,
                renditions={},
                uploaded_by=actor.id,
                uploaded_at=now,
            )
        )
        uow.releases.save(release)
        uow.commit()
        return attachment_id, _outcome(uow, release, actor)


def update_attachment(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    attachment_id: str,
    *,
    words: Mapping[Language, Mapping[str, str]],
    notes: Mapping[Language, str] | None = None,
) -> Outcome:
    """Change what the versions ``words`` names say about the attachment: only the
    fields given change."""

    def change(release: Release) -> dict[Language, tuple[Placement, ...]]:
        _placement(release, attachment_id)
        unknown = set(words) - set(release.versions)
        if unknown:
            raise ValidationFailed(
                "language",
                "the release has no %(language)s version",
                language=sorted(unknown)[0],
            )
        return {
            language: tuple(
                Placement(p.attachment_id, p.kind, p.words.merged(words.get(language, {})))
                if p.attachment_id == attachment_id
                else p
                for p in version.text.attachments
            )
            for language, version in release.versions.items()
        }

    return _change(ctx, who, release_id, change, "changed the words of an attachment", notes)


def arrange_attachments(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    *,
    order: list[str] | None = None,
    lead: str | None = None,
    notes: Mapping[Language, str] | None = None,
) -> Outcome:
    """Show the attachments in ``order`` (every id once), and/or lead with the photo
    ``lead``."""

    def change(release: Release) -> dict[Language, tuple[Placement, ...]]:
        result = {}
        for language, version in release.versions.items():
            shown = version.text.attachments
            if order is not None:
                shown = reordered(shown, order)
            if lead is not None:
                shown = with_lead(shown, lead)
            result[language] = shown
        return result

    return _change(ctx, who, release_id, change, "reordered the attachments", notes)


def remove_attachment(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    attachment_id: str,
    *,
    notes: Mapping[Language, str] | None = None,
) -> Outcome:
    """Stop showing the attachment; the revisions that showed it keep it."""

    def change(release: Release) -> dict[Language, tuple[Placement, ...]]:
        _placement(release, attachment_id)
        return {
            language: tuple(p for p in v.text.attachments if p.attachment_id != attachment_id)
            for language, v in release.versions.items()
        }

    with ctx.uow() as uow:
        row = uow.session.get(AttachmentRow, attachment_id)
        name = row.filename if row is not None and row.release_id == release_id else ""
    return _change(ctx, who, release_id, change, f"removed {name}".strip(), notes)


def _change(
    ctx: ServiceContext,
    who: Actor,
    release_id: int,
    change: Callable[[Release], Mapping[Language, tuple[Placement, ...]]],
    summary: str,
    notes: Mapping[Language, str] | None,
) -> Outcome:
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        release = uow.releases.get(release_id, for_update=True)
        release.change_attachments(
            actor,
            change(release),
            ctx.clock.now(),
            summary=summary,
            limit=ctx.settings.max_attachments_per_release,
            notes=notes,
        )
        uow.releases.save(release)
        uow.commit()
        return _outcome(uow, release, actor)


def _placement(release: Release, attachment_id: str) -> Placement:
    original = release.versions[release.primary_language].text.attachments
    found = next((p for p in original if p.attachment_id == attachment_id), None)
    if found is None:
        raise NotFound("attachment", attachment_id)
    return found


def _outcome(uow: UnitOfWork, release: Release, actor: User) -> Outcome:
    assert release.id is not None
    return Outcome(release.id, release.state, next_actions(uow, release, actor))


# --- renditions -----------------------------------------------------------------------


def make_renditions(ctx: ServiceContext, attachment_id: str) -> bool:
    """Make a photo's renditions from its upload, once: True if this call made them.
    Idempotent: a photo already rendered, or not a photo, is left alone; a rerun after
    a crash stores the same content-addressed bytes again."""
    with ctx.uow() as uow:
        row = uow.session.get(AttachmentRow, attachment_id)
        if row is None or row.status != PENDING:
            return False
        upload_sha256 = row.upload_sha256
    with tempfile.TemporaryDirectory(prefix="newsroom-rendition-") as folder:
        local = ctx.media.local_path(upload_sha256)
        if local is None:
            local = Path(folder) / "upload"
            with local.open("wb") as copy:
                for chunk in ctx.media.read(upload_sha256):
                    copy.write(chunk)
        try:
            made = images.make_renditions(local, max_pixels=ctx.settings.max_image_pixels)
        except inspection.RefusedFile:
            made = None
        stored: dict[str, dict[str, Any]] = {}
        for name, encoded in (made or {}).items():
            kept = ctx.media.put_bytes(encoded.data)
            stored[name] = {
                "sha256": kept.sha256,
                "content_type": encoded.content_type,
                "size": kept.size,
                "width": encoded.width,
                "height": encoded.height,
            }
    with ctx.uow() as uow:
        row = uow.session.get(AttachmentRow, attachment_id)
        if row is None or row.status != PENDING:
            return False
        row.status = READY if made is not None else FAILED
        row.renditions = stored
        uow.commit()
    return made is not None


def pending_renditions(ctx: ServiceContext, *, older_than_seconds: float) -> list[str]:
    """Photos still waiting for their renditions after ``older_than_seconds``: the ones a
    lost task message left behind, for the sweep."""
    since = ctx.clock.now().timestamp() - older_than_seconds
    with ctx.reading() as session:
        rows = session.execute(
            select(AttachmentRow.id, AttachmentRow.uploaded_at).where(
                AttachmentRow.status == PENDING
            )
        )
        return [i for i, at in rows if at.timestamp() <= since]
