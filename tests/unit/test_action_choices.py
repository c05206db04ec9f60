"""``Release.choices``: what each person may do next, and why not. The office pages show a
button for every allowed choice and the reason beside every refused one, so the choices
must agree with what the commands themselves accept, in every state, for everyone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import (
    APPROVER,
    APPROVER_2,
    AUTHOR,
    OFFICER,
    T0,
    TRANSLATOR,
    english_assignment,
    new_release,
    release_in,
)
from tests.unit.test_catalogue import korean_texts
from tests.unit.test_permission_matrix import PERSONAS, attempt
from workflow.domain.editing import LIVE_TRANSLATION_REFUSAL
from workflow.domain.errors import DomainError
from workflow.domain.release import REQUEST_TRANSLATION, Choice, Release
from workflow.domain.release_records import TranslationRequest
from workflow.domain.states import Action, ReleaseState, Role, allowed_actions
from workflow.domain.users import User
from workflow.domain.values import Language, Text

OFFICER_APPROVER = User(7, "Han Ye-jin", frozenset({Role.PRESS_OFFICER, Role.APPROVER}))
EVERYONE = {**PERSONAS, "officer_approver": OFFICER_APPROVER}


def _assignment() -> TranslationRequest:
    # The English version, assigned to the translator (the same one ``attempt`` edits).
    return TranslationRequest(
        1, Language.KO, Language.EN, TRANSLATOR.id, AUTHOR.id, T0 + timedelta(days=1), T0, id=1
    )


def by_action(choices: list[Choice]) -> dict[str, str | None]:
    return {c.action: c.refusal for c in choices}


@pytest.mark.parametrize("persona", sorted(EVERYONE))
@pytest.mark.parametrize("state", list(ReleaseState), ids=str)
def test_a_choice_is_allowed_exactly_when_the_command_goes_through(
    state: ReleaseState, persona: str
) -> None:
    actor = EVERYONE[persona]
    choices = release_in(state).choices(actor, [_assignment()])
    assert [c.action for c in choices] == [*allowed_actions(state), REQUEST_TRANSLATION]
    for choice in choices:
        release = release_in(state)
        if choice.allowed:
            take(release, choice, actor)  # must not raise
        else:
            assert choice.refusal, "a refusal says why"
            with pytest.raises(DomainError):
                take(release, choice, actor)


def take(release: Release, choice: Choice, actor: User) -> None:
    if choice.action == REQUEST_TRANSLATION:
        release.request_translation(actor, Language.EN, TRANSLATOR, T0 + timedelta(days=1), T0)
    else:
        attempt(release, Action(choice.action), actor)


def test_the_author_sees_why_they_cannot_approve_and_the_other_approver_may() -> None:
    release = new_release()
    release.author_id = OFFICER_APPROVER.id
    release.submit(AUTHOR, T0)
    assert by_action(release.choices(OFFICER_APPROVER))[Action.APPROVE] == (
        "authors cannot approve their own release"
    )
    assert by_action(release.choices(APPROVER))[Action.APPROVE] is None


def test_an_approver_who_edited_is_told_so() -> None:
    editor = User(9, "Oh Se-ri", frozenset({Role.PRESS_OFFICER, Role.APPROVER}))
    release = new_release()
    release.edit(editor, Language.KO, Text.checked("고친 제목", "1. 본문"), 1, T0)
    release.submit(AUTHOR, T0)
    assert by_action(release.choices(editor))[Action.APPROVE] == (
        "you edited this text, so someone else must approve it"
    )


def test_an_approval_given_is_not_offered_twice() -> None:
    release = new_release()
    release.submit(AUTHOR, T0)
    release.approve(APPROVER, T0, required=2)
    assert by_action(release.choices(APPROVER))[Action.APPROVE] == (
        "you have already approved this text"
    )
    assert by_action(release.choices(APPROVER_2))[Action.APPROVE] is None


def test_a_translator_edits_only_with_an_open_request() -> None:
    release = new_release()
    request = english_assignment(release)
    assert by_action(release.choices(TRANSLATOR))[Action.EDIT] == (
        "translators edit only the language version assigned to them"
    )
    assert by_action(release.choices(TRANSLATOR, [request]))[Action.EDIT] is None
    assert by_action(release.choices(TRANSLATOR))[REQUEST_TRANSLATION] == (
        "only press officers request translations"
    )


def test_the_scheduler_alone_publishes_a_scheduled_release() -> None:
    release = release_in(ReleaseState.SCHEDULED)
    assert by_action(release.choices(AUTHOR))[Action.PUBLISH] == (
        "the scheduler publishes it at the scheduled time"
    )


def test_a_deactivated_account_may_do_nothing() -> None:
    gone = User(OFFICER.id, OFFICER.name, OFFICER.roles, active=False)
    choices = new_release().choices(gone)
    assert all(c.refusal == "the account of Yoon Ji-woo is deactivated" for c in choices)


def test_available_actions_are_the_allowed_choices() -> None:
    for state in ReleaseState:
        for actor in EVERYONE.values():
            release = release_in(state)
            allowed = [c.action for c in release.choices(actor) if c.allowed]
            assert release.available_actions(actor) == [
                a for a in allowed if a != REQUEST_TRANSLATION
            ]


def test_every_refusal_has_its_korean() -> None:
    """The pages show each reason in the page's language."""
    refusals = {
        c.refusal
        for state in ReleaseState
        for actor in EVERYONE.values()
        for c in release_in(state).choices(actor)
        if c.refusal and "deactivated" not in c.refusal
    }
    refusals |= {
        "you edited this text, so someone else must approve it",
        "authors cannot approve their own release",
        "you have already approved this text",
        LIVE_TRANSLATION_REFUSAL,
    }
    missing = sorted(refusals - korean_texts().keys())
    assert not missing, f"no Korean for: {missing}"
