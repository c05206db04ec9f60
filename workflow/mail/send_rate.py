"""The relay's rate limit, ``NEWSROOM_SMTP_MAX_PER_SECOND``, kept by every sending task
together: one pace for all workers and hosts, which slows down when the relay says we
are too fast and speeds up again by itself.

- ``Pace`` is the arithmetic, pure and on any clock: each message reserves the next
  moment the rate allows (a reservation that lands in the future is a wait; an idle
  moment is not saved up for a burst), and a slow-down halves the rate, down to a floor,
  then after a while lets it climb back steadily to the limit (additive increase,
  multiplicative decrease: many workers hearing the relay's refusals at once slow down
  once, and when the relay takes more again, the rate comes back by itself).
- ``LocalSendRate`` keeps a ``Pace`` in the process: the embedded mode, or any broker
  that is not Redis. Each worker process then has a pace of its own.
- ``RedisSendRate`` keeps one ``Pace`` in the broker's Redis for every process on every
  host, in one Lua script run on Redis's clock, so hosts' clocks do not matter; its keys
  expire, so a stopped system leaves nothing behind.

``build_send_rate`` picks one from the settings; the bulk engine
(``workflow.mail.smtp_engine``) asks it before each message it puts on the wire and
tells it of each refusal that ``too_fast`` recognises.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from config.settings import Settings

log = logging.getLogger(__name__)

# A slow-down halves the rate, to no less than this share of the limit.
FLOOR_SHARE: Final = 1 / 16
# Refusals within this long of a slow-down are taken as echoes of the same excess (the
# messages already on the wire when the rate fell, from every worker): they slow
# nothing further.
COOLDOWN_SECONDS: Final = 1.0
# After a slow-down the rate holds this long, then climbs by this share of the limit a
# second: from half the limit back to all of it in 2 + 5 s when nothing refuses.
HOLD_SECONDS: Final = 2.0
RECOVERY_SHARE_PER_SECOND: Final = 0.1
# A sender that took a message within this long counts among those sharing the rate
# (``RedisSendRate``, for its share while Redis is out of reach).
SENDER_WINDOW_SECONDS: Final = 10.0
# What is kept in Redis lives this long after its last use: longer than a recovery
# takes, and than the waits it hands out (a few of the connections' turns).
KEY_TTL_MS: Final = 60_000
# How long a process paces itself alone after Redis failed it, before it asks again.
RETRY_REDIS_SECONDS: Final = 1.0


class SendRate(Protocol):
    """Messages a second to the relay, shared by whoever holds the same one."""

    async def acquire(self, n: int = 1) -> None:
        """Return once ``n`` messages may go: at once, or after sleeping (never spinning)
        until the moment the rate sets aside for them."""
        ...

    async def slow_down(self, reason: str) -> None:
        """The relay refused a message as too fast (``reason``, its reply): slow down
        for everyone sharing this rate (see ``Pace.slow_down``)."""
        ...

    async def aclose(self) -> None:
        """Let go of what the running event loop holds (connections); the rate keeps its
        state and may be used again, from another event loop."""
        ...


# --- what the relay says when we are too fast ---------------------------------------------

# Words of a refusal for our rate: Postfix's "450 4.7.1 Error: too much mail from",
# "451 4.7.1 too many messages", Amazon SES's "454 Throttling failure: Maximum sending
# rate exceeded", "rate limited", "slow down". Not greylisting, a busy mailbox or a bare
# "try again later": those are about the message, and slowing everyone would not help.
_TOO_FAST_WORDS: Final = re.compile(
    r"too (?:many|much|fast|frequent)|\brate|throttl|slow down|\blimit", re.IGNORECASE
)
_REPLY_CODE: Final = re.compile(r"(\d{3})\b")


def too_fast(reply: str) -> bool:
    """Whether a relay's ``reply`` ("421 4.7.0 ...", as a ``Result`` keeps it) asks us to
    send more slowly. A 421 always does: the server is closing the connection, the way
    relays shed load, whatever the words. A 450, 451 or 454 does when its words are about
    rate; other codes never (452 "too many recipients" is about one message)."""
    found = _REPLY_CODE.match(reply)
    if found is None:
        return False
    code = int(found.group(1))
    if code == 421:
        return True
    return code in (450, 451, 454) and _TOO_FAST_WORDS.search(reply) is not None


# --- the arithmetic -------------------------------------------------------------------------


@dataclass(slots=True)
class Pace:
    """The rate's state and arithmetic, on the caller's clock (seconds as floats).

    ``tat`` is the moment the next message may go (the "theoretical arrival time" of
    the generic cell rate algorithm); ``base`` and ``slowed`` are the rate set by the
    last slow-down and when it came (``None`` once the rate is whole again).
    ``RedisSendRate``'s script is this same arithmetic, line for line."""

    limit: float
    tat: float | None = None
    base: float | None = None
    slowed: float | None = None

    def rate(self, now: float) -> float:
        """Messages a second at ``now``: the limit, or after a slow-down its rate held
        for ``HOLD_SECONDS`` and then climbing back linearly."""
        if self.base is None or self.slowed is None:
            return self.limit
        climbing = max(0.0, now - self.slowed - HOLD_SECONDS)
        return min(self.limit, self.base + self.limit * RECOVERY_SHARE_PER_SECOND * climbing)

    def take(self, now: float, n: int = 1) -> float:
        """Reserve the moment for ``n`` messages; how long from ``now`` until it comes."""
        rate = self.rate(now)
        if rate >= self.limit:
            self.base = self.slowed = None
        start = now if self.tat is None else max(self.tat, now)
        self.tat = start + n / rate
        return start - now

    def slow_down(self, now: float) -> bool:
        """Halve the rate, to no less than ``FLOOR_SHARE`` of the limit, unless it was
        halved less than ``COOLDOWN_SECONDS`` ago; whether it was halved now."""
        if self.slowed is not None and now - self.slowed < COOLDOWN_SECONDS:
            return False
        self.base = max(self.limit * FLOOR_SHARE, self.rate(now) / 2)
        self.slowed = now
        return True


