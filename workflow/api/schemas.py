"""The JSON the API reads and writes, and the conversions from the services' read models.

Request models forbid unknown fields and bound every number and list, so that nothing a
client sends can reach the database out of range; the rules about content (what a title
may contain, who may do what) stay in the domain, which answers 422 or 403 itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.fields import FieldInfo

from workflow.auth import MIN_PASSWORD_LENGTH
from workflow.domain.attachments import (
    MAX_ALT_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_CREDIT_LENGTH,
)
from workflow.domain.attachments import MAX_TITLE_LENGTH as MAX_WORDS_TITLE_LENGTH
from workflow.domain.release_core import MAX_COMMENT_LENGTH, MAX_NOTE_LENGTH
from workflow.domain.states import Action, ReleaseState
from workflow.domain.topics import Topic
from workflow.domain.values import (
    MAX_BODY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_TITLE_LENGTH,
    Language,
)
from workflow.rendering import render_markdown
from workflow.services.accounts import IssuedToken, TokenView
from workflow.services.people import UserView
from workflow.services.queries.attachments import Shown, served_name
from workflow.services.queries.public import PublicCorrection, PublicPage, PublicRelease
from workflow.services.queries.staff_lists import ReleasePage
from workflow.services.queries.staff_release import ReleaseView, RevisionView
from workflow.services.releases import Outcome


def _json_number(value: object) -> object:
    # Pydantic would also read "5" and true as numbers: the document says a number.
    if isinstance(value, str | bool):
        raise ValueError("must be a number")
    return value


# For a number in a JSON body (query and path parameters are text, read as numbers);
# after the bounds, which the document then still states.
JSON_NUMBER = BeforeValidator(_json_number)
# Ids are PostgreSQL integers: a larger number is simply not found, never an overflow.
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID), JSON_NUMBER]
RevisionNumber = Annotated[int, Field(ge=0, le=MAX_ID), JSON_NUMBER]
# The domain's own text rules (``workflow.domain.values``), stated in the schema too so
# that clients can check before sending; the domain still decides, with a message per
# field, and enforces what a schema cannot say (email syntax as email-validator reads it).
ONE_LINE = r"^[^\x00-\x1f\x7f\u0085\u2028\u2029]*$"
BODY = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
# One line with something in it once trimmed; a comment with something in it, no NUL.
FILLED_LINE = (
    r"^[^\x00-\x1f\x7f\u0085\u2028\u2029]*"
    r"[^\s\x00-\x1f\x7f\u0085\u2028\u2029][^\x00-\x1f\x7f\u0085\u2028\u2029]*$"
)
FILLED_TEXT = r"^[^\x00]*[^\s\x00][^\x00]*$"
NO_NUL = r"^[^\x00]*$"
# The longest address email-validator takes (RFC 5321's path limit, less the brackets).
MAX_EMAIL_LENGTH = 254


def says(**rules: Any) -> FieldInfo:
    """A rule the domain enforces, in the document only. The domain counts lengths after
    trimming and NFC, so the model keeps its looser bounds (a padded title is still
    accepted, and the domain's message names the field) while the document states the
    rule a client should keep to."""
    info: FieldInfo = Field(json_schema_extra=rules)
    return info


OneLine = Annotated[str, Field(max_length=1_000, pattern=ONE_LINE)]
Required = Annotated[str, Field(min_length=1, max_length=1_000, pattern=ONE_LINE)]
LongText = Annotated[str, Field(max_length=1_000_000, pattern=BODY)]
Secret = Annotated[str, Field(min_length=1, max_length=1_000)]
Title = Annotated[Required, says(maxLength=MAX_TITLE_LENGTH, pattern=FILLED_LINE)]
Subtitle = Annotated[OneLine, says(maxLength=MAX_TITLE_LENGTH)]
Body = Annotated[LongText, says(maxLength=MAX_BODY_LENGTH)]
Note = Annotated[OneLine, says(maxLength=MAX_NOTE_LENGTH)]
Comment = Annotated[
    str, Field(max_length=10_000), says(maxLength=MAX_COMMENT_LENGTH, pattern=FILLED_TEXT)
]
# Names of topics and tokens (``workflow.services.people``, ``.accounts``).
ShortName = Annotated[Required, says(maxLength=100, pattern=FILLED_LINE)]
Email = Annotated[Required, says(format="email", maxLength=MAX_EMAIL_LENGTH)]
NewPassword = Annotated[Secret, says(minLength=MIN_PASSWORD_LENGTH, pattern=NO_NUL)]
# The longest a token may live is the office's setting: ``workflow.api.app`` writes the
# one in force into the document.
TokenDays = Annotated[int, Field(ge=1, le=3_650), JSON_NUMBER]
StaffRole = Literal["press_officer", "approver", "translator", "admin"]
Roles = Annotated[list[StaffRole], Field(min_length=1, max_length=4)]


def _storable(value: datetime) -> datetime:
    # 9999-12-31T23:00-05:00 is a valid aware datetime that overflows in UTC.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range once converted to UTC") from None


def _written(value: object) -> object:
    # Pydantic also reads a number as Unix time (``0`` is 1970-01-01): the document
    # says a date is written as one, and so must the client.
    if isinstance(value, int | float):
        raise ValueError("must be written as an ISO 8601 string")
    return value


def _iso_day(value: object) -> object:
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a day, YYYY-MM-DD")
    return _written(value)


Moment = Annotated[AwareDatetime, BeforeValidator(_written), AfterValidator(_storable)]
Day = Annotated[date, BeforeValidator(_iso_day)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- requests ----------------------------------------------------------------------------


class ContactIn(Input):
    name: Annotated[OneLine, says(maxLength=MAX_NAME_LENGTH)] = ""
    phone: Annotated[OneLine, says(maxLength=50)] = ""
    email: Annotated[
        OneLine,
        says(anyOf=[{"maxLength": 0}, {"format": "email", "maxLength": MAX_EMAIL_LENGTH}]),
        Field(description="Empty for none."),
    ] = ""


class ReleaseCreate(Input):
    language: Language
    title: Title
    subtitle: Subtitle = ""
    body: Body
    topics: Annotated[list[Id], Field(max_length=50)] = []
    contact: ContactIn | None = None


class DetailsUpdate(Input):
    topics: Annotated[list[Id], Field(max_length=50)] | None = None
    contact: ContactIn | None = None


class VersionUpdate(Input):
    title: Title
    subtitle: Subtitle = ""
    body: Body
    base_revision: RevisionNumber = Field(
        description="The revision the edit started from (0 for a new language version); "
        "if someone saved since, the answer is 409 with the current revision."
    )
    note: Note = Field(
        default="",
        description="For live text while a correction is reviewed: this version's public "
        "correction note (required unless the version already has one).",
    )


class CommentIn(Input):
    comment: Comment


class ReasonIn(Input):
    reason: Comment


class NoteIn(Input):
    body: Comment


class ScheduleIn(Input):
    publish_at: Moment
    embargo_until: Moment | None = None


class CorrectionIn(Input):
    language: Language
    title: Title
    subtitle: Subtitle = ""
    body: Body
    note: Note = Field(
        default="",
        description="The public note saying what was corrected: required for a major "
        "change, refused for a minor one.",
    )
    base_revision: RevisionNumber
    change: Literal["minor", "major"] = Field(
        default="major",
        description="major: a correction of substance, with a public note, mailed to "
        "everyone who received the release; minor: a typo, a link or formatting, approved "
        "like any change, live without a note, mailed to no one.",
    )


class SupersedeIn(Input):
    by: Annotated[str, Field(min_length=1, max_length=20, pattern=r"^\d{4}-\d{4,}$")] = Field(
        description="The number of the published release that replaces this one."
    )


class TranslationRequestIn(Input):
    target_language: Language
    translator_id: Id | None = Field(
        default=None, description="Omit to give it to the least busy translator."
    )
    due_at: Moment | None = None


class TranslationIn(Input):
    title: Title
    subtitle: Subtitle = ""
    body: Body
    base_revision: RevisionNumber = 0


class TopicIn(Input):
    name: ShortName  # in English
    name_ko: Annotated[OneLine, says(maxLength=100)] = ""  # in Korean; empty: the English name


class UserIn(Input):
    email: Email
    name: Annotated[Required, says(maxLength=MAX_NAME_LENGTH, pattern=FILLED_LINE)]
    roles: Roles
    language: Language = Language.KO
    password: NewPassword | None = Field(default=None, description="At least 10 characters.")


class RolesIn(Input):
    roles: Roles


# The second factor's code: six digits from an authenticator app, or a recovery code.
SecondFactorCode = Annotated[
    str | None,
    Field(
        max_length=40,
        description="Needed when two-factor sign-in is on: the six digits the "
        "authenticator app shows, or one of the recovery codes.",
    ),
]


class LoginIn(Input):
    email: Email
    password: Secret
    code: SecondFactorCode = None


class TokenIn(Input):
    name: ShortName
    expires_in_days: TokenDays | None = None
    code: SecondFactorCode = None


class TokenLoginIn(Input):
    email: Email
    password: Secret
    name: ShortName
    expires_in_days: TokenDays | None = None
    code: SecondFactorCode = None


# --- responses ---------------------------------------------------------------------------


class OutcomeOut(BaseModel):
    """The release's state after a command, and what the caller may do next."""

    release_id: int
    state: ReleaseState
    allowed_actions: list[Action]
    revision: int | None = None

    @classmethod
    def of(cls, outcome: Outcome) -> OutcomeOut:
        return cls(
            release_id=outcome.release_id,
            state=outcome.state,
            allowed_actions=outcome.allowed_actions,
            revision=outcome.revision,
        )


class Created(BaseModel):
    id: int


class Contact(BaseModel):
    name: str
    phone: str
    email: str


class CorrectionOut(BaseModel):
    """A published correction of one language version."""

    published_at: datetime
    note: str = Field(description="The public note saying what was corrected.")


class VersionOut(BaseModel):
    language: Language
    title: str
    subtitle: str
    body: str = Field(description="Markdown, as written.")
    body_html: str = Field(description="The body rendered to sanitised HTML.")
    revision: int
    live_revision: int | None
    edited_by: str
    edited_at: datetime
    pending_note: str = Field(
        description="The public note of this version's correction under review; "
        "empty when there is none."
    )
    corrections: list[CorrectionOut] = Field(
        description="This version's published corrections, newest first."
    )


class ReleaseOut(BaseModel):
    id: int
    state: ReleaseState
    primary_language: Language
    author_id: int
    number: str | None
    topics: list[str]
    contact: Contact
    publish_at: datetime | None
    embargo_until: datetime | None
    published_at: datetime | None
    correction_note: str = Field(
        deprecated=True,
        description="The newest published correction's note, whichever version it changed; "
        "each version lists its own (versions.*.corrections).",
    )
    pending_correction_note: str = Field(
        description="The public note of a correction under review (the original's, when "
        "it is among the versions corrected); empty when there is none. Each version has "
        "its own (versions.*.pending_note)."
    )
    withdrawal_reason: str
    pending_change: Literal["minor", "major"] | None = Field(
        default=None, description="The kind of the correction under review; null for none."
    )
    approvals: int
    versions: dict[Language, VersionOut]
    allowed_actions: list[Action]

    @classmethod
    def of(cls, view: ReleaseView) -> ReleaseOut:
        return cls(
            id=view.id,
            state=view.state,
            primary_language=view.primary_language,
            author_id=view.author_id,
            number=view.number,
            topics=view.topics,
            contact=Contact(**view.contact),
            publish_at=view.publish_at,
            embargo_until=view.embargo_until,
            published_at=view.published_at,
            correction_note=view.correction_note,
            pending_correction_note=view.pending_correction_note,
            withdrawal_reason=view.withdrawal_reason,
            approvals=view.approvals,
            pending_change=view.pending_change.value if view.pending_change else None,
            versions={
                lang: VersionOut(
                    language=v.language,
                    title=v.title,
                    subtitle=v.subtitle,
                    body=v.body,
                    body_html=render_markdown(v.body),
                    revision=v.revision,
                    live_revision=v.live_revision,
                    edited_by=v.edited_by,
                    edited_at=v.edited_at,
                    pending_note=v.pending_note,
                    corrections=[
                        CorrectionOut(published_at=c.published_at, note=c.note)
                        for c in v.corrections
                    ],
                )
                for lang, v in view.versions.items()
            },
            allowed_actions=view.allowed_actions,
        )


class ReleaseSummaryOut(BaseModel):
    id: int
    state: ReleaseState
    number: str | None
    primary_language: Language
    author_id: int
    author: str
    titles: dict[Language, str]
    topics: list[str]
    publish_at: datetime | None
    published_at: datetime | None
    updated_at: datetime


class ReleasePageOut(BaseModel):
    items: list[ReleaseSummaryOut]
    total: int
    page: int
    per_page: int

    @classmethod
    def of(cls, page: ReleasePage) -> ReleasePageOut:
        return cls(
            items=[ReleaseSummaryOut.model_validate(s, from_attributes=True) for s in page.items],
            total=page.total,
            page=page.page,
            per_page=page.per_page,
        )


class RevisionOut(BaseModel):
    language: Language
    number: int
    author: str
    created_at: datetime
    note: str
    title: str
    subtitle: str
    body: str

    @classmethod
    def of(cls, r: RevisionView) -> RevisionOut:
        return cls(
            language=r.language,
            number=r.number,
            author=r.author,
            created_at=r.created_at,
            note=r.note,
            title=r.text.title,
            subtitle=r.text.subtitle,
            body=r.text.body,
        )


class DiffOut(BaseModel):
    language: Language
    from_revision: int
    to_revision: int
    diff: str = Field(description="A unified diff of title, subtitle and body.")


class CommentOut(BaseModel):
    """One entry of a release's review thread, oldest first."""

    id: int = Field(
        description="The comment's id; for a reviewer's decision, its audit entry's id."
    )
    author: str
    body: str
    created_at: datetime
    kind: Literal["comment", "request_changes", "reject"] = Field(
        description="`comment` for a comment added to the thread; otherwise the review "
        "decision this comment was given with."
    )


class AuditOut(BaseModel):
    action: str
    actor: str
    actor_roles: list[str]
    from_state: ReleaseState | None
    to_state: ReleaseState
    comment: str
    details: dict[str, str | None]
    at: datetime


class TranslationRequestOut(BaseModel):
    id: int
    release_id: int
    source_language: Language
    target_language: Language
    state: str
    requested_by: str
    due_at: datetime
    created_at: datetime
    submitted_at: datetime | None
    source_title: str
    target_revision: int = Field(description="The base_revision to submit the translation with.")


class TopicOut(BaseModel):
    id: int
    name: str  # in English
    name_ko: str  # in Korean; empty until an admin sets it

    @classmethod
    def of(cls, topic: Topic) -> TopicOut:
        return cls(id=topic.id, name=topic.name, name_ko=topic.name_ko)


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    roles: list[str]
    active: bool
    language: str
    has_password: bool

    @classmethod
    def of(cls, view: UserView) -> UserOut:
        return cls.model_validate(view, from_attributes=True)


class MeOut(BaseModel):
    id: int
    email: str
    name: str
    roles: list[str]
    language: Language
    csrf_token: str | None = Field(
        default=None, description="Signed in by cookie: send it in X-CSRF-Token on changes."
    )


class SessionOut(BaseModel):
    user: MeOut
    csrf_token: str
    expires_at: datetime


class IssuedTokenOut(BaseModel):
    id: int
    name: str
    token: str = Field(description="Shown this once: only its hash is kept.")
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, issued: IssuedToken) -> IssuedTokenOut:
        return cls.model_validate(issued, from_attributes=True)


