"""HTTP API under load: 50 concurrent clients for 60 seconds against ``newsroom web`` as
production starts it (uvicorn, several worker processes), on PostgreSQL and Redis, with a
Celery worker taking the events the transitions write.

Most clients read the public pages and API (the URLs in ``PUBLIC_URLS``); a few move releases
through review (submit, approve, publish: the transitions, each one transaction with its
audit entry and outbox rows, and the after-commit hint to Redis). Every answer that is
not the expected status, and every failed connection, is an error. The first seconds are
a warm-up and not counted.

    .venv/bin/python bench/api.py [--clients 50] [--seconds 60] [--warm-up 5] [--web-workers 2]
        [--database-url URL] [--broker-url URL] [--via-proxy]

``--via-proxy`` sends every client through the compose file's reverse proxy: Debian's
nginx with the project's configuration (``config/nginx``: its micro-cache of anonymous
public pages, its upstream keep-alive), in front of the same ``newsroom web``.

Needs PostgreSQL and Redis (defaults: this machine's, database ``newsroom_bench`` and
Redis database 14, both emptied first). The readers are ``wrk`` (Debian's package; it is
a C program, so the load generator takes far less of the machine than the server it
measures) driven by ``bench/public_pages.lua``; ``--readers httpx`` makes them Python
clients in this process instead, as before. The editors are always this process
(asyncio and httpx). The server, the Celery worker and beat are child processes, stopped at
the end. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from config.settings import Settings  # noqa: E402
from tests import reverse_proxy  # noqa: E402
from tests.private_servers import free_port  # noqa: E402
from tests.processes import Cluster, Process, wait_for  # noqa: E402
from workflow import outbox  # noqa: E402
from workflow.domain.users import CONSOLE  # noqa: E402
from workflow.services import accounts, people  # noqa: E402
from workflow.services import releases as svc  # noqa: E402
from workflow.services.context import ServiceContext  # noqa: E402
from workflow.services.queries.staff_release import get_release  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from schedule import fresh_database  # noqa: E402

PUBLISHED = 300  # releases readers can find
# Not counted: each web process renders every answer once before it can replay it
# (`--warm-up 45` measures a server that has run for a while instead).
WARM_UP_SECONDS = 5.0

# The public pages under load, in one place: ``{number}`` is a published release's number.
# The newsroom's HTML pages, in both interface languages, and the public API.
PUBLIC_URLS = [
    "/?lang=ko",
    "/?lang=en",
    "/releases/{number}?lang=ko",
    "/releases/{number}?lang=en",
    "/api/v1/public/releases",
    "/api/v1/public/releases/{number}",
]


def cpu_seconds() -> dict[str, float]:
    """CPU seconds used so far by the processes on this machine, by what they are: the
    web server, the Celery worker, PostgreSQL, Redis and this process (the editors),
    each with the children it forked (wrk, once it has ended: ``ended_children_cpu``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    processes: dict[int, tuple[int, str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1 : text.rindex(")")], text[text.rindex(")") + 2 :]
        values = fields.split()
        parent, used = int(values[1]), (int(values[11]) + int(values[12])) / ticks
        processes[int(stat.parent.name)] = (parent, f"{name} {cmdline}", used)

    def kind(pid: int) -> str | None:
        while pid in processes:
            parent, command, _ = processes[pid]
            if pid == os.getpid():
                return "editors"
            for label, marker in KINDS:
                if marker in command:
                    return label
            pid = parent
        return None

    used: Counter[str] = Counter()
    for pid, (_, _, seconds) in processes.items():
        label = kind(pid)
        if label is not None:
            used[label] += seconds
    return dict(used)


def ended_children_cpu() -> float:
    """CPU seconds of this process's children that have ended (the wrk runs)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


# What a process's name and command line say it is (the first that matches).
KINDS = [
    ("web", "newsroom web"),
    ("worker", "celery"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
]


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def seed(ctx: ServiceContext) -> tuple[list[str], dict[str, str], int]:
    """Staff, a topic and ``PUBLISHED`` published releases; their numbers, tokens, topic."""

    def add(email: str, role: str) -> int:
        return people.add_user(ctx, CONSOLE.id, email=email, name=email.split("@")[0], roles=[role])

    author, approver = (
        add("author@bench.example", "press_officer"),
        add("approver@bench.example", "approver"),
    )
    topic = people.add_topic(ctx, CONSOLE.id, "Bench")
    body = "\n\n".join(
        f"{i}. The Ministry of Foreign Affairs announced measures, paragraph {i}."
        for i in range(12)
    )
    numbers = []
    for i in range(PUBLISHED):
        release_id = svc.create_release(
            ctx, author, language="en", title=f"Release {i}", body=body, topics=[topic]
        ).release_id
        svc.submit_release(ctx, author, release_id)
        svc.approve_release(ctx, approver, release_id)
        svc.publish_release(ctx, author, release_id)
        number = get_release(ctx, release_id).number
        assert number is not None
        numbers.append(number)
    tokens = {
        "author": accounts.create_token(ctx, author, "bench").token,
        "approver": accounts.create_token(ctx, approver, "bench").token,
    }
    return numbers, tokens, topic


def unhandled_events(ctx: ServiceContext) -> int:
    with ctx.uow() as uow:
        return outbox.status(uow.session, ctx.clock.now(), sample=0).unhandled


class Load:
    def __init__(self, base: str, numbers: list[str], tokens: dict[str, str], topic: int) -> None:
        self.base, self.numbers, self.topic = base, numbers, topic
        self.author = {"Authorization": f"Bearer {tokens['author']}"}
        self.approver = {"Authorization": f"Bearer {tokens['approver']}"}
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: Counter[str] = Counter()
        self.counting = False
        self.cpu: dict[str, float] = {}  # CPU seconds of each kind of process, measured

    async def timed(
        self,
        client: httpx.AsyncClient,
        kind: str,
        expected: int,
        method: str,
        url: str,
        **kw: object,
    ) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kw)  # type: ignore[arg-type]
        except httpx.HTTPError as error:
            if self.counting:
                self.errors[f"{kind}: {type(error).__name__}"] += 1
            return None
        elapsed = (time.perf_counter() - started) * 1000
        if self.counting:
            self.latency[kind].append(elapsed)
            if response.status_code != expected:
                self.errors[f"{kind}: {response.status_code}"] += 1
        return response if response.status_code == expected else None

    async def reader(self, client: httpx.AsyncClient, stop: float, rng: random.Random) -> None:
        while time.monotonic() < stop:
            template = rng.choice(PUBLIC_URLS)
            url = template.format(number=rng.choice(self.numbers))
            await self.timed(client, "public", 200, "GET", url)

    async def editor(self, client: httpx.AsyncClient, stop: float) -> None:
        while time.monotonic() < stop:
            created = await self.timed(
                client,
                "create",
                201,
                "POST",
                "/api/v1/releases",
                headers=self.author,
                json={
                    "language": "en",
                    "title": "Under load",
                    "body": "1. A paragraph.",
                    "topics": [self.topic],
                },
            )
            if created is None:
                continue
            path = f"/api/v1/releases/{created.json()['release_id']}"
            for action, who in (("submit", self.author), ("approve", self.approver)):
                if (
                    await self.timed(
                        client, "transition", 200, "POST", f"{path}/{action}", headers=who
                    )
                    is None
                ):
                    break
            else:
                await self.timed(
                    client, "transition", 200, "POST", f"{path}/publish", headers=self.author
                )

    async def run(self, clients: int, editors: int, seconds: float, warm_up: float) -> float:
        """Python readers and editors; the seconds measured."""
        limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=30) as client:
            start = time.monotonic()
            stop = start + warm_up + seconds

            async def count_after_warm_up() -> None:
                await asyncio.sleep(warm_up)
                self.counting = True

            jobs = [self.editor(client, stop) for _ in range(editors)]
            jobs += [
                self.reader(client, stop, random.Random(i))  # noqa: S311  # load, not secrets
                for i in range(clients - editors)
            ]
            await asyncio.gather(count_after_warm_up(), *jobs)
            return time.monotonic() - start - warm_up

    async def run_with_wrk(
        self, clients: int, editors: int, seconds: float, warm_up: float, work: Path
    ) -> dict[str, float]:
        """``wrk`` for the readers (a warm-up run, then the measured one) while the
        editors run here; wrk's figures for the measured run."""
        templates, numbers = work / "templates.txt", work / "numbers.txt"
        templates.write_text("\n".join(PUBLIC_URLS) + "\n")
        numbers.write_text("\n".join(self.numbers) + "\n")

        async def wrk(duration: float, seed: int) -> dict[str, float]:
            process = await asyncio.create_subprocess_exec(
                "wrk",
                "--threads",
                "1",
                "--connections",
                str(clients - editors),
                "--duration",
                f"{duration:.0f}s",
                "--timeout",
                "30s",
                "--script",
                str(ROOT / "bench" / "public_pages.lua"),
                self.base,
                "--",
                str(templates),
                str(numbers),
                str(seed),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await process.communicate()
            lines = output.decode(errors="replace").strip().splitlines()
            if process.returncode != 0 or not lines or not lines[-1].startswith("{"):
                raise RuntimeError(f"wrk failed:\n{output.decode(errors='replace')}")
            figures: dict[str, float] = json.loads(lines[-1])
            return figures

        limits = httpx.Limits(max_connections=editors, max_keepalive_connections=editors)
        async with httpx.AsyncClient(base_url=self.base, limits=limits, timeout=30) as client:
            stop = time.monotonic() + warm_up + seconds + 60  # ended below
            jobs = [asyncio.ensure_future(self.editor(client, stop)) for _ in range(editors)]
            try:
                await wrk(warm_up, 1)
                self.counting = True
                before, reaped = cpu_seconds(), ended_children_cpu()
                figures = await wrk(seconds, 2)
                after, wrk_used = cpu_seconds(), ended_children_cpu() - reaped
                self.counting = False
            finally:
                for job in jobs:
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)
            self.cpu = {kind: after.get(kind, 0.0) - used for kind, used in before.items()}
            self.cpu["wrk"] = wrk_used
            return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/newsroom_bench"
    )
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--editors", type=int, default=5, help="of the clients, how many write")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--warm-up", type=float, default=WARM_UP_SECONDS, help="seconds of load not counted"
    )
    parser.add_argument(
        "--readers",
        choices=("wrk", "httpx"),
        default="wrk",
        help="the public readers' load generator: wrk (C, cheap) or Python clients here",
    )
    parser.add_argument(
        "--via-proxy",
        action="store_true",
        help="through the project's nginx configuration (Debian's nginx), as docker compose",
    )
    args = parser.parse_args()
    if args.via_proxy and not reverse_proxy.available():
        sys.exit("bench/api.py: nginx or envsubst is missing (Debian: nginx-light, gettext-base)")
    if args.readers == "wrk" and shutil.which("wrk") is None:
        sys.exit(
            "bench/api.py: wrk is missing (Debian: apt-get install wrk); "
            "or run the readers in Python with --readers httpx"
        )

    import redis

    redis.Redis.from_url(args.broker_url).flushdb()
    fresh_database(args.database_url)
    work = Path(tempfile.mkdtemp(prefix="newsroom-bench-"))
    settings = Settings(
        database_url=args.database_url, broker_url=args.broker_url, mail_backend="null"
    )
    ctx = ServiceContext.from_settings(settings)
    numbers, tokens, topic = seed(ctx)
    print(f"seeded {len(numbers)} published releases", flush=True)

    env = {
        **os.environ,
        "NEWSROOM_ENVIRONMENT": "test",
        "NEWSROOM_DATABASE_URL": args.database_url,
        "NEWSROOM_BROKER_URL": args.broker_url,
        "NEWSROOM_MAIL_BACKEND": "null",
        "NEWSROOM_VAR_DIR": str(work / "var"),
    }
    if args.via_proxy:
        env["NEWSROOM_TRUSTED_PROXIES"] = '["127.0.0.1"]'
        env["NEWSROOM_MEDIA_ACCEL_REDIRECT"] = "/_media/"
    cluster = Cluster(env, work)
    proxying = contextlib.ExitStack()
    port = free_port()
    log = work / "web.log"
    web = subprocess.Popen(  # noqa: S603  # the project's own command
        [
            str(Path(sys.executable).parent / "newsroom"),
            "web",
            "--port",
            str(port),
            "--workers",
            str(args.web_workers),
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster.processes.append(Process("web", web, log))
    base = f"http://127.0.0.1:{port}"
    try:
        # As production runs it: one worker, and beat for the sweeps (the outbox relay,
        # view counts flushed to the database, due publications).
        cluster.worker(concurrency=1)
        cluster.beat()

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, "newsroom web")
        if args.via_proxy:
            proxy = proxying.enter_context(
                reverse_proxy.reverse_proxy(
                    work / "proxy",
                    free_port(),
                    NGINX_UPSTREAM=f"127.0.0.1:{port}",
                    NGINX_STATIC_ROOT=str(ROOT / "static"),
                    NGINX_MEDIA_ROOT=str(work / "var" / "media"),
                )
            )
            base = proxy.base
        # The seeding's events (five a release) are the worker's to handle first: a
        # backlog a running service does not have, so it is not part of the load.
        started = time.monotonic()
        wait_for(lambda: unhandled_events(ctx) == 0, 600, "the seeding's events to be handled")
        print(f"the worker handled the seeding's events in {time.monotonic() - started:.1f} s")
        ctx.engine.dispose()
        load = Load(base, numbers, tokens, topic)
        if args.readers == "wrk":
            figures = asyncio.run(
                load.run_with_wrk(args.clients, args.editors, args.seconds, args.warm_up, work)
            )
        else:
            measured = asyncio.run(load.run(args.clients, args.editors, args.seconds, args.warm_up))
    finally:
        proxying.close()
        cluster.stop_all()
    public, transitions = load.latency["public"], load.latency["transition"]
    if args.readers == "wrk":
        measured = figures["duration_us"] / 1e6
        reads = int(figures["requests"])
        public_p50, public_p95 = figures["p50_us"] / 1000, figures["p95_us"] / 1000
        for kind in ("connect", "read", "write", "status", "timeout"):
            if figures[kind]:
                load.errors[f"public: {kind}"] += int(figures[kind])
    else:
        reads = len(public)
        public_p50, public_p95 = statistics.median(public or [0]), percentile(public, 0.95)
    print(
        f"{reads} public reads ({args.readers}), {len(transitions)} transitions, "
        f"{len(load.latency['create'])} creations in {measured:.1f} s; "
        f"public p50 {public_p50:.1f} ms, "
        f"transition p50 {statistics.median(transitions or [0]):.1f} ms",
        flush=True,
    )
    if load.cpu:
        print(
            "CPU used, in cores: "
            + ", ".join(f"{k} {v / measured:.2f}" for k, v in sorted(load.cpu.items())),
            flush=True,
        )
    if load.errors:
        print(f"errors: {dict(load.errors)}", flush=True)
    print(
        json.dumps(
            {
                "public_rps": round(reads / measured, 1),
                "public_p95_ms": round(public_p95, 1),
                "transition_p95_ms": round(percentile(transitions, 0.95), 1),
                "errors": sum(load.errors.values()),
                "via_proxy": args.via_proxy,
            }
        )
    )


if __name__ == "__main__":
    main()
