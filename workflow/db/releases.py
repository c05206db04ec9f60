"""Loading and saving the ``Release`` aggregate.

The repository translates; it decides nothing. A release is loaded whole (versions,
current and live texts, who edited since it was live, the approvals of this review
cycle) and saved by updating its row and appending what the aggregate recorded: new
revisions, approvals, audit entries and outbox events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, bindparam, cast, delete, func, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import flag_modified

from workflow.db.appended import append
from workflow.db.tables import (
    ApprovalRow,
    AuditRow,
    ReleaseNumberRow,
    ReleaseRow,
    ReleaseTopicRow,
    RevisionRow,
    TranslationRequestRow,
    UserRow,
    VersionCorrectionRow,
    VersionRow,
)
from workflow.db.writes import conflict_insert, flush
from workflow.domain.attachments import Placement
from workflow.domain.errors import NotFound
from workflow.domain.release import Release
from workflow.domain.release_records import (
    Approval,
    ChangeKind,
    TranslationRequest,
    TranslationState,
    Version,
    VersionCorrection,
)
from workflow.domain.states import ReleaseState
from workflow.domain.values import Contact, Language, Text
from workflow.outbox import add_to_outbox


def _release_statement() -> Select[Any]:
    """The statement that loads a release (``ReleaseRepository.get``), built once:
    building it costs more than running it. A row for each of its language versions
    and approvals of this review cycle (a release has one or two versions and a few
    approvals, so a handful of rows), each with the release's row and its topics, the
    version's current text and editor, its live text, and who edited it since it went
    live."""
    topics = (
        select(func.aggregate_strings(cast(ReleaseTopicRow.topic_id, String), ","))
        .where(ReleaseTopicRow.release_id == ReleaseRow.id)
        .scalar_subquery()
    )
    current, live, since = aliased(RevisionRow), aliased(RevisionRow), aliased(RevisionRow)

    def same_version(revision: Any) -> Any:
        return and_(
            revision.release_id == VersionRow.release_id,
            revision.language == VersionRow.language,
        )

    editors_since_live = (
        select(func.aggregate_strings(cast(since.author_id, String), ","))
        .where(same_version(since), since.number > func.coalesce(VersionRow.live_revision, 0))
        .scalar_subquery()
    )
    return (
        select(ReleaseRow, topics, VersionRow, current, UserRow.name, live, editors_since_live)
        .add_columns(ApprovalRow)
        .join(VersionRow, VersionRow.release_id == ReleaseRow.id)
        .join(current, and_(same_version(current), current.number == VersionRow.revision))
        .join(UserRow, UserRow.id == current.author_id)
        .outerjoin(live, and_(same_version(live), live.number == VersionRow.live_revision))
        .outerjoin(
            ApprovalRow,
            and_(
                ApprovalRow.release_id == ReleaseRow.id,
                ApprovalRow.cycle == ReleaseRow.review_cycle,
            ),
        )
        .where(ReleaseRow.id == bindparam("release_id"))
        .order_by(VersionRow.language, ApprovalRow.id)
    )


_RELEASE = _release_statement()
_RELEASE_FOR_UPDATE = _RELEASE.with_for_update(of=ReleaseRow)


class ReleaseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows: dict[int, ReleaseRow] = {}
        # What ``get`` (or ``add``) read or wrote of each release's topics and version
        # rows in this unit of work, so that saving it does not read them again.
        self._topics: dict[int, frozenset[int]] = {}
        self._version_rows: dict[int, dict[str, VersionRow]] = {}

    # --- loading ----------------------------------------------------------------------

    def get(self, release_id: int, *, for_update: bool = False) -> Release:
        """The whole release, in one statement (``_release_statement``): a command's
        round trips to the database are most of its time under load. With
        ``for_update`` its row stays locked until commit (PostgreSQL; SQLite's immediate
        transactions already hold the write lock)."""
        query = _RELEASE_FOR_UPDATE if for_update else _RELEASE
        found = self.session.execute(query, {"release_id": release_id}).all()
        if not found:
            raise NotFound("release", release_id)
        row, topic_ids = found[0][0], found[0][1]
        self._rows[row.id] = row
        self._topics[row.id] = _ids(topic_ids)
        release = Release(
            id=row.id,
            primary_language=Language(row.primary_language),
            author_id=row.author_id,
            created_at=row.created_at,
            state=ReleaseState(row.state),
            topics=self._topics[row.id],
            contact=Contact(row.contact_name, row.contact_phone, row.contact_email),
            review_cycle=row.review_cycle,
            number=row.number,
            publish_at=row.publish_at,
            embargo_until=row.embargo_until,
            published_at=row.published_at,
            withdrawal_reason=row.withdrawal_reason,
            pending_change=ChangeKind(row.pending_change) if row.pending_change else None,
            superseded_by=row.superseded_by,
        )
        versions: dict[Language, Version] = {}
        version_rows = self._version_rows[row.id] = {}
        approvals: dict[int, Approval] = {}  # by row id: each comes once a version
        for _, _, version_row, revision_row, editor_name, live_row, editor_ids, approval in found:
            if approval is not None:
                approvals[approval.id] = Approval(approval.approver_id, approval.at, approval.cycle)
            if version_row.language in version_rows:
                continue
            version_rows[version_row.language] = version_row
            language = Language(version_row.language)
            versions[language] = Version(
                language=language,
                text=_text(revision_row),
                revision=version_row.revision,
                edited_by=revision_row.author_id,
                edited_by_name=editor_name,
                edited_at=revision_row.created_at,
                live_revision=version_row.live_revision,
                live_text=None if live_row is None else _text(live_row),
                editors=set(_ids(editor_ids)),
                pending_note=version_row.pending_correction_note,
            )
        release.versions = versions
        release.approvals = [approvals[key] for key in sorted(approvals)]
        return release

    # --- saving -----------------------------------------------------------------------

    def add(self, release: Release) -> int:
        """Insert a new release and everything it recorded; returns its id."""
        row = ReleaseRow(row_version=1)
        self._copy(release, row)
        self.session.add(row)
        flush(self.session)
        release.assign_id(row.id)
        self._rows[row.id] = row
        self._topics[row.id] = frozenset()
        self._version_rows[row.id] = {}
        self._append(release, row)
        return row.id

    def save(self, release: Release) -> None:
        """Write a loaded release back: its row (checked against concurrent writers by
        ``row_version``) and what it recorded since it was loaded."""
        assert release.id is not None
        row = self._rows[release.id]
        self._copy(release, row)
        # Every save bumps row_version, so a concurrent writer always loses cleanly.
        flag_modified(row, "updated_at")
        self._append(release, row)

    def _copy(self, release: Release, row: ReleaseRow) -> None:
        now = release.audit[-1].at if release.audit else release.created_at
        row.primary_language = release.primary_language.value
        row.state = release.state.value
        row.author_id = release.author_id
        row.number = release.number
        row.contact_name = release.contact.name
        row.contact_phone = release.contact.phone
        row.contact_email = release.contact.email
        row.publish_at = release.publish_at
        row.embargo_until = release.embargo_until
        row.published_at = release.published_at
        if release.new_corrections:
            row.correction_note = release.new_corrections[0].note
        row.withdrawal_reason = release.withdrawal_reason
        row.pending_change = release.pending_change.value if release.pending_change else ""
        row.superseded_by = release.superseded_by
        row.review_cycle = release.review_cycle
        row.created_at = release.created_at
        row.updated_at = now

    def _append(self, release: Release, row: ReleaseRow) -> None:
        release_id = row.id
        if self._topics[release_id] != release.topics:
            self.session.execute(
                delete(ReleaseTopicRow).where(ReleaseTopicRow.release_id == release_id)
            )
            self.session.add_all(
                ReleaseTopicRow(release_id=release_id, topic_id=t) for t in sorted(release.topics)
            )
            self._topics[release_id] = release.topics
        version_rows = self._version_rows[release_id]
        for language, version in release.versions.items():
            version_row = version_rows.get(language.value)
            if version_row is None:
                version_row = VersionRow(release_id=release_id, language=language.value)
                self.session.add(version_row)
                version_rows[language.value] = version_row
            version_row.revision = version.revision
            version_row.live_revision = version.live_revision
            version_row.pending_correction_note = version.pending_note
        # Appended, never read back in this transaction: sent with the COMMIT.
        append(
            self.session,
            RevisionRow,
            (
                {
                    "release_id": release_id,
                    "language": r.language.value,
                    "number": r.number,
                    "title": r.text.title,
                    "subtitle": r.text.subtitle,
                    "body": r.text.body,
                    "author_id": r.author_id,
                    "created_at": r.created_at,
                    "note": r.note,
                    "attachments": [p.to_json() for p in r.text.attachments],
                }
                for r in release.new_revisions
            ),
        )
        append(
            self.session,
            ApprovalRow,
            (
                {
                    "release_id": release_id,
                    "approver_id": a.approver_id,
                    "cycle": a.cycle,
                    "at": a.at,
                }
                for a in release.new_approvals
            ),
        )
        append(
            self.session,
            AuditRow,
            (
                {
                    "release_id": release_id,
                    "action": a.action,
                    "actor_id": a.actor_id if a.actor_id > 0 else None,
                    "actor_roles": ",".join(a.actor_roles),
                    "from_state": a.from_state.value if a.from_state else None,
                    "to_state": a.to_state.value,
                    "comment": a.comment,
                    "details": dict(a.details),
                    "at": a.at,
                }
                for a in release.audit
            ),
        )
        append(
            self.session,
            VersionCorrectionRow,
            (
                {
                    "release_id": release_id,
                    "language": c.language.value,
                    "note": c.note,
                    "published_at": c.published_at,
                    "revision": c.revision,
                }
                for c in release.new_corrections
            ),
        )
        add_to_outbox(self.session, release.events)
        release.new_revisions.clear()
        release.new_approvals.clear()
        release.new_corrections.clear()
        release.audit.clear()
        release.events.clear()

    # --- numbers and translation requests -----------------------------------------------

    def next_number(self, year: int) -> int:
        """The next sequence number of ``year``; the row stays locked until commit."""
        statement = (
            conflict_insert(self.session)(ReleaseNumberRow)
            .values(year=year, last_value=1)
            .on_conflict_do_update(
                index_elements=[ReleaseNumberRow.year],
                set_={"last_value": ReleaseNumberRow.last_value + 1},
            )
            .returning(ReleaseNumberRow.last_value)
        )
        return int(self.session.execute(statement).scalar_one())

    def claim_due(self, now: datetime) -> int | None:
        """The scheduled release due longest ago, its row locked for this transaction;
        rows another transaction holds are skipped, not waited for (PostgreSQL)."""
        query = (
            select(ReleaseRow)
            .where(ReleaseRow.state == ReleaseState.SCHEDULED.value, ReleaseRow.publish_at <= now)
            .order_by(ReleaseRow.publish_at, ReleaseRow.id)
            .limit(1)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        row = self.session.scalar(query)
        if row is None:
            return None
        self._rows[row.id] = row
        return row.id

    def translation_request(self, request_id: int) -> TranslationRequest:
        row = self.session.get(TranslationRequestRow, request_id)
        if row is None:
            raise NotFound("translation request", request_id)
        return _request(row)

    def translation_requests(self, release_id: int) -> list[TranslationRequest]:
        rows = self.session.scalars(
            select(TranslationRequestRow)
            .where(TranslationRequestRow.release_id == release_id)
            .order_by(TranslationRequestRow.id)
        )
        return [_request(row) for row in rows]

    def open_translation_counts(self) -> dict[int, int]:
        """Open requests per translator id."""
        rows = self.session.execute(
            select(TranslationRequestRow.translator_id, func.count())
            .where(TranslationRequestRow.state == TranslationState.OPEN.value)
            .group_by(TranslationRequestRow.translator_id)
        )
        return {translator_id: count for translator_id, count in rows.all()}

    def save_translation_request(self, request: TranslationRequest) -> int:
        row = (
            TranslationRequestRow()
            if request.id is None
            else self.session.get(TranslationRequestRow, request.id)
        )
        assert row is not None
        row.release_id = request.release_id
        row.source_language = request.source_language.value
        row.target_language = request.target_language.value
        row.translator_id = request.translator_id
        row.requested_by = request.requested_by
        row.state = request.state.value
        row.due_at = request.due_at
        row.created_at = request.created_at
        row.submitted_at = request.submitted_at
        self.session.add(row)
        flush(self.session)
        request.id = row.id
        return row.id


def corrections(session: Session, release_id: int) -> list[VersionCorrection]:
    """Every published correction of the release's versions, newest first."""
    rows = session.scalars(
        select(VersionCorrectionRow)
        .where(VersionCorrectionRow.release_id == release_id)
        .order_by(VersionCorrectionRow.published_at.desc(), VersionCorrectionRow.id.desc())
    )
    return [
        VersionCorrection(Language(r.language), r.note, r.published_at, r.revision) for r in rows
    ]