class PasswordChangeIn(Input):
    current_password: Annotated[str, Field(min_length=1, max_length=1_000)]
    # Checked here, so that a refusal names this field (the domain's would say "password").
    new_password: Annotated[
        str, Field(min_length=MIN_PASSWORD_LENGTH, max_length=1_000, pattern=NO_NUL)
    ]


class BrowserSessionOut(BaseModel):
    id: int
    created_at: datetime
    expires_at: datetime
    current: bool = Field(description="The session this request was signed in with.")


class TokenOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, view: TokenView) -> TokenOut:
        return cls.model_validate(view, from_attributes=True)


class PublicAttachmentOut(BaseModel):
    kind: Literal["image", "document"]
    content_type: str
    label: str
    filename: str
    size: int
    lead: bool
    title: str
    alt: str
    caption: str
    credit: str
    url: str = Field(description="The file on this site (a photo's re-encoded original).")
    renditions: dict[str, str] = Field(
        default_factory=dict,
        description="A photo's renditions on this site: thumb, page, email, preview.",
    )

    @classmethod
    def of(cls, shown: Shown) -> PublicAttachmentOut:
        file = shown.file
        made = ("thumb", "page", "email", "preview") if file.is_image and file.ready else ()
        return cls(
            kind="image" if file.is_image else "document",
            content_type=file.content_type,
            label=file.label,
            filename=served_name(file),
            size=file.size,
            lead=shown.lead,
            title=shown.words.title,
            alt=shown.words.alt,
            caption=shown.words.caption,
            credit=shown.words.credit,
            url=file.path(),
            renditions={name: file.path(name) for name in made},
        )


