"""The Celery backbone with real worker and beat processes, a real broker (the embedded
filesystem transport, or Redis in CI) and a real SMTP server on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select

from config.settings import Settings
from tests.conftest import Staff
from tests.integration.test_release_services import BODY_KO
from tests.processes import Cluster, wait_for
from tests.smtp_faults import copies_against_rows
from workflow.db.tables import (
    AuditRow,
    DeliveryRow,
    NotificationRow,
    OutboxRow,
    ReleaseRow,
    TranslationRequestRow,
)
from workflow.domain.states import ReleaseState
from workflow.mail.catcher import CatchingHandler
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import audit_trail, get_release

pytestmark = pytest.mark.processes


def approved(live: ServiceContext, staff: Staff, title: str) -> int:
    release_id = svc.create_release(
        live, staff.author, language="ko", title=title, body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.submit_release(live, staff.author, release_id)
    svc.approve_release(live, staff.approver, release_id)
    return release_id


def scalar(live: ServiceContext, query) -> int:  # type: ignore[no-untyped-def]
    with live.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def unhandled(live: ServiceContext) -> int:
    return scalar(
        live, select(func.count()).select_from(OutboxRow).where(OutboxRow.handled_at.is_(None))
    )


def sent_notifications(live: ServiceContext, kind: str) -> list[tuple[str, str]]:
    with live.engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(  # type: ignore[misc]
                select(NotificationRow.to_address, NotificationRow.message_id).where(
                    NotificationRow.kind == kind, NotificationRow.state == "sent"
                )
            )
        ]


def test_events_left_behind_by_a_crash_before_the_hint_are_relayed_by_the_sweep(
    live: ServiceContext, staff: Staff, cluster: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    """``live`` has no after-commit hint: exactly what a process killed between its
    commit and the hint leaves. Beat's sweep must find the events."""
    catcher, _ = smtp
    release_id = svc.create_release(
        live,
        staff.author,
        language="ko",
        title="검토 요청 시험",
        body=BODY_KO,
        topics=[staff.health],
    ).release_id
    svc.submit_release(live, staff.author, release_id)
    assert unhandled(live) == 2
    cluster.worker()
    cluster.beat()
    approvers = {"approver@newsroom.example", "director@newsroom.example", "both@newsroom.example"}
    wait_for(
        lambda: len(sent_notifications(live, "review_requested")) == 3,
        30,
        "the approvers' review requests",
    )
    wait_for(lambda: unhandled(live) == 0, 20, "every event handled")
    sent = sent_notifications(live, "review_requested")
    assert {to for to, _ in sent} == approvers
    received = {m.message_id: m for m in catcher.received()}
    assert {message_id for _, message_id in sent} <= set(received)
    mail = received[sent[0][1]]
    assert mail.subject == "[검토 요청] 검토 요청 시험"
    assert mail.message.get_content_type() == "multipart/alternative"


def cluster_settings(database_url: str, cluster_env: dict[str, str]) -> Settings:
    """Settings for this process that reach the cluster's database and broker."""
    return Settings(
        database_url=database_url,
        broker_url=cluster_env["NEWSROOM_BROKER_URL"],
        var_dir=cluster_env["NEWSROOM_VAR_DIR"],  # type: ignore[arg-type]
    )


def test_the_after_commit_hint_wakes_the_relay_without_beat(
    database_url: str,
    staff: Staff,
    cluster: Cluster,
    cluster_env: dict[str, str],
    smtp: tuple[CatchingHandler, int],
) -> None:
    from tasks.configuration import create_app

    cluster.worker()  # no beat: nothing sweeps
    settings = cluster_settings(database_url, cluster_env)
    app = create_app(settings)
    live = ServiceContext.from_settings(settings)
    live.outbox_hint = lambda: app.send_task("newsroom.relay_outbox")
    try:
        release_id = approved(live, staff, "즉시 전달")
        wait_for(lambda: unhandled(live) == 0, 20, "the hinted relay")
        wait_for(
            lambda: len(sent_notifications(live, "release_approved")) == 1,
            20,
            "the author's approval notice",
        )
        assert get_release(live, release_id).state is ReleaseState.APPROVED
    finally:
        live.engine.dispose()


