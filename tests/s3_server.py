"""A real S3-speaking server on loopback for the tests: moto's server, in a process of
its own so that what it stores counts neither towards the test process's memory nor its
threads, started on a free port of 127.0.0.1.

    with s3_server() as server:
        storage = S3Storage(server.bucket, server.client())

moto accepts any credentials; the ones given are there so that a client does not look
for real ones in the environment.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3.session
import httpx

from tests.private_servers import free_port


@dataclass(frozen=True)
class S3Server:
    endpoint_url: str
    bucket: str  # created, empty when the server starts
    region: str
    access_key_id: str
    secret_access_key: str

    def client(self) -> Any:
        """A boto3 S3 client of this server, one for all callers (a client may be shared
        between threads); boto3 ships no types, hence ``Any``."""
        return self._client

    @cached_property
    def _client(self) -> Any:
        # Building a client takes a tenth of a second: once per server, not per call.
        session = boto3.session.Session()
        return session.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        )

    def create_bucket(self, prefix: str = "newsroom-test") -> str:
        """A new empty bucket's name, for a test that needs one of its own."""
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str | None = None) -> list[str]:
        """Every object key in ``bucket`` (the server's own by default), sorted."""
        pages = (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket or self.bucket)
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


@contextmanager
def s3_server(bucket: str = "newsroom-media", *, timeout: float = 30.0) -> Iterator[S3Server]:
    """Start ``python -m moto.server`` on a free loopback port, create ``bucket``, yield
    how to reach it, and stop the server afterwards."""
    port = free_port()
    server = S3Server(
        endpoint_url=f"http://127.0.0.1:{port}",
        bucket=bucket,
        region="us-east-1",
        access_key_id="newsroom-test",
        secret_access_key="newsroom-test-secret",  # moto checks none
    )
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(  # noqa: S603  # this interpreter, moto's module
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(server.endpoint_url, process, log, timeout)
            server.client().create_bucket(Bucket=bucket)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(
    endpoint_url: str, process: subprocess.Popen[bytes], log: Any, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"moto's server exited with {process.returncode}:\n{output}")
        try:
            # moto's own API answers once the server is ready; trust_env=False so that a
            # proxy set in the environment is not asked for a loopback address.
            if httpx.get(f"{endpoint_url}/moto-api/", timeout=1, trust_env=False).is_success:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"moto's server did not answer at {endpoint_url} within {timeout}s")