class PublicVersionOut(BaseModel):
    language: Language
    title: str
    subtitle: str
    body: str
    body_html: str
    corrections: list[CorrectionOut] = Field(
        description="This version's published corrections, newest first."
    )
    attachments: list[PublicAttachmentOut] = Field(
        default_factory=list, description="Its photos and documents, in order."
    )


class PublicReleaseOut(BaseModel):
    number: str
    status: str = Field(description="published, or withdrawn (then without body)")
    published_at: datetime
    topics: list[str]
    contact: Contact
    correction_note: str = Field(
        deprecated=True,
        description="The newest correction's note, whichever version it changed; each "
        "version lists its own (versions.*.corrections).",
    )
    versions: dict[Language, PublicVersionOut]
    withdrawal_reason: str | None = None
    withdrawn_at: datetime | None = None

    @classmethod
    def of(cls, view: PublicRelease) -> PublicReleaseOut:
        return cls(
            number=view.number,
            status="withdrawn" if view.withdrawn else "published",
            published_at=view.published_at,
            topics=view.topics,
            contact=Contact(**view.contact),
            correction_note=_newest_note(c for v in view.versions.values() for c in v.corrections),
            versions={
                lang: PublicVersionOut(
                    language=v.language,
                    title=v.title,
                    subtitle=v.subtitle,
                    body=v.body,
                    body_html=render_markdown(v.body) if v.body else "",
                    corrections=[
                        CorrectionOut(published_at=c.published_at, note=c.note)
                        for c in v.corrections
                    ],
                    attachments=[PublicAttachmentOut.of(a) for a in v.attachments],
                )
                for lang, v in view.versions.items()
            },
            withdrawal_reason=view.withdrawal_reason or None,
            withdrawn_at=view.withdrawn_at,
        )