def test_two_workers_and_two_beats_publish_each_release_exactly_once(
    live: ServiceContext, staff: Staff, cluster: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    ids = [approved(live, staff, f"예약 게시 {i}") for i in range(12)]
    cluster.worker("w1")
    cluster.worker("w2")
    cluster.beat("beat1")
    cluster.beat("beat2")  # by mistake
    start = datetime.now(UTC) + timedelta(seconds=3)
    for i, release_id in enumerate(ids):
        svc.schedule_release(
            live, staff.author, release_id, publish_at=start + timedelta(milliseconds=250 * i)
        )
    wait_for(
        lambda: all(get_release(live, r).state is ReleaseState.PUBLISHED for r in ids),
        40,
        "every release published",
    )
    with live.engine.connect() as conn:
        publications = Counter(
            conn.scalars(select(AuditRow.release_id).where(AuditRow.action == "publish"))
        )
        events = Counter(
            conn.scalars(
                select(OutboxRow.release_id).where(OutboxRow.event_type == "ReleasePublished")
            )
        )
        numbers = list(conn.scalars(select(ReleaseRow.number).where(ReleaseRow.id.in_(ids))))
    assert publications == dict.fromkeys(ids, 1)
    assert events == dict.fromkeys(ids, 1)
    assert len(set(numbers)) == 12
    wait_for(
        lambda: len(sent_notifications(live, "release_published")) == 12,
        30,
        "one publication notice per release",
    )
    published_notices = [m for m in catcher.received() if m.subject.startswith("[게시]")]
    assert len(published_notices) == 12
    assert len({m.message_id for m in published_notices}) == 12


def test_overdue_releases_are_published_in_schedule_order_after_downtime(
    live: ServiceContext, staff: Staff, cluster: Cluster
) -> None:
    ids = [approved(live, staff, f"지연 게시 {i}") for i in range(5)]
    due = datetime.now(UTC) + timedelta(seconds=2)
    # Scheduled in shuffled order, so that id order is not schedule order.
    for offset, release_id in zip([3, 0, 4, 1, 2], ids, strict=True):
        svc.schedule_release(
            live, staff.author, release_id, publish_at=due + timedelta(milliseconds=100 * offset)
        )
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1.0)  # all overdue
    cluster.worker(concurrency=1)
    cluster.beat()
    wait_for(
        lambda: all(get_release(live, r).state is ReleaseState.PUBLISHED for r in ids),
        30,
        "the catch-up",
    )
    views = [get_release(live, r) for r in ids]
    by_schedule = sorted(views, key=lambda v: v.publish_at or due)
    by_publication = sorted(views, key=lambda v: (v.published_at or due, v.number))
    assert [v.id for v in by_schedule] == [v.id for v in by_publication]
    for view in views:
        publish = audit_trail(live, view.id)[-1]
        assert publish.details["scheduled_for"] == (view.publish_at or due).isoformat()
        assert datetime.fromisoformat(publish.details["published_at"]) > view.publish_at  # type: ignore[operator]


def test_an_embargoed_release_is_published_but_not_public_until_the_embargo_ends(
    live: ServiceContext, staff: Staff, cluster: Cluster
) -> None:
    release_id = approved(live, staff, "엠바고 시험")
    publish_at = datetime.now(UTC) + timedelta(seconds=1)
    embargo = publish_at + timedelta(days=1)
    svc.schedule_release(
        live, staff.author, release_id, publish_at=publish_at, embargo_until=embargo
    )
    cluster.worker()
    cluster.beat()
    wait_for(
        lambda: get_release(live, release_id).state is ReleaseState.PUBLISHED,
        20,
        "publication",
    )
    with live.uow() as uow:
        release = uow.releases.get(release_id)
    assert not release.is_public(datetime.now(UTC))
    assert release.is_public(embargo)


