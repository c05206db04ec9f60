"""Each language version of a published release has its own corrections: a proposed
correction keeps its public note on the version it changes, and an approved one adds an
entry to that version's history, never touching the other version's."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from tests.builders import APPROVER, AUTHOR, EN_TEXT, KO_TEXT, OFFICER, T0, new_release
from workflow.domain import events as ev
from workflow.domain.errors import InvalidTransition, ValidationFailed
from workflow.domain.release import Release
from workflow.domain.release_records import CorrectedText, VersionCorrection
from workflow.domain.states import ReleaseState
from workflow.domain.values import Language, Text

S = ReleaseState
KO, EN = Language.KO, Language.EN
T1, T2 = T0 + timedelta(days=1), T0 + timedelta(days=2)
KO_NOTE = "2문단의 날짜를 바로잡았습니다."
EN_NOTE = "The date in paragraph 2 was corrected."


def bilingual() -> Release:
    """Published in Korean and English, both live at revision 1."""
    release = new_release()
    release.edit(AUTHOR, EN, EN_TEXT, 0, T0)
    release.submit(AUTHOR, T0)
    release.approve(APPROVER, T0, required=1)
    release.publish(AUTHOR, T0, number="2026-0001")
    release.new_corrections.clear()
    release.events.clear()
    release.audit.clear()
    return release


def changed(text: Text, title: str) -> Text:
    return Text.checked(title, text.body, text.subtitle)


def test_a_korean_correction_is_noted_on_the_korean_version_only() -> None:
    release = bilingual()
    release.correct(OFFICER, KO, changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1, T1)
    assert release.versions[KO].pending_note == KO_NOTE
    assert release.versions[EN].pending_note == ""
    proposed = release.events[-1]
    assert isinstance(proposed, ev.CorrectionProposed)
    assert (proposed.language, proposed.note, proposed.notes) == ("ko", KO_NOTE, {"ko": KO_NOTE})

    release.approve(APPROVER, T1, required=1)
    assert release.new_corrections == [VersionCorrection(KO, KO_NOTE, T1, 2)]
    published = release.events[-1]
    assert isinstance(published, ev.CorrectionPublished)
    assert (published.languages, published.note, published.notes) == (
        ["ko"],
        KO_NOTE,
        {"ko": KO_NOTE},
    )
    assert release.pending_notes == {}


def test_a_later_english_correction_adds_its_own_entry_and_keeps_the_korean_one() -> None:
    release = bilingual()
    release.correct(OFFICER, KO, changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1, T1)
    release.approve(APPROVER, T1, required=1)
    release.correct(OFFICER, EN, changed(EN_TEXT, "Corrected Title"), EN_NOTE, 1, T2)
    assert release.pending_notes == {EN: EN_NOTE}
    release.approve(APPROVER, T2, required=1)
    assert release.new_corrections == [
        VersionCorrection(KO, KO_NOTE, T1, 2),
        VersionCorrection(EN, EN_NOTE, T2, 2),
    ]
    published = release.events[-1]
    assert isinstance(published, ev.CorrectionPublished)
    assert (published.languages, published.note, published.notes) == (
        ["en"],
        EN_NOTE,
        {"en": EN_NOTE},
    )


def test_both_versions_corrected_at_once_each_keep_their_own_note() -> None:
    release = bilingual()
    revisions = release.correct_versions(
        OFFICER,
        {
            EN: CorrectedText(changed(EN_TEXT, "Corrected Title"), EN_NOTE, 1),
            KO: CorrectedText(changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1),
        },
        T1,
    )
    assert {lang: r.number for lang, r in revisions.items()} == {KO: 2, EN: 2}
    assert release.state is S.CORRECTION_IN_REVIEW
    assert release.pending_notes == {KO: KO_NOTE, EN: EN_NOTE}
    [entry] = release.audit
    assert (entry.action, entry.details["language"]) == ("correct", "ko,en")
    assert KO_NOTE in entry.comment and EN_NOTE in entry.comment
    [proposed] = release.events
    assert isinstance(proposed, ev.CorrectionProposed)
    assert (proposed.language, proposed.note) == ("ko", KO_NOTE)  # the original's first
    assert proposed.notes == {"ko": KO_NOTE, "en": EN_NOTE}

    release.approve(APPROVER, T1, required=1)
    assert release.new_corrections == [
        VersionCorrection(KO, KO_NOTE, T1, 2),
        VersionCorrection(EN, EN_NOTE, T1, 2),
    ]
    published = release.events[-1]
    assert isinstance(published, ev.CorrectionPublished)
    assert published.languages == ["en", "ko"] and published.note == KO_NOTE
    assert published.notes == {"ko": KO_NOTE, "en": EN_NOTE}


def test_the_note_of_an_english_original_comes_first() -> None:
    release = Release.create(AUTHOR, EN, EN_TEXT, T0, topics={1})
    release.assign_id(2)
    release.edit(AUTHOR, KO, KO_TEXT, 0, T0)
    release.submit(AUTHOR, T0)
    release.approve(APPROVER, T0, required=1)
    release.publish(AUTHOR, T0, number="2026-0002")
    release.correct_versions(
        OFFICER,
        {
            KO: CorrectedText(changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1),
            EN: CorrectedText(changed(EN_TEXT, "Corrected Title"), EN_NOTE, 1),
        },
        T1,
    )
    assert list(release.pending_notes) == [EN, KO]
    release.approve(APPROVER, T1, required=1)
    published = release.events[-1]
    assert isinstance(published, ev.CorrectionPublished) and published.note == EN_NOTE


def test_the_other_live_version_changed_in_review_needs_its_own_note() -> None:
    release = bilingual()
    release.correct(OFFICER, KO, changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1, T1)
    before = copy.deepcopy(release)
    with pytest.raises(ValidationFailed, match="correction of the English text needs a public"):
        release.edit(OFFICER, EN, changed(EN_TEXT, "Corrected Title"), 1, T1)
    assert release == before, "a refused edit changed the release"

    release.edit(OFFICER, EN, changed(EN_TEXT, "Corrected Title"), 1, T1, note=EN_NOTE)
    assert release.pending_notes == {KO: KO_NOTE, EN: EN_NOTE}
    assert (release.audit[-1].action, release.audit[-1].comment) == ("edit", EN_NOTE)
    release.approve(APPROVER, T1, required=1)
    assert [(c.language, c.note) for c in release.new_corrections] == [
        (KO, KO_NOTE),
        (EN, EN_NOTE),
    ]


def test_a_version_edited_again_keeps_its_note_unless_given_a_new_one() -> None:
    release = bilingual()
    release.correct(OFFICER, KO, changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1, T1)
    release.edit(OFFICER, KO, changed(KO_TEXT, "다시 정정된 제목"), 2, T1)
    assert release.pending_notes == {KO: KO_NOTE}
    release.edit(OFFICER, KO, changed(KO_TEXT, "세 번째 제목"), 3, T1, note="제목을 고쳤습니다.")
    assert release.pending_notes == {KO: "제목을 고쳤습니다."}


def test_a_discarded_correction_leaves_no_note_and_no_entry() -> None:
    release = bilingual()
    release.correct(OFFICER, KO, changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1, T1)
    release.edit(OFFICER, EN, changed(EN_TEXT, "Corrected Title"), 1, T1, note=EN_NOTE)
    release.reject(APPROVER, "Not needed.", T1)
    assert release.state is S.PUBLISHED
    assert release.pending_notes == {} and release.new_corrections == []


def test_live_text_of_a_published_release_changes_only_through_a_correction() -> None:
    release = bilingual()
    with pytest.raises(InvalidTransition, match="propose a correction"):
        release.edit(OFFICER, KO, changed(KO_TEXT, "정정된 제목"), 1, T1, note=KO_NOTE)
    with pytest.raises(ValidationFailed, match="correction of the Korean text needs a public"):
        release.correct(OFFICER, KO, changed(KO_TEXT, "정정된 제목"), " ", 1, T1)


def test_only_a_correction_has_a_public_note() -> None:
    release = new_release()
    with pytest.raises(ValidationFailed, match="only a correction has a public note"):
        release.edit(AUTHOR, EN, EN_TEXT, 0, T0, note="Translated.")


@pytest.mark.parametrize("event_type", [ev.CorrectionProposed, ev.CorrectionPublished])
def test_events_written_before_notes_existed_still_load(event_type: type[ev.Event]) -> None:
    fields = {
        "type": event_type.__name__,
        "event_id": "5c1d2f0e-0000-4000-8000-000000000000",
        "occurred_at": T1.isoformat(),
        "actor_id": APPROVER.id,
        "release_id": 1,
        "note": KO_NOTE,
    }
    if event_type is ev.CorrectionProposed:
        fields["language"] = "ko"
    else:
        fields.update(number="2026-0001", languages=["ko"])
    old = ev.Event.from_json(json.loads(json.dumps(fields)))
    assert isinstance(old, event_type) and old.notes == {}  # type: ignore[attr-defined]


def test_the_notes_travel_through_json() -> None:
    release = bilingual()
    release.correct_versions(
        OFFICER,
        {
            KO: CorrectedText(changed(KO_TEXT, "정정된 제목"), KO_NOTE, 1),
            EN: CorrectedText(changed(EN_TEXT, "Corrected Title"), EN_NOTE, 1),
        },
        T1,
    )
    release.approve(APPROVER, T1, required=1)
    for event in release.events:
        assert ev.Event.from_json(json.loads(json.dumps(event.to_json()))) == event
