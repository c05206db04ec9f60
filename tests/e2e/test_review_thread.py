"""A reviewer's comment on a request for changes or a rejection is part of the release's
thread, in the API's comment list and on the office release page, in order among the
comments added to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from fastapi import FastAPI

from tests.conftest import Staff
from tests.e2e.conftest import Api
from tests.e2e.office import Office, page, post
from workflow.clock import FrozenClock
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

KO_BODY = "1. 외교부는 전문가 회의를 개최하였다.\n"


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def submitted(ctx: ServiceContext, staff: Staff) -> int:
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="전문가 회의", body=KO_BODY, topics=[staff.health]
    ).release_id
    svc.submit_release(ctx, staff.author, release_id)
    return release_id


def test_the_api_lists_review_decisions_among_the_comments(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = submitted(ctx, staff)
    base = f"/api/v1/releases/{release_id}"
    api.ok("approver", "POST", f"{base}/request-changes", json={"comment": "Cite the date."})
    clock.advance(minutes=1)
    api.ok("author", "POST", f"{base}/comments", json={"body": "Done: 14 May."})
    clock.advance(minutes=1)
    api.ok("author", "POST", f"{base}/submit")
    api.ok("approver", "POST", f"{base}/reject", json={"comment": "Not for publication."})
    thread = api.ok("author", "GET", f"{base}/comments")
    assert [(c["author"], c["kind"], c["body"]) for c in thread] == [
        ("Lee Jun-ho", "request_changes", "Cite the date."),
        ("Kim Min-ji", "comment", "Done: 14 May."),
        ("Lee Jun-ho", "reject", "Not for publication."),
    ]
    assert [c["created_at"] for c in thread] == sorted(c["created_at"] for c in thread)


def test_the_release_page_shows_them_in_the_thread(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = submitted(ctx, staff)
    url = f"/office/releases/{release_id}"
    approver = office("approver", lang="ko")
    post(approver, url, f"{url}/request_changes", {"comment": "날짜를 밝혀 주십시오."})
    shown = page(office("author", lang="ko"), url).text
    thread = shown[shown.index('id="comments"') :]
    assert "아직 의견이 없습니다." not in thread
    assert "수정 요청됨" in thread and "날짜를 밝혀 주십시오." in thread
