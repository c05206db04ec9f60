"""A change to a published release is minor (approved, live, no note, no email) or major
(a public note, mailed); and the two ways besides withdrawal to end its public life."""

from __future__ import annotations

import pytest

from tests.builders import APPROVER, OFFICER, T0, release_in
from workflow.domain import events as ev
from workflow.domain.errors import ValidationFailed
from workflow.domain.publication import Replacement
from workflow.domain.release import Release
from workflow.domain.release_records import ChangeKind, CorrectedText
from workflow.domain.states import ReleaseState
from workflow.domain.values import Language, Text

S = ReleaseState
KO = Language.KO


def propose(release: Release, kind: ChangeKind, note: str = "") -> None:
    ko = release.versions[KO]
    text = Text.checked("오타를 고친 제목", ko.text.body)
    release.correct_versions(OFFICER, {KO: CorrectedText(text, note, ko.revision)}, T0, kind=kind)


def test_a_minor_change_goes_live_on_approval_without_a_note_or_an_email() -> None:
    release = release_in(S.PUBLISHED)
    release.events.clear()
    propose(release, ChangeKind.MINOR)
    assert release.audit[-1].details["change"] == "minor"
    assert release.pending_change is ChangeKind.MINOR
    release.approve(APPROVER, T0, required=1)
    assert release.state is S.PUBLISHED
    assert release.versions[KO].live_text is not None
    assert release.versions[KO].live_text.title == "오타를 고친 제목"
    assert release.new_corrections == []  # nothing for the page to list
    kinds = [type(e) for e in release.events]
    assert ev.MinorChangePublished in kinds and ev.CorrectionPublished not in kinds
    assert release.pending_change is None


def test_a_major_change_needs_its_note_and_a_minor_one_has_none() -> None:
    release = release_in(S.PUBLISHED)
    with pytest.raises(ValidationFailed, match="public note"):
        propose(release, ChangeKind.MAJOR)
    with pytest.raises(ValidationFailed, match="minor change has no public note"):
        propose(release, ChangeKind.MINOR, note="날짜를 바로잡았습니다.")
    assert release.state is S.PUBLISHED
    propose(release, ChangeKind.MAJOR, note="날짜를 바로잡았습니다.")
    release.approve(APPROVER, T0, required=1)
    assert [c.note for c in release.new_corrections] == ["날짜를 바로잡았습니다."]


def test_a_minor_change_edited_again_in_review_stays_minor_and_noteless() -> None:
    release = release_in(S.PUBLISHED)
    propose(release, ChangeKind.MINOR)
    ko = release.versions[KO]
    release.edit(OFFICER, KO, Text.checked("한 번 더 고친 제목", ko.text.body), ko.revision, T0)
    with pytest.raises(ValidationFailed):
        release.edit(OFFICER, KO, ko.text, ko.revision, T0, note="공개 안내")
    release.reject(APPROVER, "그대로 둡니다.", T0)
    assert release.pending_change is None


def test_published_in_error_takes_it_down_with_its_reason() -> None:
    release = release_in(S.PUBLISHED)
    release.unpublish(APPROVER, "다른 부처의 자료가 잘못 게시되었습니다.", T0)
    assert release.state is S.UNPUBLISHED
    assert isinstance(release.events[-1], ev.ReleaseUnpublished)
    assert release.events[-1].was_public


def test_superseded_only_by_another_published_release() -> None:
    release = release_in(S.PUBLISHED)
    with pytest.raises(ValidationFailed, match="itself"):
        release.supersede(APPROVER, Replacement(1, "2026-0001", S.PUBLISHED), T0)
    with pytest.raises(ValidationFailed, match="must be published"):
        release.supersede(APPROVER, Replacement(7, None, S.APPROVED), T0)
    assert release.state is S.PUBLISHED and release.audit[-1].action == "publish"
    release.supersede(APPROVER, Replacement(7, "2026-0007", S.PUBLISHED), T0)
    assert release.state is S.SUPERSEDED and release.superseded_by == 7
    assert release.audit[-1].details["superseded_by"] == "2026-0007"
