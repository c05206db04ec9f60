"""The records a release is made of and keeps: the current state of each language version,
its revisions, corrections, approvals and audit entries, and the requests to translate it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from workflow.domain.states import ReleaseState
from workflow.domain.values import Language, Text


@dataclass(frozen=True, slots=True)
class Revision:
    """One immutable save of a language version."""

    language: Language
    number: int
    text: Text
    author_id: int
    created_at: datetime
    note: str = ""


@dataclass(frozen=True, slots=True)
class Approval:
    approver_id: int
    at: datetime
    cycle: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    action: str
    actor_id: int
    actor_roles: tuple[str, ...]
    from_state: ReleaseState | None
    to_state: ReleaseState
    at: datetime
    comment: str = ""
    details: Mapping[str, str | None] = field(default_factory=dict)


@dataclass(slots=True)
class Version:
    """The current state of one language version of a release."""

    language: Language
    text: Text
    revision: int
    edited_by: int
    edited_by_name: str
    edited_at: datetime
    live_revision: int | None = None
    live_text: Text | None = None
    # Who wrote any part of this text since it was last live: none of them may approve it.
    editors: set[int] = field(default_factory=set)
    # The public note of this version's correction under review ("" when its live text is
    # not being corrected): each version says what changed in it, in its own language.
    pending_note: str = ""

    @property
    def is_live(self) -> bool:
        return self.live_revision is not None

    @property
    def has_unpublished_changes(self) -> bool:
        return self.live_revision != self.revision


@dataclass(frozen=True, slots=True)
class CorrectedText:
    """A live version's corrected text, its public note, and the revision it started from."""

    text: Text
    note: str
    base_revision: int


@dataclass(frozen=True, slots=True)
class VersionCorrection:
    """A correction of one language version that went live: its public note, when, and the
    revision it put live. Never replaced: the version's page lists every one of them."""

    language: Language
    note: str
    published_at: datetime
    revision: int


class ChangeKind(StrEnum):
    """How much a change to a published release matters to its readers."""

    MINOR = "minor"  # a typo, a link, formatting: approved, live, no note, no email
    MAJOR = "major"  # a correction of substance: a public note, mailed to past recipients


class TranslationState(StrEnum):
    OPEN = "open"
    SUBMITTED = "submitted"
    CANCELLED = "cancelled"


@dataclass(slots=True)
class TranslationRequest:
    release_id: int
    source_language: Language
    target_language: Language
    translator_id: int
    requested_by: int
    due_at: datetime
    created_at: datetime
    state: TranslationState = TranslationState.OPEN
    submitted_at: datetime | None = None
    id: int | None = None