# --- in the process ---------------------------------------------------------------------------


class LocalSendRate:
    """A ``Pace`` in this process, for every event loop and thread in it (the embedded
    mode: each worker process has its own)."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("a send rate needs a limit above 0")
        self.pace = Pace(per_second)
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()

    @property
    def limit(self) -> float:
        return self.pace.limit

    def reserve(self, n: int = 1) -> float:
        """Take the moment for ``n`` messages; the seconds to wait for it."""
        with self._lock:
            return self.pace.take(self._clock(), n)

    def current(self) -> float:
        """Messages a second now."""
        with self._lock:
            return self.pace.rate(self._clock())

    async def acquire(self, n: int = 1) -> None:
        wait = self.reserve(n)
        if wait > 0:
            await self._sleep(wait)

    async def slow_down(self, reason: str) -> None:
        with self._lock:
            now = self._clock()
            halved = self.pace.slow_down(now)
            rate = self.pace.rate(now)
        if halved:
            log.warning("send rate slowed to %.1f/s in this process: %s", rate, reason)

    async def aclose(self) -> None:
        return None


# --- in Redis, for every process ------------------------------------------------------------

# ``Pace.take`` (ARGV[1] "take") or ``Pace.slow_down`` (ARGV[1] "slow") on the hash
# KEYS[1], on Redis's clock; a "take" also notes its sender in the sorted set KEYS[2]
# and forgets those silent for ARGV[10] seconds. Returns the wait, the rate (as text: a
# number returned from Lua is cut to an integer), the senders, and whether it halved.
# Times are stored as text with microseconds: Lua's own conversion keeps 14 digits.
_SCRIPT: Final = """
local bucket, senders = KEYS[1], KEYS[2]
local op, limit, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local floor_share, cooldown = tonumber(ARGV[4]), tonumber(ARGV[5])
local hold, recovery = tonumber(ARGV[6]), tonumber(ARGV[7])
local ttl_ms, member, window = tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function stamp(x) return string.format('%.6f', x) end
local state = redis.call('HMGET', bucket, 'tat', 'base', 'slowed')
local tat, base, slowed = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
local rate = limit
if base and slowed then
  rate = math.min(limit, base + limit * recovery * math.max(0, now - slowed - hold))
end
local wait, halved = 0, 0
if op == 'take' then
  if rate >= limit and base then
    redis.call('HDEL', bucket, 'base', 'slowed')
  end
  local start = now
  if tat and tat > now then start = tat end
  wait = start - now
  redis.call('HSET', bucket, 'tat', stamp(start + n / rate))
  redis.call('ZADD', senders, stamp(now), member)
  redis.call('ZREMRANGEBYSCORE', senders, '-inf', stamp(now - window))
  redis.call('PEXPIRE', senders, ttl_ms)
elseif not (slowed and now - slowed < cooldown) then
  rate = math.max(limit * floor_share, rate / 2)
  redis.call('HSET', bucket, 'base', stamp(rate), 'slowed', stamp(now))
  halved = 1
