"""Random sequences of actions by random people keep the workflow's invariants."""

from __future__ import annotations

import copy
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.builders import (
    APPROVER,
    APPROVER_2,
    AUTHOR,
    OFFICER,
    SCHEDULER,
    T0,
    TRANSLATOR,
    english_assignment,
    new_release,
)
from workflow.domain.errors import DomainError, StaleEdit
from workflow.domain.publication import Replacement
from workflow.domain.release import Release
from workflow.domain.release_records import AuditEntry
from workflow.domain.states import TRANSITIONS, Action, ReleaseState, Role
from workflow.domain.users import User
from workflow.domain.values import Language, Text

OFFICER_APPROVER = User(8, "Han Ye-jin", frozenset({Role.PRESS_OFFICER, Role.APPROVER}))
PEOPLE = [AUTHOR, OFFICER, APPROVER, APPROVER_2, TRANSLATOR, SCHEDULER, OFFICER_APPROVER]
STEPS = st.lists(
    st.tuples(
        st.sampled_from(PEOPLE),
        st.sampled_from([*Action, "translate"]),
        st.sampled_from(list(Language)),
        st.booleans(),  # a stale base revision for edits
    ),
    max_size=40,
)
MAKES_TEXT_LIVE = {"publish"}


def act(
    release: Release,
    who: User,
    action: str,
    language: Language,
    stale: bool,
    step: int,
    assignment: object,
) -> None:
    now = T0 + timedelta(minutes=10 * step)
    if action == "translate":
        language = Language.EN  # the language the request assigns
    version = release.versions.get(language)
    base = (version.revision if version else 0) - (1 if stale else 0)
    text = Text.checked(f"Title {step}", f"1. Paragraph {step}\n   - point")
    if action == Action.EDIT:
        release.edit(who, language, text, base, now, assignment=assignment)  # type: ignore[arg-type]
    elif action == "translate":
        release.submit_translation(who, assignment, text, base, now)  # type: ignore[arg-type]
    elif action == Action.UPDATE_DETAILS:
        release.update_details(who, now, topics={1, 2})
    elif action == Action.SUBMIT:
        release.submit(who, now)
    elif action == Action.REQUEST_CHANGES:
        release.request_changes(who, "More detail, please.", now)
    elif action == Action.APPROVE:
        release.approve(who, now, required=2)
    elif action == Action.REJECT:
        release.reject(who, "No.", now)
    elif action == Action.REOPEN:
        release.reopen(who, now)
    elif action == Action.SCHEDULE:
        release.schedule(who, now + timedelta(minutes=5), now)
    elif action == Action.UNSCHEDULE:
        release.unschedule(who, now)
    elif action == Action.PUBLISH:
        release.publish(who, now, number="2026-0001")
    elif action == Action.CORRECT:
        release.correct(who, language, text, "Corrected.", base, now)
    elif action == Action.WITHDRAW:
        release.withdraw(who, "Withdrawn.", now)
    elif action == Action.UNPUBLISH:
        release.unpublish(who, "Published in error.", now)
    elif action == Action.SUPERSEDE:
        release.supersede(who, Replacement(2, "2026-0002", ReleaseState.PUBLISHED), now)
    elif action == Action.ABANDON:
        release.abandon(who, now)


def check_trail(trail: list[AuditEntry], release: Release) -> None:
    """The state follows from the audit trail, and no one approved their own text."""
    assert trail[0].from_state is None and trail[0].to_state is ReleaseState.DRAFT
    state = ReleaseState.DRAFT
    editors = {release.author_id}
    for entry in trail[1:]:
        assert entry.from_state is state
        if entry.to_state is not state or entry.action not in {"approve", "request_translation"}:
            transition = TRANSITIONS[(state, Action(entry.action))]
            assert transition.target is entry.to_state
        if entry.action in {"edit", "correct"}:
            editors.add(entry.actor_id)
        if entry.action == "approve":
            assert entry.actor_id not in editors, "someone approved text they wrote"
        going_live = entry.to_state is ReleaseState.PUBLISHED and entry.action in {
            "publish",
            "approve",
            "reject",
            "abandon",
        }
        if going_live:
            editors = {release.author_id}
        state = entry.to_state
    assert state is release.state


# Hypothesis's default number of sequences, so that tests/unit stays within about a
# second: each run tries new ones, and first replays any that failed before (hypothesis's
# example database).
@settings(max_examples=100, deadline=None)
@given(STEPS)
def test_any_sequence_keeps_the_invariants(steps: list[tuple[User, str, Language, bool]]) -> None:
    release = new_release()
    assignment = english_assignment(release)
    trail = list(release.audit)
    revisions = list(release.new_revisions)
    for step, (who, action, language, stale) in enumerate(steps, start=1):
        before = copy.deepcopy(release)
        release.audit.clear()
        release.events.clear()
        release.new_revisions.clear()
        try:
            act(release, who, action, language, stale, step, assignment)
        except StaleEdit:
            assert stale
            refused = True
        except DomainError:
            refused = True
        else:
            refused = False
        if refused:
            before.audit.clear(), before.events.clear(), before.new_revisions.clear()
            assert release == before, f"{who.name} {action} was refused but changed the release"
            continue
        assert release.audit, f"{action} changed the release without an audit entry"
        assert release.events, f"{action} changed the release without an event"
        if action in {Action.EDIT, Action.CORRECT, "translate"}:
            assert not stale, "a stale save went through"
        trail += release.audit
        revisions += release.new_revisions
    check_trail(trail, release)
    for language, version in release.versions.items():
        numbers = [r.number for r in revisions if r.language is language]
        assert numbers == list(range(1, version.revision + 1)), "revisions are contiguous"
