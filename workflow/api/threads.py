"""Run a command in a worker thread at once, not a turn of the event loop later.

Starlette's ``run_in_threadpool`` (anyio's ``to_thread.run_sync``) first yields to the
event loop, and on a busy server a turn of the loop is many milliseconds: every ready
connection is served before the command's thread is even started. ``run_now`` hands the
function to a thread straight away, within the same bound on threads as every other
handler (anyio's default limiter, ``POOL_SIZE`` tokens: one connection each), and falls
back to waiting for a token the usual way when all are taken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from functools import lru_cache
from typing import TypeVar

from anyio import WouldBlock, to_thread
from starlette.concurrency import run_in_threadpool

from workflow.db.engine import POOL_SIZE

T = TypeVar("T")


@lru_cache(maxsize=1)
def command_threads() -> ThreadPoolExecutor:
    """The threads ``run_now`` starts commands in, made on first use, in the process that
    serves. Never more busy at once than the limiter's tokens; idle ones cost nothing."""
    return ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="command")


async def run_now(function: Callable[[], T]) -> T:
    """``function()`` in a worker thread, started before this call yields, with the
    caller's context variables, as ``run_in_threadpool`` would run it."""
    limiter = to_thread.current_default_thread_limiter()
    token = object()
    try:
        limiter.acquire_on_behalf_of_nowait(token)
    except WouldBlock:
        return await run_in_threadpool(function)
    running = command_threads().submit(copy_context().run, function)
    # The token goes back when the thread is done, even if this caller stops waiting
    # (a cancelled request): the thread runs to the end either way, as anyio's do.
    loop = asyncio.get_running_loop()
    running.add_done_callback(
        lambda _: loop.call_soon_threadsafe(limiter.release_on_behalf_of, token)
    )
    return await asyncio.wrap_future(running)
