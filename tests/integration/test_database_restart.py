"""PostgreSQL restarted under load: a fan-out in a real worker and API traffic against
``newsroom web``, on a private PostgreSQL cluster that the test stops and starts.

The service must come back by itself (the pool replacing closed connections, the tasks'
retries, beat's sweeps), and no request may get a 500: while the database is down, 503
with Retry-After.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.integration.test_distribution import subscribe_many
from tests.integration.test_release_services import BODY_KO
from tests.private_servers import PrivatePostgres
from tests.processes import Cluster, wait_for
from tests.smtp_faults import copies_against_rows
from workflow.db.migrations import upgrade
from workflow.db.tables import AuditRow, DeliveryRow
from workflow.domain.states import ReleaseState
from workflow.mail.catcher import CatchingHandler
from workflow.services import accounts
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

pytestmark = [pytest.mark.faults, pytest.mark.processes, pytest.mark.postgres]


@pytest.fixture
def database_url(private_postgres: PrivatePostgres) -> str:
    """This module's database is on the private cluster, which the test may restart."""
    url = private_postgres.create_database("newsroom")
    upgrade(url)
    return url


@dataclass(frozen=True)
class Call:
    what: str
    started: float
    ended: float
    status: int
    retry_after: str | None


class Traffic(threading.Thread):
    """A client that reads the public API and moves releases through review, over and
    over, recording every answer with when it was asked and answered."""

    def __init__(self, base: str, author: str, approver: str, topic: int, number: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base, timeout=30)
        self.author = {"Authorization": f"Bearer {author}"}
        self.approver = {"Authorization": f"Bearer {approver}"}
        self.topic, self.number = topic, number
        self.calls: list[Call] = []
        self.approved: list[int] = []
        self.halt = threading.Event()

    def call(self, what: str, method: str, url: str, **kwargs: object) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TransportError:
            self.calls.append(Call(what, started, time.monotonic(), 0, None))
            return None
        self.calls.append(
            Call(
                what,
                started,
                time.monotonic(),
                response.status_code,
                response.headers.get("retry-after"),
            )
        )
        return response

    def run(self) -> None:
        while not self.halt.is_set():
            self.call("public list", "GET", "/api/v1/public/releases")
            self.call("public release", "GET", f"/api/v1/public/releases/{self.number}")
            created = self.call(
                "create",
                "POST",
                "/api/v1/releases",
                headers=self.author,
                json={
                    "language": "ko",
                    "title": "재시작 중",
                    "body": "본문",
                    "topics": [self.topic],
                },
            )
            if created is None or created.status_code != 201:
                continue
            release_id = created.json()["release_id"]
            submitted = self.call(
                "submit", "POST", f"/api/v1/releases/{release_id}/submit", headers=self.author
            )
            if submitted is None or submitted.status_code != 200:
                continue
            approval = self.call(
                "approve", "POST", f"/api/v1/releases/{release_id}/approve", headers=self.approver
            )
            if approval is not None and approval.status_code == 200:
                self.approved.append(release_id)


def test_a_postgresql_restart_costs_a_503_while_it_is_down_and_nothing_after(
    live: ServiceContext,
    staff: Staff,
    cluster: Cluster,
    cluster_env: dict[str, str],
    smtp: tuple[CatchingHandler, int],
    private_postgres: PrivatePostgres,
    web: str,
) -> None:
    catcher, _ = smtp
    cluster.env = {
        **cluster_env,
        "NEWSROOM_DELIVERY_LEASE_SECONDS": "5",
        "NEWSROOM_DELIVERY_BATCH_SIZE": "50",
        "NEWSROOM_DELIVERY_SWEEP_SECONDS": "1",
        "NEWSROOM_SMTP_CONNECTIONS": "2",
    }
    subscribe_many(live, 1000, staff.health)
    release_id = svc.create_release(
        live, staff.author, language="ko", title="재시작 배포", body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.submit_release(live, staff.author, release_id)
    svc.approve_release(live, staff.approver, release_id)
    author = accounts.create_token(live, staff.author, "restart test").token
    approver = accounts.create_token(live, staff.approver, "restart test").token
    cluster.worker()
    cluster.beat()
    base = web
    published = httpx.post(
        f"{base}/api/v1/releases/{release_id}/publish",
        headers={"Authorization": f"Bearer {author}"},
    )
    assert published.status_code == 200, published.text
    number = get_release(live, release_id).number
    assert number is not None

    def sent() -> int:
        with live.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(DeliveryRow).where(DeliveryRow.state == "sent")
                ).scalar_one()
            )

    traffic = Traffic(base, author, approver, staff.health, number)
    traffic.start()
    wait_for(lambda: sent() >= 200, 60, "the fan-out to be under way")
    down = time.monotonic()
    private_postgres.stop()
    time.sleep(3)
    private_postgres.start()
    up = time.monotonic()
    time.sleep(8)
    traffic.halt.set()
    traffic.join(timeout=60)

    wait_for(lambda: sent() == 1000, 180, "every delivery sent after the restart")

    # The API: never a 500; a 503 with Retry-After only for a request that overlapped
    # the outage; after it, everything answers as usual.
    calls = traffic.calls
    assert not [c for c in calls if c.status >= 500 and c.status != 503], "a 500"
    unavailable = [c for c in calls if c.status == 503]
    assert unavailable, "the traffic met the outage"
    assert all(c.retry_after == "5" for c in unavailable)
    grace = 1.0  # the pool notices the restart on its next checkout
    assert all(c.ended >= down and c.started <= up + grace for c in unavailable), [
        (c.what, c.started - down, c.ended - up) for c in unavailable
    ]
    after = [c for c in calls if c.started > up + grace]
    assert after, "traffic after the restart"
    assert all(c.status in (200, 201) for c in after), Counter((c.what, c.status) for c in after)
    assert not [c for c in calls if c.status == 0], "no connection refused by the web server"

    # What the API said was approved is approved, with one approval in its trail.
    with live.engine.connect() as conn:
        approvals = Counter(
            conn.scalars(
                select(AuditRow.release_id).where(
                    AuditRow.release_id.in_(traffic.approved), AuditRow.action == "approve"
                )
            )
        )
    assert approvals == dict.fromkeys(traffic.approved, 1)
    assert all(get_release(live, r).state is ReleaseState.APPROVED for r in traffic.approved)

    # The fan-out: everybody once; a second copy only where the restart cut a worker off
    # between the relay's 250 and its record, and then flagged.
    with live.engine.connect() as conn:
        rows = conn.execute(select(DeliveryRow.message_id, DeliveryRow.possible_duplicate)).all()
    twice, flagged = copies_against_rows(catcher, rows)
    assert twice <= flagged
