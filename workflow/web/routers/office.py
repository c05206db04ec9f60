"""The press office's pages: the dashboard, a release's page with its review and the
actions the viewer may take, comments, and the history. Sign-in required.

Every action is a form post with the form token, handled by the same service function as
the HTTP API. What the viewer may do, and why not, comes from the domain
(``Release.choices``, through ``queries.get_release``); the templates only draw it. A
refused action shows the release page again with the reason, at the refusal's status,
and has changed nothing. The editor and the translator's page are in ``office_editor``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow.api.errors import body_for
from workflow.dates import date_and_time
from workflow.distribution import reports
from workflow.domain.diff import unified_diff
from workflow.domain.errors import DomainError, NotFound, ValidationFailed
from workflow.domain.release import REQUEST_TRANSLATION
from workflow.domain.states import Role
from workflow.domain.users import User
from workflow.domain.values import Language, Text
from workflow.services import people, queries
from workflow.services import preview_links as previews
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries import attachments as attachment_queries
from workflow.web.office_times import from_local_input, time_left, to_local_input
from workflow.web.pages import StaffViewer, Viewer, redirect, render

router = APIRouter(include_in_schema=False)

ReleaseId = Annotated[int, Path(ge=1, le=2_147_483_647)]
CsrfToken = Annotated[str, Form(max_length=200)]
Comment = Annotated[str, Form(max_length=5_000)]
LocalTime = Annotated[str, Form(max_length=40)]


@dataclass(frozen=True, slots=True)
class ActionForm:
    """What a release page's action form posts besides the action: times as typed, in
    the office's time zone."""

    comment: str = ""
    publish_at: str = ""
    embargo_until: str = ""
    target_language: str = ""
    due_at: str = ""
    superseded_by: str = ""


# An action of a release page: its service function, called with the arguments it takes
# from the form.
FormAction = Callable[[ServiceContext, int, int, ActionForm], object]


def _plain(command: Callable[[ServiceContext, int, int], object]) -> FormAction:
    return lambda ctx, actor, release_id, _form: command(ctx, actor, release_id)


def _commented(command: Callable[[ServiceContext, int, int, str], object]) -> FormAction:
    return lambda ctx, actor, release_id, form: command(ctx, actor, release_id, form.comment)


def _schedule(ctx: ServiceContext, actor: int, release_id: int, form: ActionForm) -> object:
    zone = ctx.settings.office_zone
    return svc.schedule_release(
        ctx,
        actor,
        release_id,
        publish_at=_required(from_local_input(form.publish_at, zone, "publish_at")),
        embargo_until=from_local_input(form.embargo_until, zone, "embargo_until"),
    )


def _required(moment: datetime | None) -> datetime:
    if moment is None:
        raise ValidationFailed("publish_at", "choose the date and time of publication")
    return moment


def _request_translation(
    ctx: ServiceContext, actor: int, release_id: int, form: ActionForm
) -> object:
    return svc.request_translation(
        ctx,
        actor,
        release_id,
        target_language=form.target_language,
        due_at=from_local_input(form.due_at, ctx.settings.office_zone, "due_at"),
    )


# The actions a release page posts, each to /office/releases/<id>/<action>. Editing,
# correcting and changing details happen in the editor instead.
FORM_ACTIONS: Final[Mapping[str, FormAction]] = MappingProxyType(
    {
        "submit": _plain(svc.submit_release),
        "approve": _plain(svc.approve_release),
        "request_changes": _commented(svc.request_changes),
        "reject": _commented(svc.reject_release),
        "reopen": _plain(svc.reopen_release),
        "abandon": _plain(svc.abandon_release),
        "schedule": _schedule,
        "unschedule": _plain(svc.unschedule_release),
        "publish": _plain(svc.publish_release),
        "withdraw": _commented(svc.withdraw_release),
        "unpublish": _commented(svc.unpublish_release),
        "supersede": lambda ctx, actor, release_id, form: svc.supersede_release(
            ctx, actor, release_id, form.superseded_by
        ),
        REQUEST_TRANSLATION: _request_translation,
    }
)
EDITOR_ACTIONS: Final = frozenset({"edit", "correct", "update_details"})


def signed_in(who: Viewer) -> User:
    assert who.user is not None  # StaffViewer sends anyone else to the login page
    return who.user


def office_values(who: Viewer) -> dict[str, Any]:
    """What every office template uses to show times."""
    zone = who.ctx.settings.office_zone
    return {
        "when": lambda moment: date_and_time(moment, who.language, zone),
        "local_input": lambda moment: to_local_input(moment, zone),
        "zone_name": who.ctx.settings.office_timezone,
    }


def refusal(who: Viewer, error: DomainError) -> tuple[int, str]:
    """The status and the message, in the page's language where we have it, of a
    refusal; ``NotFound`` is not a refusal and goes on to the error page."""
    if isinstance(error, NotFound):
        raise error
    status, _body, _headers = body_for(error)
    return status, who.refusal(error)


