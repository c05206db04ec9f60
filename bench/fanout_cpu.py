"""CPU time per message of the delivery engine, in one process: steadier than
``bench/fanout.py``'s wall-clock figures on a shared machine, and what its "where the
time goes" paragraph is measured with.

    .venv/bin/python bench/fanout_cpu.py [--messages 5000] [--batch 500] [--connections 4]

One release to ``--messages`` subscribers, planned in-process, then ``send_batch`` in a
loop into Postfix's ``smtp-sink`` on loopback. Reports the CPU time of this process and
of its PostgreSQL backends per message, then that of plain aiosmtplib (``sendmail``)
sending the same serialised messages over as many connections. Uses the database
``newsroom_bench_cpu`` (or ``--database-url``), emptied first. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from bench.fanout import (  # noqa: E402
    approved_release,
    free_port,
    plain_send,
    sink_messages,
    start_sink,
)
from bench.schedule import fresh_database  # noqa: E402
from config.settings import Settings  # noqa: E402
from tests.integration.test_distribution import handle_events  # noqa: E402
from workflow.distribution import sending  # noqa: E402
from workflow.mail.envelopes import Envelope  # noqa: E402
from workflow.services import releases as svc  # noqa: E402
from workflow.services.context import ServiceContext  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(ctx: ServiceContext) -> float:
    """CPU seconds of this database's PostgreSQL backends (readable on this host)."""
    with ctx.engine.connect() as conn:
        pids = list(
            conn.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        )
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def setup(ctx: ServiceContext, count: int) -> None:
    release_id, author = approved_release(ctx, count)
    svc.publish_release(ctx, author, release_id)
    handle_events(ctx)  # the consumer's planning, in-process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--database-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/newsroom_bench_cpu",
    )
    parser.add_argument("--profile", help="write a cProfile of the sending loop here")
    parser.add_argument("--fillfactor", type=int, help="deliveries' fillfactor (experiment)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="newsroom-fanout-cpu-"))
    port = free_port()
    dump = work / "sink" / "dump"
    sink = start_sink(port, dump)
    fresh_database(args.database_url)
    settings = Settings(
        database_url=args.database_url,
        smtp_port=port,
        var_dir=work / "var",
        mail_from="Newsroom <newsroom@bench.example>",
        mail_backend="smtp",
    )
    ctx = ServiceContext.from_settings(settings)
    try:
        if args.fillfactor:
            with ctx.engine.begin() as conn:
                conn.execute(text(f"ALTER TABLE deliveries SET (fillfactor = {args.fillfactor})"))
        setup(ctx, args.messages)
        # Warm up: connections in the pool, statements prepared, variants rendered.
        sending.send_batch(ctx, limit=20, connections=args.connections)
        sent = 20
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        db_before, cpu_before, wall_before = backend_cpu(ctx), time.process_time(), time.monotonic()
        while True:
            claimed = sending.send_batch(
                ctx, limit=args.batch, connections=args.connections
            ).claimed
            sent += claimed
            if claimed < args.batch:
                break
        cpu = time.process_time() - cpu_before
        wall = time.monotonic() - wall_before
        db = backend_cpu(ctx) - db_before
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        measured = sent - 20
        # The ceiling: the same messages as the engine would send, plain aiosmtplib.
        envelopes = [
            Envelope(i, "newsroom@bench.example", f"j{i}@press.example", data)
            for i, data in enumerate(sink_messages(dump, measured))
        ]
        raw_before, raw_wall = time.process_time(), time.monotonic()
        asyncio.run(plain_send(envelopes, port, args.connections))
        raw = time.process_time() - raw_before
        raw_wall = time.monotonic() - raw_wall
    finally:
        sink.terminate()
        ctx.engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    print(
        json.dumps(
            {
                "messages": measured,
                "worker_ms": round(1000 * cpu / measured, 3),
                "postgres_ms": round(1000 * db / measured, 3),
                "wall_ms": round(1000 * wall / measured, 3),
                "plain_ms": round(1000 * raw / len(envelopes), 3),
                "plain_wall_ms": round(1000 * raw_wall / len(envelopes), 3),
            }
        )
    )


if __name__ == "__main__":
    main()
