"""``NEWSROOM_LOG_FORMAT=json`` with the real processes: the web and the worker write one
JSON object a line, and the lines of the work a request caused, in the web and in the
Celery tasks its events called for, carry that request's id (``workflow.logs``)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.processes import Cluster, Process, wait_for
from workflow.db.tables import OutboxRow
from workflow.services import accounts
from workflow.services.context import ServiceContext

pytestmark = pytest.mark.processes

FIELDS = {"timestamp", "level", "logger", "message", "request_id"}


@pytest.fixture
def cluster_env(cluster_env: dict[str, str]) -> dict[str, str]:
    return {**cluster_env, "NEWSROOM_LOG_FORMAT": "json"}


def lines(process: Process) -> list[dict[str, Any]]:
    """Every line the process wrote, each of which must be one JSON object."""
    parsed = []
    for line in process.output().splitlines():
        fields = json.loads(line)
        assert isinstance(fields, dict) and fields.keys() >= FIELDS, line
        parsed.append(fields)
    return parsed


def process(cluster: Cluster, name: str) -> Process:
    return next(p for p in cluster.processes if p.name == name)


def test_a_requests_id_follows_its_command_into_the_tasks_it_causes(
    web: str, cluster: Cluster, live: ServiceContext, staff: Staff
) -> None:
    worker = cluster._start(
        "worker", "worker", "--loglevel=DEBUG", "--concurrency=2", "-n", "w1@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    )  # fmt: skip
    wait_for(lambda: "ready." in worker.output() or not worker.running, 60, "the worker")
    author = {"Authorization": f"Bearer {accounts.create_token(live, staff.author, 't').token}"}
    request_id = f"it-{uuid.uuid4()}"

    with httpx.Client(base_url=web, timeout=10) as api:
        created = api.post(
            "/api/v1/releases",
            headers=author,
            json={"language": "ko", "title": "공지", "body": "1. 내용.", "topics": [staff.health]},
        )
        assert created.status_code == 201, created.text
        made_up = created.headers["x-request-id"]
        assert len(made_up) == 32 and made_up != request_id
        release_id = created.json()["release_id"]
        submitted = api.post(
            f"/api/v1/releases/{release_id}/submit",
            headers={**author, "X-Request-ID": request_id},
        )
        assert submitted.status_code == 200, submitted.text
        assert submitted.headers["x-request-id"] == request_id
        refused = api.post("/api/v1/releases", headers={"X-Request-ID": "two words"}, json={})
        assert refused.headers["x-request-id"] != "two words"

    def tagged(name: str) -> list[dict[str, Any]]:
        return [line for line in lines(process(cluster, name)) if line["request_id"] == request_id]

    # The consumer handles the event, and the approvers' email goes out, as that request.
    wait_for(
        lambda: any(
            line["logger"] == "workflow.services.notifications" for line in tagged("worker")
        ),
        60,
        "the review request mailed",
    )
    handling = [line for line in tagged("worker") if line["logger"] == "tasks.events"]
    assert handling and "ReleaseSubmitted" in handling[0]["message"], handling
    assert handling[0]["task_name"] == "newsroom.handle_events"
    assert handling[0]["level"] == "DEBUG" and handling[0]["task_id"]
    mailed = [
        line for line in tagged("worker") if line["logger"] == "workflow.services.notifications"
    ]
    assert mailed[0]["task_name"] == "newsroom.send_notifications"
    assert re.search(r"sent=[1-9]", mailed[0]["message"]), mailed[0]  # to each approver
    # No other request's id is on those lines: the creation's event was handled as its own.
    created_lines = [
        line for line in lines(process(cluster, "worker")) if line["request_id"] == made_up
    ]
    assert all("ReleaseSubmitted" not in line["message"] for line in created_lines)

    # The web's access line (written within a second) carries it too, with its parts.
    wait_for(lambda: tagged("web"), 10, "the access line")
    access = [line for line in tagged("web") if line["logger"] == "uvicorn.access"]
    assert access == [
        {
            **access[0],
            "method": "POST",
            "path": f"/api/v1/releases/{release_id}/submit",
            "status": 200,
        }
    ]
    # And the outbox row keeps it.
    with live.engine.connect() as conn:
        kept = conn.scalar(
            select(OutboxRow.request_id).where(OutboxRow.event_type == "ReleaseSubmitted")
        )
    assert kept == request_id
