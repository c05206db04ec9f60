"""``workflow.api.threads.run_now``: a command's thread starts before the event loop
turns, within the same bound on threads as every other handler."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from anyio import to_thread

from workflow.api.threads import run_now

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who")


def test_the_thread_starts_before_the_loop_turns_again() -> None:
    """Once the caller has reached its first ``await``, the function is already in a
    thread: the loop is kept from turning here, and it runs all the same (with
    ``run_in_threadpool`` it would not start until the loop's next turn)."""

    async def main() -> str:
        started = threading.Event()

        def command() -> str:
            started.set()
            return f"{WHO.get()} in {threading.current_thread().name}"

        WHO.set("press officer")
        task = asyncio.create_task(run_now(command))
        await asyncio.sleep(0)  # the task runs up to its first await
        assert started.wait(timeout=5), "the command waited for the event loop"
        return await task

    said = asyncio.run(main())
    assert said.startswith("press officer in command")


def test_all_tokens_taken_it_waits_for_one_and_gives_each_back() -> None:
    async def main() -> list[str]:
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        release_first = threading.Event()
        order: list[str] = []

        def first() -> None:
            release_first.wait(timeout=5)
            order.append("first")

        def second() -> None:
            order.append("second")

        one = asyncio.create_task(run_now(first))
        await asyncio.sleep(0)
        two = asyncio.create_task(run_now(second))
        await asyncio.sleep(0.2)
        assert order == [] and limiter.borrowed_tokens == 1  # the second one waits
        release_first.set()
        await asyncio.gather(one, two)
        await asyncio.sleep(0)  # the token's return is a callback on the loop
        assert limiter.borrowed_tokens == 0
        return order

    assert asyncio.run(main()) == ["first", "second"]


def test_an_error_in_the_thread_reaches_the_caller_and_the_token_comes_back() -> None:
    async def main() -> None:
        def refuse() -> None:
            raise PermissionError("not yours to approve")

        try:
            await run_now(refuse)
        except PermissionError as error:
            assert str(error) == "not yours to approve"
        else:  # pragma: no cover - the test fails here
            raise AssertionError("the error was lost")
        await asyncio.sleep(0)
        assert to_thread.current_default_thread_limiter().borrowed_tokens == 0

    asyncio.run(main())
