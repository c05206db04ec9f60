"""Every (state × action × role): the outcome the issue asks for, from one literal table.

The expectations are written out here by hand, independently of ``states.TRANSITIONS``,
so that a change to the workflow table that nobody meant shows up as a failure.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.builders import AUTHOR, KO_TEXT, PERSONAS, T0, TRANSLATOR, release_in
from workflow.domain.errors import DomainError, InvalidTransition, PermissionDenied
from workflow.domain.publication import Replacement
from workflow.domain.release import Release
from workflow.domain.release_records import TranslationRequest
from workflow.domain.states import Action, ReleaseState
from workflow.domain.users import User
from workflow.domain.values import Language, Text

S, A = ReleaseState, Action

EXPECTED: dict[ReleaseState, dict[Action, ReleaseState]] = {
    S.DRAFT: {
        A.EDIT: S.DRAFT,
        A.UPDATE_DETAILS: S.DRAFT,
        A.SUBMIT: S.IN_REVIEW,
        A.ABANDON: S.ABANDONED,
    },
    S.IN_REVIEW: {
        A.EDIT: S.IN_REVIEW,
        A.UPDATE_DETAILS: S.IN_REVIEW,
        A.REQUEST_CHANGES: S.CHANGES_REQUESTED,
        A.APPROVE: S.APPROVED,
        A.REJECT: S.REJECTED,
    },
    S.CHANGES_REQUESTED: {
        A.EDIT: S.CHANGES_REQUESTED,
        A.UPDATE_DETAILS: S.CHANGES_REQUESTED,
        A.SUBMIT: S.IN_REVIEW,
        A.ABANDON: S.ABANDONED,
    },
    S.REJECTED: {A.REOPEN: S.DRAFT},
    S.APPROVED: {A.EDIT: S.IN_REVIEW, A.SCHEDULE: S.SCHEDULED, A.PUBLISH: S.PUBLISHED},
    S.SCHEDULED: {
        A.EDIT: S.IN_REVIEW,
        A.SCHEDULE: S.SCHEDULED,
        A.UNSCHEDULE: S.APPROVED,
        A.PUBLISH: S.PUBLISHED,
        A.WITHDRAW: S.WITHDRAWN,
    },
    S.PUBLISHED: {
        A.EDIT: S.CORRECTION_IN_REVIEW,
        A.CORRECT: S.CORRECTION_IN_REVIEW,
        A.WITHDRAW: S.WITHDRAWN,
        A.UNPUBLISH: S.UNPUBLISHED,
        A.SUPERSEDE: S.SUPERSEDED,
    },
    S.CORRECTION_IN_REVIEW: {
        A.EDIT: S.CORRECTION_IN_REVIEW,
        A.REQUEST_CHANGES: S.CORRECTION_CHANGES_REQUESTED,
        A.APPROVE: S.PUBLISHED,
        A.REJECT: S.PUBLISHED,
        A.WITHDRAW: S.WITHDRAWN,
        A.UNPUBLISH: S.UNPUBLISHED,
        A.SUPERSEDE: S.SUPERSEDED,
    },
    S.CORRECTION_CHANGES_REQUESTED: {
        A.EDIT: S.CORRECTION_CHANGES_REQUESTED,
        A.SUBMIT: S.CORRECTION_IN_REVIEW,
        A.ABANDON: S.PUBLISHED,
        A.WITHDRAW: S.WITHDRAWN,
        A.UNPUBLISH: S.UNPUBLISHED,
        A.SUPERSEDE: S.SUPERSEDED,
    },
    S.WITHDRAWN: {},
    S.UNPUBLISHED: {},
    S.SUPERSEDED: {},
    S.ABANDONED: {},
}

OFFICERS = {"author", "officer"}
WHO: dict[Action, set[str]] = {
    A.EDIT: OFFICERS | {"translator"},
    A.UPDATE_DETAILS: OFFICERS,
    A.SUBMIT: OFFICERS,
    A.REQUEST_CHANGES: {"approver"},
    A.APPROVE: {"approver"},
    A.REJECT: {"approver"},
    A.REOPEN: OFFICERS,
    A.SCHEDULE: OFFICERS,
    A.UNSCHEDULE: OFFICERS,
    A.PUBLISH: OFFICERS | {"scheduler"},
    A.CORRECT: OFFICERS,
    A.WITHDRAW: {"approver"},
    A.UNPUBLISH: {"approver"},
    A.SUPERSEDE: {"approver"},
    A.ABANDON: OFFICERS,
}
# Where the state narrows who may act.
ONLY: dict[tuple[ReleaseState, Action], set[str]] = {
    (S.APPROVED, A.PUBLISH): OFFICERS,
    (S.SCHEDULED, A.PUBLISH): {"scheduler"},
}


def expected(state: ReleaseState, action: Action, persona: str) -> ReleaseState | type:
    if persona not in WHO[action]:
        return PermissionDenied
    if action not in EXPECTED[state]:
        return InvalidTransition
    if persona not in ONLY.get((state, action), {persona}):
        return PermissionDenied
    if action is A.ABANDON and persona != "author":
        return PermissionDenied
    return EXPECTED[state][action]


def attempt(release: Release, action: Action, actor: User) -> None:
    """Try ``action`` with valid arguments, two hours after the release was prepared
    (so a scheduled release is due)."""
    now = T0 + timedelta(hours=2)
    ko = release.versions[Language.KO]
    if action is A.EDIT:
        # The English version, which the translator is assigned and nobody wrote yet.
        assignment = TranslationRequest(
            1,
            Language.KO,
            Language.EN,
            TRANSLATOR.id,
            AUTHOR.id,
            now + timedelta(days=1),
            now,
            id=1,
        )
        release.edit(
            actor, Language.EN, Text.checked("Title", "1. Body"), 0, now, assignment=assignment
        )
    elif action is A.UPDATE_DETAILS:
        release.update_details(actor, now, topics={1, 2})
    elif action is A.SUBMIT:
        release.submit(actor, now)
    elif action is A.REQUEST_CHANGES:
        release.request_changes(actor, "Please add the venue.", now)
    elif action is A.APPROVE:
        release.approve(actor, now, required=1)
    elif action is A.REJECT:
        release.reject(actor, "Not for publication.", now)
    elif action is A.REOPEN:
        release.reopen(actor, now)
    elif action is A.SCHEDULE:
        release.schedule(actor, now + timedelta(hours=3), now)
    elif action is A.UNSCHEDULE:
        release.unschedule(actor, now)
    elif action is A.PUBLISH:
        release.publish(actor, now, number="2026-0002")
    elif action is A.CORRECT:
        release.correct(
            actor,
            Language.KO,
            Text.checked("정정", KO_TEXT.body),
            "Corrected the title.",
            ko.revision,
            now,
        )
    elif action is A.WITHDRAW:
        release.withdraw(actor, "Issued in error.", now)
    elif action is A.UNPUBLISH:
        release.unpublish(actor, "Published in error.", now)
    elif action is A.SUPERSEDE:
        release.supersede(actor, Replacement(99, "2026-0099", S.PUBLISHED), now)
    elif action is A.ABANDON:
        release.abandon(actor, now)
    else:  # pragma: no cover - a new action must be added to this test
        raise AssertionError(f"no arguments for {action}")


def test_the_expectations_cover_every_state_and_action() -> None:
    assert set(EXPECTED) == set(ReleaseState)
    assert set(WHO) == set(Action)


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("state", list(ReleaseState), ids=str)
def test_state_action_role(state: ReleaseState, action: Action) -> None:
    """Every persona in turn, each on a release of its own; a failure names every persona
    whose outcome is wrong, not only the first. (One test item a persona would cost
    pytest more than the domain takes to check them all.)"""
    failures = []
    for persona in sorted(PERSONAS):
        try:
            check_outcome(state, action, persona)
        except AssertionError as failure:
            failures.append(f"{persona}: {failure}")
    assert not failures, "\n".join(failures)


def check_outcome(state: ReleaseState, action: Action, persona: str) -> None:
    release = release_in(state)
    outcome = expected(state, action, persona)
    if isinstance(outcome, ReleaseState):
        attempt(release, action, PERSONAS[persona])
        assert release.state is outcome
        assert release.audit[-1].to_state is outcome
        assert release.audit[-1].actor_id == PERSONAS[persona].id
        assert release.events, "every change emits an event"
    else:
        release.audit.clear()
        release.events.clear()
        before = repr(release)
        with pytest.raises(DomainError) as refused:
            attempt(release, action, PERSONAS[persona])
        assert type(refused.value) is outcome, refused.value.message
        assert refused.value.message
        assert repr(release) == before, "a refused action changes nothing"
