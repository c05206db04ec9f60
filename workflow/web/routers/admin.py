"""Administration for admins: users and their roles, topics, the sign-in policy, the
distribution list (search, suspend, embargo trust, CSV import and export), and the audit
of administrative acts (filters, pages, CSV export).

Thin callers of the same services as the HTTP API and the ``newsroom`` command:
``accounts.add_user_with_password``, ``people.*``, ``two_factor.*``,
``single_sign_on.*``, ``subscribers.*``, ``subscriber_lists.*`` and ``admin_acts.*``.
Every change is a POST with the form token, answered by a redirect and a notice; a
refusal redraws the page with the reason and the status the API would give
(``workflow.api.errors``), and changes nothing. Anyone but an admin gets a 403 page for
every route here, before any input is read.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, File, Form, Path, Query, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from workflow.api.errors import body_for
from workflow.domain.admin_acts import AdminActFilter, AdminActKind
from workflow.domain.errors import DomainError, ValidationFailed
from workflow.domain.subscribers import SubscriberState
from workflow.domain.two_factor import TwoFactorPolicy
from workflow.domain.users import STAFF_ROLES
from workflow.services import (
    accounts,
    admin_acts,
    people,
    single_sign_on,
    subscriber_lists,
    subscribers,
    two_factor,
)
from workflow.web.pages import StaffViewer, Viewer, redirect, render

router = APIRouter(prefix="/office/admin", include_in_schema=False)

PAGE_SIZE: Final = 50
ROLES: Final = sorted(str(role) for role in STAFF_ROLES)
SUBSCRIBER_STATES: Final = tuple(state.value for state in SubscriberState)
MAX_ID: Final = 2_147_483_647

CsrfToken = Annotated[str, Form(max_length=200)]
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


async def admin(who: StaffViewer) -> Viewer:
    """The signed-in viewer, who must be an admin (the domain's rule): else a 403 page."""
    assert who.user is not None
    who.user.require_admin("manage users, topics and subscribers")
    return who


AdminViewer = Annotated[Viewer, Depends(admin)]


def _status(error: DomainError) -> int:
    """The status the API answers this refusal with: one table for both."""
    return body_for(error)[0]


def _user_id(who: Viewer) -> int:
    assert who.user is not None
    return who.user.id


def _act(
    who: Viewer,
    csrf_token: str,
    change: Callable[[], object],
    done: str,
    back: str,
    redraw: Callable[[DomainError], HTMLResponse],
) -> HTMLResponse | RedirectResponse:
    """Check the form's token, make the change, and go back with ``done`` as the notice;
    a refusal redraws the page with its reason."""
    who.check_form(csrf_token)
    try:
        change()
    except DomainError as error:
        return redraw(error)
    return redirect(who, back, notice=done)


# --- users -------------------------------------------------------------------------------


def _users_page(
    who: Viewer, *, error: DomainError | None = None, form: dict[str, Any] | None = None
) -> HTMLResponse:
    return render(
        who,
        "admin/users.html",
        status=_status(error) if error else 200,
        section="users",
        users=people.list_users(who.ctx, _user_id(who)),
        roles=ROLES,
        error=who.refusal(error) if error else None,
        form=form or {"email": "", "name": "", "roles": [], "language": who.language.value},
    )


@router.get("", response_class=HTMLResponse)
def users(who: AdminViewer) -> HTMLResponse:
    return _users_page(who)


@router.post("/users", response_model=None)
def add_user(
    who: AdminViewer,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    roles: Annotated[list[str] | None, Form()] = None,
    language: Annotated[str, Form(max_length=4)] = "ko",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    form = {"email": email, "name": name, "roles": roles or [], "language": language}
    return _act(
        who,
        csrf_token,
        lambda: accounts.add_user_with_password(
            who.ctx,
            _user_id(who),
            email=email,
            name=name,
            roles=roles or [],
            language=language,
            password=password or None,
        ),
        who._("%(email)s was added.", email=email.strip()),
        "/office/admin",
        lambda error: _users_page(who, error=error, form=form),
    )


@router.post("/users/{user_id}/roles", response_model=None)
def set_roles(
    who: AdminViewer,
    user_id: Id,
    roles: Annotated[list[str] | None, Form()] = None,
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: people.set_roles(who.ctx, _user_id(who), user_id, roles or []),
        who._("The roles were saved."),
        f"/office/admin#user-{user_id}",
        lambda error: _users_page(who, error=error),
    )


@router.post("/users/{user_id}/deactivate", response_model=None)
def deactivate_user(
    who: AdminViewer, user_id: Id, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: people.deactivate_user(who.ctx, _user_id(who), user_id),
        who._("The account was deactivated."),
        f"/office/admin#user-{user_id}",
        lambda error: _users_page(who, error=error),
    )


# --- topics ------------------------------------------------------------------------------


def _topics_page(
    who: Viewer, *, error: DomainError | None = None, name: str = "", name_ko: str = ""
) -> HTMLResponse:
    return render(
        who,
        "admin/topics.html",
        status=_status(error) if error else 200,
        section="topics",
        topics=people.topics(who.ctx),
        error=who.refusal(error) if error else None,
        name=name,
        name_ko=name_ko,
    )


@router.get("/topics", response_class=HTMLResponse)
def topics(who: AdminViewer) -> HTMLResponse:
    return _topics_page(who)


TopicName = Annotated[str, Form(max_length=200)]


@router.post("/topics", response_model=None)
def add_topic(
    who: AdminViewer,
    name: TopicName = "",
    name_ko: TopicName = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: people.add_topic(who.ctx, _user_id(who), name, name_ko),
        who._("The topic %(name)s was added.", name=name.strip()),
        "/office/admin/topics",
        lambda error: _topics_page(who, error=error, name=name, name_ko=name_ko),
    )


@router.post("/topics/{topic_id}", response_model=None)
def rename_topic(
    who: AdminViewer,
    topic_id: Id,
    name: TopicName = "",
    name_ko: TopicName = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: people.rename_topic(who.ctx, _user_id(who), topic_id, name, name_ko),
        who._("The topic's names were saved."),
        "/office/admin/topics",
        lambda error: _topics_page(who, error=error),
    )


# --- sign-in policy -----------------------------------------------------------------------

TWO_FACTOR_POLICIES: Final = tuple(p.value for p in TwoFactorPolicy)


def _security_page(who: Viewer, *, error: DomainError | None = None) -> HTMLResponse:
    return render(
        who,
        "admin/security.html",
        status=_status(error) if error else 200,
        section="security",
        policy=two_factor.current_policy(who.ctx).value,
        policies=TWO_FACTOR_POLICIES,
        sso=who.ctx.settings.single_sign_on,
        new_account_role=(single_sign_on.new_account_role(who.ctx) or ""),
        new_account_roles=sorted(r.value for r in single_sign_on.NEW_ACCOUNT_ROLES),
        error=who.refusal(error) if error else None,
    )


@router.get("/security", response_class=HTMLResponse)
def security(who: AdminViewer) -> HTMLResponse:
    return _security_page(who)


@router.post("/security", response_model=None)
def set_security(
    who: AdminViewer,
    two_factor_policy: Annotated[str, Form(max_length=40)] = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: two_factor.set_policy(who.ctx, _user_id(who), two_factor_policy),
        who._("The sign-in policy was saved."),
        "/office/admin/security",
        lambda error: _security_page(who, error=error),
    )


@router.post("/security/single-sign-on", response_model=None)
def set_single_sign_on(
    who: AdminViewer,
    new_account_role: Annotated[str, Form(max_length=40)] = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: single_sign_on.set_new_account_role(who.ctx, _user_id(who), new_account_role),
        who._("The sign-in policy was saved."),
        "/office/admin/security",
        lambda error: _security_page(who, error=error),
    )


# --- subscribers -------------------------------------------------------------------------

Address = Annotated[str, Query(max_length=320)]
StateChoice = Annotated[str, Query(max_length=20, pattern=r"^[a-z]*$")]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def _list_url(q: str, state: str, page: int = 1) -> str:
    query = {k: v for k, v in (("q", q), ("state", state), ("page", page)) if v and v != 1}
    return "/office/admin/subscribers" + (f"?{urlencode(query)}" if query else "")


def _subscribers_page(
    who: Viewer,
    *,
    q: str = "",
    state: str = "",
    page: int = 1,
    error: DomainError | None = None,
    report: subscriber_lists.ImportReport | None = None,
    status: int | None = None,
) -> HTMLResponse:
    found = subscribers.search_subscribers(
        who.ctx,
        _user_id(who),
        address=q,
        state=state or None,
        offset=(page - 1) * PAGE_SIZE,
        limit=PAGE_SIZE,
    )
    pages = max(1, -(-found.total // PAGE_SIZE))
    return render(
        who,
        "admin/subscribers.html",
        status=status or (_status(error) if error else 200),
        section="subscribers",
        found=found,
        q=q,
        state=state,
        states=SUBSCRIBER_STATES,
        page=page,
        pages=pages,
        previous_url=_list_url(q, state, page - 1) if page > 1 else None,
        next_url=_list_url(q, state, page + 1) if page < pages else None,
        back=_list_url(q, state, page),
        error=who.refusal(error) if error else None,
        report=report,
        max_upload=who.ctx.settings.max_body_bytes,
    )


@router.get("/subscribers", response_class=HTMLResponse)
def subscriber_list(
    who: AdminViewer, q: Address = "", state: StateChoice = "", page: PageNumber = 1
) -> HTMLResponse:
    try:
        return _subscribers_page(who, q=q, state=state, page=page)
    except ValidationFailed as error:  # an unknown state in the query
        return _subscribers_page(who, q=q, error=error)


# Where to go back to after a change: the list as it was (search words, state, page).
Back = Annotated[str, Form(max_length=2000, pattern=r"^/office/admin/subscribers(\?[^#]*)?$")]


@router.post("/subscribers/{subscriber_id}/suspend", response_model=None)
def suspend(
    who: AdminViewer,
    subscriber_id: Id,
    back: Back = "/office/admin/subscribers",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: subscribers.suspend(who.ctx, _user_id(who), subscriber_id),
        who._("The subscriber was suspended."),
        back,
        lambda error: _subscribers_page(who, error=error),
    )


@router.post("/subscribers/{subscriber_id}/unsuspend", response_model=None)
def unsuspend(
    who: AdminViewer,
    subscriber_id: Id,
    back: Back = "/office/admin/subscribers",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: subscribers.unsuspend(who.ctx, _user_id(who), subscriber_id),
        who._("The subscriber is mailed again."),
        back,
        lambda error: _subscribers_page(who, error=error),
    )


@router.post("/subscribers/{subscriber_id}/embargo-trust", response_model=None)
def embargo_trust(
    who: AdminViewer,
    subscriber_id: Id,
    trusted: Annotated[str, Form(pattern=r"^(yes|no)$")],
    back: Back = "/office/admin/subscribers",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    return _act(
        who,
        csrf_token,
        lambda: subscribers.set_embargo_trusted(
            who.ctx, _user_id(who), subscriber_id, trusted == "yes"
        ),
        who._("Embargo trust was changed."),
        back,
        lambda error: _subscribers_page(who, error=error),
    )


@router.post("/subscribers/{subscriber_id}/erase", response_model=None)
def erase(
    who: AdminViewer,
    subscriber_id: Id,
    back: Back = "/office/admin/subscribers",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    """Forget a subscriber at their request; only the keyed hash of the address stays."""
    return _act(
        who,
        csrf_token,
        lambda: subscribers.erase(who.ctx, _user_id(who), subscriber_id),
        who._("The subscriber was erased: only a keyed hash of the address is kept."),
        back,
        lambda error: _subscribers_page(who, error=error),
    )


@router.post("/subscribers/import", response_class=HTMLResponse)
def import_list(
    who: AdminViewer,
    file: Annotated[UploadFile, File()],
    skip_invalid: Annotated[str, Form(max_length=3)] = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse:
    """The CLI's import: every row checked first; any invalid row stops it all unless
    "skip invalid rows" is ticked. Bodies over ``max_body_bytes`` never get here: the
    app refuses them with a 413 page."""
    who.check_form(csrf_token)
    try:
        text = file.file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        error = ValidationFailed("file", "the file is not UTF-8 text; save it as CSV UTF-8")
        return _subscribers_page(who, error=error, status=400)
    try:
        lines = subscriber_lists.read_csv(io.StringIO(text, newline=""))
        report = subscriber_lists.import_subscribers(
            who.ctx, _user_id(who), lines, skip_invalid=skip_invalid == "yes"
        )
    except DomainError as error:
        return _subscribers_page(who, error=error)
    return _subscribers_page(who, report=report, status=200 if report.imported else 422)


@router.get("/subscribers/export")
def export_list(who: AdminViewer) -> Response:
    """The whole list in the import format, as the CLI's ``export`` writes it."""
    stream = io.StringIO(newline="")
    subscriber_lists.write_csv(subscriber_lists.export_subscribers(who.ctx, _user_id(who)), stream)
    day = f"{who.ctx.clock.now().astimezone(who.ctx.settings.office_zone):%Y%m%d}"
    return Response(
        stream.getvalue().encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="subscribers-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )


# --- the audit of administrative acts ------------------------------------------------------

ACT_KINDS: Final = tuple(kind.value for kind in AdminActKind)
FilterText = Annotated[str, Query(max_length=20)]


@dataclass(frozen=True, slots=True)
class _ActsQuery:
    """The acts page's filters as typed in its form, to show them back and build links."""

    actor: str = ""
    kind: str = ""
    since: str = ""
    until: str = ""

    def url(self, path: str = "/office/admin/acts", page: int = 1) -> str:
        query = {k: v for k, v in dataclasses.asdict(self).items() if v}
        if page != 1:
            query["page"] = str(page)
        return path + (f"?{urlencode(query)}" if query else "")

    def checked(self, who: Viewer) -> AdminActFilter:
        """The filter, or a ``ValidationFailed`` whose reason is in the page's language."""
        actor_id: int | None = None
        if self.actor:
            try:
                actor_id = int(self.actor)
            except ValueError:
                raise ValidationFailed("actor", who._("Choose someone from the list.")) from None
        if self.kind and self.kind not in ACT_KINDS:
            raise ValidationFailed("kind", who._("Choose a kind of act from the list."))
        days: list[date | None] = []
        for value in (self.since, self.until):
            try:
                days.append(date.fromisoformat(value) if value else None)
            except ValueError:
                raise ValidationFailed(
                    "date", who._("Write dates as YYYY-MM-DD, for example 2026-12-31.")
                ) from None
        since, until = days
        if since and until and until < since:
            raise ValidationFailed("until", who._("The last day comes before the first."))
        return AdminActFilter.checked(
            actor_id=actor_id, kind=self.kind or None, since=since, until=until
        )


@router.get("/acts", response_class=HTMLResponse)
def acts(
    who: AdminViewer,
    actor: FilterText = "",
    kind: FilterText = "",
    since: FilterText = "",
    until: FilterText = "",
    page: PageNumber = 1,
) -> HTMLResponse:
    """Every administrative act, newest first, filtered by actor, kind and days."""
    asked = _ActsQuery(actor.strip(), kind.strip(), since.strip(), until.strip())
    error: str | None = None
    try:
        wanted = asked.checked(who)
    except ValidationFailed as refused:
        error, wanted = refused.reason, AdminActFilter()
    found = admin_acts.search_admin_acts(
        who.ctx, _user_id(who), wanted, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE
    )
    pages = max(1, -(-found.total // PAGE_SIZE))
    return render(
        who,
        "admin/acts.html",
        status=422 if error else 200,
        section="acts",
        found=found,
        asked=asked,
        actors=admin_acts.admin_act_actors(who.ctx, _user_id(who)),
        kinds=ACT_KINDS,
        page=page,
        pages=pages,
        previous_url=asked.url(page=page - 1) if page > 1 else None,
        next_url=asked.url(page=page + 1) if page < pages else None,
        export_url=asked.url("/office/admin/acts/export"),
        zone=who.ctx.settings.office_zone,
        error=error,
    )


@router.get("/acts/export", response_model=None)
def export_acts(
    who: AdminViewer,
    actor: FilterText = "",
    kind: FilterText = "",
    since: FilterText = "",
    until: FilterText = "",
) -> Response:
    """The acts the filters pick out, oldest first, as CSV; the export is an act too."""
    asked = _ActsQuery(actor.strip(), kind.strip(), since.strip(), until.strip())
    try:
        wanted = asked.checked(who)
    except ValidationFailed:
        return acts(who, actor, kind, since, until)  # the page, saying what is wrong
    export = admin_acts.export_admin_acts(who.ctx, _user_id(who), wanted)
    day = f"{who.ctx.clock.now().astimezone(who.ctx.settings.office_zone):%Y%m%d}"
    lines = admin_acts.csv_lines(admin_acts.exported_acts(who.ctx, export), who.ctx)
    return StreamingResponse(
        (line.encode("utf-8") for line in lines),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="admin-acts-{day}.csv"',
            "Cache-Control": "no-store",
        },
    )
