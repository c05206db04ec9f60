"""Each role's day, through the HTTP API only (except the scheduler's clock).

A press officer drafts and submits, an approver asks for changes, the officer revises,
two approvers approve, the release is scheduled and published on time; a translator
fulfils a request; the public reads the live text, and nothing before it is live.
"""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import Staff
from tests.e2e.conftest import Api
from tests.e2e.published import past_the_public_cache
from workflow.clock import FrozenClock
from workflow.services import releases as svc
from workflow.services.context import ServiceContext

BODY_KO = "1. 외교부는 전문가 회의를 개최하였다.\n\n   - 20여 명이 참석하였다.\n"
BODY_EN = "1. The Ministry hosted an expert meeting.\n\n   - Some twenty attended.\n"


def test_from_first_draft_to_the_public_page(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    ctx.settings.required_approvals = 2

    # The press officer drafts and submits.
    created = api.ok(
        "author",
        "POST",
        "/api/v1/releases",
        json={
            "language": "ko",
            "title": "국제보건 전문가 회의 개최",
            "body": BODY_KO,
            "topics": [staff.health],
            "contact": {
                "name": "Kim Min-ji",
                "phone": "+82-2-2100-7000",
                "email": "press@newsroom.example",
            },
        },
    )
    release_id = created["release_id"]
    assert created["state"] == "draft"
    assert created["allowed_actions"] == ["edit", "update_details", "submit", "abandon"]
    base = f"/api/v1/releases/{release_id}"

    # The officer asks for an English version; the translator sees it and hands it in.
    request = api.ok(
        "author", "POST", f"{base}/translation-requests", json={"target_language": "en"}
    )
    mine = api.ok("translator", "GET", "/api/v1/translation-requests")
    assert [(r["id"], r["state"], r["target_revision"]) for r in mine] == [
        (request["id"], "open", 0)
    ]
    assert mine[0]["source_title"] == "국제보건 전문가 회의 개최"
    translated = api.ok(
        "translator",
        "POST",
        f"/api/v1/translation-requests/{request['id']}/submit",
        json={"title": "Experts Meet on Global Health", "body": BODY_EN, "base_revision": 0},
    )
    assert (translated["release_id"], translated["state"], translated["revision"]) == (
        release_id,
        "draft",
        1,
    )
    assert api.ok("translator", "GET", "/api/v1/translation-requests")[0]["state"] == "submitted"

    submitted = api.ok("author", "POST", f"{base}/submit")
    assert submitted["state"] == "in_review"

    # An approver asks for changes.
    changes = api.ok(
        "approver", "POST", f"{base}/request-changes", json={"comment": "Give the date."}
    )
    assert changes["state"] == "changes_requested"
    api.ok(
        "approver", "POST", f"{base}/comments", json={"body": "The date of the meeting, please."}
    )

    # The officer revises, from the revision they read.
    release = api.ok("author", "GET", base)
    assert release["versions"]["ko"]["revision"] == 1
    revised = api.ok(
        "author",
        "PUT",
        f"{base}/versions/ko",
        json={"title": "국제보건 전문가 회의 개최 (5.14.)", "body": BODY_KO, "base_revision": 1},
    )
    assert revised["revision"] == 2
    diff = api.ok("author", "GET", f"{base}/versions/ko/diff", params={"from": 1, "to": 2})
    assert "+# 국제보건 전문가 회의 개최 (5.14.)" in diff["diff"]
    assert [r["number"] for r in api.ok("approver", "GET", f"{base}/versions/ko/revisions")] == [
        1,
        2,
    ]
    assert api.ok("author", "POST", f"{base}/submit")["state"] == "in_review"

    # Two approvers approve; the first alone is not enough.
    first = api.ok("approver", "POST", f"{base}/approve")
    assert first["state"] == "in_review"
    again = api("approver", "POST", f"{base}/approve")
    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    second = api.ok("approver_2", "POST", f"{base}/approve")
    assert second["state"] == "approved"

    # Scheduled for an hour from now: not public yet, by list or by guessed number.
    publish_at = clock.now() + timedelta(hours=1)
    scheduled = api.ok(
        "author", "POST", f"{base}/schedule", json={"publish_at": publish_at.isoformat()}
    )
    assert scheduled["state"] == "scheduled"
    assert api.ok(None, "GET", "/api/v1/public/releases")["items"] == []
    assert api(None, "GET", "/api/v1/public/releases/2026-0001").status_code == 404

    # The scheduler publishes it when it is due.
    clock.advance(hours=1)
    outcome = svc.publish_scheduled(ctx, release_id)
    assert outcome.state.value == "published"
    number = api.ok("author", "GET", base)["number"]
    assert number == "2026-0001"

    # Anyone reads it, in both languages, without signing in.
    listed = api.ok(None, "GET", "/api/v1/public/releases")
    assert [(i["number"], i["titles"]["en"]) for i in listed["items"]] == [
        (number, "Experts Meet on Global Health")
    ]
    public = api.ok(None, "GET", f"/api/v1/public/releases/{number}")
    assert public["status"] == "published"
    assert public["versions"]["ko"]["title"] == "국제보건 전문가 회의 개최 (5.14.)"
    assert "<li>20여 명이 참석하였다.</li>" in public["versions"]["ko"]["body_html"]
    assert public["contact"]["email"] == "press@newsroom.example"

    # The audit trail tells the story, by the people who acted.
    trail = api.ok("admin", "GET", f"{base}/audit")
    assert [(a["action"], a["actor"]) for a in trail] == [
        ("create", "Kim Min-ji"),
        ("request_translation", "Kim Min-ji"),
        ("edit", "Choi Ha-eun"),
        ("submit", "Kim Min-ji"),
        ("request_changes", "Lee Jun-ho"),
        ("edit", "Kim Min-ji"),
        ("submit", "Kim Min-ji"),
        ("approve", "Lee Jun-ho"),
        ("approve", "Park Seo-yeon"),
        ("schedule", "Kim Min-ji"),
        ("publish", "scheduler"),
    ]
    thread = api.ok("author", "GET", f"{base}/comments")
    assert [(c["author"], c["kind"], c["body"]) for c in thread] == [
        ("Lee Jun-ho", "request_changes", "Give the date."),
        ("Lee Jun-ho", "comment", "The date of the meeting, please."),
    ], "the review decision's comment is in the thread, before the comment that followed"


def test_a_correction_stays_private_until_approved(
    api: Api, staff: Staff, ctx: ServiceContext, clock: FrozenClock
) -> None:
    release_id = api.ok(
        "author",
        "POST",
        "/api/v1/releases",
        json={"language": "ko", "title": "원래 제목", "body": BODY_KO, "topics": [staff.health]},
    )["release_id"]
    base = f"/api/v1/releases/{release_id}"
    api.ok("author", "POST", f"{base}/submit")
    api.ok("approver", "POST", f"{base}/approve")
    assert api.ok("author", "POST", f"{base}/publish")["state"] == "published"
    corrected = api.ok(
        "officer",
        "POST",
        f"{base}/correct",
        json={
            "language": "ko",
            "title": "고친 제목",
            "body": BODY_KO,
            "note": "제목 수정",
            "base_revision": 1,
        },
    )
    assert corrected["state"] == "correction_in_review"

    public = api.ok(None, "GET", "/api/v1/public/releases/2026-0001")
    assert public["versions"]["ko"]["title"] == "원래 제목"  # the live text, not the proposal
    assert public["correction_note"] == ""
    assert api.ok("author", "GET", base)["versions"]["ko"]["title"] == "고친 제목"
    assert api.ok("approver", "GET", base)["pending_correction_note"] == "제목 수정"

    assert api.ok("approver", "POST", f"{base}/approve")["state"] == "published"
    assert api.ok("approver", "GET", base)["pending_correction_note"] == ""
    past_the_public_cache(ctx, clock)
    public = api.ok(None, "GET", "/api/v1/public/releases/2026-0001")
    assert (public["versions"]["ko"]["title"], public["correction_note"]) == (
        "고친 제목",
        "제목 수정",
    )
    assert api.ok(None, "GET", "/api/v1/public/releases")["items"][0]["corrected"] is True


def test_a_withdrawn_release_keeps_only_a_notice(api: Api, staff: Staff) -> None:
    release_id = api.ok(
        "author",
        "POST",
        "/api/v1/releases",
        json={
            "language": "ko",
            "title": "철회될 보도자료",
            "body": BODY_KO,
            "topics": [staff.health],
        },
    )["release_id"]
    base = f"/api/v1/releases/{release_id}"
    api.ok("author", "POST", f"{base}/submit")
    api.ok("approver", "POST", f"{base}/approve")
    api.ok("author", "POST", f"{base}/publish")
    assert (
        api.ok("approver", "POST", f"{base}/withdraw", json={"reason": "Issued in error."})["state"]
        == "withdrawn"
    )

    notice = api.ok(None, "GET", "/api/v1/public/releases/2026-0001")
    assert notice["status"] == "withdrawn"
    assert notice["withdrawal_reason"] == "Issued in error."
    assert notice["versions"]["ko"]["title"] == "철회될 보도자료"
    assert notice["versions"]["ko"]["body"] == notice["versions"]["ko"]["body_html"] == ""
    assert api.ok(None, "GET", "/api/v1/public/releases")["items"] == []


def test_an_embargoed_release_is_invisible_until_the_embargo_ends(
    api: Api, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    release_id = api.ok(
        "author",
        "POST",
        "/api/v1/releases",
        json={
            "language": "ko",
            "title": "엠바고 보도자료",
            "body": BODY_KO,
            "topics": [staff.health],
        },
    )["release_id"]
    base = f"/api/v1/releases/{release_id}"
    api.ok("author", "POST", f"{base}/submit")
    api.ok("approver", "POST", f"{base}/approve")
    publish_at, embargo = clock.now() + timedelta(hours=1), clock.now() + timedelta(hours=5)
    api.ok(
        "author",
        "POST",
        f"{base}/schedule",
        json={"publish_at": publish_at.isoformat(), "embargo_until": embargo.isoformat()},
    )
    clock.advance(hours=1)
    svc.publish_scheduled(ctx, release_id)
    assert api.ok("author", "GET", base)["state"] == "published"

    assert api(None, "GET", "/api/v1/public/releases/2026-0001").status_code == 404
    assert api.ok(None, "GET", "/api/v1/public/releases")["total"] == 0
    clock.advance(hours=4)
    assert api.ok(None, "GET", "/api/v1/public/releases/2026-0001")["status"] == "published"
    assert api.ok(None, "GET", "/api/v1/public/releases")["total"] == 1


def test_nothing_unpublished_is_public(api: Api, staff: Staff) -> None:
    release_id = api.ok(
        "author",
        "POST",
        "/api/v1/releases",
        json={"language": "ko", "title": "초안", "body": BODY_KO, "topics": [staff.health]},
    )["release_id"]
    api.ok("author", "POST", f"/api/v1/releases/{release_id}/submit")
    for number in ("2026-0001", "2026-0002", "2025-0001", "2026-9999"):
        assert api(None, "GET", f"/api/v1/public/releases/{number}").status_code == 404
    assert api(None, "GET", f"/api/v1/public/releases/{release_id}").status_code == 422
    assert api(None, "GET", "/api/v1/public/releases").json()["items"] == []
