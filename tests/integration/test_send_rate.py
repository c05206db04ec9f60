"""One send rate for every worker and host (``workflow.mail.send_rate``): the pace in a
real Redis, what a process does while Redis is out of reach, the bulk engine against a
relay that refuses messages above its rate, and two real worker processes fanning out
to 2,000 subscribers at a limit measured at the SMTP server.

The tests with worker processes start a Redis of their own as the broker (the shared
pace lives in the broker's Redis), so they run on the SQLite pass too.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.integration.test_backbone import approved, scalar
from tests.integration.test_distribution import subscribe_many
from tests.private_servers import PrivateRedis, free_port
from tests.processes import Cluster, wait_for
from tests.smtp_faults import Faults, FaultyHandler
from workflow.db.tables import DeliveryRow
from workflow.mail.catcher import start_catcher
from workflow.mail.envelopes import Envelope as Mail
from workflow.mail.envelopes import Outcome
from workflow.mail.send_rate import (
    FLOOR_SHARE,
    RETRY_REDIS_SECONDS,
    LocalSendRate,
    RedisSendRate,
)
from workflow.mail.smtp_engine import RATE_RESENDS, SmtpBulkSender, send_all
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

_BROKER = os.environ.get("NEWSROOM_TEST_BROKER_URL", "")
REDIS_URL = _BROKER if _BROKER.startswith("redis") else "redis://127.0.0.1:6379/15"


@pytest.fixture
def prefix() -> Iterator[str]:
    """Keys of this test's own in the machine's Redis, removed afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.ConnectionError as error:
        pytest.skip(f"needs the Redis at {REDIS_URL} ({error})")
    name = f"test:{{send-rate-{uuid.uuid4().hex}}}"
    yield name
    client.delete(f"{name}:bucket", f"{name}:senders")
    client.close()


def took(*senders: RedisSendRate | LocalSendRate, each: int) -> float:
    """Seconds for every sender, side by side on one event loop, to acquire ``each``."""

    async def one(rate: RedisSendRate | LocalSendRate) -> None:
        for _ in range(each):
            await rate.acquire()
        await rate.aclose()

    async def all_of_them() -> float:
        began = time.monotonic()
        await asyncio.gather(*(one(rate) for rate in senders))
        return time.monotonic() - began

    return asyncio.run(all_of_them())


# --- the pace in Redis --------------------------------------------------------------------


def test_senders_sharing_redis_share_one_rate(prefix: str) -> None:
    alone = took(RedisSendRate(REDIS_URL, 100, prefix=f"{prefix}-alone"), each=25)
    first, second = (RedisSendRate(REDIS_URL, 100, prefix=prefix) for _ in range(2))
    together = took(first, second, each=25)
    # 25 messages at 100 a second: the last goes 0.24 s in; 50 between two senders of
    # one rate: 0.49 s, not 0.24 as two rates of their own would have it.
    assert 0.23 <= alone < 0.45
    assert 0.48 <= together < 0.8
    assert first.shared == (100.0, 2) and second.shared == (100.0, 2)
    redis.Redis.from_url(REDIS_URL).delete(f"{prefix}-alone:bucket", f"{prefix}-alone:senders")


def test_one_senders_slow_down_slows_every_sender_once(prefix: str) -> None:
    first, second = (RedisSendRate(REDIS_URL, 100, prefix=prefix) for _ in range(2))

    async def slow_twice() -> None:
        await first.slow_down("451 4.7.1 too many messages")
        await second.slow_down("451 4.7.1 too many messages")  # the same excess, heard again
        await first.aclose()
        await second.aclose()

    asyncio.run(slow_twice())
    # 10 messages at 50 a second: the last 0.18 s in.
    assert 0.17 <= took(second, each=10) < 0.4
    assert second.shared == (50.0, 1)
    stored = redis.Redis.from_url(REDIS_URL, decode_responses=True).hgetall(f"{prefix}:bucket")
    assert float(stored["base"]) == 50.0


def test_the_pace_in_redis_expires_when_nobody_sends(prefix: str) -> None:
    took(RedisSendRate(REDIS_URL, 100, prefix=prefix), each=2)
    client = redis.Redis.from_url(REDIS_URL)
    for key in (f"{prefix}:bucket", f"{prefix}:senders"):
        assert 0 < client.pttl(key) <= 60_000, key


