"""Beat runs retention: the schedule, the task, and real worker and beat processes
deleting what is past its time."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from config.settings import Settings
from tasks import retention as task
from tasks.configuration import celery_config
from tests.processes import Cluster, wait_for
from workflow.db.tables import LoginAttemptRow
from workflow.services import accounts
from workflow.services.context import ServiceContext


def test_beat_runs_retention_as_often_as_the_setting_says() -> None:
    schedule = celery_config(Settings(retention_sweep_seconds=600))["beat_schedule"]
    assert schedule["retention"]["task"] == "newsroom.retention"
    assert schedule["retention"]["schedule"] == 600
    assert task.run_retention.name == "newsroom.retention"


@pytest.mark.processes
def test_the_worker_and_beat_delete_login_attempts_past_their_window(
    cluster: Cluster,
    cluster_env: dict[str, str],
    live: ServiceContext,
    cheap_password_hashing: None,
) -> None:
    for _ in range(3):
        with pytest.raises(accounts.AuthenticationFailed):
            accounts.check_credentials(live, "nobody@newsroom.example", "wrong", "192.0.2.9")

    def attempts() -> int:
        with live.uow() as uow:
            return uow.session.scalar(select(func.count()).select_from(LoginAttemptRow)) or 0

    assert attempts() == 3
    cluster.env = {
        **cluster_env,
        "NEWSROOM_LOGIN_WINDOW_SECONDS": "1",
        "NEWSROOM_RETENTION_SWEEP_SECONDS": "0.5",
    }
    cluster.worker()
    cluster.beat()
    wait_for(lambda: attempts() == 0, 60, "the worker to delete the old login attempts")