@router.get("/office", response_class=HTMLResponse)
def dashboard(who: StaffViewer) -> HTMLResponse:
    user = signed_in(who)
    now = who.ctx.clock.now()
    roles = {r.value for r in user.roles}
    scheduled = queries.scheduled_releases(who.ctx)
    published = queries.recently_published(who.ctx)
    return render(
        who,
        "office/dashboard.html",
        roles=roles,
        drafts=queries.drafts_of(who.ctx, user.id) if "press_officer" in roles else [],
        queue=queries.review_queue(who.ctx) if "approver" in roles else [],
        requests=(
            queries.translation_requests_for(who.ctx, user.id, state="open")
            if "translator" in roles
            else []
        ),
        scheduled=scheduled,
        left={r.id: time_left(r.publish_at, now, who._) for r in scheduled if r.publish_at},
        published=published,
        progress=reports.delivery_progress(who.ctx, [r.id for r in published]),
        **office_values(who),
    )


def release_page(
    who: Viewer, release_id: int, *, status: int = 200, error: str = "", **form: Any
) -> HTMLResponse:
    """The release page; after a refusal, ``error`` and what the user typed (``form``)."""
    user = signed_in(who)
    release = queries.get_release(who.ctx, release_id, user.id)
    choices = release.choices
    edit_url = f"/office/releases/{release_id}/edit"
    if not user.has(Role.PRESS_OFFICER):  # a translator edits on their request's page
        for request in queries.translation_requests_for(who.ctx, user.id, state="open"):
            if request.release_id == release_id:
                edit_url = f"/office/translations/{request.id}"
    attached = attachment_queries.staff_attachments(who.ctx, release_id)
    named = {topic.name: topic.name_in(who.language) for topic in people.topics(who.ctx)}
    return render(
        who,
        "office/release.html",
        status=status,
        release=release,
        topic_names=[named.get(name, name) for name in release.topics],
        attachments=attached,
        files_in={lang: [a[lang] for a in attached if lang in a] for lang in Language},
        allowed=[c.action for c in choices if c.allowed],
        refused=[(c.action, who._(c.refusal)) for c in choices if c.refusal],
        form_actions=FORM_ACTIONS,
        edit_url=edit_url,
        editor_actions=EDITOR_ACTIONS,
        review=queries.changes_since_review(who.ctx, release_id),
        comments=queries.comments(who.ctx, release_id),
        languages=list(Language),
        other_languages=[lang for lang in Language if lang is not release.primary_language],
        error=error,
        form=form,
        preview_links=previews.preview_panel(who.ctx, user, release_id),
        **office_values(who),
    )


@router.get("/office/releases/{release_id}", response_class=HTMLResponse)
def show_release(who: StaffViewer, release_id: ReleaseId) -> HTMLResponse:
    return release_page(who, release_id)


@router.post("/office/releases/{release_id}/comments", response_model=None)
def add_comment(
    who: StaffViewer, release_id: ReleaseId, body: Comment = "", csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        svc.add_comment(who.ctx, signed_in(who).id, release_id, body)
    except DomainError as error:
        status, message = refusal(who, error)
        return release_page(who, release_id, status=status, error=message, comment=body)
    return redirect(who, f"/office/releases/{release_id}#comments", who._("Comment added."))


@router.post("/office/releases/{release_id}/{action}", response_model=None)
def act(
    who: StaffViewer,
    release_id: ReleaseId,
    action: Annotated[str, Path(max_length=40)],
    comment: Comment = "",
    publish_at: LocalTime = "",
    embargo_until: LocalTime = "",
    target_language: Annotated[str, Form(max_length=4)] = "",
    due_at: LocalTime = "",
    superseded_by: Annotated[str, Form(max_length=20)] = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    command = FORM_ACTIONS.get(action)
    if command is None:
        raise NotFound("action", action)
    who.check_form(csrf_token)
    form = ActionForm(comment, publish_at, embargo_until, target_language, due_at, superseded_by)
    try:
        command(who.ctx, signed_in(who).id, release_id, form)
    except DomainError as error:
        status, message = refusal(who, error)
        return release_page(
            who,
            release_id,
            status=status,
            error=message,
            action=action,
            comment=comment,
            publish_at=publish_at,
            embargo_until=embargo_until,
            due_at=due_at,
            superseded_by=superseded_by,
        )
    return redirect(who, f"/office/releases/{release_id}", who._("Done."))


@router.get("/office/releases/{release_id}/history", response_class=HTMLResponse)
def history(who: StaffViewer, release_id: ReleaseId) -> HTMLResponse:
    release = queries.get_release(who.ctx, release_id, signed_in(who).id)
    languages = []
    for language in (lang for lang in Language if lang in release.versions):
        revisions = queries.revisions(who.ctx, release_id, language)
        steps = []
        previous = Text("", "")
        for revision in revisions:
            diff = unified_diff(
                previous,
                revision.text,
                old_label=f"{language} {revision.number - 1}",
                new_label=f"{language} {revision.number}",
            )
            steps.append((revision, diff))
            previous = revision.text
        languages.append((language, list(reversed(steps))))
    return render(
        who,
        "office/history.html",
        release=release,
        trail=queries.audit_trail(who.ctx, release_id),
        languages=languages,
        **office_values(who),
    )
