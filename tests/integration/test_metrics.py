"""Prometheus metrics from the real processes: ``newsroom web`` with two uvicorn workers
and a Celery worker with two pool processes, each recording into files of its own, added
up in one scrape (``workflow.metrics``); who may scrape; ``/readyz`` failing while work
waits too long (``workflow.backlog``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from tests.conftest import Staff
from tests.integration.conftest import free_port
from tests.integration.test_distribution import subscribe, subscribe_many
from tests.processes import ROOT, Cluster, Process, wait_for
from workflow.db.tables import DeliveryRow, OutboxRow, ReleaseRow
from workflow.domain.states import ReleaseState
from workflow.services import accounts
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

pytestmark = pytest.mark.processes

TOKEN = "scrape-token-0123456789"
NEWSROOM = str(Path(sys.executable).parent / "newsroom")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, **options: object) -> Samples:
    answer = httpx.get(url, timeout=10, **options)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def two_workers(cluster: Cluster) -> Iterator[str]:
    """``newsroom web --workers 2``, /metrics open to 127.0.0.1 and to the token."""
    port = free_port()
    log = cluster.logs / "web.log"
    env = {
        **cluster.env,
        "NEWSROOM_METRICS_ALLOW": '["127.0.0.1/32"]',
        "NEWSROOM_METRICS_TOKEN": TOKEN,
    }
    popen = subprocess.Popen(  # noqa: S603  # the project's own command
        [NEWSROOM, "web", "--port", str(port), "--workers", "2"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster.processes.append(Process("web", popen, log))
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            started = log.read_text().count("Application startup complete") == 2
            return started and httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, 60, "two web workers")
    yield base


def metrics_folder(cluster: Cluster) -> Path:
    return Path(cluster.env["NEWSROOM_VAR_DIR"]) / "metrics"


def test_requests_spread_over_two_web_processes_add_up_in_one_scrape(
    two_workers: str, cluster: Cluster
) -> None:
    before = scrape(f"{two_workers}/metrics")
    for _ in range(40):
        # A connection each: the kernel spreads them over the workers' sockets.
        assert httpx.get(f"{two_workers}/healthz").status_code == 200
    assert httpx.get(f"{two_workers}/no/such/page").status_code == 404
    assert httpx.get(f"{two_workers}/api/v1/public/releases/2099-0001").status_code == 404
    after = scrape(f"{two_workers}/metrics")

    # Both processes answered some of them, each into its own file.
    port = two_workers.rsplit(":", 1)[1]
    files = sorted(p.name for p in (metrics_folder(cluster) / f"web-{port}").iterdir())
    assert len([f for f in files if f.startswith("histogram_")]) == 2, files

    count = "newsroom_http_request_duration_seconds_count"
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(after, count, **healthz) - value(before, count, **healthz) == 40
    # The series of the 40 add up: every one fell in some bucket.
    assert value(after, "newsroom_http_request_duration_seconds_bucket", le="+Inf", **healthz) == (
        value(after, count, **healthz)
    )
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, count, **unmatched) - value(before, count, **unmatched) == 1
    # A release that does not exist is still counted under its route's template.
    template = {"method": "GET", "route": "/api/v1/public/releases/{number}", "status": "404"}
    assert value(after, count, **template) == 1


def test_a_scheduled_publication_and_its_fan_out_show_in_one_scrape(
    two_workers: str, cluster: Cluster, live: ServiceContext, staff: Staff
) -> None:
    worker_port = free_port()
    cluster.env["NEWSROOM_WORKER_METRICS_PORT"] = str(worker_port)
    cluster.worker(concurrency=2)
    cluster.beat()
    subscribe_many(live, 5, staff.health)
    author = {"Authorization": f"Bearer {accounts.create_token(live, staff.author, 't').token}"}
    approver = {"Authorization": f"Bearer {accounts.create_token(live, staff.approver, 't').token}"}

    with httpx.Client(base_url=two_workers, timeout=10) as api:
        created = api.post(
            "/api/v1/releases",
            headers=author,
            json={"language": "ko", "title": "공지", "body": "1. 내용.", "topics": [staff.health]},
        )
        assert created.status_code == 201, created.text
        release = f"/api/v1/releases/{created.json()['release_id']}"
        assert api.post(f"{release}/submit", headers=author).status_code == 200
        assert api.post(f"{release}/approve", headers=approver).status_code == 200
        publish_at = datetime.now(UTC) + timedelta(seconds=4)
        scheduled = api.post(
            f"{release}/schedule", headers=author, json={"publish_at": publish_at.isoformat()}
        )
        assert scheduled.status_code == 200, scheduled.text

    release_id = created.json()["release_id"]

    def sent() -> int:
        with live.engine.connect() as conn:
            return int(
                conn.scalar(
                    select(func.count())
                    .select_from(DeliveryRow)
                    .where(DeliveryRow.release_id == release_id, DeliveryRow.state == "sent")
                )
                or 0
            )

    wait_for(lambda: sent() == 5, 60, "the release mailed to its five subscribers")
    with live.engine.connect() as conn:
        state = conn.scalar(select(ReleaseRow.state).where(ReleaseRow.id == release_id))
        handled = conn.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.handled_at.is_not(None))
        )
    assert state == ReleaseState.PUBLISHED.value

    samples = scrape(f"{two_workers}/metrics")
    committed = "newsroom_events_committed_total"
    # Committed by the web processes...
    for kind in ("ReleaseCreated", "ReleaseSubmitted", "ReleaseApproved", "ReleaseScheduled"):
        assert value(samples, committed, type=kind) == 1, kind
    # ...and by the worker's pool process that published it.
    assert value(samples, committed, type="ReleasePublished") == 1
    assert value(samples, "newsroom_publication_lateness_seconds_count") == 1
    assert 0 <= value(samples, "newsroom_publication_lateness_seconds_sum") < 10
    # Every event the consumer handled, at least once (a redelivered one twice).
    assert value(samples, "newsroom_outbox_relay_lag_seconds_count") >= (handled or 0) > 0
    assert value(samples, "newsroom_deliveries_total", state="sent", reply_class="2xx") == 5
    # Read when asked: nothing waits now, and the embedded broker's queues are listed.
    wait_for(
        lambda: value(scrape(f"{two_workers}/metrics"), "newsroom_outbox_backlog") == 0,
        30,
        "the outbox to be empty",
    )
    queues = {
        dict(labels)["queue"]
        for (name, labels) in samples
        if name == "newsroom_celery_queue_length"
    }
    assert queues == {"publication", "relay", "newsroom", "distribution"}

    # The worker's own endpoint: its processes' files only, no web requests.
    own = scrape(f"http://127.0.0.1:{worker_port}/metrics")
    assert value(own, committed, type="ReleasePublished") == 1
    assert value(own, "newsroom_deliveries_total", state="sent", reply_class="2xx") == 5
    assert not any(name.startswith("newsroom_http_request") for name, _ in own)
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as stranger:
        assert stranger.get(f"http://127.0.0.1:{worker_port}/metrics").status_code == 404


def test_metrics_are_hidden_from_other_addresses_unless_they_bring_the_token(
    two_workers: str,
) -> None:
    url = f"{two_workers}/metrics"
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as stranger:
        # Nothing tells it from a path that does not exist, in a page or in JSON.
        for accept in ("text/html", "application/json"):
            refused = stranger.get(url, headers={"Accept": accept})
            unknown = stranger.get(f"{two_workers}/metricz", headers={"Accept": accept})
            assert refused.status_code == unknown.status_code == 404
            assert refused.headers["content-type"] == unknown.headers["content-type"]
            assert refused.text == unknown.text.replace("/metricz", "/metrics")
        wrong = stranger.get(url, headers={"Authorization": "Bearer scrape-token-wrong-123"})
        assert wrong.status_code == 404
        with_token = stranger.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert with_token.status_code == 200
        assert with_token.headers["content-type"].startswith("text/plain")
        assert "newsroom_http_request_duration_seconds" in with_token.text
    assert httpx.get(url).status_code == 200  # from 127.0.0.1, allowed without it
    assert "/metrics" not in httpx.get(f"{two_workers}/openapi.json").json()["paths"]


def test_readyz_fails_while_an_event_or_a_delivery_waits_too_long(
    web: str, live: ServiceContext, staff: Staff
) -> None:
    """No worker runs: what is committed waits. Young, it is not a failure; old, it is."""
    ready = httpx.get(f"{web}/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "database": "ok",
        "broker": ready.json()["checks"]["broker"],
        "outbox": "ok",
        "deliveries": "ok",
    }

    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    with live.uow() as uow:
        uow.session.add(
            OutboxRow(
                event_id=str(uuid.uuid4()),
                event_type="ReleaseReopened",
                release_id=None,
                payload={},
                created_at=long_ago,
                attempts=0,
            )
        )
        uow.commit()
    # Past the web's few seconds of keeping what it read.
    wait_for(lambda: httpx.get(f"{web}/readyz").status_code == 503, 15, "readyz to fail")
    failed = httpx.get(f"{web}/readyz").json()
    assert failed["status"] == "unavailable"
    assert failed["checks"]["database"] == "ok"
    assert failed["checks"]["deliveries"] == "ok"
    assert failed["checks"]["outbox"].startswith("behind: the oldest unhandled event has waited")

    with live.engine.begin() as conn:
        conn.execute(update(OutboxRow).values(handled_at=datetime.now(UTC)))
    wait_for(lambda: httpx.get(f"{web}/readyz").status_code == 200, 15, "readyz to recover")

    # A delivery due an hour ago and never sent.
    release_id = svc.create_release(
        live, staff.author, language="ko", title="지연", body="1. 내용.", topics=[staff.health]
    ).release_id
    journalist = subscribe(live, "late@press.example", [staff.health])
    with live.engine.begin() as conn:
        conn.execute(update(OutboxRow).values(handled_at=datetime.now(UTC)))
    with live.uow() as uow:
        uow.session.add(
            DeliveryRow(
                release_id=release_id,
                subscriber_id=journalist,
                kind="release",
                language="ko",
                state="pending",
                attempts=0,
                next_attempt_at=datetime.now(UTC) - timedelta(hours=1),
                message_id=f"<{uuid.uuid4()}@press.example>",
                created_at=datetime.now(UTC) - timedelta(hours=1),
            )
        )
        uow.commit()
    wait_for(lambda: httpx.get(f"{web}/readyz").status_code == 503, 15, "readyz to fail")
    checks = httpx.get(f"{web}/readyz").json()["checks"]
    assert checks["outbox"] == "ok"
    assert checks["deliveries"].startswith("behind: a delivery past its time has waited 36")


def test_no_process_imports_prometheus_client_before_it_has_chosen_its_folder() -> None:
    """prometheus-client picks in-memory or multiprocess values when first imported: the
    web's command and the worker's app must import it only later (``start_process_group``
    refuses to start a process that did)."""
    script = (
        "import sys, json\n"
        "import workflow.cli, workflow.web.server, workflow.api.app\n"
        "import tasks.runtime, tasks.relay, tasks.events, tasks.publication\n"
        "import tasks.distribution, tasks.worker_metrics, workflow.distribution.sending\n"
        "print(json.dumps('prometheus_client' in sys.modules))\n"
    )
    done = subprocess.run(  # noqa: S603  # this interpreter, the script above
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) is False


def test_a_stopped_web_leaves_files_that_the_next_start_clears(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Counts of a run that ended are not added to the next run's."""
    port = free_port()
    folder = metrics_folder(cluster) / f"web-{port}"
    folder.mkdir(parents=True)
    (folder / "counter_999999.db").write_bytes(b"left by a web that ran before")
    log = tmp_path / "web.log"
    popen = subprocess.Popen(  # noqa: S603  # the project's own command
        [NEWSROOM, "web", "--port", str(port)],
        cwd=ROOT,
        env=cluster.env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 30, "newsroom web")
        assert not (folder / "counter_999999.db").exists()
        assert scrape(f"{base}/metrics")  # and the scrape reads what is there
    finally:
        os.killpg(popen.pid, signal.SIGTERM)
        popen.wait(timeout=10)
