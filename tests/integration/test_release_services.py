"""The service functions against a real database: what a press office sees happen."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, select, text

from tests.conftest import Staff
from workflow import outbox
from workflow.clock import FrozenClock
from workflow.db.migrations import drift
from workflow.db.tables import Base, RevisionRow
from workflow.domain import events as ev
from workflow.domain.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    StaleEdit,
    ValidationFailed,
)
from workflow.domain.states import Action, ReleaseState
from workflow.domain.users import CONSOLE
from workflow.domain.values import Contact, Language
from workflow.services import people
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.public import public_release, public_releases
from workflow.services.queries.staff_release import (
    audit_trail,
    comments,
    get_release,
    revision_diff,
    revisions,
)

S = ReleaseState
BODY_KO = "1. 외교부는 회의를 개최하였다.\n\n   - 20여 명이 참석하였다.\n\n2. 참석자들은 협력을 강조하였다.\n"
BODY_EN = "1. The Ministry hosted a meeting.\n\n   - Some twenty attended.\n\n2. They stressed cooperation.\n"


def draft(ctx: ServiceContext, staff: Staff, title: str = "전문가 회의 개최") -> int:
    return svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title=title,
        body=BODY_KO,
        topics=[staff.health],
        contact=Contact.checked("Kim Min-ji", "+82-2-2100-7000", "press@newsroom.example"),
    ).release_id


def add_english(ctx: ServiceContext, staff: Staff, release_id: int) -> None:
    """The release's English version, by its author."""
    svc.edit_version(
        ctx,
        staff.author,
        release_id,
        language="en",
        title="Experts Meet",
        body=BODY_EN,
        base_revision=0,
    )


def approved(ctx: ServiceContext, staff: Staff, title: str = "전문가 회의 개최") -> int:
    release_id = draft(ctx, staff, title)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    return release_id


