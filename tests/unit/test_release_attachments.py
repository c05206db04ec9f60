"""Photos and documents are part of a release's text: changing them is an edit of every
language version, reviewed like one, and on a published release a correction."""

from __future__ import annotations

import pytest

from tests.builders import (
    APPROVER,
    AUTHOR,
    EN_TEXT,
    T0,
    TRANSLATOR,
    english_assignment,
    new_release,
    release_in,
)
from workflow.domain import events as ev
from workflow.domain.attachments import (
    AttachmentKind,
    Placement,
    Words,
    lead_photo,
    reordered,
    with_lead,
)
from workflow.domain.errors import PermissionDenied, ValidationFailed
from workflow.domain.release import Release
from workflow.domain.states import ReleaseState
from workflow.domain.values import Language, Text

S = ReleaseState
KO, EN = Language.KO, Language.EN
PHOTO = Placement("p1", AttachmentKind.IMAGE, Words(alt="회의 참석자들이 악수하는 모습"))
PDF = Placement("d1", AttachmentKind.DOCUMENT, Words(title="공동성명"))


def shown(release: Release, language: Language = KO) -> tuple[str, ...]:
    return tuple(p.attachment_id for p in release.versions[language].text.attachments)


def attach(release: Release, *placements: Placement, **kwargs: object) -> None:
    release.change_attachments(
        AUTHOR,
        {language: placements for language in release.versions},
        T0,
        summary="added",
        limit=kwargs.pop("limit", 30),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


def test_attaching_to_a_draft_is_a_new_revision_with_its_audit_entry() -> None:
    release = new_release()
    attach(release, PHOTO, PDF, uploaded=["p1", "d1"])
    assert shown(release) == ("p1", "d1")
    assert release.versions[KO].revision == 2
    assert release.audit[-1].details["summary"] == "added"
    uploaded = [e for e in release.events if isinstance(e, ev.AttachmentUploaded)]
    assert [e.attachment_id for e in uploaded] == ["p1", "d1"]


def test_attaching_to_an_approved_release_sends_it_back_to_review() -> None:
    release = release_in(S.APPROVED)
    attach(release, PDF)
    assert release.state is S.IN_REVIEW
    assert release.approvals == []


def test_attaching_to_a_scheduled_release_unschedules_it() -> None:
    release = release_in(S.SCHEDULED)
    attach(release, PDF)
    assert release.state is S.IN_REVIEW
    assert release.publish_at is None


def test_on_a_published_release_it_is_a_correction_with_a_public_note() -> None:
    release = release_in(S.PUBLISHED)
    with pytest.raises(ValidationFailed):
        attach(release, PDF)
    assert shown(release) == ()
    attach(release, PDF, notes={KO: "공동성명 전문을 첨부하였습니다."})
    assert release.state is S.CORRECTION_IN_REVIEW
    live = release.versions[KO].live_text
    assert live is not None and live.attachments == ()  # the public sees it once approved
    release.approve(APPROVER, T0, required=1)
    assert release.state is S.PUBLISHED
    live = release.versions[KO].live_text
    assert live is not None and [p.attachment_id for p in live.attachments] == ["d1"]
    assert any(isinstance(e, ev.CorrectionPublished) for e in release.events)


def test_a_rejected_correction_brings_the_files_back() -> None:
    release = release_in(S.PUBLISHED)
    attach(release, PDF, notes={KO: "첨부"})
    attach(release, PHOTO, PDF)  # the note stands for the whole correction
    release.reject(APPROVER, "Not this photo.", T0)
    assert shown(release) == ()


def test_editing_words_keeps_the_files_and_a_translation_inherits_them() -> None:
    release = new_release()
    attach(release, PHOTO, PDF)
    ko = release.versions[KO]
    release.edit(AUTHOR, KO, Text.checked("새 제목", ko.text.body), ko.revision, T0)
    assert shown(release) == ("p1", "d1")
    request = english_assignment(release)
    release.submit_translation(TRANSLATOR, request, EN_TEXT, 0, T0)
    assert shown(release, EN) == ("p1", "d1")
    assert release.versions[EN].text.attachments[0].words == Words()  # in its own words later


def test_every_version_shows_the_same_files() -> None:
    release = new_release()
    release.edit(AUTHOR, EN, EN_TEXT, 0, T0)
    with pytest.raises(ValidationFailed):
        release.change_attachments(AUTHOR, {KO: (PDF,), EN: ()}, T0, summary="added", limit=30)
    with pytest.raises(ValidationFailed):
        release.change_attachments(AUTHOR, {KO: (PDF,)}, T0, summary="added", limit=30)


def test_a_photo_needs_alt_text_and_a_release_has_a_limit() -> None:
    release = new_release()
    with pytest.raises(ValidationFailed, match="alt"):
        attach(release, Placement("p2", AttachmentKind.IMAGE))
    with pytest.raises(ValidationFailed, match="at most 1"):
        attach(release, PHOTO, PDF, limit=1)
    assert shown(release) == ()


def test_only_press_officers_change_files() -> None:
    release = new_release()
    with pytest.raises(PermissionDenied):
        release.change_attachments(TRANSLATOR, {KO: (PDF,)}, T0, summary="added", limit=30)


def test_the_lead_photo_is_the_first_one_and_order_is_chosen() -> None:
    second = Placement("p2", AttachmentKind.IMAGE, Words(alt="두 번째"))
    placements = (PDF, PHOTO, second)
    assert lead_photo(placements) == PHOTO
    assert [p.attachment_id for p in with_lead(placements, "p2")] == ["d1", "p2", "p1"]
    with pytest.raises(ValidationFailed):
        with_lead(placements, "d1")
    assert [p.attachment_id for p in reordered(placements, ["p2", "p1", "d1"])] == [
        "p2",
        "p1",
        "d1",
    ]
    with pytest.raises(ValidationFailed):
        reordered(placements, ["p2", "p1"])


def test_placements_round_trip_through_json() -> None:
    assert Placement.from_json(PHOTO.to_json()) == PHOTO
    with pytest.raises(ValidationFailed):
        Words().merged({"colour": "red"})