def test_a_translation_request_is_mailed_reminded_escalated_and_fulfilled(
    live: ServiceContext, staff: Staff, cluster: Cluster, cluster_env: dict[str, str]
) -> None:
    cluster.env = {**cluster_env, "NEWSROOM_TRANSLATION_REMINDER_HOURS": "1"}
    release_id = svc.create_release(
        live, staff.author, language="ko", title="번역 시험", body=BODY_KO, topics=[staff.health]
    ).release_id
    due = datetime.now(UTC) + timedelta(seconds=4)
    request_id = svc.request_translation(
        live, staff.author, release_id, target_language="en", due_at=due
    )
    cluster.worker()
    cluster.beat()
    wait_for(
        lambda: len(sent_notifications(live, "translation_requested")) == 1,
        30,
        "the translator's request",
    )
    wait_for(
        lambda: len(sent_notifications(live, "translation_reminder")) == 1,
        30,
        "the reminder (due within the hour)",
    )
    wait_for(
        lambda: len(sent_notifications(live, "translation_overdue")) == 1,
        30,
        "the escalation to the requester",
    )
    assert sent_notifications(live, "translation_overdue")[0][0] == "author@newsroom.example"
    outcome = svc.submit_translation(
        live,
        staff.translator,
        request_id,
        title="Translation",
        body="1. Translated.",
        base_revision=0,
    )
    assert outcome.state is ReleaseState.DRAFT
    time.sleep(2.5)  # more deadline sweeps: still one reminder and one escalation
    assert len(sent_notifications(live, "translation_reminder")) == 1
    assert len(sent_notifications(live, "translation_overdue")) == 1


