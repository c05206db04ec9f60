"""Punctuality of scheduled publication, with real worker and beat processes.

Schedules 200 releases spread over one minute and measures publication time minus the
scheduled time; then stops the worker for 60 seconds while 50 more fall due, restarts it,
and measures how long it takes to catch up. Counts releases published twice or never.

    .venv/bin/python bench/schedule.py [--database-url URL] [--broker-url URL]

Needs PostgreSQL and Redis (defaults: this machine's, database ``newsroom_bench`` and
Redis database 14, both emptied first). The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from config.settings import Settings  # noqa: E402
from tasks.configuration import create_app  # noqa: E402
from tests.processes import Cluster, wait_for  # noqa: E402
from workflow.db.migrations import upgrade  # noqa: E402
from workflow.db.tables import AuditRow, ReleaseRow  # noqa: E402
from workflow.domain.users import CONSOLE  # noqa: E402
from workflow.services import people  # noqa: E402
from workflow.services import releases as svc  # noqa: E402
from workflow.services.context import ServiceContext  # noqa: E402

ON_TIME, DURING_DOWNTIME = 200, 50


def fresh_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/newsroom_bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--downtime", type=float, default=60.0)
    args = parser.parse_args()

    import redis

    redis.Redis.from_url(args.broker_url).flushdb()
    fresh_database(args.database_url)
    work = Path(tempfile.mkdtemp(prefix="newsroom-bench-"))
    settings = Settings(
        database_url=args.database_url,
        broker_url=args.broker_url,
        mail_backend="null",
        var_dir=work / "var",
    )
    ctx = ServiceContext.from_settings(settings)
    celery = create_app(settings)
    ctx.outbox_hint = lambda: celery.send_task("newsroom.relay_outbox")  # as the web does

    author = people.add_user(
        ctx, CONSOLE.id, email="author@bench.example", name="Author", roles=["press_officer"]
    )
    approver = people.add_user(
        ctx, CONSOLE.id, email="approver@bench.example", name="Approver", roles=["approver"]
    )
    topic = people.add_topic(ctx, CONSOLE.id, "Bench")
    print(f"preparing {ON_TIME + DURING_DOWNTIME} approved releases…", flush=True)
    ids = []
    for i in range(ON_TIME + DURING_DOWNTIME):
        release_id = svc.create_release(
            ctx, author, language="ko", title=f"벤치 {i}", body="1. 본문", topics=[topic]
        ).release_id
        svc.submit_release(ctx, author, release_id)
        svc.approve_release(ctx, approver, release_id)
        ids.append(release_id)

    env = {
        **os.environ,
        "NEWSROOM_DATABASE_URL": args.database_url,
        "NEWSROOM_BROKER_URL": args.broker_url,
        "NEWSROOM_MAIL_BACKEND": "null",
        "NEWSROOM_VAR_DIR": str(work / "var"),
    }
    cluster = Cluster(env, work)
    try:
        worker = cluster.worker("worker", concurrency=2)
        cluster.beat("beat")
        first, later = ids[:ON_TIME], ids[ON_TIME:]
        start = datetime.now(UTC) + timedelta(seconds=5)
        print("phase 1: 200 releases due over the next minute", flush=True)
        for i, release_id in enumerate(first):
            svc.schedule_release(
                ctx, author, release_id, publish_at=start + timedelta(seconds=60 * i / ON_TIME)
            )
        wait_for(lambda: published(ctx, first) == len(first), 120, "phase 1")

        print(f"phase 2: worker down for {args.downtime:.0f}s while 50 fall due", flush=True)
        worker.stop()
        down_at = datetime.now(UTC)
        for i, release_id in enumerate(later):
            svc.schedule_release(
                ctx,
                author,
                release_id,
                publish_at=down_at + timedelta(seconds=1 + (args.downtime - 2) * i / len(later)),
            )
        time.sleep(max(0.0, args.downtime - (datetime.now(UTC) - down_at).total_seconds()))
        restarted = datetime.now(UTC)
        cluster.worker("worker-2", concurrency=2)
        wait_for(lambda: published(ctx, later) == len(later), 60, "the catch-up")
    finally:
        cluster.stop_all()

    with ctx.engine.connect() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                select(ReleaseRow.id, ReleaseRow.publish_at, ReleaseRow.published_at).where(
                    ReleaseRow.id.in_(ids)
                )
            )
        }
        publications = Counter(
            conn.scalars(select(AuditRow.release_id).where(AuditRow.action == "publish"))
        )
        conn.execute(text("SELECT 1"))
    delays = sorted((rows[r].published_at - rows[r].publish_at).total_seconds() for r in first)
    catch_up = max((rows[r].published_at - restarted).total_seconds() for r in later)
    figures = {
        "releases": len(ids),
        "p50_s": round(statistics.median(delays), 3),
        "p99_s": round(delays[min(len(delays) - 1, int(0.99 * len(delays)))], 3),
        "max_s": round(delays[-1], 3),
        "catch_up_s": round(catch_up, 3),
        "doubles": sum(1 for r in ids if publications[r] > 1),
        "missed": sum(1 for r in ids if publications[r] == 0),
    }
    ctx.engine.dispose()
    print(json.dumps(figures))


def published(ctx: ServiceContext, ids: list[int]) -> int:
    with ctx.engine.connect() as conn:
        return len(
            conn.execute(
                select(ReleaseRow.id).where(ReleaseRow.id.in_(ids), ReleaseRow.state == "published")
            ).all()
        )


if __name__ == "__main__":
    main()