def correction_notes(
    session: Session, release_id: int, language: str | Language
) -> list[tuple[datetime, str]]:
    """When each published correction of the release's ``language`` version went live,
    and its public note, newest first: what a message about that version lists."""
    rows = session.execute(
        select(VersionCorrectionRow.published_at, VersionCorrectionRow.note)
        .where(
            VersionCorrectionRow.release_id == release_id,
            VersionCorrectionRow.language == str(language),
        )
        .order_by(VersionCorrectionRow.published_at.desc(), VersionCorrectionRow.id.desc())
    )
    return [(published_at, note) for published_at, note in rows]


def _ids(joined: str | None) -> frozenset[int]:
    """The ids an ``aggregate_strings(…, ",")`` column joined (NULL for none)."""
    return frozenset(int(i) for i in joined.split(",")) if joined else frozenset()


def _text(row: RevisionRow) -> Text:
    return revision_text(row.title, row.body, row.subtitle, row.attachments)


def revision_text(
    title: str, body: str, subtitle: str, attachments: list[dict[str, str]] | None
) -> Text:
    """A revision's text from its columns."""
    placements = tuple(Placement.from_json(p) for p in attachments or ())
    return Text(title=title, body=body, subtitle=subtitle, attachments=placements)


def _request(row: TranslationRequestRow) -> TranslationRequest:
    return TranslationRequest(
        id=row.id,
        release_id=row.release_id,
        source_language=Language(row.source_language),
        target_language=Language(row.target_language),
        translator_id=row.translator_id,
        requested_by=row.requested_by,
        due_at=row.due_at,
        created_at=row.created_at,
        state=TranslationState(row.state),
        submitted_at=row.submitted_at,
    )
