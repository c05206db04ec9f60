"""Releases in every state, built through the domain's own transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from workflow.domain.publication import Replacement
from workflow.domain.release import Release
from workflow.domain.release_records import TranslationRequest
from workflow.domain.states import ReleaseState, Role
from workflow.domain.users import SCHEDULER, User
from workflow.domain.values import Language, Text

T0 = datetime(2026, 5, 14, 9, 0, tzinfo=UTC)

AUTHOR = User(1, "Kim Min-ji", frozenset({Role.PRESS_OFFICER}))
OFFICER = User(2, "Yoon Ji-woo", frozenset({Role.PRESS_OFFICER}))
APPROVER = User(3, "Lee Jun-ho", frozenset({Role.APPROVER}))
APPROVER_2 = User(4, "Park Seo-yeon", frozenset({Role.APPROVER}))
TRANSLATOR = User(5, "Choi Ha-eun", frozenset({Role.TRANSLATOR}))
ADMIN = User(6, "Jung Do-hyun", frozenset({Role.ADMIN}))

PERSONAS = {
    "author": AUTHOR,
    "officer": OFFICER,
    "approver": APPROVER,
    "translator": TRANSLATOR,
    "admin": ADMIN,
    "scheduler": SCHEDULER,
}

KO_TEXT = Text.checked(
    "국제보건 협력 강화를 위한 전문가 회의 개최",
    "1. 외교부는 전문가 회의를 개최하였다.\n\n   - 20여 명이 참석하였다.\n",
)
EN_TEXT = Text.checked(
    "Experts Meet on Global Health Cooperation",
    "1. The Ministry hosted an expert meeting.\n\n   - Some twenty attended.\n",
)


def new_release(now: datetime = T0) -> Release:
    release = Release.create(AUTHOR, Language.KO, KO_TEXT, now, topics={1})
    release.assign_id(1)
    return release


def english_assignment(release: Release) -> TranslationRequest:
    request = release.request_translation(
        AUTHOR, Language.EN, TRANSLATOR, T0 + timedelta(days=2), T0
    )
    request.id = 1
    return request


def release_in(state: ReleaseState) -> Release:
    """A Korean release in ``state``; scheduled ones are due at T0 + 1 hour."""
    r = new_release()
    S = ReleaseState
    path: dict[ReleaseState, list[str]] = {
        S.DRAFT: [],
        S.ABANDONED: ["abandon"],
        S.IN_REVIEW: ["submit"],
        S.CHANGES_REQUESTED: ["submit", "request_changes"],
        S.REJECTED: ["submit", "reject"],
        S.APPROVED: ["submit", "approve"],
        S.SCHEDULED: ["submit", "approve", "schedule"],
        S.PUBLISHED: ["submit", "approve", "publish"],
        S.WITHDRAWN: ["submit", "approve", "publish", "withdraw"],
        S.UNPUBLISHED: ["submit", "approve", "publish", "unpublish"],
        S.SUPERSEDED: ["submit", "approve", "publish", "supersede"],
        S.CORRECTION_IN_REVIEW: ["submit", "approve", "publish", "correct"],
        S.CORRECTION_CHANGES_REQUESTED: [
            "submit",
            "approve",
            "publish",
            "correct",
            "request_changes",
        ],
    }
    for step in path[state]:
        if step == "abandon":
            r.abandon(AUTHOR, T0)
        elif step == "submit":
            r.submit(AUTHOR, T0)
        elif step == "request_changes":
            r.request_changes(APPROVER, "Please cite the date of the meeting.", T0)
        elif step == "reject":
            r.reject(APPROVER, "Not for publication.", T0)
        elif step == "approve":
            r.approve(APPROVER, T0, required=1)
        elif step == "schedule":
            r.schedule(AUTHOR, T0 + timedelta(hours=1), T0)
        elif step == "publish":
            r.publish(AUTHOR, T0, number="2026-0001")
        elif step == "withdraw":
            r.withdraw(APPROVER, "Issued in error.", T0)
        elif step == "unpublish":
            r.unpublish(APPROVER, "Published in error.", T0)
        elif step == "supersede":
            r.supersede(APPROVER, Replacement(2, "2026-0002", ReleaseState.PUBLISHED), T0)
        elif step == "correct":
            ko = r.versions[Language.KO]
            r.correct(
                OFFICER,
                Language.KO,
                Text.checked("수정된 제목", ko.text.body),
                "The title was corrected.",
                ko.revision,
                T0,
            )
    assert r.state is state, (r.state, state)
    return r
