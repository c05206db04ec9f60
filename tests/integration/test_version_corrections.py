"""Corrections per language version against a real database: each version keeps its own
notes, every one of them, and nobody reads one version's note on the other's page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.integration.test_release_services import (
    BODY_EN,
    BODY_KO,
    add_english,
    draft,
    snapshot,
    statements_sent,
)
from workflow import outbox
from workflow.clock import FrozenClock
from workflow.db.releases import correction_notes
from workflow.db.tables import ReleaseRow
from workflow.domain import events as ev
from workflow.domain.errors import ValidationFailed
from workflow.domain.states import ReleaseState
from workflow.domain.values import Language
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.public import public_release, public_releases
from workflow.services.queries.staff_release import get_release

S = ReleaseState
KO, EN = Language.KO, Language.EN
KO_NOTE = "제목의 날짜를 바로잡았습니다."
EN_NOTE = "The date in the title was corrected."


def published(ctx: ServiceContext, staff: Staff) -> int:
    """Published in Korean and English, both live at revision 1."""
    release_id = draft(ctx, staff)
    add_english(ctx, staff, release_id)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    return release_id


def correct(
    ctx: ServiceContext, staff: Staff, release_id: int, language: str, title: str, note: str
) -> None:
    """A correction of one version, proposed and approved."""
    base = get_release(ctx, release_id).versions[Language(language)].revision
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language=language,
        title=title,
        body=BODY_KO if language == "ko" else BODY_EN,
        note=note,
        base_revision=base,
    )
    svc.approve_release(ctx, staff.approver, release_id)


def published_events(ctx: ServiceContext, clock: FrozenClock) -> list[ev.CorrectionPublished]:
    with ctx.uow() as uow:
        return [
            e.event
            for e in outbox.pending(uow.session, clock.now())
            if isinstance(e.event, ev.CorrectionPublished)
        ]


def test_a_korean_then_an_english_correction_each_stay_with_their_version(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = published(ctx, staff)
    clock.advance(hours=1)
    first = clock.now()
    correct(ctx, staff, release_id, "ko", "정정: 전문가 회의 개최", KO_NOTE)
    clock.advance(days=1)
    second = clock.now()
    correct(ctx, staff, release_id, "en", "Experts Met (corrected)", EN_NOTE)

    with ctx.uow() as uow:
        assert correction_notes(uow.session, release_id, "ko") == [(first, KO_NOTE)]
        assert correction_notes(uow.session, release_id, Language.EN) == [(second, EN_NOTE)]
    staff_view = get_release(ctx, release_id)
    assert [(c.note, c.revision) for c in staff_view.versions[KO].corrections] == [(KO_NOTE, 2)]
    assert [(c.note, c.revision) for c in staff_view.versions[EN].corrections] == [(EN_NOTE, 2)]
    number = staff_view.number
    assert number is not None
    with statements_sent(ctx) as statements:
        public = public_release(ctx, number)
    assert len(statements) == 1, "the public page is still read in one statement"
    assert [(c.published_at, c.note) for c in public.versions[KO].corrections] == [(first, KO_NOTE)]
    assert [(c.published_at, c.note) for c in public.versions[EN].corrections] == [
        (second, EN_NOTE)
    ]
    events = published_events(ctx, clock)
    assert [(e.languages, e.note, e.notes) for e in events] == [
        (["ko"], KO_NOTE, {"ko": KO_NOTE}),
        (["en"], EN_NOTE, {"en": EN_NOTE}),
    ]


def test_every_correction_of_a_version_stays_listed_newest_first(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = published(ctx, staff)
    clock.advance(hours=1)
    first = clock.now()
    correct(ctx, staff, release_id, "ko", "정정: 전문가 회의 개최", KO_NOTE)
    clock.advance(days=2)
    second = clock.now()
    correct(ctx, staff, release_id, "ko", "재정정: 전문가 회의 개최", "참석자 수를 고쳤습니다.")
    with ctx.uow() as uow:
        assert correction_notes(uow.session, release_id, "ko") == [
            (second, "참석자 수를 고쳤습니다."),
            (first, KO_NOTE),
        ]
        assert correction_notes(uow.session, release_id, "en") == []
        # The release's old column still has the newest note for readers not moved yet.
        row = uow.session.get(ReleaseRow, release_id)
        assert row is not None and row.correction_note == "참석자 수를 고쳤습니다."
    staff_view = get_release(ctx, release_id)
    assert [c.revision for c in staff_view.versions[KO].corrections] == [3, 2]


def test_a_save_correcting_both_versions_proposes_each_note_and_publishes_both(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = published(ctx, staff)
    outcome = svc.save_edits(
        ctx,
        staff.officer,
        release_id,
        texts={
            "ko": svc.VersionEdit("정정: 전문가 회의 개최", BODY_KO, base_revision=1),
            "en": svc.VersionEdit("Experts Met (corrected)", BODY_EN, base_revision=1),
        },
        notes={"ko": KO_NOTE, "en": EN_NOTE},
    )
    assert outcome.state is S.CORRECTION_IN_REVIEW
    review = get_release(ctx, release_id)
    assert (review.versions[KO].pending_note, review.versions[EN].pending_note) == (
        KO_NOTE,
        EN_NOTE,
    )
    assert review.pending_correction_note == KO_NOTE  # the original's first
    with ctx.uow() as uow:
        [proposed] = [
            e.event
            for e in outbox.pending(uow.session, clock.now())
            if isinstance(e.event, ev.CorrectionProposed)
        ]
    assert isinstance(proposed, ev.CorrectionProposed)
    assert proposed.notes == {"ko": KO_NOTE, "en": EN_NOTE} and proposed.note == KO_NOTE

    svc.approve_release(ctx, staff.approver, release_id)
    after = get_release(ctx, release_id)
    assert {lang: v.pending_note for lang, v in after.versions.items()} == {KO: "", EN: ""}
    assert {lang: [c.note for c in v.corrections] for lang, v in after.versions.items()} == {
        KO: [KO_NOTE],
        EN: [EN_NOTE],
    }
    [event] = published_events(ctx, clock)
    assert event.languages == ["en", "ko"] and event.notes == {"ko": KO_NOTE, "en": EN_NOTE}


def test_a_changed_live_version_without_its_note_saves_nothing(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published(ctx, staff)
    before = snapshot(ctx)
    with pytest.raises(ValidationFailed, match="correction of the English text needs a public"):
        svc.save_edits(
            ctx,
            staff.officer,
            release_id,
            texts={
                "ko": svc.VersionEdit("정정: 전문가 회의 개최", BODY_KO, base_revision=1),
                "en": svc.VersionEdit("Experts Met (corrected)", BODY_EN, base_revision=1),
            },
            notes={"ko": KO_NOTE},
        )
    assert snapshot(ctx) == before


def test_the_other_version_joins_a_correction_in_review_with_its_own_note(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published(ctx, staff)
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="정정: 전문가 회의 개최",
        body=BODY_KO,
        note=KO_NOTE,
        base_revision=1,
    )

    def edit_english(note: str = "") -> None:
        svc.edit_version(
            ctx,
            staff.officer,
            release_id,
            language="en",
            title="Experts Met (corrected)",
            body=BODY_EN,
            base_revision=1,
            note=note,
        )

    with pytest.raises(ValidationFailed, match="English text needs a public note"):
        edit_english()
    edit_english(EN_NOTE)
    svc.approve_release(ctx, staff.approver, release_id)
    after = get_release(ctx, release_id)
    assert [c.note for c in after.versions[KO].corrections] == [KO_NOTE]
    assert [c.note for c in after.versions[EN].corrections] == [EN_NOTE]


def test_the_public_list_marks_as_corrected_only_the_version_that_was(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = published(ctx, staff)
    correct(ctx, staff, release_id, "ko", "정정: 전문가 회의 개최", KO_NOTE)
    assert [i.corrected for i in public_releases(ctx, language=KO).items] == [True]
    assert [i.corrected for i in public_releases(ctx, language=EN).items] == [False]
    assert [i.corrected for i in public_releases(ctx).items] == [True]


def test_a_rejected_correction_leaves_no_note_anywhere(ctx: ServiceContext, staff: Staff) -> None:
    release_id = published(ctx, staff)
    svc.correct_release(
        ctx,
        staff.officer,
        release_id,
        language="en",
        title="Not needed",
        body=BODY_EN,
        note=EN_NOTE,
        base_revision=1,
    )
    svc.reject_release(ctx, staff.approver, release_id, "The title was right.")
    after = get_release(ctx, release_id)
    assert after.state is S.PUBLISHED and after.pending_correction_note == ""
    assert all(not v.corrections and not v.pending_note for v in after.versions.values())
    with ctx.uow() as uow:
        assert correction_notes(uow.session, release_id, "en") == []
        assert (
            uow.session.scalar(
                select(ReleaseRow.correction_note).where(ReleaseRow.id == release_id)
            )
            == ""
        )
