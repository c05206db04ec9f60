"""The send rate's arithmetic (``workflow.mail.send_rate``) on a clock the test moves:
each message's moment, slowing down and climbing back, and which replies slow it.
``tests/integration/test_send_rate.py`` runs the Redis pace and real workers."""

from __future__ import annotations

import asyncio

import pytest

from config.settings import Settings
from workflow.mail.send_rate import (
    COOLDOWN_SECONDS,
    FLOOR_SHARE,
    HOLD_SECONDS,
    RECOVERY_SHARE_PER_SECOND,
    LocalSendRate,
    Pace,
    RedisSendRate,
    build_send_rate,
    too_fast,
)


class FakeTime:
    """A clock that moves only when told, and a sleep that moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_each_message_waits_for_its_moment_at_the_limit() -> None:
    pace = Pace(10.0)
    assert [pace.take(0.0) for _ in range(5)] == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_several_messages_at_once_take_their_share_of_time() -> None:
    pace = Pace(10.0)
    assert pace.take(0.0, 3) == 0.0
    assert pace.take(0.0) == pytest.approx(0.3)


def test_an_idle_moment_is_not_saved_up_for_a_burst() -> None:
    pace = Pace(10.0)
    pace.take(0.0)
    assert pace.take(60.0) == 0.0
    assert pace.take(60.0) == pytest.approx(0.1), "the next one waits its full interval"


def test_a_caller_on_time_waits_nothing() -> None:
    pace = Pace(10.0)
    assert [pace.take(t / 10) for t in range(5)] == pytest.approx([0.0] * 5, abs=1e-9)


def test_a_slow_down_halves_the_rate_once_for_the_echoes_of_one_excess() -> None:
    pace = Pace(100.0)
    assert pace.slow_down(5.0)
    assert pace.rate(5.0) == 50.0
    assert not pace.slow_down(5.0 + COOLDOWN_SECONDS / 2), "the same excess, heard again"
    assert pace.rate(5.0 + COOLDOWN_SECONDS / 2) == 50.0
    assert pace.slow_down(5.0 + COOLDOWN_SECONDS)
    assert pace.rate(5.0 + COOLDOWN_SECONDS) == 25.0


def test_a_slowed_rate_spaces_messages_further_apart() -> None:
    pace = Pace(100.0)
    pace.slow_down(0.0)
    waits = [pace.take(0.0) for _ in range(3)]
    assert waits == pytest.approx([0.0, 0.02, 0.04])


def test_slowing_down_stops_at_the_floor() -> None:
    pace = Pace(160.0)
    for second in range(10):
        pace.slow_down(float(second))
    assert pace.rate(9.0) == 160.0 * FLOOR_SHARE


def test_the_rate_holds_then_climbs_back_to_the_limit_and_forgets_the_slow_down() -> None:
    pace = Pace(100.0)
    pace.slow_down(0.0)
    assert pace.rate(HOLD_SECONDS) == 50.0
    one_second_on = HOLD_SECONDS + 1
    assert pace.rate(one_second_on) == pytest.approx(50.0 + 100.0 * RECOVERY_SHARE_PER_SECOND)
    whole = HOLD_SECONDS + 0.5 / RECOVERY_SHARE_PER_SECOND
    assert pace.rate(whole) == 100.0
    assert pace.rate(whole + 100) == 100.0, "never above the limit"
    pace.take(whole)
    assert (pace.base, pace.slowed) == (None, None)


def test_a_slow_down_while_climbing_halves_the_rate_reached() -> None:
    pace = Pace(100.0)
    pace.slow_down(0.0)
    climbed = HOLD_SECONDS + 2
    reached = pace.rate(climbed)
    pace.slow_down(climbed)
    assert pace.rate(climbed) == pytest.approx(reached / 2)


def test_the_local_rate_sleeps_exactly_until_each_moment() -> None:
    time = FakeTime()
    rate = LocalSendRate(20.0, clock=time.clock, sleep=time.sleep)

    async def send(count: int) -> None:
        for _ in range(count):
            await rate.acquire()

    began = time.now
    asyncio.run(send(5))
    assert time.slept == pytest.approx([0.05] * 4), "no sleep for the first, none wasted"
    assert time.now - began == pytest.approx(0.2)


def test_the_local_rate_slows_down_for_every_connection_of_the_process() -> None:
    time = FakeTime()
    rate = LocalSendRate(20.0, clock=time.clock, sleep=time.sleep)
    asyncio.run(rate.slow_down("451 4.7.1 too many messages"))
    assert rate.current() == 10.0
    rate.reserve()
    assert rate.reserve() == pytest.approx(0.1)


def test_a_rate_needs_a_limit() -> None:
    with pytest.raises(ValueError, match="above 0"):
        LocalSendRate(0.0)


@pytest.mark.parametrize(
    ("reply", "slows"),
    [
        ("421 4.7.0 Try again later, closing connection", True),
        ("421 4.3.2 Service shutting down", True),
        ("451 4.7.1 Too many messages, slow down", True),
        ("450 4.7.1 Error: too much mail from 192.0.2.1", True),
        ("454 Throttling failure: Maximum sending rate exceeded", True),
        ("451 4.7.1 Rate limited, try again", True),
        ("451 4.3.0 please try again later", False),
        ("451 4.2.1 <a@x.example>: mailbox busy, try again later", False),
        ("451 4.7.1 Greylisted, see https://example.com/greylisting", False),
        ("452 4.5.3 Too many recipients", False),
        ("550 5.7.1 rate of spam too high", False),
        ("250 2.0.0 Ok", False),
        ("SMTPReadTimeoutError: Timed out waiting for server response", False),
        ("SMTPServerDisconnected: Connection lost", False),
    ],
)
def test_which_replies_say_we_are_too_fast(reply: str, slows: bool) -> None:
    assert too_fast(reply) is slows


def test_the_settings_choose_the_rate() -> None:
    assert build_send_rate(Settings(smtp_max_per_second=0)) is None
    local = build_send_rate(Settings(smtp_max_per_second=50))
    assert isinstance(local, LocalSendRate) and local.limit == 50
    shared = build_send_rate(
        Settings(smtp_max_per_second=200, broker_url="redis://127.0.0.1:6379/3")
    )
    assert isinstance(shared, RedisSendRate)
    assert (shared.url, shared.limit) == ("redis://127.0.0.1:6379/3", 200)
