"""Redis, the broker, stopped for 30 seconds while releases are approved, scheduled and
published and a fan-out runs; started again empty (no persistence: the worst case, every
queued message lost). The database is the truth: nothing may be lost, and everything must
finish without anyone lifting a finger.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.integration.test_backbone import approved, scalar, sent_notifications, unhandled
from tests.integration.test_distribution import subscribe_many
from tests.integration.test_release_services import BODY_KO
from tests.private_servers import PrivateRedis
from tests.processes import Cluster, wait_for
from workflow.db.tables import AuditRow, DeliveryRow, OutboxRow
from workflow.domain.states import ReleaseState
from workflow.mail.catcher import CatchingHandler
from workflow.services import accounts
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

pytestmark = [pytest.mark.faults, pytest.mark.processes]

OUTAGE_SECONDS = 30
SUBSCRIBERS = 300


@pytest.fixture
def cluster_env(cluster_env: dict[str, str], private_redis: PrivateRedis) -> dict[str, str]:
    return {
        **cluster_env,
        "NEWSROOM_BROKER_URL": private_redis.url,
        "NEWSROOM_DELIVERY_LEASE_SECONDS": "5",
        "NEWSROOM_DELIVERY_BATCH_SIZE": "25",
        "NEWSROOM_DELIVERY_SWEEP_SECONDS": "1",
        "NEWSROOM_SMTP_CONNECTIONS": "1",
    }


def test_redis_down_for_30_seconds_loses_no_event_and_needs_no_hand(
    live: ServiceContext,
    staff: Staff,
    cluster: Cluster,
    smtp: tuple[CatchingHandler, int],
    private_redis: PrivateRedis,
    web: str,
) -> None:
    catcher, _ = smtp
    subscribe_many(live, SUBSCRIBERS, staff.health)
    fanned_out = approved(live, staff, "중단 전 게시")
    to_approve = svc.create_release(
        live, staff.author, language="ko", title="중단 중 승인", body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.submit_release(live, staff.author, to_approve)
    to_schedule = approved(live, staff, "중단 중 예약")
    to_publish = approved(live, staff, "중단 중 게시")
    author = {"Authorization": f"Bearer {accounts.create_token(live, staff.author, 't').token}"}
    approver = {"Authorization": f"Bearer {accounts.create_token(live, staff.approver, 't').token}"}
    cluster.worker()
    cluster.beat()
    api = httpx.Client(base_url=f"{web}/api/v1", timeout=30)

    def deliveries_sent() -> int:
        return scalar(
            live, select(func.count()).select_from(DeliveryRow).where(DeliveryRow.state == "sent")
        )

    assert api.post(f"/releases/{fanned_out}/publish", headers=author).status_code == 200
    wait_for(lambda: deliveries_sent() >= 25, 60, "the fan-out to be under way")

    private_redis.stop()
    stopped = time.monotonic()
    assert deliveries_sent() < SUBSCRIBERS, "the fan-out was still running"
    # Staff keep working; the broker is only transport, so the API does not notice.
    publish_at = datetime.now(UTC) + timedelta(seconds=5)
    answers = [
        api.post(f"/releases/{to_approve}/approve", headers=approver),
        api.post(
            f"/releases/{to_schedule}/schedule",
            headers=author,
            json={"publish_at": publish_at.isoformat()},
        ),
        api.post(f"/releases/{to_publish}/publish", headers=author),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    # Nor does it wait for the broker: the hint after the commit gives up at once.
    assert max(a.elapsed.total_seconds() for a in answers) < 2, [a.elapsed for a in answers]
    time.sleep(max(0.0, stopped + OUTAGE_SECONDS - time.monotonic()))
    private_redis.start()

    published = (fanned_out, to_schedule, to_publish)
    wait_for(
        lambda: all(get_release(live, r).state is ReleaseState.PUBLISHED for r in published),
        60,
        "the scheduled release published once the broker is back",
    )
    wait_for(lambda: deliveries_sent() == 3 * SUBSCRIBERS, 120, "every delivery sent")
    wait_for(lambda: unhandled(live) == 0, 60, "every event handled")
    wait_for(
        lambda: len(sent_notifications(live, "release_published")) == 1,
        60,
        "the author's notice of the scheduled publication (the others were their own doing)",
    )
    assert get_release(live, to_approve).state is ReleaseState.APPROVED
    assert len(sent_notifications(live, "release_approved")) == 4  # three before, one during

    with live.engine.connect() as conn:
        publications = Counter(
            conn.scalars(select(AuditRow.release_id).where(AuditRow.action == "publish"))
        )
        events = Counter(
            conn.scalars(
                select(OutboxRow.release_id).where(OutboxRow.event_type == "ReleasePublished")
            )
        )
        rows = conn.execute(select(DeliveryRow.message_id, DeliveryRow.possible_duplicate)).all()
    assert publications == dict.fromkeys(published, 1)
    assert events == dict.fromkeys(published, 1)
    copies = Counter(m.message_id for m in catcher.received())
    assert {message_id for message_id, _ in rows} <= set(copies), "nobody missed"
    # No SMTP fault and no worker killed: not even the flagged window may give a copy twice.
    assert [m for m, n in copies.items() if n > 1] == []
    assert not [m for m, possible in rows if possible]