def _newest_note(corrections: Iterable[PublicCorrection]) -> str:
    newest = max(corrections, key=lambda c: c.published_at, default=None)
    return newest.note if newest else ""


class PublicSummaryOut(BaseModel):
    number: str
    published_at: datetime
    topics: list[str]
    titles: dict[Language, str]
    corrected: bool


class PublicPageOut(BaseModel):
    items: list[PublicSummaryOut]
    total: int
    page: int
    per_page: int

    @classmethod
    def of(cls, page: PublicPage) -> PublicPageOut:
        return cls(
            items=[PublicSummaryOut.model_validate(s, from_attributes=True) for s in page.items],
            total=page.total,
            page=page.page,
            per_page=page.per_page,
        )


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: str = Field(description="ok, or unavailable (with status 503)")
    checks: dict[str, str]


class DeliveryFailureOut(BaseModel):
    address: str
    kind: str
    reply: str


class DeliveryReportOut(BaseModel):
    counts: dict[str, int] = Field(description="Every email of the release, by state.")
    failures: list[DeliveryFailureOut]
    possible_duplicates: int
    by_kind: dict[str, dict[str, int]] = Field(
        description="The same counts per kind of email (release, embargo, notice, "
        "correction, withdrawal, …; a follow-up's kind without its event's key), in the "
        "order each kind was first planned."
    )
    subscribers: int = Field(description="Journalists planned at least one email.")
    subscribers_reached: int = Field(
        description="Journalists sent at least one email (accepted by the relay, not bounced)."
    )
    folded_at: datetime | None = Field(
        default=None,
        description="When retention last deleted some of these emails with their recipients: "
        "they are counted, but not among the failures.",
    )


