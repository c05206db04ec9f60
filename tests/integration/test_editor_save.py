"""The editor's save (``releases.save_edits``) against a real database: the same writes as
the separate commands it combines, in one transaction, and nothing at all when any part
of it is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.integration.test_release_services import BODY_EN, BODY_KO, add_english, draft, snapshot
from workflow.db.tables import (
    AuditRow,
    OutboxRow,
    ReleaseRow,
    RevisionRow,
    VersionCorrectionRow,
    VersionRow,
)
from workflow.domain.errors import DomainError, StaleEdit, ValidationFailed
from workflow.domain.states import ReleaseState
from workflow.domain.values import Contact, Language
from workflow.services import queries
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

S = ReleaseState
NEW_CONTACT = Contact.checked("Yoon Ji-woo", "+82-2-2100-7001", "officer@newsroom.example")
Texts = dict[Language, svc.VersionEdit]


def published(ctx: ServiceContext, staff: Staff) -> int:
    """A release published in Korean and English, both live."""
    release_id = draft(ctx, staff)
    add_english(ctx, staff, release_id)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    return release_id


def published_in_korean(ctx: ServiceContext, staff: Staff) -> int:
    """A release published in Korean only."""
    release_id = draft(ctx, staff)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    return release_id


def two_languages(ctx: ServiceContext, staff: Staff) -> int:
    release_id = draft(ctx, staff)
    add_english(ctx, staff, release_id)
    return release_id


def one_command_each(
    ctx: ServiceContext,
    who: int,
    release_id: int,
    texts: Texts,
    notes: Mapping[Language, str],
    topics: Iterable[int] | None,
    contact: Contact | None,
) -> None:
    """The same changes as separate commands, each its own transaction: the writes
    ``save_edits`` must add up to."""
    release = queries.get_release(ctx, release_id, who)

    def live(language: Language) -> bool:
        version = release.versions.get(language)
        return version is not None and version.live_revision is not None

    correcting = release.state is S.PUBLISHED
    in_order = [lang for lang in Language if lang in texts]
    for language in sorted(in_order, key=lambda lang: not live(lang)):
        e = texts[language]
        fields = {"title": e.title, "body": e.body, "subtitle": e.subtitle}
        if correcting and live(language):
            svc.correct_release(
                ctx,
                who,
                release_id,
                language=language,
                note=notes[language],
                base_revision=e.base_revision,
                **fields,
            )
            correcting = False
        else:
            svc.edit_version(
                ctx,
                who,
                release_id,
                language=language,
                base_revision=e.base_revision,
                note=notes[language] if live(language) else "",
                **fields,
            )
    if topics is not None or contact is not None:
        svc.update_details(ctx, who, release_id, topics=topics, contact=contact)


def written(ctx: ServiceContext, release_id: int) -> dict[str, Any]:
    """What a press office sees of a release, without its ids: its row, versions,
    revisions, audit trail and outbox events."""
    topics = queries.get_release(ctx, release_id).topics
    with ctx.engine.connect() as conn:
        row = conn.execute(select(ReleaseRow).where(ReleaseRow.id == release_id)).one()
        return {
            "release": (
                row.state,
                row.contact_name,
                row.contact_phone,
                row.contact_email,
                row.correction_note,
                row.review_cycle,
                row.updated_at,
            ),
            "topics": topics,
            "versions": conn.execute(
                select(
                    VersionRow.language,
                    VersionRow.revision,
                    VersionRow.live_revision,
                    VersionRow.pending_correction_note,
                )
                .where(VersionRow.release_id == release_id)
                .order_by(VersionRow.language)
            ).all(),
            "corrections": conn.execute(
                select(
                    VersionCorrectionRow.language,
                    VersionCorrectionRow.note,
                    VersionCorrectionRow.published_at,
                    VersionCorrectionRow.revision,
                )
                .where(VersionCorrectionRow.release_id == release_id)
                .order_by(VersionCorrectionRow.id)
            ).all(),
            "revisions": conn.execute(
                select(
                    RevisionRow.language,
                    RevisionRow.number,
                    RevisionRow.title,
                    RevisionRow.subtitle,
                    RevisionRow.body,
                    RevisionRow.author_id,
                    RevisionRow.created_at,
                    RevisionRow.note,
                )
                .where(RevisionRow.release_id == release_id)
                .order_by(RevisionRow.id)
            ).all(),
            "audit": [
                (*entry, _without_ids(details))
                for *entry, details in conn.execute(
                    select(
                        AuditRow.action,
                        AuditRow.actor_id,
                        AuditRow.actor_roles,
                        AuditRow.from_state,
                        AuditRow.to_state,
                        AuditRow.comment,
                        AuditRow.at,
                        AuditRow.details,
                    )
                    .where(AuditRow.release_id == release_id)
                    .order_by(AuditRow.id)
                )
            ],
            "events": [
                (event_type, _without_ids(payload), created_at)
                for event_type, payload, created_at in conn.execute(
                    select(OutboxRow.event_type, OutboxRow.payload, OutboxRow.created_at)
                    .where(OutboxRow.release_id == release_id)
                    .order_by(OutboxRow.id)
                )
            ],
        }


def _without_ids(fields: dict[str, Any]) -> dict[str, Any]:
    # The release's number differs between the two releases compared, as their ids do.
    return {k: v for k, v in fields.items() if k not in {"event_id", "release_id", "number"}}


def texts_of(ctx: ServiceContext, release_id: int) -> dict[Language, tuple[int, str]]:
    release = queries.get_release(ctx, release_id)
    return {lang: (v.revision, v.title) for lang, v in release.versions.items()}


def in_review(ctx: ServiceContext, staff: Staff) -> int:
    """Submitted in two languages, with one approval of two."""
    ctx.settings.required_approvals = 2
    release_id = two_languages(ctx, staff)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    return release_id


SCENARIOS: dict[str, tuple[Callable[[ServiceContext, Staff], int], Texts, bool]] = {
    # A release published in Korean: the Korean text is corrected (its note public), the
    # English one then added as part of the same amendment. Its details cannot change.
    "published": (
        published_in_korean,
        {
            Language.EN: svc.VersionEdit("Experts Met", BODY_EN, base_revision=0),
            Language.KO: svc.VersionEdit("정정: 전문가 회의 개최", BODY_KO, base_revision=1),
        },
        False,
    ),
    # A draft: the Korean text edited and the English one added.
    "draft": (
        draft,
        {
            Language.KO: svc.VersionEdit("전문가 회의 개최 (수정)", BODY_KO, base_revision=1),
            Language.EN: svc.VersionEdit("Experts Meet", BODY_EN, base_revision=0, subtitle="x"),
        },
        True,
    ),
    # In review: the edits void the approval given, and the details change too.
    "in_review": (
        in_review,
        {
            Language.KO: svc.VersionEdit("전문가 회의 개최", BODY_KO + "\n3. 추가\n", 1),
            Language.EN: svc.VersionEdit("Experts Meet", BODY_EN + "\n3. More\n", 1),
        },
        True,
    ),
}
EXPECTED = {
    "published": (S.CORRECTION_IN_REVIEW, ["correct", "edit"]),
    "draft": (S.DRAFT, ["edit", "edit", "update_details"]),
    "in_review": (S.IN_REVIEW, ["edit", "edit", "update_details"]),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_save_writes_what_the_separate_commands_did(
    ctx: ServiceContext, staff: Staff, scenario: str
) -> None:
    make, texts, with_details = SCENARIOS[scenario]
    notes = {Language.KO: "제목을 바로잡았습니다.", Language.EN: "The title was corrected."}
    topics = [staff.peninsula] if with_details else None
    contact = NEW_CONTACT if with_details else None
    separately, together = make(ctx, staff), make(ctx, staff)
    one_command_each(ctx, staff.officer, separately, texts, notes, topics, contact)
    outcome = svc.save_edits(
        ctx, staff.officer, together, texts=texts, notes=notes, topics=topics, contact=contact
    )
    assert written(ctx, together) == written(ctx, separately)
    state, actions = EXPECTED[scenario]
    assert outcome.state is state
    assert queries.get_release(ctx, together).state is state
    trail = [a.action for a in queries.audit_trail(ctx, together)]
    assert trail[-len(actions) :] == actions


def test_a_stale_second_language_saves_nothing(ctx: ServiceContext, staff: Staff) -> None:
    release_id = two_languages(ctx, staff)
    svc.edit_version(
        ctx,
        staff.officer,
        release_id,
        language="en",
        title="Experts Met",
        body=BODY_EN,
        base_revision=1,
    )
    before, texts = snapshot(ctx), texts_of(ctx, release_id)
    with pytest.raises(StaleEdit):
        svc.save_edits(
            ctx,
            staff.author,
            release_id,
            texts={
                "ko": svc.VersionEdit("고친 제목", BODY_KO, base_revision=1),
                "en": svc.VersionEdit("Experts meet again", BODY_EN, base_revision=1),
            },
            topics=[staff.peninsula],
        )
    assert (
        texts_of(ctx, release_id)
        == texts
        == {
            Language.KO: (1, "전문가 회의 개최"),
            Language.EN: (2, "Experts Met"),
        }
    )
    assert snapshot(ctx) == before


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"topics": [999]}, ValidationFailed),  # no such topic
        ({"texts": {"en": svc.VersionEdit("", BODY_EN, base_revision=1)}}, ValidationFailed),
        ({"texts": {"fr": svc.VersionEdit("Réunion", BODY_EN, base_revision=0)}}, ValidationFailed),
    ],
    ids=["unknown-topic", "empty-title", "unknown-language"],
)
def test_a_correction_refused_in_any_part_saves_nothing(
    ctx: ServiceContext, staff: Staff, change: dict[str, Any], refusal: type[DomainError]
) -> None:
    release_id = published(ctx, staff)
    before = snapshot(ctx)
    texts = {"ko": svc.VersionEdit("정정: 전문가 회의 개최", BODY_KO, base_revision=1)}
    texts.update(change.pop("texts", {}))
    with pytest.raises(refusal):
        svc.save_edits(
            ctx,
            staff.author,
            release_id,
            texts=texts,
            notes={"ko": "제목을 바로잡았습니다.", "en": "The title was corrected."},
            **change,
        )
    assert snapshot(ctx) == before
    release = queries.get_release(ctx, release_id)
    assert release.state is S.PUBLISHED
    assert release.versions[Language.KO].title == "전문가 회의 개최"


def test_an_empty_save_is_refused(ctx: ServiceContext, staff: Staff) -> None:
    release_id = draft(ctx, staff)
    before = snapshot(ctx)
    with pytest.raises(ValidationFailed, match="nothing to save"):
        svc.save_edits(ctx, staff.author, release_id, texts={})
    assert snapshot(ctx) == before
