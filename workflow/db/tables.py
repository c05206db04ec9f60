"""The database schema, as SQLAlchemy 2 typed mappings. Alembic migrations follow it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always gives back an aware UTC datetime, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(2), default="ko")
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UserRoleRow(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(30), primary_key=True)


class TopicRow(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # in English
    # In Korean; None until an admin sets it, and the English name stands in.
    name_ko: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReleaseRow(Base):
    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_state_publish_at", "state", "publish_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    primary_language: Mapped[str] = mapped_column(String(2))
    state: Mapped[str] = mapped_column(String(40))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    contact_name: Mapped[str] = mapped_column(String(200), default="")
    contact_phone: Mapped[str] = mapped_column(String(50), default="")
    contact_email: Mapped[str] = mapped_column(String(320), default="")
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Superseded by ``version_corrections`` and ``release_versions.pending_correction_note``:
    # the newest published note (the original's first) is still written here for readers
    # not yet moved to a version's own notes; nothing writes the pending one.
    correction_note: Mapped[str] = mapped_column(Text, default="")
    pending_correction_note: Mapped[str] = mapped_column(Text, default="")
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")
    # The kind of the correction under review: "minor", "major", or "" for none.
    pending_change: Mapped[str] = mapped_column(String(10), default="", server_default="")
    # The release that replaces this one, once it is taken down for it.
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("releases.id"))
    review_cycle: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Optimistic lock: an UPDATE that finds another writer got there first fails.
    row_version: Mapped[int] = mapped_column(default=1)
    # Public page views, added in batches by ``view_counts.flush`` with a plain UPDATE
    # that leaves row_version alone (a view is not an edit and must not fail one).
    view_count: Mapped[int] = mapped_column(default=0, server_default="0")

    __mapper_args__ = {"version_id_col": row_version}  # noqa: RUF012  # SQLAlchemy's API


class ViewCountBatchRow(Base):
    """A batch of view counts already added to ``releases.view_count``: a flusher that
    died after its commit and retries the same batch adds nothing the second time."""

    __tablename__ = "view_count_batches"

    batch: Mapped[str] = mapped_column(String(64), primary_key=True)
    flushed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ReleaseTopicRow(Base):
    __tablename__ = "release_topics"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(ForeignKey("topics.id"), primary_key=True)


class VersionRow(Base):
    """One language version of a release; its text is the revision numbered ``revision``."""

    __tablename__ = "release_versions"
    __table_args__ = (UniqueConstraint("release_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    revision: Mapped[int]
    live_revision: Mapped[int | None]
    # The public note of this version's correction under review; "" when none.
    pending_correction_note: Mapped[str] = mapped_column(Text, default="", server_default="")


class VersionCorrectionRow(Base):
    """Appended when a correction of a language version goes live, never changed: that
    version's page lists them all. The unique key is also the lookup by version."""

    __tablename__ = "version_corrections"
    __table_args__ = (UniqueConstraint("release_id", "language", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    note: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The revision of the version this correction put live.
    revision: Mapped[int]


class RevisionRow(Base):
    """Immutable: one row per save. The unique number stops two saves from one base."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("release_id", "language", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(2))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    subtitle: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    note: Mapped[str] = mapped_column(String(100), default="")
    # The photos and documents this text shows, in order, in its words
    # (``Placement.to_json`` each).
    attachments: Mapped[list[dict[str, str]]] = mapped_column(
        JSON, default=list, server_default="[]"
    )


class AttachmentRow(Base):
    """A file uploaded to a release: what it is. Which revisions show it, and in what
    words, is their ``attachments``; its bytes are in storage under their SHA-256."""

    __tablename__ = "attachments"

    # Random, so that a file's address tells nothing of how many there are.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    # The type found in the bytes, never the one the client claimed.
    content_type: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(String(255))
    # What was uploaded. A document is served as it is; a photo never is: its
    # ``renditions`` (the re-encoded original among them) are made from it.
    upload_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    width: Mapped[int | None]
    height: Mapped[int | None]
    # "pending" until a photo's renditions exist ("ready"), or "failed".
    status: Mapped[str] = mapped_column(String(20))
    # name → {"sha256", "content_type", "size", "width", "height"}
    renditions: Mapped[dict[str, dict[str, Any]]] = mapped_column(
        JSON, default=dict, server_default="{}"
    )
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApprovalRow(Base):
    __tablename__ = "approvals"
    __table_args__ = (UniqueConstraint("release_id", "approver_id", "cycle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    approver_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    cycle: Mapped[int]
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_roles: Mapped[str] = mapped_column(String(200))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str] = mapped_column(String(40))
    comment: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CommentRow(Base):
    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TranslationRequestRow(Base):
    __tablename__ = "translation_requests"
    __table_args__ = (Index("ix_translation_requests_translator_state", "translator_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    source_language: Mapped[str] = mapped_column(String(2))
    target_language: Mapped[str] = mapped_column(String(2))
    translator_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(20))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set once each, by a conditional UPDATE, so that a reminder goes out only once.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A machine provider's draft, for the assigned translator to review, or its error.
    provider: Mapped[str] = mapped_column(String(20), default="human")
    machine_title: Mapped[str | None] = mapped_column(String(300))
    machine_body: Mapped[str | None] = mapped_column(Text)
    provider_error: Mapped[str] = mapped_column(Text, default="")
    provider_attempts: Mapped[int] = mapped_column(default=0)


class NotificationRow(Base):
    """A workflow email to one member of staff, rendered when its event was handled.

    ``dedup_key`` names the event (or deadline) that caused it: handling the same event
    twice finds the row already there and adds nothing.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("dedup_key", "to_address"),
        Index("ix_notifications_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(40))
    release_id: Mapped[int | None] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_address: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(400))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SubscriberRow(Base):
    """A journalist on the distribution list, or the record that they must not be mailed.

    An unsubscribed or bounced address stays as a row (a suppression record) and is
    never mailed again without a new confirmed opt-in. ``token_version`` is part of every
    signed link: bumping it invalidates the links sent before.
    """

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    # ko, en, or both
    language: Mapped[str] = mapped_column(String(4), default="ko")
    # pending (not confirmed), active, unsubscribed, suspended, bounced
    state: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    embargo_trusted: Mapped[bool] = mapped_column(default=False)
    hard_bounces: Mapped[int] = mapped_column(default=0)
    token_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When it became bounced (migration 0017; those bounced before count from then).
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The time of day, in the office's time zone, of their daily digest; None: each
    # release as it is published (``workflow.distribution.digests``, migration 0019).
    digest_time: Mapped[time | None] = mapped_column(Time())


class SuppressedAddressRow(Base):
    """An address never to mail again, kept only as a keyed hash (HMAC-SHA256 of the
    normalised address with the secret key, ``workflow.services.suppressions``): what
    retention leaves of a subscriber who unsubscribed or bounced long enough ago, or of
    one erased at their request. Nothing here names anyone; the hash only answers "is
    this address one of them?" for whoever holds the key and the address."""

    __tablename__ = "suppressed_addresses"

    address_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # unsubscribed or bounced (``SuppressionReason``)
    reason: Mapped[str] = mapped_column(String(20))
    # Since when the address has been suppressed, and when it was reduced to this.
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    hashed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SubscriberTopicRow(Base):
    __tablename__ = "subscriber_topics"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topics.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class MessageLease:
    """What a message to a journalist needs to be sent exactly once, as a delivery and a
    digest both have it: ``workflow.db.deliveries`` claims, marks and records either
    table with the same statements.

    ``pending → sending → sent | deferred | failed | bounced`` (or ``cancelled`` before it
    is taken). ``sending`` carries a lease (``next_attempt_at``): a worker killed
    mid-batch leaves rows whose lease runs out and which another worker claims again;
    ``sent`` rows are never claimed.
    """

    state: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    smtp_reply: Mapped[str] = mapped_column(Text, default="")
    # It may have reached the relay before: the connection dropped after the final dot,
    # or a worker died holding its lease. A second copy is then possible, and counted.
    possible_duplicate: Mapped[bool] = mapped_column(default=False)
    # Set just before this attempt's SMTP transaction starts; cleared when claimed.
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# A message not yet settled: what a sender claims (the due indexes' own condition).
_UNSETTLED = text("state IN ('pending', 'deferred', 'sending')")


class DeliveryRow(MessageLease, Base):
    """One email of one release to one subscriber: unique per (release, subscriber, kind),
    so no fan-out, replay or race can plan a second one.

    A release for a subscriber who chose a daily digest waits in the state ``digest``
    (never claimed by itself) until their digest takes it (``digest_id``); it is then
    settled with that digest: ``sent`` with it, or ``failed``.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("release_id", "subscriber_id", "kind"),
        Index("ix_deliveries_claim", "release_id", "kind", "state", "next_attempt_at"),
        # A subscriber's deliveries, found when retention folds them (migration 0017).
        Index("ix_deliveries_subscriber_id", "subscriber_id"),
        # What a sender claims next: only unsettled rows, in due order, so a claim reads
        # the first rows of this index instead of the whole table.
        Index(
            "ix_deliveries_due",
            "next_attempt_at",
            "id",
            postgresql_where=_UNSETTLED,
            sqlite_where=_UNSETTLED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    # What the message is (``workflow.distribution.rules``): "release", "embargo", or a
    # follow-up keyed by its event, "correction:1a2b3c4d".
    kind: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(4))  # ko, en, or both
    # What an embargoed copy or an embargo notice carries: the revisions of its text
    # ("ko3.en2") and the embargo time it announces (None: until further notice).
    text_key: Mapped[str] = mapped_column(String(64), default="", server_default="")
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The digest that carries this release (state "digest"), once one has taken it. No
    # foreign key: SQLite adds one to a table only by copying it (both rows go with
    # their subscriber, and a digest is never deleted alone).
    digest_id: Mapped[int | None] = mapped_column(index=True)


class DigestRow(MessageLease, Base):
    """One subscriber's daily digest: one email with the releases of their day. Unique per
    (subscriber, day), so that no beat, however many run, plans a second one; leased,
    sent, retried and recorded as a delivery is. Its releases are the deliveries that
    name it (``DeliveryRow.digest_id``), fixed when it is planned."""

    __tablename__ = "digests"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "day"),
        Index(
            "ix_digests_due",
            "next_attempt_at",
            "id",
            postgresql_where=_UNSETTLED,
            sqlite_where=_UNSETTLED,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    # The office's calendar day it is for, and the moment that ends it: the releases
    # public before it, and not in an earlier digest, are in this one.
    day: Mapped[date] = mapped_column(Date())
    cutoff: Mapped[datetime] = mapped_column(UTCDateTime())
    language: Mapped[str] = mapped_column(String(4))  # ko, en, or both


class DeliveryTallyRow(Base):
    """What is left of a release's deliveries once retention has deleted them with their
    recipients: how many there were of each kind in each state, how many journalists
    they were planned for and reached, and how many were possible duplicates. The
    delivery report adds it to the rows still there."""

    __tablename__ = "delivery_tallies"

    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    # {kind: {state: count}}, kinds as the report groups them (``rules.base_kind``).
    counts: Mapped[dict[str, dict[str, int]]] = mapped_column(JSON, default=dict)
    subscribers: Mapped[int] = mapped_column(default=0)
    subscribers_reached: Mapped[int] = mapped_column(default=0)
    possible_duplicates: Mapped[int] = mapped_column(default=0)
    folded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReleaseNumberRow(Base):
    """The last number given out per year; bumped under a row lock, never decremented."""

    __tablename__ = "release_number_sequences"
    __table_args__ = (CheckConstraint("last_value > 0", name="positive"),)

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int]


class OutboxRow(Base):
    """An event waiting to be relayed to Celery; written with the change that caused it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(60))
    release_id: Mapped[int | None] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Last handed to the broker; a row not handled a while after that is relayed again.
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Its consumer finished: only now is the event done with.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # The request whose command wrote it (``workflow.logs``), so that the work it causes
    # logs the same id; None outside any request (migration 0013).
    request_id: Mapped[str | None] = mapped_column(String(128))


# --- HTTP API authentication (migration 0002) ---------------------------------------------


class ApiTokenRow(Base):
    """A personal access token. Only its SHA-256 is kept: the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebSessionRow(Base):
    """A signed-in browser: the cookie holds the token, the table its SHA-256."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttemptRow(Base):
    """One password check, kept for the lockout window: in the database, so that the
    limit holds across processes. ``email`` is as typed (normalised), known or not."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        Index("ix_login_attempts_email_at", "email", "at"),
        Index("ix_login_attempts_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    address: Mapped[str] = mapped_column(String(100))
    succeeded: Mapped[bool]
    at: Mapped[datetime] = mapped_column(UTCDateTime())


# --- two-factor sign-in (migration 0014) -------------------------------------------------


class TwoFactorRow(Base):
    """A person's authenticator (TOTP). ``secret`` is encrypted under the secret key
    (``workflow.one_time_codes.SecretBox``); ``confirmed_at`` is None while the person
    has scanned the code but not yet confirmed it, when the second factor is not on."""

    __tablename__ = "two_factor"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    secret: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last time step whose code was accepted: its code and older ones are refused.
    last_used_step: Mapped[int | None] = mapped_column(Integer)


class RecoveryCodeRow(Base):
    """One recovery code, by its SHA-256; used once."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SecurityPolicyRow(Base):
    """The office's sign-in policy, set by admins: one row (no row: the defaults)."""

    __tablename__ = "security_policy"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A ``workflow.domain.two_factor.TwoFactorPolicy``.
    two_factor: Mapped[str] = mapped_column(String(30))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Single sign-on by someone with no account: refused (None), or an account is made
    # with this role (migration 0015).
    sso_new_account_role: Mapped[str | None] = mapped_column(String(30))


# --- preview links (migration 0012) -------------------------------------------------------


class PreviewLinkRow(Base):
    """A link that shows a release not yet public to someone outside the office. The URL
    carries this id signed (``workflow.services.preview_links``); the row says whether it
    still opens."""

    __tablename__ = "preview_links"

    # Random, so that one link's address tells nothing of another's.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    release_id: Mapped[int] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Kept up to date with each opening, so that listing links reads no openings.
    last_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    open_count: Mapped[int] = mapped_column(default=0, server_default="0")


class PreviewOpeningRow(Base):
    """One showing of a preview page. ``client`` is a keyed hash of the address it came
    from: enough to tell one reader from several, nothing that names them."""

    __tablename__ = "preview_openings"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[str] = mapped_column(
        ForeignKey("preview_links.id", ondelete="CASCADE"), index=True
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    client: Mapped[str] = mapped_column(String(64))


# --- the audit of administrative acts (migration 0016) ------------------------------------


class AdminActRow(Base):
    """One administrative act: who, when, what, from where. Append-only: no code updates
    or deletes a row, and triggers refuse UPDATE and DELETE (migration 0016). A row
    stands alone, naming its actor by id and by the email they had then, with no foreign
    key: nothing done to other tables can block it or cascade into it. Subscribers are
    named by id only, so that retention, which reduces an address to a keyed hash, leaves
    no address behind here."""

    __tablename__ = "admin_acts"
    __table_args__ = (
        Index("ix_admin_acts_actor_id_id", "actor_id", "id"),
        Index("ix_admin_acts_kind_id", "kind", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # A person's user id, or a system actor's negative one (the console is -2).
    actor_id: Mapped[int]
    actor: Mapped[str] = mapped_column(String(320))
    actor_roles: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60))
    # What it was done to (a user's, topic's, subscriber's or token's id), if one thing.
    target_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The client's address, or ``cli:<OS user>@<host>`` (``workflow.origin``).
    origin: Mapped[str] = mapped_column(String(200), default="")
    request_id: Mapped[str | None] = mapped_column(String(128))
