"""Photos and documents as part of a release's text.

A file attached to a release is shown by every language version, each in its own words:
a title, and for a photo the alt text, caption and credit. Each version's ``Text`` holds
its ``Placement`` of every attachment, in the order the page shows them, so that adding,
replacing, removing or re-wording one is an edit like any other: a new revision of each
version, approvals voided, and on a published release a correction with a public note.
The file's bytes, type and size belong to the file, not to the text, and live elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from workflow.domain.checks import single_line
from workflow.domain.errors import ValidationFailed

MAX_TITLE_LENGTH = 300
MAX_ALT_LENGTH = 1_000
MAX_CAPTION_LENGTH = 2_000
MAX_CREDIT_LENGTH = 200


class AttachmentKind(StrEnum):
    IMAGE = "image"
    DOCUMENT = "document"


@dataclass(frozen=True, slots=True)
class Words:
    """What one language says about an attachment."""

    title: str = ""
    alt: str = ""
    caption: str = ""
    credit: str = ""

    @classmethod
    def checked(cls, title: str = "", alt: str = "", caption: str = "", credit: str = "") -> Words:
        return cls(
            title=single_line("title", title, max_length=MAX_TITLE_LENGTH, required=False),
            alt=single_line("alt", alt, max_length=MAX_ALT_LENGTH, required=False),
            caption=single_line("caption", caption, max_length=MAX_CAPTION_LENGTH, required=False),
            credit=single_line("credit", credit, max_length=MAX_CREDIT_LENGTH, required=False),
        )

    def merged(self, changes: Mapping[str, str]) -> Words:
        """These words with the fields ``changes`` names replaced, checked again."""
        fields = {"title": self.title, "alt": self.alt, "caption": self.caption}
        fields["credit"] = self.credit
        unknown = set(changes) - set(fields)
        if unknown:
            raise ValidationFailed(sorted(unknown)[0], "is not a field of an attachment")
        fields.update(changes)
        return Words.checked(**fields)


@dataclass(frozen=True, slots=True)
class Placement:
    """An attachment as one language version shows it."""

    attachment_id: str
    kind: AttachmentKind
    words: Words = Words()

    @property
    def is_image(self) -> bool:
        return self.kind is AttachmentKind.IMAGE

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.attachment_id,
            "kind": self.kind.value,
            "title": self.words.title,
            "alt": self.words.alt,
            "caption": self.words.caption,
            "credit": self.words.credit,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Placement:
        return cls(
            attachment_id=str(data["id"]),
            kind=AttachmentKind(data["kind"]),
            words=Words(
                title=data.get("title", ""),
                alt=data.get("alt", ""),
                caption=data.get("caption", ""),
                credit=data.get("credit", ""),
            ),
        )


def lead_photo(placements: tuple[Placement, ...]) -> Placement | None:
    """The photo a page, an email and a link preview lead with: the first one."""
    return next((p for p in placements if p.is_image), None)


def with_lead(placements: tuple[Placement, ...], attachment_id: str) -> tuple[Placement, ...]:
    """``placements`` with the photo ``attachment_id`` moved before every other photo."""
    chosen = next((p for p in placements if p.attachment_id == attachment_id), None)
    if chosen is None:
        raise ValidationFailed("lead", "no such attachment on this release")
    if not chosen.is_image:
        raise ValidationFailed("lead", "only a photo can lead the release")
    rest = [p for p in placements if p is not chosen]
    first_image = next((i for i, p in enumerate(rest) if p.is_image), len(rest))
    return (*rest[:first_image], chosen, *rest[first_image:])


def reordered(placements: tuple[Placement, ...], order: list[str]) -> tuple[Placement, ...]:
    """``placements`` in the order of the ids ``order`` lists: every one, once each."""
    by_id = {p.attachment_id: p for p in placements}
    if sorted(order) != sorted(by_id) or len(set(order)) != len(order):
        raise ValidationFailed("order", "list every attachment of the release exactly once")
    return tuple(by_id[i] for i in order)
