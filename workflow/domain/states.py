"""The life of a press release: its states, the actions that move it, and who may take them.

The whole workflow is the table ``TRANSITIONS`` below; everything else in the domain
applies it. A release that is published can be amended (a correction of its live text,
or a translation that arrived after publication): the amendment is reviewed in the
``correction_*`` states while the public keeps seeing the live text, and approving it
brings the release back to ``published`` with the new text live.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class ReleaseState(StrEnum):
    DRAFT = "draft"
    IN_REVIEW = "in_review"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    CORRECTION_IN_REVIEW = "correction_in_review"
    CORRECTION_CHANGES_REQUESTED = "correction_changes_requested"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    UNPUBLISHED = "unpublished"  # published in error: gone, its address answers 410
    SUPERSEDED = "superseded"  # replaced by another release, its address leads there
    ABANDONED = "abandoned"


class Action(StrEnum):
    EDIT = "edit"
    UPDATE_DETAILS = "update_details"
    SUBMIT = "submit"
    REQUEST_CHANGES = "request_changes"
    APPROVE = "approve"
    REJECT = "reject"
    REOPEN = "reopen"
    SCHEDULE = "schedule"
    UNSCHEDULE = "unschedule"
    PUBLISH = "publish"
    CORRECT = "correct"
    WITHDRAW = "withdraw"
    UNPUBLISH = "unpublish"
    SUPERSEDE = "supersede"
    ABANDON = "abandon"


class Role(StrEnum):
    PRESS_OFFICER = "press_officer"
    APPROVER = "approver"
    TRANSLATOR = "translator"
    ADMIN = "admin"
    # Not a person: the scheduler that publishes scheduled releases on time.
    SCHEDULER = "scheduler"


@dataclass(frozen=True, slots=True)
class Transition:
    source: ReleaseState
    action: Action
    target: ReleaseState
    roles: frozenset[Role]


S, A = ReleaseState, Action
OFFICER = frozenset({Role.PRESS_OFFICER})
# A translator may edit too, but only the language version assigned to them.
EDITOR = frozenset({Role.PRESS_OFFICER, Role.TRANSLATOR})
APPROVER = frozenset({Role.APPROVER})
SCHEDULER = frozenset({Role.SCHEDULER})

# fmt: off
_TABLE: Final = [
    # from                            action             to                                who
    (S.DRAFT,                         A.EDIT,            S.DRAFT,                          EDITOR),
    (S.DRAFT,                         A.UPDATE_DETAILS,  S.DRAFT,                          OFFICER),
    (S.DRAFT,                         A.SUBMIT,          S.IN_REVIEW,                      OFFICER),
    (S.DRAFT,                         A.ABANDON,         S.ABANDONED,                      OFFICER),  # author only
    (S.IN_REVIEW,                     A.EDIT,            S.IN_REVIEW,                      EDITOR),   # voids approvals
    (S.IN_REVIEW,                     A.UPDATE_DETAILS,  S.IN_REVIEW,                      OFFICER),
    (S.IN_REVIEW,                     A.REQUEST_CHANGES, S.CHANGES_REQUESTED,              APPROVER),
    (S.IN_REVIEW,                     A.APPROVE,         S.APPROVED,                       APPROVER), # once N approvals
    (S.IN_REVIEW,                     A.REJECT,          S.REJECTED,                       APPROVER),
    (S.CHANGES_REQUESTED,             A.EDIT,            S.CHANGES_REQUESTED,              EDITOR),
    (S.CHANGES_REQUESTED,             A.UPDATE_DETAILS,  S.CHANGES_REQUESTED,              OFFICER),
    (S.CHANGES_REQUESTED,             A.SUBMIT,          S.IN_REVIEW,                      OFFICER),
    (S.CHANGES_REQUESTED,             A.ABANDON,         S.ABANDONED,                      OFFICER),  # author only
    (S.REJECTED,                      A.REOPEN,          S.DRAFT,                          OFFICER),
    (S.APPROVED,                      A.EDIT,            S.IN_REVIEW,                      EDITOR),   # voids approvals
    (S.APPROVED,                      A.SCHEDULE,        S.SCHEDULED,                      OFFICER),
    (S.APPROVED,                      A.PUBLISH,         S.PUBLISHED,                      OFFICER),
    (S.SCHEDULED,                     A.EDIT,            S.IN_REVIEW,                      EDITOR),   # voids approvals, unschedules
    (S.SCHEDULED,                     A.SCHEDULE,        S.SCHEDULED,                      OFFICER),  # reschedule
    (S.SCHEDULED,                     A.UNSCHEDULE,      S.APPROVED,                       OFFICER),
    (S.SCHEDULED,                     A.PUBLISH,         S.PUBLISHED,                      SCHEDULER),
    (S.SCHEDULED,                     A.WITHDRAW,        S.WITHDRAWN,                      APPROVER),
    (S.PUBLISHED,                     A.EDIT,            S.CORRECTION_IN_REVIEW,           EDITOR),   # a late translation only
    (S.PUBLISHED,                     A.CORRECT,         S.CORRECTION_IN_REVIEW,           OFFICER),
    (S.PUBLISHED,                     A.WITHDRAW,        S.WITHDRAWN,                      APPROVER),
    (S.PUBLISHED,                     A.UNPUBLISH,       S.UNPUBLISHED,                    APPROVER), # published in error
    (S.PUBLISHED,                     A.SUPERSEDE,       S.SUPERSEDED,                     APPROVER), # by a published release
    (S.CORRECTION_IN_REVIEW,          A.EDIT,            S.CORRECTION_IN_REVIEW,           EDITOR),   # voids approvals
    (S.CORRECTION_IN_REVIEW,          A.REQUEST_CHANGES, S.CORRECTION_CHANGES_REQUESTED,   APPROVER),
    (S.CORRECTION_IN_REVIEW,          A.APPROVE,         S.PUBLISHED,                      APPROVER), # once N approvals: new text live
    (S.CORRECTION_IN_REVIEW,          A.REJECT,          S.PUBLISHED,                      APPROVER), # amendment discarded
    (S.CORRECTION_IN_REVIEW,          A.WITHDRAW,        S.WITHDRAWN,                      APPROVER),
    (S.CORRECTION_IN_REVIEW,          A.UNPUBLISH,       S.UNPUBLISHED,                    APPROVER),
    (S.CORRECTION_IN_REVIEW,          A.SUPERSEDE,       S.SUPERSEDED,                     APPROVER),
    (S.CORRECTION_CHANGES_REQUESTED,  A.EDIT,            S.CORRECTION_CHANGES_REQUESTED,   EDITOR),
    (S.CORRECTION_CHANGES_REQUESTED,  A.SUBMIT,          S.CORRECTION_IN_REVIEW,           OFFICER),
    (S.CORRECTION_CHANGES_REQUESTED,  A.ABANDON,         S.PUBLISHED,                      OFFICER),  # author only
    (S.CORRECTION_CHANGES_REQUESTED,  A.WITHDRAW,        S.WITHDRAWN,                      APPROVER),
    (S.CORRECTION_CHANGES_REQUESTED,  A.UNPUBLISH,       S.UNPUBLISHED,                    APPROVER),
    (S.CORRECTION_CHANGES_REQUESTED,  A.SUPERSEDE,       S.SUPERSEDED,                     APPROVER),
]
# fmt: on

TRANSITIONS: Final[dict[tuple[ReleaseState, Action], Transition]] = {
    (source, action): Transition(source, action, target, roles)
    for source, action, target, roles in _TABLE
}

# Who may ever take an action, whatever the state: asked first, so that a translator
# trying to approve hears "only approvers approve", not "not in this state".
ACTION_ROLES: Final[dict[Action, frozenset[Role]]] = {
    action: frozenset().union(*(t.roles for t in TRANSITIONS.values() if t.action is action))
    for action in Action
}

# Where the public sees the release (subject to its embargo).
PUBLIC_STATES: Final = frozenset(
    {S.PUBLISHED, S.CORRECTION_IN_REVIEW, S.CORRECTION_CHANGES_REQUESTED}
)
# Nothing leaves these states.
FINAL_STATES: Final = frozenset(
    s for s in ReleaseState if not any(src is s for src, _ in TRANSITIONS)
)


def allowed_actions(state: ReleaseState) -> list[Action]:
    """The actions the table allows from ``state``, in table order."""
    return [action for (source, action) in TRANSITIONS if source is state]