def test_redis_out_of_reach_slows_a_process_to_its_share_and_never_stops_it(
    private_redis: PrivateRedis,
) -> None:
    """Waiting for Redis would stop sending for the whole outage; sending unpaced would
    send every worker's full speed at once. A process paces itself at its share of the
    rate Redis last gave, and goes back to the shared pace once Redis answers."""
    first, second = (RedisSendRate(private_redis.url, 100) for _ in range(2))
    took(first, second, each=2)
    # Both have been counted now, however slowly the second connected: the next
    # message sees two senders.
    took(first, each=1)
    assert first.shared == (100.0, 2)
    private_redis.stop()
    # Its share: 50 a second. Ten messages take 0.18 s, never the outage's length.
    assert 0.17 <= took(first, each=10) < 0.5
    assert first.alone is not None and first.alone.limit == 50.0
    private_redis.start()
    time.sleep(RETRY_REDIS_SECONDS)
    took(first, each=1)
    assert first.alone is None, "shared again"
    assert first.shared is not None and first.shared[0] == 100.0


def test_a_process_that_never_reached_redis_sends_slowly_but_sends() -> None:
    rate = RedisSendRate(f"redis://127.0.0.1:{free_port()}/0", 160)
    # The floor: 10 a second. Four messages take 0.3 s.
    assert 0.29 <= took(rate, each=4) < 0.6
    assert rate.alone is not None and rate.alone.limit == 160 * FLOOR_SHARE


# --- the engine against a relay with a rate limit of its own --------------------------------


class ThrottlingRelay(FaultyHandler):
    """A pipelining relay that takes ``per_second`` messages a second (a bucket of
    ``burst``) and answers the content of any more "451 4.7.1 too many messages";
    it notes when it took each."""

    def __init__(self, per_second: float, burst: float = 5, reply: str = "") -> None:
        super().__init__(Faults(pipelining=True))
        self.per_second, self.burst = per_second, burst
        self.reply = reply or "451 4.7.1 Too many messages, slow down"
        self.tokens, self.stamp = burst, time.monotonic()
        self.refused = 0
        self.taken_at: list[float] = []
        self._bucket = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._bucket:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.per_second)
            self.stamp = now
            if self.tokens < 1:
                self.refused += 1
                return self.reply
            self.tokens -= 1
            self.taken_at.append(now)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def throttling() -> Iterator[tuple[ThrottlingRelay, int]]:
    port = free_port()
    relay = ThrottlingRelay(per_second=50)
    controller, _ = start_catcher("127.0.0.1", port, handler=relay)
    yield relay, port
    controller.stop()


def mails(count: int) -> list[Mail]:
    return [
        Mail(i, "n@x.example", f"j{i}@press.example", b"Subject: x\r\n\r\nhi\r\n")
        for i in range(count)
    ]


def test_a_relay_refusing_our_pace_slows_it_and_every_message_goes_in_the_same_send(
    throttling: tuple[ThrottlingRelay, int],
) -> None:
    """At twice what the relay takes, the engine slows down at its first refusals and
    sends each refused message again once the slower rate lets it: every message ends
    sent, none is reported refused, and the refusals are a few, not half of them."""
    relay, port = throttling
    rate = LocalSendRate(100)
    sender = SmtpBulkSender("127.0.0.1", port, timeout=10, rate=rate)
    results = asyncio.run(send_all(mails(150), sender, connections=4, chunk=10))
    assert sorted(r.delivery_id for r in results) == list(range(150)), "one result each"
    assert {r.outcome for r in results} == {Outcome.SENT}
    assert len(relay.received()) == 150
    assert 0 < relay.refused < 150 // 4
    assert rate.current() < 100


def test_a_relay_that_refuses_whatever_our_pace_gets_the_usual_retry_later() -> None:
    """Past ``RATE_RESENDS`` refusals the message is settled as any 4xx: the relay's
    reason is not our pace, and the delivery's own retries take over."""
    port = free_port()
    relay = ThrottlingRelay(per_second=0, burst=0, reply="421 4.7.0 Too many messages")
    controller, _ = start_catcher("127.0.0.1", port, handler=relay)
    try:
        sender = SmtpBulkSender("127.0.0.1", port, timeout=10, rate=LocalSendRate(1000))
        results = asyncio.run(send_all(mails(2), sender, connections=1, chunk=2))
    finally:
        controller.stop()
    assert [(r.outcome, r.reply[:3]) for r in results] == [(Outcome.TRANSIENT, "421")] * 2
    assert relay.refused == 2 * (RATE_RESENDS + 1)


# --- real workers ---------------------------------------------------------------------------

LIMIT = 200
FAN_OUT = 2000


class StampingRelay:
    """Takes every message and notes when the content of each one to a journalist
    arrived, and for whom (the staff's workflow notices go one by one, not through the
    bulk engine). It keeps nothing else: parsing each message would cost the CPU the
    workers share with it."""

    def __init__(self) -> None:
        self.arrived: list[float] = []
        self.journalists: list[str] = []

    # The name is aiosmtpd's hook.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipients = [str(to) for to in envelope.rcpt_tos]
        if all(to.endswith("@press.example") for to in recipients):
            self.arrived.append(time.monotonic())
            self.journalists.extend(recipients)
        return "250 OK"


