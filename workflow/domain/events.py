"""Domain events: small, frozen, JSON-safe facts in the past tense.

They are written to the outbox in the same transaction as the change that caused them
and relayed to Celery after commit; ``event_id`` lets every consumer ignore a repeat.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

_REGISTRY: dict[str, type[Event]] = {}


def new_event_id() -> str:
    return str(uuid.uuid4())


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, kw_only=True)
class Event:
    event_id: str = dataclasses.field(default_factory=new_event_id)
    occurred_at: str
    actor_id: int | None

    type_name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.type_name = cls.__name__
        _REGISTRY[cls.__name__] = cls

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type_name, **dataclasses.asdict(self)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> Event:
        fields = dict(data)
        cls = _REGISTRY[fields.pop("type")]
        return cls(**fields)


@dataclass(frozen=True, kw_only=True)
class ReleaseEvent(Event):
    release_id: int


@dataclass(frozen=True, kw_only=True)
class ReleaseCreated(ReleaseEvent):
    language: str


@dataclass(frozen=True, kw_only=True)
class ReleaseEdited(ReleaseEvent):
    language: str
    revision: int
    approvals_voided: int
    # The state the edit moved the release from; None in events stored before it was.
    previous_state: str | None = None


@dataclass(frozen=True, kw_only=True)
class ReleaseDetailsUpdated(ReleaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class AttachmentUploaded(ReleaseEvent):
    """A file new to the release: a photo's renditions are made after it."""

    attachment_id: str


@dataclass(frozen=True, kw_only=True)
class ReleaseSubmitted(ReleaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ChangesRequested(ReleaseEvent):
    comment: str


@dataclass(frozen=True, kw_only=True)
class ApprovalGiven(ReleaseEvent):
    approvals: int
    required: int


@dataclass(frozen=True, kw_only=True)
class ReleaseApproved(ReleaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ReleaseRejected(ReleaseEvent):
    comment: str


@dataclass(frozen=True, kw_only=True)
class ReleaseReopened(ReleaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class ReleaseScheduled(ReleaseEvent):
    publish_at: str
    embargo_until: str | None
    rescheduled: bool


@dataclass(frozen=True, kw_only=True)
class ReleaseUnscheduled(ReleaseEvent):
    embargo_until: str | None


@dataclass(frozen=True, kw_only=True)
class ReleasePublished(ReleaseEvent):
    number: str
    languages: list[str]
    scheduled_for: str | None
    embargo_until: str | None


@dataclass(frozen=True, kw_only=True)
class CorrectionProposed(ReleaseEvent):
    """A correction of live text was proposed; ``notes`` has each changed language's
    public note, ``language`` and ``note`` the first of them (the original's, if it
    changed). Rows written before ``notes`` existed have it empty."""

    language: str
    note: str
    notes: dict[str, str] = dataclasses.field(default_factory=dict)
    # "major" (a public note, mailed) or "minor" (neither); rows before it: major.
    change: str = "major"


@dataclass(frozen=True, kw_only=True)
class CorrectionPublished(ReleaseEvent):
    """Corrected text went live in ``languages``; ``notes`` has each one's public note,
    ``note`` the original's if it changed, else the other's. Rows written before
    ``notes`` existed have it empty."""

    number: str
    note: str
    languages: list[str]
    notes: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ReleaseUnpublished(ReleaseEvent):
    """Published in error: taken down, its past recipients asked to disregard it."""

    reason: str
    was_public: bool


@dataclass(frozen=True, kw_only=True)
class ReleaseSuperseded(ReleaseEvent):
    """Taken down because the published release ``by_number`` replaces it."""

    by_release_id: int
    by_number: str


@dataclass(frozen=True, kw_only=True)
class MinorChangePublished(ReleaseEvent):
    """A minor change (a typo, a link, formatting) went live in ``languages``, without a
    public note; nobody is mailed about it."""

    number: str
    languages: list[str]


@dataclass(frozen=True, kw_only=True)
class TranslationPublished(ReleaseEvent):
    """A language version that was not public before went live on a published release."""

    number: str
    languages: list[str]


@dataclass(frozen=True, kw_only=True)
class CorrectionDiscarded(ReleaseEvent):
    comment: str


@dataclass(frozen=True, kw_only=True)
class ReleaseWithdrawn(ReleaseEvent):
    reason: str
    was_public: bool


@dataclass(frozen=True, kw_only=True)
class ReleaseAbandoned(ReleaseEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class TranslationRequested(ReleaseEvent):
    request_id: int
    source_language: str
    target_language: str
    translator_id: int
    due_at: str


@dataclass(frozen=True, kw_only=True)
class TranslationSubmitted(ReleaseEvent):
    request_id: int
    language: str
    revision: int


@dataclass(frozen=True, kw_only=True)
class CommentAdded(ReleaseEvent):
    comment_id: int
