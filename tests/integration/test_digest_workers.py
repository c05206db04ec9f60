"""Daily digests with real worker and beat processes, a real broker (the embedded
filesystem transport, or Redis) and a real SMTP server on loopback: a day's releases in
one digest each, two beats at once, a worker killed mid-digest.

The clock is the real one, so a subscriber's time comes when the test moves their digest
time to a second just past, after the last release was public: the digest due is then
that second's day's, and carries what was published before it.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select, update

from tests.conftest import Staff
from tests.integration.test_distribution import subscribe, subscribe_many
from tests.integration.test_release_services import BODY_EN, BODY_KO
from tests.processes import Cluster, wait_for
from tests.smtp_faults import copies_against_rows
from workflow.dates import long_date
from workflow.db.tables import DeliveryRow, DigestRow, SubscriberRow
from workflow.mail.catcher import CatchingHandler, CaughtMail
from workflow.services import releases as svc
from workflow.services import subscribers
from workflow.services.context import ServiceContext

pytestmark = pytest.mark.processes

DIGEST_SUBJECTS = ("[일일 보도자료]", "[DAILY DIGEST]")


def publish(live: ServiceContext, staff: Staff, korean: str, english: str) -> int:
    release_id = svc.create_release(
        live, staff.author, language="ko", title=korean, body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.edit_version(
        live, staff.author, release_id, language="en", title=english, body=BODY_EN, base_revision=0
    )
    svc.submit_release(live, staff.author, release_id)
    svc.approve_release(live, staff.approver, release_id)
    svc.publish_release(live, staff.author, release_id)
    return release_id


def count(live: ServiceContext, query) -> int:  # type: ignore[no-untyped-def]
    with live.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def waiting(live: ServiceContext) -> int:
    """Releases waiting for a digest that none has taken."""
    return count(
        live,
        select(func.count())
        .select_from(DeliveryRow)
        .where(DeliveryRow.state == "digest", DeliveryRow.digest_id.is_(None)),
    )


def digests_in(live: ServiceContext, state: str) -> int:
    return count(live, select(func.count()).select_from(DigestRow).where(DigestRow.state == state))


def time_has_come(live: ServiceContext) -> tuple[date, time_of_day]:
    """The office's date and time of the first whole second after every release waiting
    for a digest was public, once it has passed: a digest time that has come, and
    whose day carries them all."""
    with live.engine.connect() as conn:
        last = conn.execute(
            select(func.max(DeliveryRow.next_attempt_at)).where(DeliveryRow.state == "digest")
        ).scalar_one()
    assert last is not None
    moment = (last + timedelta(seconds=1)).replace(microsecond=0)
    wait_for(lambda: datetime.now(UTC) > moment, 5, "that second to pass")
    local = moment.astimezone(live.settings.office_zone)
    return local.date(), local.time()


def digests_to(catcher: CatchingHandler, address: str) -> list[CaughtMail]:
    return [
        m
        for m in catcher.received()
        if address in m.recipients and m.subject.startswith(DIGEST_SUBJECTS)
    ]


def text_of(mail: CaughtMail) -> str:
    body = mail.message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_days_releases_reach_each_subscriber_in_one_digest(
    live: ServiceContext, staff: Staff, cluster: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    # Two hours from now: nothing is due while the day's releases come.
    later = (datetime.now(UTC) + timedelta(hours=2)).astimezone(live.settings.office_zone)
    subscribe(live, "each@press.example", [staff.health])
    readers = {
        language: subscribe(
            live,
            f"{language}@press.example",
            [staff.health],
            language=language,
            digest_time=later.time().replace(microsecond=0),
        )
        for language in ("ko", "en", "both")
    }
    cluster.worker()
    cluster.beat()
    day = [
        ("아침 보도자료", "Morning release"),
        ("점심 보도자료", "Noon release"),
        ("저녁 보도자료", "Evening release"),
    ]
    for korean, english in day:
        publish(live, staff, korean, english)
    wait_for(lambda: waiting(live) == 3 * 3, 60, "the day's releases waiting for the digests")
    wait_for(
        lambda: (
            len([m for m in catcher.received() if m.recipients == ("each@press.example",)]) == 3
        ),
        60,
        "each release, at once, to the subscriber who chose so",
    )
    assert all(not digests_to(catcher, f"{lang}@press.example") for lang in readers)

    # The readers' time comes: each moves their digest to the second just past.
    today, now = time_has_come(live)
    for language, reader in readers.items():
        token = parse_qs(urlsplit(subscribers.links_for(live, reader)["preferences"]).query)
        subscribers.update_preferences(
            live,
            token["token"][0],
            [staff.health],
            language,
            delivery="digest",
            digest_time=f"{now:%H:%M:%S}",
        )
    wait_for(lambda: digests_in(live, "sent") == 3, 60, "a digest to each reader")
    publish(live, staff, "밤 보도자료", "Night release")  # after their time: the next day's
    wait_for(lambda: waiting(live) == 3, 60, "the night's release waiting for tomorrow")
    time.sleep(3)  # three more looks for due digests: still one each

    zone = live.settings.office_zone
    their_moment = datetime.combine(today, now, tzinfo=zone)
    for language in readers:
        [digest] = digests_to(catcher, f"{language}@press.example")
        text = text_of(digest)
        korean = language in ("ko", "both")
        english = language in ("en", "both")
        for ko_title, en_title in day:
            assert (ko_title in text, en_title in text) == (korean, english), (language, text)
        assert "밤 보도자료" not in text and "Night release" not in text
        frame = "en" if language == "en" else "ko"
        assert long_date(their_moment, frame, zone) in digest.subject
    with live.engine.connect() as conn:
        rows = conn.execute(
            select(DigestRow.subscriber_id, DigestRow.day, DigestRow.message_id)
        ).all()
        carried = conn.execute(
            select(DeliveryRow.state, func.count())
            .where(DeliveryRow.subscriber_id.in_(readers.values()))
            .group_by(DeliveryRow.state)
        ).all()
    assert sorted((r.subscriber_id, r.day) for r in rows) == sorted(
        (reader, today) for reader in readers.values()
    )
    assert dict(carried) == {"sent": 9, "digest": 3}
    copies = Counter(m.message_id for m in catcher.received())
    assert all(copies[r.message_id] == 1 for r in rows)


def test_two_beats_and_two_workers_send_each_subscriber_one_digest(
    live: ServiceContext, staff: Staff, cluster: Cluster, smtp: tuple[CatchingHandler, int]
) -> None:
    catcher, _ = smtp
    readers = 60
    later = (datetime.now(UTC) + timedelta(hours=2)).astimezone(live.settings.office_zone)
    subscribe_many(
        live,
        readers,
        staff.health,
        prefix="reader",
        digest_time=later.time().replace(microsecond=0),
    )
    cluster.worker("w1")
    cluster.worker("w2")
    cluster.beat("beat1")
    cluster.beat("beat2")  # by mistake
    publish(live, staff, "첫째 보도자료", "First release")
    publish(live, staff, "둘째 보도자료", "Second release")
    wait_for(lambda: waiting(live) == 2 * readers, 60, "the releases waiting for the digests")

    _, now = time_has_come(live)
    with live.engine.begin() as conn:
        conn.execute(update(SubscriberRow).values(digest_time=now))
    wait_for(lambda: digests_in(live, "sent") == readers, 90, "a digest to every reader")
    time.sleep(3)  # three more looks for due digests by each beat: still one each

    with live.engine.connect() as conn:
        rows = conn.execute(select(DigestRow.subscriber_id, DigestRow.message_id)).all()
        states = conn.execute(select(DeliveryRow.state).distinct()).scalars().all()
    assert len(rows) == readers and len({r.subscriber_id for r in rows}) == readers
    assert states == ["sent"], "every release of theirs went in their digest"
    digests = [m for m in catcher.received() if m.subject.startswith(DIGEST_SUBJECTS)]
    assert Counter(m.recipients for m in digests) == {
        (f"reader{i}@press.example",): 1 for i in range(readers)
    }
    assert Counter(m.message_id for m in digests) == {r.message_id: 1 for r in rows}
    assert all("첫째 보도자료" in text_of(m) and "둘째 보도자료" in text_of(m) for m in digests)


DIGEST_FAN_OUT = 3000


@pytest.mark.faults
def test_a_worker_killed_mid_digest_leaves_no_one_out_and_no_one_twice(
    live: ServiceContext,
    staff: Staff,
    cluster: Cluster,
    cluster_env: dict[str, str],
    smtp: tuple[CatchingHandler, int],
) -> None:
    catcher, _ = smtp
    cluster.env = {
        **cluster_env,
        "NEWSROOM_DELIVERY_LEASE_SECONDS": "15",
        "NEWSROOM_DELIVERY_BATCH_SIZE": "100",
        "NEWSROOM_SMTP_CONNECTIONS": "2",
        "NEWSROOM_DELIVERY_RECORD_EVERY": "5",
    }
    later = (datetime.now(UTC) + timedelta(hours=2)).astimezone(live.settings.office_zone)
    subscribe_many(
        live,
        DIGEST_FAN_OUT,
        staff.health,
        prefix="journalist",
        digest_time=later.time().replace(microsecond=0),
    )
    doomed = cluster.worker("doomed", concurrency=2)
    cluster.beat()
    publish(live, staff, "대량 보도자료 모음", "Digest for many")
    wait_for(lambda: waiting(live) == DIGEST_FAN_OUT, 120, "the release waiting for everyone")

    _, now = time_has_come(live)
    with live.engine.begin() as conn:
        conn.execute(update(SubscriberRow).values(digest_time=now))
    wait_for(lambda: digests_in(live, "sent") >= DIGEST_FAN_OUT // 5, 120, "the digests under way")
    doomed.kill()
    assert DIGEST_FAN_OUT // 5 <= digests_in(live, "sent") < DIGEST_FAN_OUT, "in the middle"
    # The successor's own leases outlast its batches however loaded the machine: the only
    # leases that run out are the dead worker's.
    cluster.env = {**cluster.env, "NEWSROOM_DELIVERY_LEASE_SECONDS": "600"}
    cluster.worker("successor")
    wait_for(lambda: digests_in(live, "sent") == DIGEST_FAN_OUT, 240, "every digest sent")

    with live.engine.connect() as conn:
        rows = conn.execute(select(DigestRow.message_id, DigestRow.possible_duplicate)).all()
        carried = conn.execute(
            select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)
        ).all()
    assert len(rows) == DIGEST_FAN_OUT, "one digest each"
    assert dict(carried) == {"sent": DIGEST_FAN_OUT}, "the release settled with each digest"
    twice, flagged = copies_against_rows(catcher, rows)
    assert twice <= flagged, "a second copy only where the killed worker held the lease"
    # Each of its 2 processes × 2 connections had at most one chunk of 5 started and not
    # yet recorded when it died.
    assert len(flagged) <= 2 * 2 * 5, "at most what its connections had in flight"
    reached = {m.recipients for m in catcher.received() if m.subject.startswith(DIGEST_SUBJECTS)}
    assert reached == {(f"journalist{i}@press.example",) for i in range(DIGEST_FAN_OUT)}