@pytest.fixture
def cluster_env(cluster_env: dict[str, str], private_redis: PrivateRedis) -> dict[str, str]:
    """Redis as the broker, and with it the shared pace; several tasks sending at once
    on each worker. A chunk of 25 a database write: the workers, the relay and the test
    share two CPUs in CI, and the fan-out must be able to go faster than the limit."""
    return {
        **cluster_env,
        "NEWSROOM_BROKER_URL": private_redis.url,
        "NEWSROOM_SMTP_MAX_PER_SECOND": str(LIMIT),
        "NEWSROOM_DELIVERY_BATCH_SIZE": "200",
        "NEWSROOM_DELIVERY_PARALLEL_BATCHES": "4",
        "NEWSROOM_DELIVERY_RECORD_EVERY": "25",
        "NEWSROOM_DELIVERY_SWEEP_SECONDS": "1",
    }


def sent(live: ServiceContext) -> int:
    return scalar(
        live, select(func.count()).select_from(DeliveryRow).where(DeliveryRow.state == "sent")
    )


def steady_rate(times: list[float]) -> tuple[float, float]:
    """Messages a second between the first second and the last, and that window's length."""
    times = sorted(times)
    start, end = times[0] + 1, times[-1] - 1
    inside = [t for t in times if start <= t <= end]
    return len(inside) / (end - start), end - start


@pytest.mark.processes
def test_two_workers_with_parallel_batches_send_at_the_one_limit_together(
    live: ServiceContext, staff: Staff, cluster: Cluster
) -> None:
    """Two worker processes, two sending tasks each: a cap per task would let them send
    four times the limit; the shared pace holds them together within 10 % of it."""
    relay = StampingRelay()
    port = free_port()
    controller, _ = start_catcher("127.0.0.1", port, handler=relay)
    try:
        cluster.env = {**cluster.env, "NEWSROOM_SMTP_PORT": str(port)}
        subscribe_many(live, FAN_OUT, staff.health)
        release_id = approved(live, staff, "공유 발송 속도")
        workers = [cluster.worker("w1", concurrency=2), cluster.worker("w2", concurrency=2)]
        cluster.beat()
        svc.publish_release(live, staff.author, release_id)
        wait_for(lambda: sent(live) == FAN_OUT, 120, "every delivery sent")
    finally:
        controller.stop()
    assert len(relay.arrived) == FAN_OUT and len(set(relay.journalists)) == FAN_OUT
    rate, window = steady_rate(relay.arrived)
    assert window > FAN_OUT / LIMIT / 2, "the fan-out ran at the limit, not in bursts"
    assert abs(rate - LIMIT) <= LIMIT / 10, f"{rate:.1f} messages a second"
    for worker in workers:
        assert "deliveries sent: claimed=" in worker.output(), f"{worker.name} sent its share"


@pytest.mark.processes
def test_a_relay_refusing_messages_above_its_rate_slows_every_worker_and_fails_nobody(
    live: ServiceContext, staff: Staff, cluster: Cluster
) -> None:
    """The relay takes half the configured limit and answers 451 "too many messages" to
    any more. Both workers slow down, each refused message goes again in its batch:
    every delivery is sent on its first attempt, and the refusals stay a few."""
    relay = ThrottlingRelay(per_second=LIMIT / 2)
    port = free_port()
    controller, _ = start_catcher("127.0.0.1", port, handler=relay)
    subscribers = 800
    try:
        cluster.env = {**cluster.env, "NEWSROOM_SMTP_PORT": str(port)}
        subscribe_many(live, subscribers, staff.health)
        release_id = approved(live, staff, "속도 제한 중계")
        workers = [cluster.worker("w1", concurrency=2), cluster.worker("w2", concurrency=2)]
        cluster.beat()
        svc.publish_release(live, staff.author, release_id)
        wait_for(lambda: sent(live) == subscribers, 120, "every delivery sent")
    finally:
        controller.stop()
    with live.engine.connect() as conn:
        rows = conn.execute(select(DeliveryRow.state, DeliveryRow.attempts)).all()
    assert {(state, attempts) for state, attempts in rows} == {("sent", 1)}, "no attempt burnt"
    journalists = [m for m in relay.received() if m.recipients[0].endswith("@press.example")]
    assert len(journalists) == subscribers
    assert 0 < relay.refused < subscribers // 10, relay.refused
    slowed = [w.name for w in workers if "send rate slowed to" in w.output()]
    assert slowed, "a worker slowed the shared rate"
