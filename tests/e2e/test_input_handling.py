"""Bad input is refused with a 4xx that says what is wrong, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Staff
from tests.e2e.conftest import Api
from tests.html_inspection import dangerous_markup
from workflow.services.context import ServiceContext

JSON = {"content-type": "application/json"}


@pytest.fixture
def draft(api: Api, staff: Staff) -> int:
    created = api.ok(
        "author",
        "POST",
        "/api/v1/releases",
        json={"language": "ko", "title": "제목", "body": "본문", "topics": [staff.health]},
    )
    return int(created["release_id"])


@pytest.mark.parametrize(
    ("raw", "status", "field"),
    [
        (rb'{"language":"ko","title":"a\nb","body":"x"}', 422, "title"),
        (rb'{"language":"ko","title":"a\u0007b","body":"x"}', 422, "title"),
        (rb'{"language":"ko","title":"t\u0000","body":"x"}', 422, "title"),
        (rb'{"language":"ko","title":"t","body":"x\u0000y"}', 422, "body"),
        (rb'{"language":"ko","title":"\ud800","body":"x"}', 422, "title"),
        (rb'{"language":"ko","title":"","body":"x"}', 422, "title"),
        (
            rb'{"language":"ko","title":"t","body":"x","contact":{"email":"not-an-address"}}',
            422,
            "contact.email",
        ),
        (rb'{"language":"fr","title":"t","body":"x"}', 422, "language"),
        (rb'{"language":"ko","title":"t","body":"x","topics":[99999]}', 422, "topics"),
        (rb'{"language":"ko","title":"t","body":"x","topics":[99999999999]}', 422, "topics.0"),
        (rb'{"language":"ko","title":"t"', 422, "body"),
        (b'{"language":"ko","title":"\xc3\x28","body":"x"}', 400, None),
        (b"\x00\x00\x00", 422, "body"),
    ],
)
def test_bad_input_names_the_field(api: Api, raw: bytes, status: int, field: str | None) -> None:
    response = api("author", "POST", "/api/v1/releases", content=raw, headers=JSON)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in [f["field"] for f in response.json()["fields"]]


def test_a_body_over_the_limit_is_413_by_length_or_by_stream(api: Api, ctx: ServiceContext) -> None:
    ctx.settings.max_body_bytes = 10_000
    big = b'{"language":"ko","title":"t","body":"' + b"x" * 20_000 + b'"}'
    declared = api("author", "POST", "/api/v1/releases", content=big, headers=JSON)
    assert declared.status_code == 413

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(big), 4_000):
            yield big[start : start + 4_000]

    streamed = api("author", "POST", "/api/v1/releases", content=chunks(), headers=JSON)
    assert streamed.status_code == 413
    assert streamed.json()["error"] == "too_large"


def test_the_default_limit_is_a_megabyte(api: Api) -> None:
    body = b'{"language":"ko","title":"t","body":"' + b"x" * 1_100_000 + b'"}'
    assert api("author", "POST", "/api/v1/releases", content=body, headers=JSON).status_code == 413


def test_a_stale_edit_is_409_naming_the_current_revision(api: Api, draft: int) -> None:
    url = f"/api/v1/releases/{draft}/versions/ko"
    api.ok("officer", "PUT", url, json={"title": "첫 수정", "body": "본문", "base_revision": 1})
    stale = api(
        "author", "PUT", url, json={"title": "늦은 수정", "body": "본문", "base_revision": 1}
    )
    assert stale.status_code == 409
    body = stale.json()
    assert (body["error"], body["current_revision"], body["edited_by"]) == (
        "stale_edit",
        2,
        "Yoon Ji-woo",
    )
    assert "the current revision is 2, saved by Yoon Ji-woo" in body["message"]


def test_an_invalid_transition_is_409_naming_the_state(api: Api, draft: int) -> None:
    response = api("author", "POST", f"/api/v1/releases/{draft}/publish")
    assert response.status_code == 409
    body = response.json()
    assert body["state"] == "draft"
    assert "cannot publish a release that is draft" in body["message"]
    assert body["allowed_actions"] == ["edit", "update_details", "submit", "abandon"]


def test_a_comment_is_required_to_request_changes(api: Api, draft: int) -> None:
    api.ok("author", "POST", f"/api/v1/releases/{draft}/submit")
    response = api(
        "approver", "POST", f"/api/v1/releases/{draft}/request-changes", json={"comment": "  "}
    )
    assert response.status_code == 422
    assert response.json()["fields"] == [
        {"field": "comment", "message": "a comment is required for this action"}
    ]


def test_times_need_a_zone_and_must_fit_in_utc(api: Api, draft: int) -> None:
    url = f"/api/v1/releases/{draft}/schedule"
    for moment in ("2030-01-01T09:00:00", "9999-12-31T23:00:00-05:00", "tomorrow"):
        response = api("author", "POST", url, json={"publish_at": moment})
        assert response.status_code == 422, moment
        assert response.json()["fields"][0]["field"] == "publish_at"


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/releases/0",
        "/api/v1/releases/2147483648",
        "/api/v1/releases/abc",
        "/api/v1/releases?q=a%00b",
        "/api/v1/releases?per_page=1000",
        "/api/v1/releases?state=nonsense",
        "/api/v1/releases/1/versions/fr/revisions",
        "/api/v1/releases/1/versions/ko/diff?from=1",
    ],
)
def test_bad_paths_and_queries_are_422(api: Api, draft: int, url: str) -> None:
    assert api("author", "GET", url).status_code == 422


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("PUT", "/api/v1/releases", "GET, POST"),
        ("DELETE", "/api/v1/releases/{draft}", "GET, PATCH"),
        ("PUT", "/subscriptions/unsubscribe?token=abcdefghijkl", "GET, POST"),
    ],
)
def test_a_405_lists_every_method_the_path_answers(
    api: Api, draft: int, method: str, url: str, allowed: str
) -> None:
    """A path is often served by several routes: Allow names all their methods."""
    response = api("author", method, url.format(draft=draft))
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    for other in allowed.split(", "):
        answered = api("author", other, url.format(draft=draft), json={})
        assert answered.status_code != 405, (other, url)


def test_unknown_things_are_404(api: Api, draft: int) -> None:
    for url in (
        "/api/v1/releases/999",
        "/api/v1/releases/999/comments",
        "/api/v1/releases/999/versions/ko/revisions",
        f"/api/v1/releases/{draft}/versions/ko/diff?from=1&to=7",
        f"/api/v1/releases/{draft}/versions/en/diff?from=1&to=1",
        "/api/v1/no-such-thing",
    ):
        response = api("author", "GET", url)
        assert response.status_code == 404, url
        assert response.json()["error"] == "not_found"


def test_markdown_is_stored_as_written_and_shown_sanitised(api: Api, draft: int) -> None:
    hostile = (
        "# Title\n\n<script>alert(1)</script>\n\n"
        '<img src=x onerror="alert(1)">\n\n'
        "[click](javascript:alert(1)) [ok](https://www.mofa.go.kr)\n"
    )
    api.ok(
        "author",
        "PUT",
        f"/api/v1/releases/{draft}/versions/ko",
        json={"title": "제목", "body": hostile, "base_revision": 1},
    )
    version = api.ok("author", "GET", f"/api/v1/releases/{draft}")["versions"]["ko"]
    assert version["body"] == hostile
    html = version["body_html"]
    assert dangerous_markup(html) == []
    assert "&lt;script&gt;" in html  # shown as text, inert
    assert '<a href="https://www.mofa.go.kr" rel="noopener noreferrer nofollow">ok</a>' in html


def test_the_release_list_filters_and_pages(api: Api, staff: Staff) -> None:
    for n in range(5):
        api.ok(
            "author" if n % 2 else "officer",
            "POST",
            "/api/v1/releases",
            json={
                "language": "en" if n == 4 else "ko",
                "title": f"Release {n} 100% _done_",
                "body": "text",
                "topics": [staff.peninsula if n == 3 else staff.health],
            },
        )
    page = api.ok("admin", "GET", "/api/v1/releases", params={"per_page": 2, "page": 2})
    assert (page["total"], len(page["items"]), page["page"]) == (5, 2, 2)

    def by(**query: object) -> list[str]:
        items = api.ok("admin", "GET", "/api/v1/releases", params=query)["items"]
        return sorted(i["titles"].get("ko") or i["titles"]["en"] for i in items)

    assert by(author=staff.author) == ["Release 1 100% _done_", "Release 3 100% _done_"]
    assert by(topic=staff.peninsula) == ["Release 3 100% _done_"]
    assert by(language="en") == ["Release 4 100% _done_"]
    assert by(q="release 2") == ["Release 2 100% _done_"]
    assert len(by(q="100%")) == 5
    assert by(q="0% _") == by(q="100% _done_")
    assert by(q="x%") == []  # % is a character, not a wildcard
    assert by(state="in_review") == []