class _Provider(BaseHTTPRequestHandler):
    """Speaks LibreTranslate's POST /translate; the first ``failures`` calls get a 503."""

    failures = 0
    calls: list[dict[str, str]] = []  # noqa: RUF012  # per-server state, reset per test

    def do_POST(self) -> None:  # http.server's hook name
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append(payload)
        if len(type(self).calls) <= type(self).failures:
            self.send_response(503)
            self.end_headers()
            self.wfile.write(b"busy")
            return
        body = json.dumps({"translatedText": f"[{payload['target']}] {payload['q']}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[str]:
    _Provider.failures, _Provider.calls = 2, []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/translate"
    server.shutdown()


def test_the_machine_provider_drafts_a_translation_after_retrying_its_errors(
    live: ServiceContext,
    staff: Staff,
    cluster: Cluster,
    cluster_env: dict[str, str],
    provider: str,
) -> None:
    cluster.env = {
        **cluster_env,
        "NEWSROOM_TRANSLATION_PROVIDER": "machine",
        "NEWSROOM_MACHINE_TRANSLATION_URL": provider,
    }
    release_id = svc.create_release(
        live, staff.author, language="ko", title="기계 번역", body=BODY_KO, topics=[staff.health]
    ).release_id
    request_id = svc.request_translation(live, staff.author, release_id, target_language="en")
    cluster.worker()
    cluster.beat()

    def request() -> TranslationRequestRow:
        with live.engine.connect() as conn:
            row = conn.execute(
                select(TranslationRequestRow).where(TranslationRequestRow.id == request_id)
            ).one()
        return row  # type: ignore[return-value]

    wait_for(
        lambda: request().provider_error.startswith("HTTP 503"),
        30,
        "the provider's error, visible on the request",
    )
    assert request().state == "open"
    wait_for(lambda: request().machine_body is not None, 60, "the machine draft")
    row = request()
    assert row.machine_title == "[en] 기계 번역"
    assert row.machine_body == f"[en] {BODY_KO}"
    assert row.provider_error == "" and row.provider_attempts >= 3
    # A draft only: the English version exists when a translator submits it.
    assert set(get_release(live, release_id).versions) == {"ko"}


FAN_OUT = 5000


@pytest.mark.faults
def test_a_worker_killed_mid_fan_out_leaves_no_one_out_and_no_one_twice(
    live: ServiceContext,
    staff: Staff,
    cluster: Cluster,
    cluster_env: dict[str, str],
    smtp: tuple[CatchingHandler, int],
) -> None:
    from tests.integration.test_distribution import subscribe_many

    catcher, _ = smtp
    cluster.env = {
        **cluster_env,
        "NEWSROOM_DELIVERY_LEASE_SECONDS": "15",
        "NEWSROOM_DELIVERY_BATCH_SIZE": "100",
        "NEWSROOM_SMTP_CONNECTIONS": "2",
        "NEWSROOM_DELIVERY_RECORD_EVERY": "5",
    }
    subscribe_many(live, FAN_OUT, staff.health, prefix="journalist")
    release_id = approved(live, staff, "대량 배포")
    first = cluster.worker("doomed", concurrency=2)
    cluster.beat()
    svc.publish_release(live, staff.author, release_id)

    def sent() -> int:
        return scalar(
            live, select(func.count()).select_from(DeliveryRow).where(DeliveryRow.state == "sent")
        )

    wait_for(lambda: sent() >= FAN_OUT // 5, 120, "the fan-out to be under way")
    first.kill()
    assert FAN_OUT // 5 <= sent() < FAN_OUT, "killed in the middle"
    # The successor's own leases outlast its batches however loaded the machine: the only
    # leases that run out are the dead worker's.
    cluster.env = {**cluster.env, "NEWSROOM_DELIVERY_LEASE_SECONDS": "600"}
    cluster.worker("successor")
    wait_for(lambda: sent() == FAN_OUT, 240, "every delivery sent")
    with live.engine.connect() as conn:
        rows = conn.execute(select(DeliveryRow.message_id, DeliveryRow.possible_duplicate)).all()
    twice, flagged = copies_against_rows(catcher, rows)
    assert twice <= flagged, "a second copy only where the killed worker held the lease"
    # Each of its 2 processes × 2 connections had at most one chunk of 5 started and not
    # yet recorded when it died.
    assert len(flagged) <= 2 * 2 * 5, "at most what its connections had in flight"


@pytest.mark.faults
def test_a_misbehaving_relay_costs_no_one_their_message_and_every_copy_is_counted(
    live: ServiceContext, staff: Staff, cluster: Cluster, cluster_env: dict[str, str]
) -> None:
    """The relay answers 451 to 30 % of messages, drops the connection after the final
    dot for 5 % and refuses three recipients with 550; real workers send to 200."""
    from tests.integration.conftest import free_port
    from tests.integration.test_distribution import subscribe_many
    from tests.smtp_faults import Faults, FaultyHandler
    from workflow.db.tables import SubscriberRow
    from workflow.mail.catcher import start_catcher

    refused = {"j3@press.example", "j77@press.example", "j150@press.example"}
    relay = FaultyHandler(Faults(temporary_share=0.3, drop_share=0.05, refuse=refused))
    port = free_port()
    controller, _ = start_catcher("127.0.0.1", port, handler=relay)
    try:
        cluster.env = {
            **cluster_env,
            "NEWSROOM_SMTP_PORT": str(port),
            "NEWSROOM_DELIVERY_RETRY_SECONDS": "0.5",
            "NEWSROOM_DELIVERY_SWEEP_SECONDS": "0.5",
            "NEWSROOM_DELIVERY_MAX_ATTEMPTS": "30",
            "NEWSROOM_DELIVERY_BATCH_SIZE": "50",
            "NEWSROOM_SMTP_CONNECTIONS": "2",
        }
        subscribe_many(live, 200, staff.health)
        release_id = approved(live, staff, "불안정한 중계")
        cluster.worker()
        cluster.beat()
        svc.publish_release(live, staff.author, release_id)

        def unfinished() -> int:
            return scalar(
                live,
                select(func.count())
                .select_from(DeliveryRow)
                .where(DeliveryRow.state.in_(("pending", "deferred", "sending"))),
            )

        wait_for(
            lambda: scalar(live, select(func.count()).select_from(DeliveryRow)) == 200,
            30,
            "the plan",
        )
        wait_for(lambda: unfinished() == 0, 120, "every delivery settled")
    finally:
        controller.stop()
    with live.engine.connect() as conn:
        rows = conn.execute(
            select(
                SubscriberRow.email,
                SubscriberRow.hard_bounces,
                DeliveryRow.state,
                DeliveryRow.attempts,
                DeliveryRow.message_id,
                DeliveryRow.possible_duplicate,
            ).join(SubscriberRow, SubscriberRow.id == DeliveryRow.subscriber_id)
        ).all()
    assert relay.temporary > 0 and relay.dropped > 0
    failed = {r.email: (r.attempts, r.hard_bounces) for r in rows if r.state == "failed"}
    assert failed == dict.fromkeys(refused, (1, 1)), "failed at once, not retried, counted"
    assert {r.state for r in rows if r.email not in refused} == {"sent"}
    # Message-IDs are random: the release's messages are those its rows name.
    ours = {r.message_id for r in rows}
    copies = Counter(m.message_id for m in relay.received() if m.message_id in ours)
    assert set(copies) == {r.message_id for r in rows if r.state == "sent"}, "everyone else got it"
    twice = {message_id for message_id, n in copies.items() if n > 1}
    flagged = {r.message_id for r in rows if r.possible_duplicate}
    assert twice == flagged, "a second copy exactly where a reply was lost after the dot"
    drops = [m for m in relay.dropped_messages if m in ours]
    assert sum(n - 1 for n in copies.values()) == len(drops)
