"""Beat adds the views counted in Redis to the database: the schedule, the task, and the
real worker and beat processes doing it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from config.settings import Settings
from tasks import view_counts as task
from tasks.configuration import celery_config
from tests.conftest import Staff
from tests.integration.conftest import BROKER_URL
from tests.integration.test_view_counts import published
from tests.processes import Cluster, wait_for
from workflow.db.tables import ReleaseRow
from workflow.services import view_counts
from workflow.services.context import ServiceContext


def test_beat_runs_the_flush_as_often_as_the_setting_says() -> None:
    schedule = celery_config(Settings(view_flush_seconds=15))["beat_schedule"]
    assert schedule["flush-view-counts"]["task"] == "newsroom.flush_view_counts"
    assert schedule["flush-view-counts"]["schedule"] == 15
    assert task.flush_view_counts.name == "newsroom.flush_view_counts"


def test_without_redis_the_task_leaves_the_counting_to_the_web_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(task, "get_settings", lambda: Settings(broker_url=""))
    monkeypatch.setattr(task, "context", lambda: pytest.fail("no database work expected"))
    assert task.flush_view_counts() == 0


@pytest.mark.processes
def test_the_worker_and_beat_flush_views_counted_in_redis(
    cluster: Cluster, cluster_env: dict[str, str], live: ServiceContext, staff: Staff
) -> None:
    if not BROKER_URL.startswith("redis"):
        pytest.skip("needs Redis: set NEWSROOM_TEST_BROKER_URL")
    release_ids = published(live, staff, 2)
    # What the web processes do: count in the Redis the worker reads (emptied per test).
    web = view_counts.counter_for(Settings(broker_url=BROKER_URL))
    for n in range(25):
        web.record(release_ids[n % 2], f"visitor-{n}")
    cluster.env = {**cluster_env, "NEWSROOM_VIEW_FLUSH_SECONDS": "0.5"}
    cluster.worker()
    cluster.beat()

    def stored() -> list[int]:
        with live.uow() as uow:
            return list(
                uow.session.scalars(
                    select(ReleaseRow.view_count)
                    .where(ReleaseRow.id.in_(release_ids))
                    .order_by(ReleaseRow.id)
                )
            )

    wait_for(lambda: stored() == [13, 12], 30, "the views to reach the database")
    assert web.pending(release_ids) == {}
