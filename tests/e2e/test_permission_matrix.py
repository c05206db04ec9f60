"""Every endpoint × every role (and anonymous) → the status it answers, from one table.

Each cell gets fresh objects in the state the endpoint needs, so that the answer shows
the permission and nothing left over from another cell. The press officer is the
release's author; a test checks that the table names every route the app has.
"""

from __future__ import annotations

import itertools
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.conftest import Staff
from tests.e2e.conftest import PERSONAS, Api
from tests.media import samples
from workflow.db.tables import Base, ReleaseRow
from workflow.domain.users import CONSOLE
from workflow.domain.values import Contact, Language
from workflow.services import accounts, people
from workflow.services import attachments as media
from workflow.services import preview_links as previews
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_release import get_release

ROLES = ("anonymous", "officer", "approver", "translator", "admin")
PERSONA = {
    "officer": "author",
    "approver": "approver",
    "translator": "translator",
    "admin": "admin",
}
PASSWORD = "correct horse battery staple"
# A cell whose body is this sends a multipart upload of a PDF, not JSON.
UPLOAD: dict[str, Any] = {"upload": "statement.pdf"}
TEXT = {"title": "제목", "body": "본문"}

# fmt: off
MATRIX: list[tuple[str, str, str, dict[str, Any] | None, tuple[int, int, int, int, int]]] = [
    # method    path                                                   needs          body                                                               anon officer approver translator admin
    ("GET",    "/healthz",                                             "-",           None,                                                              (200, 200, 200, 200, 200)),
    ("GET",    "/readyz",                                              "-",           None,                                                              (200, 200, 200, 200, 200)),
    ("POST",   "/api/v1/auth/login",                                   "-",           {"email": "{email}", "password": "{password}"},                    (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/auth/logout",                                  "-",           None,                                                              (204, 204, 204, 204, 204)),
    ("GET",    "/api/v1/auth/me",                                      "-",           None,                                                              (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/auth/token",                                   "-",           {"email": "{email}", "password": "{password}", "name": "cli"},     (401, 201, 201, 201, 201)),
    ("GET",    "/api/v1/tokens",                                       "-",           None,                                                              (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/tokens",                                       "-",           {"name": "ci"},                                                    (401, 201, 201, 201, 201)),
    ("DELETE", "/api/v1/tokens/{token}",                               "token",       None,                                                              (401, 204, 204, 204, 204)),
    ("GET",    "/api/v1/topics",                                       "-",           None,                                                              (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/topics",                                       "-",           {"name": "Topic {n}"},                                             (401, 403, 403, 403, 201)),
    ("PUT",    "/api/v1/topics/{topic}",                               "topic",       {"name": "Topic {n}", "name_ko": "주제 {n}"},                      (401, 403, 403, 403, 200)),
    ("GET",    "/api/v1/users",                                        "-",           None,                                                              (401, 403, 403, 403, 200)),
    ("POST",   "/api/v1/users",                                        "-",           {"email": "new{n}@newsroom.example", "name": "New", "roles": ["translator"]}, (401, 403, 403, 403, 201)),
    ("GET",    "/api/v1/users/{user}",                                 "user",        None,                                                              (401, 403, 403, 403, 200)),
    ("POST",   "/api/v1/users/{user}/deactivate",                      "user",        None,                                                              (401, 403, 403, 403, 200)),
    ("PUT",    "/api/v1/users/{user}/roles",                           "user",        {"roles": ["approver"]},                                           (401, 403, 403, 403, 200)),
    ("POST",   "/api/v1/releases",                                     "-",           {"language": "ko", **TEXT},                                        (401, 201, 403, 403, 403)),
    ("GET",    "/api/v1/releases",                                     "draft",       None,                                                              (401, 200, 200, 200, 200)),
    ("GET",    "/api/v1/releases/{release}",                           "draft",       None,                                                              (401, 200, 200, 200, 200)),
    ("PATCH",  "/api/v1/releases/{release}",                           "draft",       {"contact": {"name": "Kim"}},                                      (401, 200, 403, 403, 403)),
    ("PUT",    "/api/v1/releases/{release}/versions/{language}",       "draft",       {**TEXT, "base_revision": 1},                                      (401, 200, 403, 403, 403)),
    ("PUT",    "/api/v1/releases/{release}/versions/{language}",       "translation", {**TEXT, "base_revision": 0},                                      (401, 200, 403, 200, 403)),
    ("GET",    "/api/v1/releases/{release}/versions/{language}/revisions", "draft",   None,                                                              (401, 200, 200, 200, 200)),
    ("GET",    "/api/v1/releases/{release}/versions/{language}/diff?from=1&to=1", "draft", None,                                                         (401, 200, 200, 200, 200)),
    ("GET",    "/api/v1/releases/{release}/comments",                  "draft",       None,                                                              (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/releases/{release}/comments",                  "draft",       {"body": "A note."},                                               (401, 201, 201, 201, 403)),
    ("GET",    "/api/v1/releases/{release}/audit",                     "draft",       None,                                                              (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/releases/{release}/submit",                    "draft",       None,                                                              (401, 200, 403, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/request-changes",           "in_review",   {"comment": "Give the date."},                                     (401, 403, 200, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/approve",                   "in_review",   None,                                                              (401, 403, 200, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/reject",                    "in_review",   {"comment": "No."},                                                (401, 403, 200, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/schedule",                  "approved",    {"publish_at": "2030-01-01T09:00:00+09:00"},                       (401, 200, 403, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/unschedule",                "scheduled",   None,                                                              (401, 200, 403, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/publish",                   "approved",    None,                                                              (401, 200, 403, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/correct",                   "published",   {"language": "ko", **TEXT, "note": "Fixed.", "base_revision": 1},  (401, 200, 403, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/withdraw",                  "published",   {"reason": "In error."},                                           (401, 403, 200, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/unpublish",                 "published",   {"reason": "In error."},                                           (401, 403, 200, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/supersede",                 "replaced",    {"by": "{replacement}"},                                           (401, 403, 200, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/abandon",                   "draft",       None,                                                              (401, 200, 403, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/reopen",                    "rejected",    None,                                                              (401, 200, 403, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/translation-requests",      "draft",       {"target_language": "en"},                                         (401, 201, 403, 403, 403)),
    ("GET",    "/api/v1/translation-requests",                         "-",           None,                                                              (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/translation-requests/{request}/submit",        "translation", {**TEXT, "base_revision": 0},                                      (401, 403, 403, 200, 403)),
    ("POST",   "/api/v1/releases/{release}/attachments",               "draft",       UPLOAD,                                                            (401, 201, 403, 403, 403)),
    ("GET",    "/api/v1/releases/{release}/attachments",               "attached",    None,                                                              (401, 200, 200, 200, 200)),
    ("PUT",    "/api/v1/releases/{release}/attachments",               "attached",    {"order": ["{attachment}"]},                                       (401, 200, 403, 403, 403)),
    ("PATCH",  "/api/v1/releases/{release}/attachments/{attachment}",  "attached",    {"words": {"ko": {"title": "성명"}}},                                (401, 200, 403, 403, 403)),
    ("DELETE", "/api/v1/releases/{release}/attachments/{attachment}",  "attached",    None,                                                              (401, 200, 403, 403, 403)),
    ("GET",    "/api/v1/releases/{release}/attachments/{attachment}/file", "attached", None,                                                             (401, 200, 200, 200, 200)),
    ("HEAD",   "/api/v1/releases/{release}/attachments/{attachment}/file", "attached", None,                                                             (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/releases/{release}/preview-links",             "draft",       {"expires_in_days": 7},                                            (401, 201, 201, 403, 403)),
    ("POST",   "/api/v1/releases/{release}/test-email",                "draft",       None,                                                              (401, 202, 202, 403, 202)),
    ("GET",    "/api/v1/releases/{release}/preview-links",             "previewed",   None,                                                              (401, 200, 200, 403, 403)),
    ("DELETE", "/api/v1/preview-links/{preview}",                      "previewed",   None,                                                              (401, 204, 204, 403, 403)),
    ("GET",    "/files/{attachment}/{filename}",                       "photographed", None,                                                             (200, 200, 200, 200, 200)),
    ("HEAD",   "/files/{attachment}/{filename}",                       "photographed", None,                                                             (200, 200, 200, 200, 200)),
    ("GET",    "/files/{attachment}/r/{rendition}",                     "photographed", None,                                                             (200, 200, 200, 200, 200)),
    ("HEAD",   "/files/{attachment}/r/{rendition}",                     "photographed", None,                                                             (200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/public/releases",                              "published",   None,                                                              (200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/public/releases/{number}",                     "published",   None,                                                              (200, 200, 200, 200, 200)),
    ("GET",    "/api/v1/releases/{release}/deliveries",                "published",   None,                                                              (401, 200, 200, 200, 200)),
    ("POST",   "/api/v1/subscriptions",                                "-",           {"email": "reporter{n}@press.example", "topics": [1]},             (202, 202, 202, 202, 202)),
    ("POST",   "/subscriptions/confirm?token=forged.token.value",      "-",           None,                                                              (422, 422, 422, 422, 422)),
    ("GET",    "/subscriptions/confirm?token=forged.token.value",      "-",           None,                                                              (422, 422, 422, 422, 422)),
    ("POST",   "/subscriptions/unsubscribe?token=forged.token.value",  "-",           None,                                                              (422, 422, 422, 422, 422)),
    ("GET",    "/subscriptions/unsubscribe?token=forged.token.value",  "-",           None,                                                              (422, 422, 422, 422, 422)),
    ("POST",   "/api/v1/bounces",                                      "-",           {"bounces": [{"recipient": "gone@press.example", "permanent": True}]}, (401, 403, 403, 403, 200)),
    ("POST",   "/api/v1/bounces/message",                              "-",           None,                                                              (401, 403, 403, 403, 422)),
    ("GET",    "/api/v1/admin-acts?kind=token.created",                "-",           None,                                                              (401, 403, 403, 403, 200)),
    ("GET",    "/api/v1/admin-acts/export?since=2026-01-01",           "-",           None,                                                              (401, 403, 403, 403, 200)),
    ("GET",    "/api/v1/sessions",                                     "-",           None,                                                              (401, 200, 200, 200, 200)),
    ("DELETE", "/api/v1/sessions/{session}",                           "session",     None,                                                              (401, 204, 204, 204, 204)),
    # Last: a new password ends the persona's tokens, which the rows above use.
    ("POST",   "/api/v1/auth/password",                                "-",           {"current_password": "{password}", "new_password": "another horse battery"}, (401, 204, 204, 204, 204)),
]
# fmt: on


class World:
    """Builds, through the services, what one cell of the table needs."""

    def __init__(self, ctx: ServiceContext, staff: Staff) -> None:
        self.ctx, self.staff = ctx, staff
        self.counter = itertools.count(1)

    def release(self, state: str) -> dict[str, Any]:
        ctx, s = self.ctx, self.staff
        release_id = svc.create_release(
            ctx,
            s.author,
            language="ko",
            title="제목",
            body="본문",
            topics=[s.health],
            contact=Contact.checked("Kim", "", ""),
        ).release_id
        found: dict[str, Any] = {"release": release_id, "language": "ko"}
        steps = {
            "draft": [],
            "translation": ["translation"],
            "in_review": ["submit"],
            "rejected": ["submit", "reject"],
            "approved": ["submit", "approve"],
            "scheduled": ["submit", "approve", "schedule"],
            "published": ["submit", "approve", "publish"],
            "replaced": ["submit", "approve", "publish", "replacement"],
            "attached": ["attach"],
            "photographed": ["photograph", "submit", "approve", "publish"],
            "previewed": ["preview"],
        }[state]
        for step in steps:
            if step == "attach":
                found["attachment"] = self.attach(release_id, "statement.pdf", samples.PDF)
            elif step == "replacement":
                found["replacement"] = self.release("published")["number"]
            elif step == "photograph":
                found["attachment"] = self.attach(release_id, "photo.jpg", samples.jpeg(64, 48))
                found["filename"], found["rendition"] = "photo.jpg", "thumb"
                media.make_renditions(ctx, found["attachment"])
            elif step == "preview":
                found["preview"] = previews.create_preview_link(ctx, s.author, release_id).id
            elif step == "translation":
                found["request"] = svc.request_translation(
                    ctx, s.author, release_id, target_language="en", translator_id=s.translator
                )
                found["language"] = "en"
            elif step == "submit":
                svc.submit_release(ctx, s.author, release_id)
            elif step == "reject":
                svc.reject_release(ctx, s.approver, release_id, "No.")
            elif step == "approve":
                svc.approve_release(ctx, s.approver, release_id)
            elif step == "schedule":
                svc.schedule_release(
                    ctx, s.author, release_id, publish_at=ctx.clock.now() + timedelta(days=1)
                )
            elif step == "publish":
                svc.publish_release(ctx, s.author, release_id)
                found["number"] = get_release(ctx, release_id).number
        return found

    def attach(self, release_id: int, name: str, data: bytes) -> str:
        with tempfile.NamedTemporaryFile() as file:
            file.write(data)
            file.flush()
            attachment_id, _ = media.upload_attachment(
                self.ctx,
                self.staff.author,
                release_id,
                path=Path(file.name),
                filename=name,
                words={Language.KO: {"alt": "사진", "title": "성명"}},
            )
        return attachment_id

    def prepare(self, needs: str, persona: str | None) -> dict[str, Any]:
        n = next(self.counter)
        found: dict[str, Any] = {"n": n, "password": PASSWORD}
        found["email"] = (
            f"{persona if persona != 'author' else 'author'}@newsroom.example"
            if persona
            else "nobody@newsroom.example"
        )
        if needs == "token":
            owner = getattr(self.staff, persona or "author")
            found["token"] = accounts.create_token(self.ctx, owner, f"spare {n}").id
        elif needs == "session":
            email = found["email"] if persona else "author@newsroom.example"
            signed_in = accounts.log_in(self.ctx, email, PASSWORD, "127.0.0.1")
            found["session"] = accounts.list_sessions(
                self.ctx, signed_in.user.id, current_token=signed_in.session_token
            )[0].id
        elif needs == "topic":
            found["topic"] = people.add_topic(self.ctx, CONSOLE.id, f"Spare topic {n}")
        elif needs == "user":
            found["user"] = people.add_user(
                self.ctx,
                self.staff.admin,
                email=f"user{n}@newsroom.example",
                name="User",
                roles=["translator"],
            )
        elif needs != "-":
            found.update(self.release(needs))
        return found


def _body(body: dict[str, Any] | None, found: dict[str, Any]) -> dict[str, Any]:
    """How a cell sends its body: an upload as a multipart form, the rest as JSON."""
    if body is UPLOAD:
        return {"files": {"file": ("statement.pdf", samples.PDF)}, "data": {"title": "성명"}}
    return {"json": _fill(body, found) if body else None}


def _fill(value: Any, found: dict[str, Any]) -> Any:
    if isinstance(value, str):
        return value.format(**found)
    if isinstance(value, dict):
        return {k: _fill(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, found) for v in value]
    return value


@pytest.fixture
def world(ctx: ServiceContext, staff: Staff, api: Api) -> World:
    for user_id in (staff.author, staff.approver, staff.translator, staff.admin):
        accounts.set_password(ctx, user_id, user_id, PASSWORD)
    # A new password ends the tokens made before it: each persona gets a new one.
    for persona in PERSONAS:
        user_id = getattr(staff, persona)
        api.tokens[persona] = accounts.create_token(ctx, user_id, f"{persona}'s token").token
    return World(ctx, staff)


def test_every_endpoint_answers_every_role_as_the_table_says(api: Api, world: World) -> None:
    differences = []
    for method, path, needs, body, expected in MATRIX:
        for role, status in zip(ROLES, expected, strict=True):
            persona = PERSONA.get(role)
            found = world.prepare(needs, persona)
            api.client.cookies.clear()  # a login row's cookie must not sign in the next
            url = path.format(**found)
            response = api(persona, method, url, **_body(body, found))
            if response.status_code != status:
                differences.append(
                    f"{method} {path} [{needs}] as {role}: expected {status}, "
                    f"got {response.status_code} {response.text[:200]}"
                )
    assert differences == []


# Endpoints that take an email and password, not a token: 401 is a wrong password.
SIGNING_IN = ("/api/v1/auth/login", "/api/v1/auth/token")


def test_a_forged_or_revoked_token_is_refused_everywhere_and_changes_nothing(
    api: Api, world: World, ctx: ServiceContext
) -> None:
    """The commands look their caller up in the thread that runs them, the other
    endpoints before they run: either way, every endpoint that needs a signed-in caller
    answers 401 to a token that is not (or no longer) valid, and writes nothing."""
    revoked = accounts.create_token(ctx, world.staff.author, "old laptop")
    accounts.revoke_token(ctx, world.staff.author, revoked.id)
    bad = {"forged": "nrt_" + "A" * 43, "revoked": revoked.token}
    differences = []
    for method, path, needs, body, expected in MATRIX:
        if expected[0] != 401 or path in SIGNING_IN:
            continue  # open to anyone
        for kind, token in bad.items():
            found = world.prepare(needs, "author")
            before = _footprint(ctx)
            response = api.client.request(
                method,
                path.format(**found),
                headers={"Authorization": f"Bearer {token}"},
                **_body(body, found),
            )
            if response.status_code != 401 or _footprint(ctx) != before:
                differences.append(f"{method} {path} with a {kind} token: {response.status_code}")
    assert differences == []


def _footprint(ctx: ServiceContext) -> list[int]:
    """How many rows each table has, and every release's row version."""
    with ctx.uow() as uow:
        counts = [
            uow.session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        ]
        versions = uow.session.scalars(select(ReleaseRow.row_version).order_by(ReleaseRow.id))
        return counts + list(versions)


def test_the_table_names_every_documented_endpoint(app: FastAPI) -> None:
    def shape(path: str) -> str:
        return re.sub(r"\{[^}]*\}", "{}", path.split("?")[0])

    in_table = {(method, shape(path)) for method, path, *_ in MATRIX}
    documented = {
        (method.upper(), shape(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert documented == in_table


def test_a_refusal_names_the_rule(api: Api, ctx: ServiceContext, staff: Staff) -> None:
    both = accounts.create_token(ctx, staff.officer_approver, "both").token
    headers = {"Authorization": f"Bearer {both}"}
    release_id = api.client.post(
        "/api/v1/releases",
        headers=headers,
        json={"language": "ko", "title": "제목", "body": "본문", "topics": [staff.health]},
    ).json()["release_id"]
    api.client.post(f"/api/v1/releases/{release_id}/submit", headers=headers)
    response = api.client.post(f"/api/v1/releases/{release_id}/approve", headers=headers)
    assert response.status_code == 403
    assert response.json()["rule"] == "authors cannot approve their own release"
