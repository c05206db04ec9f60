"""The rules of the workflow that the matrix alone does not show."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.builders import (
    APPROVER,
    APPROVER_2,
    AUTHOR,
    EN_TEXT,
    KO_TEXT,
    OFFICER,
    T0,
    TRANSLATOR,
    english_assignment,
    new_release,
    release_in,
)
from workflow.domain import events as ev
from workflow.domain.diff import unified_diff
from workflow.domain.errors import (
    Conflict,
    InvalidTransition,
    PermissionDenied,
    StaleEdit,
    ValidationFailed,
)
from workflow.domain.release import REQUEST_TRANSLATION
from workflow.domain.states import FINAL_STATES, TRANSITIONS, Action, ReleaseState, Role
from workflow.domain.users import SCHEDULER, NewUser, User
from workflow.domain.values import Language, Text

S = ReleaseState
OFFICER_APPROVER = User(7, "Han Ye-jin", frozenset({Role.PRESS_OFFICER, Role.APPROVER}))


def test_every_state_is_reachable_from_draft() -> None:
    reached, frontier = {S.DRAFT}, [S.DRAFT]
    while frontier:
        state = frontier.pop()
        for (source, _), transition in TRANSITIONS.items():
            if source is state and transition.target not in reached:
                reached.add(transition.target)
                frontier.append(transition.target)
    assert reached == set(ReleaseState)
    assert {S.WITHDRAWN, S.UNPUBLISHED, S.SUPERSEDED, S.ABANDONED} == FINAL_STATES


class TestFourEyes:
    def test_an_author_who_is_also_an_approver_cannot_approve_their_release(self) -> None:
        release = new_release()
        release.author_id = OFFICER_APPROVER.id
        release.submit(AUTHOR, T0)
        with pytest.raises(PermissionDenied, match="authors cannot approve their own release"):
            release.approve(OFFICER_APPROVER, T0, required=1)

    def test_an_approver_who_edited_the_text_cannot_approve_it(self) -> None:
        release = release_in(S.IN_REVIEW)
        ko = release.versions[Language.KO]
        release.edit(
            OFFICER_APPROVER, Language.KO, Text.checked("고친 제목", ko.text.body), ko.revision, T0
        )
        with pytest.raises(PermissionDenied, match="you edited this text"):
            release.approve(OFFICER_APPROVER, T0, required=1)
        assert Action.APPROVE not in release.available_actions(OFFICER_APPROVER)
        release.approve(APPROVER, T0, required=1)
        assert release.state is S.APPROVED

    def test_the_same_approver_cannot_approve_twice(self) -> None:
        release = release_in(S.IN_REVIEW)
        release.approve(APPROVER, T0, required=2)
        assert Action.APPROVE not in release.available_actions(APPROVER)
        assert Action.APPROVE in release.available_actions(APPROVER_2)
        with pytest.raises(Conflict, match="already approved"):
            release.approve(APPROVER, T0, required=2)
        assert release.state is S.IN_REVIEW


class TestApprovals:
    def test_two_required_approvals_from_distinct_approvers(self) -> None:
        release = release_in(S.IN_REVIEW)
        assert release.approve(APPROVER, T0, required=2) is False
        assert release.state is S.IN_REVIEW
        assert release.audit[-1].to_state is S.IN_REVIEW
        assert release.approve(APPROVER_2, T0, required=2) is True
        assert release.state is S.APPROVED
        assert [type(e) for e in release.events[-3:]] == [
            ev.ApprovalGiven,
            ev.ApprovalGiven,
            ev.ReleaseApproved,
        ]

    def test_an_edit_after_an_approval_voids_it(self) -> None:
        release = release_in(S.IN_REVIEW)
        release.approve(APPROVER, T0, required=2)
        ko = release.versions[Language.KO]
        release.edit(AUTHOR, Language.KO, Text.checked("새 제목", ko.text.body), ko.revision, T0)
        assert release.approvals == []
        edited = release.events[-1]
        assert isinstance(edited, ev.ReleaseEdited) and edited.approvals_voided == 1
        assert edited.previous_state == "in_review"
        release.approve(APPROVER_2, T0, required=2)
        assert release.state is S.IN_REVIEW, "one fresh approval of two"

    def test_editing_a_scheduled_release_sends_it_back_to_review(self) -> None:
        release = release_in(S.SCHEDULED)
        release.schedule(
            OFFICER, T0 + timedelta(hours=1), T0, embargo_until=T0 + timedelta(hours=2)
        )
        ko = release.versions[Language.KO]
        release.edit(AUTHOR, Language.KO, Text.checked("늦은 수정", ko.text.body), ko.revision, T0)
        assert release.state is S.IN_REVIEW
        # As an unscheduling does: published at once after approval, it is public at once.
        assert release.publish_at is None and release.embargo_until is None
        unscheduled = release.events[-1]
        assert isinstance(unscheduled, ev.ReleaseUnscheduled)
        assert unscheduled.embargo_until == (T0 + timedelta(hours=2)).isoformat()
        assert (
            release.audit[-1].details["cancelled_schedule"] == (T0 + timedelta(hours=1)).isoformat()
        )
        assert isinstance(release.events[-1], ev.ReleaseUnscheduled)
        edited = release.events[-2]
        assert isinstance(edited, ev.ReleaseEdited) and edited.previous_state == "scheduled"


class TestStaleEdits:
    def test_a_save_from_an_old_revision_is_refused_and_names_the_current_one(self) -> None:
        release = new_release()
        release.edit(OFFICER, Language.KO, Text.checked("두 번째", "본문"), 1, T0)
        with pytest.raises(StaleEdit) as stale:
            release.edit(AUTHOR, Language.KO, Text.checked("덮어쓰기", "본문"), 1, T0)
        assert stale.value.current == 2
        assert (
            "current revision is 2" in stale.value.message and OFFICER.name in stale.value.message
        )
        assert release.versions[Language.KO].text.title == "두 번째"

    def test_a_new_version_starts_from_revision_zero(self) -> None:
        release = new_release()
        with pytest.raises(ValidationFailed, match="start from revision 0"):
            release.edit(AUTHOR, Language.EN, EN_TEXT, 3, T0)


class TestTranslation:
    def test_a_translator_edits_only_the_language_assigned_to_them(self) -> None:
        release = new_release()
        assignment = english_assignment(release)
        with pytest.raises(PermissionDenied, match="assigned to them"):
            release.edit(TRANSLATOR, Language.KO, KO_TEXT, 1, T0, assignment=assignment)
        with pytest.raises(PermissionDenied, match="assigned to them"):
            release.edit(TRANSLATOR, Language.EN, EN_TEXT, 0, T0)
        assert Action.EDIT not in release.available_actions(TRANSLATOR)
        assert Action.EDIT in release.available_actions(TRANSLATOR, [assignment])
        revision = release.submit_translation(TRANSLATOR, assignment, EN_TEXT, 0, T0)
        assert Action.EDIT not in release.available_actions(TRANSLATOR, [assignment])
        assert revision.number == 1 and revision.author_id == TRANSLATOR.id
        assert isinstance(release.events[-1], ev.TranslationSubmitted)
        with pytest.raises(PermissionDenied):  # the request is fulfilled
            release.edit(TRANSLATOR, Language.EN, EN_TEXT, 1, T0, assignment=assignment)

    def test_a_translation_after_publication_is_reviewed_before_it_goes_live(self) -> None:
        release = release_in(S.PUBLISHED)
        assignment = english_assignment(release)
        release.submit_translation(TRANSLATOR, assignment, EN_TEXT, 0, T0)
        assert release.state is S.CORRECTION_IN_REVIEW
        assert release.is_public(T0), "the Korean text stays public meanwhile"
        assert not release.versions[Language.EN].is_live
        release.approve(APPROVER, T0, required=1)
        assert release.state is S.PUBLISHED
        assert release.versions[Language.EN].live_text == EN_TEXT
        published = release.events[-1]
        assert isinstance(published, ev.TranslationPublished)
        assert published.languages == ["en"] and release.new_corrections == []

    def test_only_the_assigned_translator_submits_and_only_once(self) -> None:
        release = new_release()
        assignment = english_assignment(release)
        with pytest.raises(PermissionDenied, match="only the assigned translator"):
            release.submit_translation(AUTHOR, assignment, EN_TEXT, 0, T0)
        release.submit_translation(TRANSLATOR, assignment, EN_TEXT, 0, T0)
        with pytest.raises(Conflict, match="already submitted"):
            release.submit_translation(TRANSLATOR, assignment, EN_TEXT, 1, T0)

    def test_request_rules(self) -> None:
        release = new_release()
        with pytest.raises(ValidationFailed, match="differ from the original"):
            release.request_translation(AUTHOR, Language.KO, TRANSLATOR, T0 + timedelta(1), T0)
        with pytest.raises(ValidationFailed, match="not an active translator"):
            release.request_translation(AUTHOR, Language.EN, APPROVER, T0 + timedelta(1), T0)
        with pytest.raises(PermissionDenied, match="only press officers request"):
            release.request_translation(APPROVER, Language.EN, TRANSLATOR, T0 + timedelta(1), T0)
        first = english_assignment(release)
        with pytest.raises(Conflict, match="already requested"):
            release.request_translation(
                AUTHOR, Language.EN, TRANSLATOR, T0 + timedelta(1), T0, open_requests=[first]
            )

    def test_a_language_already_live_is_corrected_not_translated(self) -> None:
        release = new_release()
        release.edit(AUTHOR, Language.EN, EN_TEXT, 0, T0)
        release.submit(AUTHOR, T0)
        release.approve(APPROVER, T0, required=1)
        release.publish(AUTHOR, T0, number="2026-0001")
        audited = len(release.audit)
        with pytest.raises(Conflict, match="already live: change it through a correction"):
            release.request_translation(AUTHOR, Language.EN, TRANSLATOR, T0 + timedelta(1), T0)
        assert len(release.audit) == audited
        offered = {c.action: c.refusal for c in release.choices(AUTHOR)}
        assert offered[REQUEST_TRANSLATION] is not None, "the button says why, not offered"
        assert "change it through a correction" in offered[REQUEST_TRANSLATION]

    def test_a_language_not_yet_live_may_still_be_translated_after_publication(self) -> None:
        release = release_in(S.PUBLISHED)
        release.edit(AUTHOR, Language.EN, EN_TEXT, 0, T0)  # a draft, not live
        request = release.request_translation(
            AUTHOR, Language.EN, TRANSLATOR, T0 + timedelta(1), T0
        )
        assert request.target_language is Language.EN


class TestCorrections:
    def test_live_text_stays_until_the_correction_is_approved(self) -> None:
        release = release_in(S.PUBLISHED)
        ko = release.versions[Language.KO]
        original = ko.live_text
        release.correct(
            OFFICER,
            Language.KO,
            Text.checked("정정된 제목", ko.text.body),
            "The date in paragraph 1 was corrected.",
            ko.revision,
            T0,
        )
        assert release.state is S.CORRECTION_IN_REVIEW
        assert release.versions[Language.KO].live_text == original
        with pytest.raises(PermissionDenied, match="you edited this text"):
            release.approve(
                User(OFFICER.id, OFFICER.name, frozenset({Role.APPROVER})), T0, required=1
            )
        release.approve(APPROVER, T0, required=1)
        assert release.state is S.PUBLISHED
        assert release.versions[Language.KO].live_text.title == "정정된 제목"  # type: ignore[union-attr]
        assert [c.note for c in release.new_corrections] == [
            "The date in paragraph 1 was corrected."
        ]
        published = release.events[-1]
        assert isinstance(published, ev.CorrectionPublished) and published.number == "2026-0001"

    def test_a_rejected_correction_restores_the_live_text_as_a_new_revision(self) -> None:
        release = release_in(S.CORRECTION_IN_REVIEW)
        live = release.versions[Language.KO].live_text
        release.reject(APPROVER, "Not needed.", T0)
        ko = release.versions[Language.KO]
        assert release.state is S.PUBLISHED
        assert ko.text == live and ko.live_revision == ko.revision == 3
        assert release.pending_notes == {}

    def test_live_text_cannot_be_edited_without_a_public_note(self) -> None:
        release = release_in(S.PUBLISHED)
        ko = release.versions[Language.KO]
        with pytest.raises(InvalidTransition, match="propose a correction"):
            release.edit(AUTHOR, Language.KO, KO_TEXT, ko.revision, T0)
        with pytest.raises(ValidationFailed, match="note"):
            release.correct(AUTHOR, Language.KO, KO_TEXT, "  ", ko.revision, T0)


class TestScheduling:
    def test_the_scheduler_publishes_only_when_due_and_records_both_times(self) -> None:
        release = release_in(S.SCHEDULED)
        due = T0 + timedelta(hours=1)
        with pytest.raises(InvalidTransition, match="not due until"):
            release.publish(SCHEDULER, due - timedelta(seconds=1), number="2026-0007")
        late = due + timedelta(minutes=3)
        release.publish(SCHEDULER, late, number="2026-0007")
        assert release.state is S.PUBLISHED and release.number == "2026-0007"
        assert release.audit[-1].details["scheduled_for"] == due.isoformat()
        assert release.audit[-1].details["published_at"] == late.isoformat()
        assert release.audit[-1].actor_roles == ("scheduler",)

    def test_a_press_officer_cannot_publish_a_scheduled_release_early(self) -> None:
        release = release_in(S.SCHEDULED)
        with pytest.raises(PermissionDenied, match="only the scheduler"):
            release.publish(AUTHOR, T0, number="2026-0001")

    def test_schedule_validation(self) -> None:
        release = release_in(S.APPROVED)
        with pytest.raises(ValidationFailed, match="future"):
            release.schedule(AUTHOR, T0 - timedelta(minutes=1), T0)
        with pytest.raises(ValidationFailed, match="embargo"):
            release.schedule(
                AUTHOR, T0 + timedelta(hours=2), T0, embargo_until=T0 + timedelta(hours=1)
            )
        release.schedule(AUTHOR, T0 + timedelta(hours=2), T0, embargo_until=T0 + timedelta(hours=2))
        assert not release.is_public(T0)

    def test_an_embargoed_release_is_not_public_before_its_time(self) -> None:
        release = release_in(S.APPROVED)
        release.schedule(AUTHOR, T0 + timedelta(hours=1), T0, embargo_until=T0 + timedelta(hours=3))
        release.publish(SCHEDULER, T0 + timedelta(hours=1), number="2026-0002")
        assert not release.is_public(T0 + timedelta(hours=2))
        assert release.is_public(T0 + timedelta(hours=3))

    def test_the_number_is_kept_on_later_publications(self) -> None:
        release = release_in(S.PUBLISHED)
        assert release.number == "2026-0001"


class TestWithdrawAndAbandon:
    def test_withdrawal_needs_a_reason_and_keeps_it(self) -> None:
        release = release_in(S.PUBLISHED)
        with pytest.raises(ValidationFailed, match="comment is required"):
            release.withdraw(APPROVER, " ", T0)
        release.withdraw(APPROVER, "Superseded by release 2026-0002.", T0)
        assert release.withdrawal_reason == "Superseded by release 2026-0002."
        assert not release.is_public(T0)
        withdrawn = release.events[-1]
        assert isinstance(withdrawn, ev.ReleaseWithdrawn) and withdrawn.was_public

    def test_only_the_author_abandons(self) -> None:
        release = new_release()
        with pytest.raises(PermissionDenied, match="only the author"):
            release.abandon(OFFICER, T0)

    def test_a_deactivated_user_cannot_act(self) -> None:
        release = new_release()
        gone = User(AUTHOR.id, AUTHOR.name, AUTHOR.roles, active=False)
        with pytest.raises(PermissionDenied, match="deactivated"):
            release.submit(gone, T0)
        assert release.available_actions(gone) == []


class TestInput:
    @pytest.mark.parametrize(
        "title", ["Line\nbreak", "Carriage\rreturn", "Tab\there", "Nul\x00", "", "   ", "x" * 301]
    )
    def test_titles_are_one_line_of_text(self, title: str) -> None:
        with pytest.raises(ValidationFailed) as refused:
            Text.checked(title, "body")
        assert refused.value.field == "title"

    def test_bodies_keep_their_markdown_but_refuse_control_bytes(self) -> None:
        assert Text.checked("T", "1. a\r\n   - b").body == "1. a\n   - b"
        with pytest.raises(ValidationFailed, match="control"):
            Text.checked("T", "bad\x00body")

    @pytest.mark.parametrize(
        "email",
        [
            "no-at-sign",
            "a@b",
            "x@@y.example",
            "a b@c.example",
            "evil@example.com\r\nBcc: x@y.example",
        ],
    )
    def test_malformed_emails_are_refused(self, email: str) -> None:
        with pytest.raises(ValidationFailed):
            NewUser.checked(email, "Name", ["approver"])

    def test_roles(self) -> None:
        with pytest.raises(ValidationFailed, match="unknown role"):
            NewUser.checked("a@b.example", "A", ["root"])
        with pytest.raises(ValidationFailed, match="cannot be given"):
            NewUser.checked("a@b.example", "A", ["scheduler"])
        with pytest.raises(ValidationFailed, match="at least one role"):
            NewUser.checked("a@b.example", "A", [])

    def test_naive_times_are_refused(self) -> None:
        release = release_in(S.APPROVED)
        with pytest.raises(ValidationFailed, match="time zone"):
            release.schedule(AUTHOR, (T0 + timedelta(hours=1)).replace(tzinfo=None), T0)


def test_events_round_trip_through_json() -> None:
    release = release_in(S.CORRECTION_IN_REVIEW)
    release.approve(APPROVER, T0, required=1)
    release.withdraw(APPROVER_2, "Withdrawn.", T0)
    assert len({type(e) for e in release.events}) >= 8
    for event in release.events:
        assert ev.Event.from_json(json.loads(json.dumps(event.to_json()))) == event


def test_an_edit_stored_before_events_named_the_state_it_left_still_loads() -> None:
    stored = {
        "type": "ReleaseEdited",
        "event_id": "e1",
        "occurred_at": T0.isoformat(),
        "actor_id": AUTHOR.id,
        "release_id": 1,
        "language": "ko",
        "revision": 2,
        "approvals_voided": 0,
    }
    edited = ev.Event.from_json(stored)
    assert isinstance(edited, ev.ReleaseEdited) and edited.previous_state is None


def test_events_recorded_before_the_first_save_learn_the_release_id() -> None:
    from workflow.domain.release import Release

    release = Release.create(AUTHOR, Language.KO, KO_TEXT, T0)
    assert release.events[0].release_id == 0  # type: ignore[attr-defined]
    release.assign_id(42)
    assert release.events[0].release_id == 42  # type: ignore[attr-defined]


def test_diff_between_revisions() -> None:
    old = Text.checked("Title", "1. First\n2. Second")
    new = Text.checked("Title", "1. First\n2. Second, amended")
    diff = unified_diff(old, new, old_label="en revision 1", new_label="en revision 2")
    assert "-2. Second" in diff and "+2. Second, amended" in diff
    assert "--- en revision 1" in diff
