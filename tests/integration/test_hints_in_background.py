"""The web sends its hints to the relay from a thread of its own: a request never waits
for the broker, and every commit is still followed by a hint sent after it."""

from __future__ import annotations

import threading

from tasks.runtime import HintsInBackground


class SlowBroker:
    """A hint that takes as long as the test says, counting those that began."""

    def __init__(self) -> None:
        self.began = 0
        self.started = threading.Semaphore(0)
        self.go_on = threading.Semaphore(0)

    def hint(self) -> None:
        self.began += 1
        self.started.release()
        assert self.go_on.acquire(timeout=5), "the test never let the hint finish"


def test_the_asker_does_not_wait_for_the_hint_and_asks_meanwhile_make_one_more() -> None:
    broker = SlowBroker()
    hints = HintsInBackground(broker.hint)

    hints()  # returns while the broker is still busy with it
    assert broker.started.acquire(timeout=5)
    for _ in range(3):  # three commits while that hint is on its way
        hints()
    broker.go_on.release()

    # One more hint for the three, begun after they asked; and no other.
    assert broker.started.acquire(timeout=5)
    broker.go_on.release()
    assert not broker.started.acquire(timeout=0.3)
    assert broker.began == 2


def test_a_failing_hint_does_not_stop_the_next() -> None:
    calls: list[int] = []
    done = threading.Semaphore(0)

    def flaky() -> None:
        calls.append(len(calls))
        done.release()
        if len(calls) == 1:
            raise ConnectionError("broker down")

    hints = HintsInBackground(flaky)
    hints()
    assert done.acquire(timeout=5)
    hints()
    assert done.acquire(timeout=5)
    assert calls == [0, 1]
