"""Fan-out speed: one release to N subscribers through real Celery workers, against the
ceiling of plain aiosmtplib sending as many of the same messages to the same sink.

    .venv/bin/python bench/fanout.py [--subscribers 20000] [--concurrency 2]

Needs PostgreSQL and Redis (defaults: this machine's, database ``newsroom_bench`` and
Redis database 14, both emptied first) and Postfix's ``smtp-sink`` (Debian package
``postfix``), which it runs on a loopback port; it installs nothing itself. Duplicates
and missing messages are counted at the sink by Message-ID against the delivery rows.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiosmtplib  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bench.schedule import fresh_database  # noqa: E402
from config.settings import Settings  # noqa: E402
from tasks.configuration import create_app  # noqa: E402
from tests.processes import Cluster, wait_for  # noqa: E402
from workflow.db.tables import DeliveryRow, SubscriberRow, SubscriberTopicRow  # noqa: E402
from workflow.domain.users import CONSOLE  # noqa: E402
from workflow.mail.envelopes import Envelope  # noqa: E402
from workflow.mail.smtp_engine import run  # noqa: E402
from workflow.services import people  # noqa: E402
from workflow.services import releases as svc  # noqa: E402
from workflow.services.context import ServiceContext  # noqa: E402

MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_sink(port: int, dump: Path) -> subprocess.Popen[bytes]:
    sink = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(sink).exists():
        sys.exit("smtp-sink is missing: install Debian's `postfix` package to run this")
    dump.parent.mkdir(parents=True, exist_ok=True)
    # smtp-sink writes as `nobody`: it must reach the folder through the private tmpdir.
    dump.parent.parent.chmod(0o755)
    dump.parent.chmod(0o777)
    process = subprocess.Popen(  # noqa: S603  # a fixed local tool
        [sink, "-u", "nobody", "-D", str(dump), f"127.0.0.1:{port}", "1000"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: _listening(port), 10, "smtp-sink")
    return process


def _listening(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError:
        return False
    return True


def sink_ids(dump: Path) -> Counter[str]:
    data = dump.read_bytes() if dump.exists() else b""
    return Counter(m.decode() for m in MESSAGE_ID.findall(data))


def sink_messages(dump: Path, count: int, sample: int = 100) -> list[bytes]:
    """``count`` messages as the engine put them on the wire, read back from the sink's
    dump: up to ``sample`` of those to subscribers (``…@press.example``) in turn, less
    the sink's own lines (its envelope record and ``Received:`` header), with CRLF line
    ends again. The dump is taken after DATA's dot-unstuffing, which aiosmtplib does
    again when they are sent."""
    time.sleep(1)  # the sink flushes its dump
    found = []
    with dump.open("rb") as handle:
        text = handle.read(sample * 50_000)
    for record in text.split(b"X-Client-Addr: ")[1:]:
        head, sep, rest = record.partition(b"\nReceived: ")
        if not sep or b"@press.example>" not in head:
            continue
        # The Received header is three lines: its own and two folded ones.
        message = rest.split(b"\n", 3)[3]
        if not message.endswith(b"\n\n"):
            continue  # the last, cut short by the read
        found.append(message[:-1].replace(b"\n", b"\r\n"))
        if len(found) == sample:
            break
    if not found:
        sys.exit(f"no message could be read back from the sink's dump {dump}")
    return [found[i % len(found)] for i in range(count)]


def peak_rss_mb(root_pid: int) -> float:
    """The largest peak resident set (VmHWM) among a process and its children."""
    peak = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        parent = re.search(r"^PPid:\s+(\d+)", text, re.MULTILINE)
        pid = int(status.parent.name)
        if pid != root_pid and (not parent or int(parent.group(1)) != root_pid):
            continue
        match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.MULTILINE)
        if match:
            peak = max(peak, int(match.group(1)))
    return round(peak / 1024, 1)


def _raw_part(args: tuple[int, int, int, int, list[bytes], bool]) -> float:
    start, count, port, connections, messages, on_uvloop = args
    envelopes = [
        Envelope(i, "newsroom@bench.example", f"raw{i}@bench.example", messages[i % len(messages)])
        for i in range(start, start + count)
    ]
    began = time.monotonic()
    if on_uvloop:
        run(plain_send(envelopes, port, connections))
    else:
        asyncio.run(plain_send(envelopes, port, connections))
    return time.monotonic() - began


async def plain_send(envelopes: list[Envelope], port: int, connections: int) -> None:
    """The ceiling: plain aiosmtplib, ``connections`` reused connections, nothing else."""
    queue = list(reversed(envelopes))

    async def connection() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as smtp:
            while queue:
                envelope = queue.pop()
                await smtp.sendmail(envelope.sender, [envelope.to], envelope.data)

    await asyncio.gather(*(connection() for _ in range(connections)))


def raw_ceiling(
    total: int,
    port: int,
    processes: int,
    connections: int,
    messages: list[bytes],
    *,
    on_uvloop: bool = False,
) -> float:
    """Messages per second of plain aiosmtplib, same sink, processes and connections,
    sending the engine's own messages (as the sink received them) in turn; on asyncio's
    own event loop, or on uvloop's (the engine's, ``smtp_engine.run``)."""
    share = total // processes
    parts = [(i * share, share, port, connections, messages, on_uvloop) for i in range(processes)]
    began = time.monotonic()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        pool.map(_raw_part, parts)
    return share * processes / (time.monotonic() - began)


def approved_release(ctx: ServiceContext, subscribers: int) -> tuple[int, int]:
    """Staff, a topic, ``subscribers`` journalists on it (half in Korean, half in English)
    and a bilingual release on it, approved: its id and its author's, for publishing."""
    author = people.add_user(
        ctx, CONSOLE.id, email="author@bench.example", name="Author", roles=["press_officer"]
    )
    approver = people.add_user(
        ctx, CONSOLE.id, email="approver@bench.example", name="Approver", roles=["approver"]
    )
    topic = people.add_topic(ctx, CONSOLE.id, "Bench")
    now = datetime.now(UTC)
    with ctx.engine.begin() as conn:
        rows = [
            {
                "email": f"j{i}@press.example",
                "name": f"Journalist {i}",
                "language": "ko" if i % 2 else "en",
                "state": "active",
                "embargo_trusted": False,
                "hard_bounces": 0,
                "token_version": 1,
                "created_at": now,
            }
            for i in range(subscribers)
        ]
        conn.execute(insert(SubscriberRow), rows)
        ids = list(conn.scalars(select(SubscriberRow.id)))
        conn.execute(
            insert(SubscriberTopicRow), [{"subscriber_id": i, "topic_id": topic} for i in ids]
        )
    release_id = svc.create_release(
        ctx,
        author,
        language="ko",
        title="대량 배포 벤치마크",
        body="1. 외교부는 회의를 개최하였다.\n\n   - 참석자들은 협력을 강조하였다.\n",
        topics=[topic],
    ).release_id
    svc.edit_version(
        ctx,
        author,
        release_id,
        language="en",
        title="Fan-out benchmark",
        body="1. The Ministry hosted a meeting.\n\n   - They stressed cooperation.\n",
        base_revision=0,
    )
    svc.submit_release(ctx, author, release_id)
    svc.approve_release(ctx, approver, release_id)
    return release_id, author


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--connections", type=int, default=4, help="SMTP connections per task")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/newsroom_bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/14")
    args = parser.parse_args()

    import redis

    work = Path(tempfile.mkdtemp(prefix="newsroom-fanout-"))
    port = free_port()
    dump = work / "sink" / "dump"
    sink = start_sink(port, dump)
    redis.Redis.from_url(args.broker_url).flushdb()
    fresh_database(args.database_url)
    settings = Settings(
        database_url=args.database_url,
        broker_url=args.broker_url,
        smtp_port=port,
        var_dir=work / "var",
        mail_from="Newsroom <newsroom@bench.example>",
    )
    ctx = ServiceContext.from_settings(settings)
    celery = create_app(settings)
    ctx.outbox_hint = lambda: celery.send_task("newsroom.relay_outbox")
    try:
        print(f"creating {args.subscribers} subscribers…", flush=True)
        release_id, author = approved_release(ctx, args.subscribers)

        env = {
            **os.environ,
            "NEWSROOM_DATABASE_URL": args.database_url,
            "NEWSROOM_BROKER_URL": args.broker_url,
            "NEWSROOM_SMTP_PORT": str(port),
            "NEWSROOM_VAR_DIR": str(work / "var"),
            "NEWSROOM_MAIL_BACKEND": "smtp",
            "NEWSROOM_MAIL_FROM": "Newsroom <newsroom@bench.example>",
            "NEWSROOM_DELIVERY_BATCH_SIZE": str(args.batch),
            "NEWSROOM_SMTP_CONNECTIONS": str(args.connections),
        }
        cluster = Cluster(env, work)
        try:
            worker = cluster.worker("worker", concurrency=args.concurrency)
            cluster.beat()
            print("publishing…", flush=True)
            began = datetime.now(UTC)
            svc.publish_release(ctx, author, release_id)

            def sent() -> int:
                with ctx.engine.connect() as conn:
                    return int(
                        conn.scalar(
                            select(func.count())
                            .select_from(DeliveryRow)
                            .where(DeliveryRow.state == "sent")
                        )
                        or 0
                    )

            wait_for(lambda: sent() >= args.subscribers, 3600, "every delivery sent", 1.0)
            rss = peak_rss_mb(worker.popen.pid)
        finally:
            cluster.stop_all()
        with ctx.engine.connect() as conn:
            last = conn.scalar(select(func.max(DeliveryRow.sent_at)))
            expected = set(conn.scalars(select(DeliveryRow.message_id)))
        seconds = (last - began).total_seconds()
        messages = sink_messages(dump, 100)  # waits for the sink to flush its dump
        copies = sink_ids(dump)
        dump.unlink()  # about 150 MB at 20,000, freed when the sink ends
        print("measuring the ceiling (plain aiosmtplib)…", flush=True)
        raw = raw_ceiling(args.subscribers, port, args.concurrency, args.connections, messages)
        # The ceiling is plain aiosmtplib as it comes, on asyncio's event loop.
        # The engine runs on uvloop's: the same sender on uvloop says what that is worth.
        raw_uvloop = raw_ceiling(
            args.subscribers, port, args.concurrency, args.connections, messages, on_uvloop=True
        )
    finally:
        sink.terminate()
        ctx.engine.dispose()
    rate = args.subscribers / seconds
    print(
        f"plain aiosmtplib on uvloop: {raw_uvloop:.1f} msgs/s "
        f"(the engine's rate is {rate / raw_uvloop:.3f} of that)"
    )
    print(
        json.dumps(
            {
                "subscribers": args.subscribers,
                "seconds": round(seconds, 2),
                "msgs_per_s": round(rate, 1),
                "raw_msgs_per_s": round(raw, 1),
                "ratio": round(rate / raw, 3),
                "duplicates": sum(n - 1 for m, n in copies.items() if m in expected and n > 1),
                "missing": len(expected - set(copies)),
                "peak_rss_mb": rss,
            }
        )
    )


if __name__ == "__main__":
    main()
