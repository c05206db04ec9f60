"""Fan-out speed: one release to N subscribers through real Celery workers, against the
ceiling of plain aiosmtplib sending as many of the same messages to the same sink.

    .venv/bin/python bench/fanout.py [--subscribers 20000] [--concurrency 2] [--dkim]

With ``--dkim`` a second release then goes to the same subscribers with a fresh RSA-2048
DKIM key set (the workers sign every message), into a second sink, and the last line
adds the signed rate and ``dkim_ratio``, signed over unsigned, measured in the same run;
a sample of the signed messages is verified with dkimpy as the sink received them.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiosmtplib  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from bench.schedule import fresh_database  # noqa: E402
from config.settings import Settings  # noqa: E402
from tasks.configuration import create_app  # noqa: E402
from tests.processes import Cluster, wait_for  # noqa: E402
from workflow.db.tables import DeliveryRow, SubscriberRow, SubscriberTopicRow  # noqa: E402
from workflow.domain.users import CONSOLE  # noqa: E402
from workflow.mail.envelopes import Envelope  # noqa: E402
from workflow.mail.signing import DkimKey  # noqa: E402
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


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_by_process(ctx: ServiceContext, worker_pid: int, sink_pid: int) -> dict[int, float]:
    """CPU seconds so far of each process a fan-out runs on: the worker and its pool,
    this database's PostgreSQL backends, and the sink."""
    with ctx.engine.connect() as conn:
        pids = set(
            conn.scalars(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        )
    pids |= {worker_pid, sink_pid}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            parent = re.search(r"^PPid:\s+(\d+)", status.read_text(), re.MULTILINE)
        except OSError:
            continue
        if parent and int(parent.group(1)) == worker_pid:
            pids.add(int(status.parent.name))
    found = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return found


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


@dataclass(frozen=True)
class Newsroom:
    """The staff and the topic of the bench's releases."""

    author: int
    approver: int
    topic: int


def newsroom_with_subscribers(ctx: ServiceContext, subscribers: int) -> Newsroom:
    """Staff, a topic, and ``subscribers`` journalists on it (half in Korean, half in
    English)."""
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
    return Newsroom(author, approver, topic)


def approved_release(ctx: ServiceContext, subscribers: int) -> tuple[int, int]:
    """Staff, a topic, ``subscribers`` journalists on it (half in Korean, half in English)
    and a bilingual release on it, approved: its id and its author's, for publishing."""
    newsroom = newsroom_with_subscribers(ctx, subscribers)
    return new_release(ctx, newsroom), newsroom.author


def new_release(ctx: ServiceContext, newsroom: Newsroom) -> int:
    """A bilingual release on the bench's topic, approved: its id, for publishing."""
    author = newsroom.author
    release_id = svc.create_release(
        ctx,
        author,
        language="ko",
        title="대량 배포 벤치마크",
        body="1. 외교부는 회의를 개최하였다.\n\n   - 참석자들은 협력을 강조하였다.\n",
        topics=[newsroom.topic],
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
    svc.approve_release(ctx, newsroom.approver, release_id)
    return release_id


@dataclass(frozen=True)
class FanOut:
    """One release's fan-out as measured: from its publication to its last delivery
    recorded sent, and the worker's peak memory."""

    release_id: int
    seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # of the worker, PostgreSQL and the sink: steadier than ``seconds``

    def rate(self, subscribers: int) -> float:
        return subscribers / self.seconds


def fan_out(
    ctx: ServiceContext,
    newsroom: Newsroom,
    env: dict[str, str],
    logs: Path,
    *,
    sink_pid: int,
    subscribers: int,
    concurrency: int,
) -> FanOut:
    """Publish a new release to every subscriber and wait until every delivery is sent,
    with a worker and beat of their own started with ``env``."""
    release_id = new_release(ctx, newsroom)
    logs.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(env, logs)
    try:
        worker = cluster.worker("worker", concurrency=concurrency)
        cluster.beat()
        print("publishing…", flush=True)
        cpu_before = cpu_by_process(ctx, worker.popen.pid, sink_pid)
        began = datetime.now(UTC)
        svc.publish_release(ctx, newsroom.author, release_id)

        def sent() -> int:
            with ctx.engine.connect() as conn:
                return int(
                    conn.scalar(
                        select(func.count())
                        .select_from(DeliveryRow)
                        .where(DeliveryRow.release_id == release_id, DeliveryRow.state == "sent")
                    )
                    or 0
                )

        wait_for(lambda: sent() >= subscribers, 3600, "every delivery sent", 1.0)
        rss = peak_rss_mb(worker.popen.pid)
        cpu_after = cpu_by_process(ctx, worker.popen.pid, sink_pid)
    finally:
        cluster.stop_all()
    with ctx.engine.connect() as conn:
        last = conn.scalar(
            select(func.max(DeliveryRow.sent_at)).where(DeliveryRow.release_id == release_id)
        )
    cpu = sum(spent - cpu_before.get(pid, 0.0) for pid, spent in cpu_after.items())
    return FanOut(release_id, (last - began).total_seconds(), rss, cpu)


def counted_at_sink(ctx: ServiceContext, release_id: int, dump: Path) -> tuple[int, int]:
    """Duplicates and missing messages of one release at the sink, by Message-ID
    against its delivery rows."""
    with ctx.engine.connect() as conn:
        expected = set(
            conn.scalars(select(DeliveryRow.message_id).where(DeliveryRow.release_id == release_id))
        )
    copies = sink_ids(dump)
    duplicates = sum(n - 1 for m, n in copies.items() if m in expected and n > 1)
    return duplicates, len(expected - set(copies))


def dkim_key(folder: Path) -> tuple[Path, bytes]:
    """A fresh RSA-2048 key in a PEM file, and the DNS TXT record of its public half."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = folder / "dkim.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path, DkimKey("bench", key).dns_record().encode()


def verified(messages: list[bytes], record: bytes) -> int:
    """How many of ``messages`` dkimpy verifies, the key's record its DNS answer."""
    import dkim

    return sum(bool(dkim.verify(m, dnsfunc=lambda name, timeout=5: record)) for m in messages)


@dataclass(frozen=True)
class Run:
    """One fan-out from a fresh database, as the sink received it."""

    fan_out: FanOut
    duplicates: int
    missing: int
    messages: list[bytes]  # a sample, as they went on the wire
    verified: int  # of the sample, the DKIM signatures dkimpy verifies


def measured_run(
    args: argparse.Namespace, work: Path, port: int, *, dkim: tuple[Path, bytes] | None = None
) -> Run:
    """A fresh database and broker, ``args.subscribers`` journalists, and one release's
    fan-out to them into the sink on ``port``, signed with ``dkim`` (a key file and its
    DNS record) if given. Each run starts from the same state: a second fan-out on the
    same tables costs more (a fifth more CPU a message here) and would not compare."""
    import redis

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
    dump = work / "sink" / "dump"
    sink = start_sink(port, dump)
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
    if dkim is not None:
        env |= {"NEWSROOM_DKIM_PRIVATE_KEY_FILE": str(dkim[0]), "NEWSROOM_DKIM_SELECTOR": "bench"}
    try:
        print(f"creating {args.subscribers} subscribers…", flush=True)
        newsroom = newsroom_with_subscribers(ctx, args.subscribers)
        done = fan_out(
            ctx,
            newsroom,
            env,
            work / "logs",
            sink_pid=sink.pid,
            subscribers=args.subscribers,
            concurrency=args.concurrency,
        )
        messages = sink_messages(dump, 100)  # waits for the sink to flush its dump
        duplicates, missing = counted_at_sink(ctx, done.release_id, dump)
        dump.unlink()  # about 150 MB at 20,000
    finally:
        sink.terminate()
        sink.wait()
        ctx.engine.dispose()
    signed = verified(messages, dkim[1]) if dkim is not None else 0
    return Run(done, duplicates, missing, messages, signed)


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
    parser.add_argument(
        "--dkim", action="store_true", help="then the same fan-out DKIM-signed (dkim_ratio)"
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="newsroom-fanout-"))
    work.chmod(0o755)  # smtp-sink writes as `nobody`, in folders below
    unsigned = measured_run(args, work / "unsigned", free_port())
    signed: Run | None = None
    if args.dkim:
        print("the same fan-out, DKIM-signed…", flush=True)
        signed = measured_run(args, work / "signed", free_port(), dkim=dkim_key(work))
    print("measuring the ceiling (plain aiosmtplib)…", flush=True)
    port = free_port()
    ceiling_dump = work / "ceiling" / "dump"
    sink = start_sink(port, ceiling_dump)
    try:
        messages = unsigned.messages
        raw = raw_ceiling(args.subscribers, port, args.concurrency, args.connections, messages)
        # The ceiling is plain aiosmtplib as it comes, on asyncio's event loop.
        # The engine runs on uvloop's: the same sender on uvloop says what that is worth.
        raw_uvloop = raw_ceiling(
            args.subscribers, port, args.concurrency, args.connections, messages, on_uvloop=True
        )
    finally:
        sink.terminate()
        ceiling_dump.unlink(missing_ok=True)
    rate = unsigned.fan_out.rate(args.subscribers)
    print(
        f"plain aiosmtplib on uvloop: {raw_uvloop:.1f} msgs/s "
        f"(the engine's rate is {rate / raw_uvloop:.3f} of that)"
    )
    figures: dict[str, object] = {
        "subscribers": args.subscribers,
        "seconds": round(unsigned.fan_out.seconds, 2),
        "msgs_per_s": round(rate, 1),
        "raw_msgs_per_s": round(raw, 1),
        "ratio": round(rate / raw, 3),
        "duplicates": unsigned.duplicates,
        "missing": unsigned.missing,
        "peak_rss_mb": unsigned.fan_out.peak_rss_mb,
        "cpu_ms_per_msg": round(unsigned.fan_out.cpu_seconds * 1000 / args.subscribers, 3),
    }
    if signed is not None:
        signed_rate = signed.fan_out.rate(args.subscribers)
        figures |= {
            "dkim_seconds": round(signed.fan_out.seconds, 2),
            "dkim_msgs_per_s": round(signed_rate, 1),
            "dkim_ratio": round(signed_rate / rate, 3),
            "dkim_verified": f"{signed.verified}/{len(signed.messages)}",
            "dkim_duplicates": signed.duplicates,
            "dkim_missing": signed.missing,
            "dkim_peak_rss_mb": signed.fan_out.peak_rss_mb,
            "dkim_cpu_ms_per_msg": round(signed.fan_out.cpu_seconds * 1000 / args.subscribers, 3),
        }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