end
redis.call('PEXPIRE', bucket, ttl_ms)
return {stamp(wait), stamp(rate), redis.call('ZCARD', senders), halved}
"""

DEFAULT_PREFIX: Final = "newsroom:{send-rate}"


class RedisSendRate:
    """One ``Pace`` in Redis for every process that names the same ``prefix`` (its keys
    carry one hash tag, so a Redis Cluster keeps them on one node). One round trip a
    message, which reserves its moment and answers how long to wait for it.

    **Redis out of reach.** Waiting for it would stop every send for as long as the
    outage lasts, and sending unpaced would hit the relay with every worker's full
    speed at once. So the process paces itself alone, at its share of the rate as Redis
    last said it: the rate over the number of senders seen in the last
    ``SENDER_WINDOW_SECONDS``, so that together they keep about the limit, and asks
    Redis again every ``RETRY_REDIS_SECONDS``. A process that never reached Redis takes
    ``FLOOR_SHARE`` of the limit: slow, but not stopped. Redis back, empty or not, the
    shared pace takes over again."""

    def __init__(self, url: str, per_second: float, *, prefix: str = DEFAULT_PREFIX) -> None:
        if per_second <= 0:
            raise ValueError("a send rate needs a limit above 0")
        self.url, self.limit = url, per_second
        self.keys = [f"{prefix}:bucket", f"{prefix}:senders"]
        # Who this process is among the senders.
        self.member = uuid.uuid4().hex
        # The rate and the senders as Redis last answered, for this process's share.
        self.shared: tuple[float, int] | None = None
        self.alone: LocalSendRate | None = None  # while Redis is out of reach
        self._retry_at = 0.0
        self._lock = threading.Lock()
        # A client per event loop: an asyncio connection belongs to the loop it was
        # opened on, and the bulk engine runs each batch on a loop of its own.
        self._clients: dict[asyncio.AbstractEventLoop, tuple[Redis, AsyncScript]] = {}

    async def acquire(self, n: int = 1) -> None:
        reply = await self._run("take", n)
        if reply is None:
            await self._alone().acquire(n)
            return
        wait, rate, senders, _ = reply
        self.shared = (rate, max(1, senders))
        if wait > 0:
            await asyncio.sleep(wait)

    async def slow_down(self, reason: str) -> None:
        reply = await self._run("slow", 1)
        if reply is None:
            await self._alone().slow_down(reason)
            return
        _, rate, _, halved = reply
        if halved:
            log.warning("send rate slowed to %.1f/s for every sender: %s", rate, reason)

    async def aclose(self) -> None:
        with self._lock:
            held = self._clients.pop(asyncio.get_running_loop(), None)
        if held is not None:
            await held[0].aclose()

    async def _run(self, op: str, n: int) -> tuple[float, float, int, bool] | None:
        """The script's answer, or None while Redis is out of reach."""
        if time.monotonic() < self._retry_at:
            return None
        try:
            script = self._script()
            answer = await script(
                keys=self.keys,
                args=[
                    op,
                    repr(self.limit),
                    n,
                    repr(FLOOR_SHARE),
                    repr(COOLDOWN_SECONDS),
                    repr(HOLD_SECONDS),
                    repr(RECOVERY_SHARE_PER_SECOND),
                    KEY_TTL_MS,
                    self.member,
                    repr(SENDER_WINDOW_SECONDS),
                ],
            )
        except (RedisError, OSError) as error:
            self._out_of_reach(error)
            return None
        if self.alone is not None:
            log.warning("send rate shared through Redis again")
            self.alone = None
        wait, rate, senders, halved = answer
        return float(wait), float(rate), int(senders), bool(halved)

    def _script(self) -> AsyncScript:
        loop = asyncio.get_running_loop()
        with self._lock:
            held = self._clients.get(loop)
            if held is None:
                # Short timeouts and no retries: a Redis that does not answer at once
                # is out of reach, and the process paces itself meanwhile.
                client = Redis.from_url(
                    self.url,
                    socket_timeout=0.5,
                    socket_connect_timeout=0.5,
                    retry=Retry(NoBackoff(), 0),
                )
                held = self._clients[loop] = (client, client.register_script(_SCRIPT))
        return held[1]

    def _out_of_reach(self, error: Exception) -> None:
        self._retry_at = time.monotonic() + RETRY_REDIS_SECONDS
        if self.alone is not None:
            return
        rate, senders = self.shared or (self.limit * FLOOR_SHARE, 1)
        self.alone = LocalSendRate(rate / senders)
        log.warning(
            "send rate: Redis out of reach (%s); this process paces itself at %.1f/s "
            "(%.1f/s shared by %d senders) until it is back",
            error,
            self.alone.limit,
            rate,
            senders,
        )

    def _alone(self) -> LocalSendRate:
        if self.alone is None:
            self._out_of_reach(ConnectionError("no answer"))
        assert self.alone is not None
        return self.alone


def build_send_rate(settings: Settings) -> SendRate | None:
    """The send rate the settings call for: none without ``smtp_max_per_second``;
    shared through Redis when the broker is Redis; else this process's own."""
    limit = settings.smtp_max_per_second
    if limit <= 0:
        return None
    if settings.broker_url.startswith(("redis://", "rediss://")):
        return RedisSendRate(settings.broker_url, limit)
    return LocalSendRate(limit)