def snapshot(ctx: ServiceContext) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to prove that a refusal changed nothing."""
    with ctx.engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(table.select().order_by(*table.primary_key.columns))
            ]
            for table in Base.metadata.sorted_tables
        }


def test_the_models_and_the_migrations_agree(ctx: ServiceContext) -> None:
    assert drift(ctx.engine) == []
    assert "alembic_version" in inspect(ctx.engine).get_table_names()


def test_a_release_from_draft_to_scheduled_publication(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    ctx.settings.required_approvals = 2
    release_id = draft(ctx, staff)
    request_id = svc.request_translation(ctx, staff.author, release_id, target_language="en")
    outcome = svc.submit_translation(
        ctx, staff.translator, request_id, title="Experts Meet", body=BODY_EN, base_revision=0
    )
    assert outcome.revision == 1
    svc.submit_release(ctx, staff.author, release_id)
    first = svc.approve_release(ctx, staff.approver, release_id)
    assert first.state is S.IN_REVIEW
    second = svc.approve_release(ctx, staff.approver_2, release_id)
    assert second.state is S.APPROVED
    publish_at = clock.now() + timedelta(hours=1)
    svc.schedule_release(ctx, staff.author, release_id, publish_at=publish_at)
    with pytest.raises(InvalidTransition, match="not due"):
        svc.publish_scheduled(ctx, release_id)
    clock.advance(hours=1, seconds=2)
    assert svc.publish_scheduled(ctx, release_id).state is S.PUBLISHED

    release = get_release(ctx, release_id, staff.author)
    assert release.number == "2026-0001"
    assert release.topics == ["Global Health"]
    assert {lang.value: v.live_revision for lang, v in release.versions.items()} == {
        "ko": 1,
        "en": 1,
    }
    trail = audit_trail(ctx, release_id)
    assert [(a.action, a.to_state.value) for a in trail] == [
        ("create", "draft"),
        ("request_translation", "draft"),
        ("edit", "draft"),
        ("submit", "in_review"),
        ("approve", "in_review"),
        ("approve", "approved"),
        ("schedule", "scheduled"),
        ("publish", "published"),
    ]
    assert trail[2].actor == "Choi Ha-eun"
    assert trail[-1].actor == "scheduler" and trail[-1].actor_roles == ["scheduler"]
    assert trail[-1].details["scheduled_for"] == publish_at.isoformat()
    with ctx.uow() as uow:
        types = [e.event.type_name for e in outbox.pending(uow.session, clock.now())]
    assert types == [
        "ReleaseCreated",
        "TranslationRequested",
        "ReleaseEdited",
        "TranslationSubmitted",
        "ReleaseSubmitted",
        "ApprovalGiven",
        "ApprovalGiven",
        "ReleaseApproved",
        "ReleaseScheduled",
        "ReleasePublished",
    ]


def test_release_numbers_follow_the_year_and_are_never_reused(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    numbers = []
    for title in ("첫째", "둘째"):
        release_id = approved(ctx, staff, title)
        svc.publish_release(ctx, staff.author, release_id)
        numbers.append(get_release(ctx, release_id).number)
    # A refused publication does not consume a number.
    release_id = draft(ctx, staff, "셋째")
    with pytest.raises(InvalidTransition):
        svc.publish_release(ctx, staff.author, release_id)
    clock.current = clock.current.replace(year=2027, month=1, day=1, hour=0)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    numbers.append(get_release(ctx, release_id).number)
    assert numbers == ["2026-0001", "2026-0002", "2027-0001"]


def test_the_year_of_a_number_is_the_office_year(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    # 31 December 16:00 UTC is already 1 January in Seoul.
    clock.current = clock.current.replace(month=12, day=31, hour=16)
    release_id = approved(ctx, staff)
    svc.publish_release(ctx, staff.author, release_id)
    assert get_release(ctx, release_id).number == "2027-0001"


def test_refused_commands_change_nothing(ctx: ServiceContext, staff: Staff) -> None:
    release_id = draft(ctx, staff)
    svc.submit_release(ctx, staff.author, release_id)
    before = snapshot(ctx)
    refusals: list[tuple[type[DomainError], object]] = [
        (PermissionDenied, lambda: svc.approve_release(ctx, staff.translator, release_id)),
        (PermissionDenied, lambda: svc.approve_release(ctx, staff.author, release_id)),
        (InvalidTransition, lambda: svc.submit_release(ctx, staff.author, release_id)),
        (InvalidTransition, lambda: svc.reopen_release(ctx, staff.author, release_id)),
        (
            StaleEdit,
            lambda: svc.edit_version(
                ctx, staff.officer, release_id, language="ko", title="t", body="b", base_revision=0
            ),
        ),
        (
            ValidationFailed,
            lambda: svc.edit_version(
                ctx,
                staff.officer,
                release_id,
                language="ko",
                title="a\r\nBcc: x",
                body="b",
                base_revision=1,
            ),
        ),
        (
            ValidationFailed,
            lambda: svc.edit_version(
                ctx, staff.officer, release_id, language="xx", title="t", body="b", base_revision=1
            ),
        ),
        (
            ValidationFailed,
            lambda: svc.update_details(ctx, staff.author, release_id, topics=[staff.health, 999]),
        ),
        (ValidationFailed, lambda: svc.request_changes(ctx, staff.approver, release_id, "  ")),
        (
            PermissionDenied,
            lambda: svc.request_translation(
                ctx, staff.translator, release_id, target_language="en"
            ),
        ),
        (
            ValidationFailed,
            lambda: svc.request_translation(
                ctx, staff.author, release_id, target_language="en", translator_id=staff.approver
            ),
        ),
        (NotFound, lambda: svc.approve_release(ctx, staff.approver, 12345)),
        (NotFound, lambda: svc.approve_release(ctx, 999, release_id)),
        (PermissionDenied, lambda: people.add_topic(ctx, staff.author, "Economy")),
        (
            PermissionDenied,
            lambda: people.add_user(
                ctx, staff.officer, email="new@newsroom.example", name="N", roles=["admin"]
            ),
        ),
        (Conflict, lambda: people.add_topic(ctx, staff.admin, "global health")),
        (ValidationFailed, lambda: svc.add_comment(ctx, staff.approver, release_id, " ")),
    ]
    for expected, call in refusals:
        with pytest.raises(expected):
            call()  # type: ignore[operator]
    assert snapshot(ctx) == before


def test_a_stale_save_names_who_changed_the_text_and_overwrites_nothing(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    svc.edit_version(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="윤지우의 제목",
        body=BODY_KO,
        base_revision=1,
    )
    with pytest.raises(StaleEdit) as stale:
        svc.edit_version(
            ctx,
            staff.author,
            release_id,
            language="ko",
            title="김민지의 제목",
            body=BODY_KO,
            base_revision=1,
        )
    assert "Yoon Ji-woo" in stale.value.message and stale.value.current == 2
    history = revisions(ctx, release_id, "ko")
    assert [(r.number, r.author, r.text.title) for r in history] == [
        (1, "Kim Min-ji", "전문가 회의 개최"),
        (2, "Yoon Ji-woo", "윤지우의 제목"),
    ]
    diff = revision_diff(ctx, release_id, "ko", 1, 2)
    assert "-# 전문가 회의 개최" in diff and "+# 윤지우의 제목" in diff


def test_a_correction_goes_live_only_after_approval(ctx: ServiceContext, staff: Staff) -> None:
    release_id = approved(ctx, staff)
    svc.publish_release(ctx, staff.author, release_id)
    outcome = svc.correct_release(
        ctx,
        staff.officer_approver,
        release_id,
        language="ko",
        title="정정: 전문가 회의 개최",
        body=BODY_KO,
        note="제목을 바로잡았습니다.",
        base_revision=1,
    )
    assert outcome.state is S.CORRECTION_IN_REVIEW
    with ctx.uow() as uow:
        ko = uow.releases.get(release_id).versions[Language.KO]
        assert ko.live_text is not None and ko.live_text.title == "전문가 회의 개최"
        assert ko.text.title == "정정: 전문가 회의 개최"
    with pytest.raises(PermissionDenied, match="you edited this text"):
        svc.approve_release(ctx, staff.officer_approver, release_id)
    svc.approve_release(ctx, staff.approver_2, release_id)
    release = get_release(ctx, release_id)
    assert release.state is S.PUBLISHED and release.correction_note == "제목을 바로잡았습니다."
    assert release.versions[Language.KO].live_revision == 2


def test_deactivated_users_keep_their_history_but_cannot_act(
    ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff)
    people.deactivate_user(ctx, staff.admin, staff.author)
    with pytest.raises(PermissionDenied, match="deactivated"):
        svc.submit_release(ctx, staff.author, release_id)
    assert audit_trail(ctx, release_id)[0].actor == "Kim Min-ji"
    assert get_release(ctx, release_id, staff.author).allowed_actions == []


def test_the_office_always_keeps_an_active_admin(ctx: ServiceContext, staff: Staff) -> None:
    with pytest.raises(Conflict, match="last active admin"):
        people.deactivate_user(ctx, staff.admin, staff.admin)
    with pytest.raises(Conflict, match="last active admin"):
        people.set_roles(ctx, staff.admin, staff.admin, ["press_officer"])
    assert people.get_user(ctx, staff.admin, staff.admin).roles == ["admin"]
    deputy = people.add_user(
        ctx, staff.admin, email="deputy@newsroom.example", name="Deputy", roles=["admin"]
    )
    people.set_roles(ctx, staff.admin, staff.admin, ["press_officer", "admin"])
    people.deactivate_user(ctx, deputy, staff.admin)
    with pytest.raises(Conflict, match="last active admin"):
        people.set_roles(ctx, deputy, deputy, ["approver"])


def test_translation_requests_go_to_the_least_busy_translator(
    ctx: ServiceContext, staff: Staff
) -> None:
    second = people.add_user(
        ctx, CONSOLE.id, email="t2@newsroom.example", name="Second", roles=["translator"]
    )
    assigned = []
    for title in ("하나", "둘", "셋"):
        release_id = draft(ctx, staff, title)
        request_id = svc.request_translation(ctx, staff.author, release_id, target_language="en")
        with ctx.uow() as uow:
            assigned.append(uow.releases.translation_request(request_id).translator_id)
    assert assigned == [staff.translator, second, staff.translator]


def test_outbox_rows_are_relayed_until_handled(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = approved(ctx, staff)
    now = clock.now()
    with ctx.uow() as uow:
        entries = outbox.pending(uow.session, now, limit=2)
        assert [e.event.type_name for e in entries] == ["ReleaseCreated", "ReleaseSubmitted"]
        assert all(
            isinstance(e.event, ev.ReleaseEvent) and e.event.release_id == release_id
            for e in entries
        )
        assert outbox.mark_relayed(uow.session, [e.id for e in entries], now) == 2
        uow.commit()
    with ctx.uow() as uow:
        remaining = outbox.pending(uow.session, now)
        assert [e.event.type_name for e in remaining] == ["ApprovalGiven", "ReleaseApproved"]
        assert outbox.mark_handled(uow.session, entries[0].event.event_id, now)
        assert not outbox.mark_handled(uow.session, entries[0].event.event_id, now)
        uow.commit()
    # Relayed but never handled: the message must have been lost, so it goes out again.
    later = now + outbox.REDELIVER_AFTER
    with ctx.uow() as uow:
        again = [e.event.type_name for e in outbox.pending(uow.session, later)]
        assert again == ["ReleaseSubmitted", "ApprovalGiven", "ReleaseApproved"]
        report = outbox.status(uow.session, later)
        assert report.unhandled == 3 and report.handled_recently == 1
        assert report.p50_lag_s == 0.0 and report.oldest_unhandled_s == 30.0


def test_comments_form_a_thread(ctx: ServiceContext, staff: Staff) -> None:
    release_id = draft(ctx, staff)
    svc.add_comment(ctx, staff.approver, release_id, "Which venue?")
    svc.add_comment(ctx, staff.author, release_id, "The ministry's briefing room.")
    thread = comments(ctx, release_id)
    assert [(c.author, c.body) for c in thread] == [
        ("Lee Jun-ho", "Which venue?"),
        ("Kim Min-ji", "The ministry's briefing room."),
    ]
    with pytest.raises(PermissionDenied):
        svc.add_comment(ctx, staff.admin, release_id, "Admins do not review.")


def test_revisions_are_immutable_rows(ctx: ServiceContext, staff: Staff) -> None:
    release_id = draft(ctx, staff)
    for base in (1, 2, 3):
        svc.edit_version(
            ctx,
            staff.author,
            release_id,
            language="ko",
            title=f"제목 {base}",
            body=BODY_KO,
            base_revision=base,
        )
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(RevisionRow.number, RevisionRow.title)
            .where(RevisionRow.release_id == release_id)
            .order_by(RevisionRow.number)
        ).all()
    assert rows == [(1, "전문가 회의 개최"), (2, "제목 1"), (3, "제목 2"), (4, "제목 3")]


def test_the_allowed_actions_are_those_of_the_caller(ctx: ServiceContext, staff: Staff) -> None:
    release_id = draft(ctx, staff)
    outcome = svc.submit_release(ctx, staff.author, release_id)
    assert Action.APPROVE not in outcome.allowed_actions
    view = get_release(ctx, release_id, staff.approver)
    assert set(view.allowed_actions) == {Action.APPROVE, Action.REJECT, Action.REQUEST_CHANGES}
    # A press officer who is also an approver and wrote the text may not approve it.
    svc.edit_version(
        ctx,
        staff.officer_approver,
        release_id,
        language="ko",
        title="수정",
        body=BODY_KO,
        base_revision=1,
    )
    view = get_release(ctx, release_id, staff.officer_approver)
    assert Action.APPROVE not in view.allowed_actions


def test_the_sqlite_database_runs_in_wal_mode(ctx: ServiceContext) -> None:
    if ctx.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with ctx.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@contextmanager
def statements_sent(ctx: ServiceContext) -> Iterator[list[str]]:
    """Every statement the engine executes meanwhile: on SQLite that includes the
    ``BEGIN IMMEDIATE`` of a transaction (psycopg begins its own unseen)."""
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement)

    event.listen(ctx.engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(ctx.engine, "before_cursor_execute", record)


def test_a_public_release_is_read_in_one_statement_as_the_public_sees_it(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """Both live texts, the topics in order of name, the contact and the view count, in
    one statement outside any transaction (the first read of every release page in each
    web process); the draft of a correction stays out of it, and a withdrawn release
    keeps its notice without its text."""
    release_id = svc.create_release(
        ctx,
        staff.author,
        language="ko",
        title="전문가 회의 개최",
        body=BODY_KO,
        topics=[staff.peninsula, staff.health],
        contact=Contact.checked("Kim Min-ji", "+82-2-2100-7000", "press@newsroom.example"),
    ).release_id
    request_id = svc.request_translation(ctx, staff.author, release_id, target_language="en")
    svc.submit_translation(
        ctx, staff.translator, request_id, title="Experts Meet", body=BODY_EN, base_revision=0
    )
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    svc.correct_release(
        ctx,
        staff.author,
        release_id,
        language="en",
        title="Not yet approved",
        body=BODY_EN,
        note="A typo",
        base_revision=1,
    )
    number = get_release(ctx, release_id, staff.author).number
    assert number is not None
    with statements_sent(ctx) as statements:
        release = public_release(ctx, number)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")

    assert release.topics == ["Global Health", "Korean Peninsula"]
    assert list(release.versions) == [Language.EN, Language.KO]
    assert release.versions[Language.EN].title == "Experts Meet"
    assert release.versions[Language.KO].body == BODY_KO
    assert release.contact == {
        "name": "Kim Min-ji",
        "phone": "+82-2-2100-7000",
        "email": "press@newsroom.example",
    }
    assert (release.release_id, release.view_count, release.withdrawn) == (release_id, 0, False)

    clock.advance(hours=1)
    svc.withdraw_release(ctx, staff.approver, release_id, "Superseded by a later statement")
    notice = public_release(ctx, number)
    assert notice.withdrawn and notice.withdrawn_at == clock.now()
    assert notice.withdrawal_reason == "Superseded by a later statement"
    assert {v.body for v in notice.versions.values()} == {""}
    assert notice.topics == ["Global Health", "Korean Peninsula"]

    with pytest.raises(NotFound):
        public_release(ctx, "2026-9999")


def test_a_page_of_the_public_list_is_read_in_one_statement(
    ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    """Newest first, each with its live titles and its topics in order of name, and the
    count of the whole list, in one statement; a page past the last still tells how many
    there are."""
    numbers = []
    for i in range(3):
        release_id = svc.create_release(
            ctx,
            staff.author,
            language="ko",
            title=f"보도자료 {i}",
            body=BODY_KO,
            topics=[staff.peninsula, staff.health] if i == 1 else [staff.health],
        ).release_id
        if i == 1:
            request_id = svc.request_translation(
                ctx, staff.author, release_id, target_language="en"
            )
            svc.submit_translation(
                ctx, staff.translator, request_id, title="Release 1", body=BODY_EN, base_revision=0
            )
        svc.submit_release(ctx, staff.author, release_id)
        svc.approve_release(ctx, staff.approver, release_id)
        svc.publish_release(ctx, staff.author, release_id)
        numbers.append(get_release(ctx, release_id, staff.author).number)
        clock.advance(minutes=1)
    draft(ctx, staff)  # never public
    with statements_sent(ctx) as statements:
        first = public_releases(ctx, page=1, per_page=2)
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")
    assert (first.total, [i.number for i in first.items]) == (3, [numbers[2], numbers[1]])
    assert first.items[1].topics == ["Global Health", "Korean Peninsula"]
    assert first.items[1].titles == {Language.EN: "Release 1", Language.KO: "보도자료 1"}
    assert first.items[0].titles == {Language.KO: "보도자료 2"}

    second = public_releases(ctx, page=2, per_page=2)
    assert (second.total, [i.number for i in second.items]) == (3, [numbers[0]])
    beyond = public_releases(ctx, page=5, per_page=2)
    assert (beyond.total, beyond.items) == (3, [])
    english = public_releases(ctx, language=Language.EN)
    assert (english.total, [i.number for i in english.items]) == (1, [numbers[1]])
    assert public_releases(ctx, topic_id=staff.peninsula).total == 1


def test_a_command_reads_the_release_whole_in_one_statement(
    ctx: ServiceContext, staff: Staff
) -> None:
    """Both versions and every approval of this review cycle come back from the one
    locking read, however many rows their combinations make; a command given the user
    (as the API passes the one its token names) reads nothing else before it writes."""
    ctx.settings.required_approvals = 3
    release_id = draft(ctx, staff)
    add_english(ctx, staff, release_id)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.approve_release(ctx, staff.approver_2, release_id)
    with ctx.uow() as uow:
        release = uow.releases.get(release_id)
        third = uow.users.get(staff.officer_approver)
    assert [a.approver_id for a in release.approvals] == [staff.approver, staff.approver_2]
    assert {lang: v.revision for lang, v in release.versions.items()} == {
        Language.KO: 1,
        Language.EN: 1,
    }

    with statements_sent(ctx) as statements:
        outcome = svc.approve_release(ctx, third, release_id)
    assert outcome.state is S.APPROVED
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) == 1 and "FROM releases" in reads[0]