# --- attachments -------------------------------------------------------------------------


class WordsIO(BaseModel):
    """What one language version says about an attachment."""

    title: Annotated[OneLine, says(maxLength=MAX_WORDS_TITLE_LENGTH)] = ""
    alt: Annotated[OneLine, says(maxLength=MAX_ALT_LENGTH)] = ""
    caption: Annotated[
        str, Field(max_length=2_000, pattern=ONE_LINE), says(maxLength=MAX_CAPTION_LENGTH)
    ] = ""
    credit: Annotated[OneLine, says(maxLength=MAX_CREDIT_LENGTH)] = ""


class AttachmentOut(BaseModel):
    id: str
    kind: Literal["image", "document"]
    content_type: str
    label: str
    filename: str
    size: int
    width: int | None = None
    height: int | None = None
    # "pending" while a photo's renditions are made, then "ready" (or "failed").
    status: str
    lead: bool
    words: dict[Language, WordsIO]
    # Where the public fetches it once the release is public (404 until then).
    public_url: str
    # Where signed-in staff fetch it now.
    staff_url: str


class AttachmentWordsIn(Input):
    words: dict[Language, WordsIO]
    # A published release's change is a correction: each live version's public note.
    notes: dict[Language, Note] = Field(default_factory=dict)


class AttachmentOrderIn(Input):
    order: list[Annotated[str, Field(max_length=32)]] | None = None
    lead: Annotated[str, Field(max_length=32)] | None = None
    notes: dict[Language, Note] = Field(default_factory=dict)
