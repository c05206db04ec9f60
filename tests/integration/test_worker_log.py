"""At INFO a worker and beat tell what happened (a release published, a task failed), not
each periodic sweep that found nothing (``tasks.worker_log``): real processes, their
real output."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import Staff
from tests.integration.test_release_services import BODY_KO
from tests.processes import ROOT, Cluster, Process, wait_for
from workflow.db.tables import ReleaseRow
from workflow.domain.states import ReleaseState
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

pytestmark = pytest.mark.processes

SWEEPS = ("newsroom.publish_due", "newsroom.relay_outbox")


def at_debug(cluster: Cluster) -> tuple[Process, Process]:
    """A worker and beat that log DEBUG too, so that the output shows every sweep and the
    level it is logged at."""
    worker = cluster._start(
        "worker", "worker", "--loglevel=DEBUG", "--concurrency=2", "-n", "w1@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    )  # fmt: skip
    beat = cluster._start(
        "beat", "beat", "--loglevel=DEBUG", "--schedule", str(cluster.logs / "beat-schedule")
    )
    wait_for(lambda: "ready." in worker.output() or not worker.running, 60, "the worker")
    wait_for(lambda: "beat: Starting" in beat.output() or not beat.running, 60, "beat")
    assert worker.running and beat.running, cluster.report()
    return worker, beat


def lines(*processes: Process) -> list[str]:
    return [line for p in processes for line in p.output().splitlines()]


def sweeps_done(worker: Process, task: str) -> int:
    return sum(1 for line in lines(worker) if f"Task {task}[" in line and " succeeded " in line)


def test_sweeps_that_find_nothing_stay_at_debug(
    live: ServiceContext, staff: Staff, cluster: Cluster
) -> None:
    release_id = svc.create_release(
        live, staff.author, language="ko", title="예약 게시", body=BODY_KO, topics=[staff.health]
    ).release_id
    svc.submit_release(live, staff.author, release_id)
    svc.approve_release(live, staff.approver, release_id)
    worker, beat = at_debug(cluster)
    svc.schedule_release(
        live, staff.author, release_id, publish_at=datetime.now(UTC) + timedelta(seconds=2)
    )

    def published() -> bool:
        with live.engine.connect() as conn:
            state = conn.scalar(select(ReleaseRow.state).where(ReleaseRow.id == release_id))
        return state == ReleaseState.PUBLISHED

    wait_for(published, 30, "the release published")
    # Sweeps after the publication, with nothing left to do (0.5 s and 1 s apart).
    after = {task: sweeps_done(worker, task) for task in SWEEPS}
    wait_for(
        lambda: all(sweeps_done(worker, task) >= after[task] + 3 for task in SWEEPS),
        30,
        "three more sweeps of each kind",
    )
    failing = subprocess.run(  # noqa: S603  # Celery's own command, on the project's app
        [sys.executable, "-m", "celery", "-A", "tasks.app", "call", SWEEPS[0], "--args", "[1]"],
        cwd=ROOT,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert failing.returncode == 0, failing.stderr
    wait_for(
        lambda: any(": ERROR/" in line and SWEEPS[0] in line for line in lines(worker)),
        30,
        "the failing task's error",
    )

    output = lines(worker, beat)
    about_sweeps = [line for line in output if any(task in line for task in SWEEPS)]
    assert [line for line in about_sweeps if ": INFO/" in line] == []
    assert sum(": DEBUG/" in line for line in about_sweeps) > 12  # received, ran, sent
    info = [line for line in output if ": INFO/" in line]
    assert any(f"published scheduled releases [{release_id}]" in line for line in info), info
