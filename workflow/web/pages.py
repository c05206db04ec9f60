"""Rendering pages, and who is looking at them.

``render`` fills a template from ``templates/web/`` with what every page needs: the
language (``lang``, which the templates' ``_`` and ``{% trans %}`` speak), the signed-in
user, the form token and a one-shot notice.
``Viewer`` (anyone, maybe signed in) and ``Staff`` (signed in, else sent to the login
page) are the two dependencies handlers take.

Forms carry a token in a hidden ``csrf_token`` field. For a signed-in user it is the
session's CSRF token, the same one the API checks in its header. For an anonymous visitor
(the subscription form) it is bound to a random cookie of their own: a cross-site form
can make the browser send that cookie but cannot read it to copy the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any, Final
from urllib.parse import quote, unquote, urlsplit

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from config.settings import PROJECT_ROOT
from workflow.api.auth import SESSION_COOKIE, service_context
from workflow.auth import csrf_matches, csrf_token
from workflow.catalogue import install as install_catalogue
from workflow.dates import long_date
from workflow.domain.errors import PermissionDenied
from workflow.domain.users import User
from workflow.domain.values import Language
from workflow.rendering import render_markdown
from workflow.services import accounts
from workflow.services.context import ServiceContext
from workflow.web.i18n import LANGUAGE_COOKIE, Translator, choose_language
from workflow.web.refusals import refusal_text

TEMPLATES: Final = PROJECT_ROOT / "templates"
STATIC: Final = PROJECT_ROOT / "static"
ANONYMOUS_COOKIE: Final = "newsroom_visitor"
NOTICE_COOKIE: Final = "newsroom_notice"
CSRF_FIELD: Final = "csrf_token"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html", "xml", "svg"), default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    install_catalogue(env)
    env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    env.filters["long_date"] = long_date  # {{ moment | long_date(lang, zone) }}
    # render_markdown sanitises (nh3), so its output is safe to insert unescaped.
    env.filters["markdown"] = lambda text: Markup(render_markdown(str(text)))  # noqa: S704
    return env


class LoginRequired(Exception):
    """A page for staff asked for by someone not signed in: send them to log in first."""

    def __init__(self, next_path: str) -> None:
        super().__init__("log in to continue")
        self.next_path = next_path


@dataclass(slots=True)
class Viewer:
    """Whoever asked for the page: signed in or not, and in which language."""

    request: Request
    ctx: ServiceContext
    user: User | None
    session_token: str | None
    language: Language
    # Cookies to set on whatever response the handler returns.
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def _(self) -> Translator:
        return Translator(self.language)

    def refusal(self, error: Exception, *, name_the_field: bool = True) -> str:
        """A refusal's message in the viewer's language (see ``refusal_text``)."""
        return refusal_text(error, self._, name_the_field=name_the_field)

    def form_token(self) -> str:
        key = self.ctx.settings.secret_key
        if self.session_token is not None:
            return csrf_token(key, self.session_token)
        visitor = self.request.cookies.get(ANONYMOUS_COOKIE) or self.cookies.get(ANONYMOUS_COOKIE)
        if not visitor:
            visitor = secrets.token_urlsafe(24)
            self.cookies[ANONYMOUS_COOKIE] = visitor
        return _anonymous_token(key, visitor)

    def check_form(self, presented: str | None) -> None:
        """Refuse a form post whose token is missing or not this visitor's (403)."""
        presented = presented or ""
        key = self.ctx.settings.secret_key
        if self.session_token is not None:
            ok = bool(presented) and csrf_matches(key, self.session_token, presented)
        else:
            visitor = self.request.cookies.get(ANONYMOUS_COOKIE, "")
            ok = bool(visitor and presented) and hmac.compare_digest(
                _anonymous_token(key, visitor).encode(),
                presented.encode("utf-8", "surrogatepass"),
            )
        if not ok:
            raise PermissionDenied("the form has expired or did not come from this site")


class _FormToken:
    """``{{ csrf_token }}``, made only if the page has a form: a reader of a public page
    gets no visitor cookie."""

    __slots__ = ("who",)

    def __init__(self, who: Viewer) -> None:
        self.who = who

    def __html__(self) -> str:
        return self.who.form_token()

    __str__ = __html__


def _anonymous_token(secret_key: str, visitor: str) -> str:
    message = b"csrf-anonymous:" + visitor.encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


async def viewer(
    request: Request, ctx: Annotated[ServiceContext, Depends(service_context)]
) -> Viewer:
    """Who is looking: the session's user (read in the thread pool), or an anonymous
    reader, who costs no trip there."""
    token = request.cookies.get(SESSION_COOKIE)
    user = await run_in_threadpool(accounts.session_user, ctx, token) if token else None
    return Viewer(
        request=request,
        ctx=ctx,
        user=user,
        session_token=token if user is not None else None,
        language=choose_language(request, user),
    )


async def staff(who: Annotated[Viewer, Depends(viewer)]) -> Viewer:
    """The viewer, who must be signed in; otherwise the login page, then back here."""
    if who.user is None:
        request = who.request
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(path)
    return who


AnyViewer = Annotated[Viewer, Depends(viewer)]
StaffViewer = Annotated[Viewer, Depends(staff)]


def render(who: Viewer, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    """The page ``template`` for ``who``; ``values`` are the template's own variables."""
    request = who.request
    notice = unquote(request.cookies.get(NOTICE_COOKIE, ""))
    page = (
        environment()
        .get_template(f"web/{template}")
        .render(
            request=request,
            lang=who.language.value,
            user=who.user,
            csrf_token=_FormToken(who),
            notice=notice,
            path=request.url.path,
            **values,
        )
    )
    response = HTMLResponse(page, status_code=status)
    remember_language(request, response, who.language)
    _apply_cookies(who, response)
    if notice:
        response.delete_cookie(NOTICE_COOKIE, path="/")
    return response


def redirect(who: Viewer, to: str, notice: str | None = None) -> RedirectResponse:
    """303 to ``to`` (a path on this site) after a form post, with an optional notice
    that the next page shows once."""
    response = RedirectResponse(safe_next(to), status_code=303)
    if notice:
        response.set_cookie(NOTICE_COOKIE, quote(notice), max_age=60, httponly=True, path="/")
    _apply_cookies(who, response)
    return response


def _apply_cookies(who: Viewer, response: Response) -> None:
    secure = who.ctx.settings.session_cookie_secure or who.request.url.scheme == "https"
    for name, value in who.cookies.items():
        response.set_cookie(name, value, httponly=True, samesite="lax", secure=secure, path="/")


def remember_language(request: Request, response: Response, language: Language) -> None:
    if request.query_params.get("lang") == language.value:
        response.set_cookie(
            LANGUAGE_COOKIE, language.value, max_age=365 * 86400, samesite="lax", path="/"
        )


def safe_next(target: str | None, default: str = "/office") -> str:
    """A local path to go to: anything with a scheme or host (an open redirect) is
    replaced by ``default``."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


def is_page(request: Request) -> bool:
    """Whether ``request`` is for a page (errors as HTML) rather than the API (JSON).
    A matched route says it itself: API operations are in the OpenAPI document, pages are
    not. An unmatched path is a page unless it is under the API's prefix."""
    route = request.scope.get("route")
    if isinstance(route, APIRoute):
        # A HEAD beside a file's GET answers as the GET does (``workflow.api.app`` lists
        # it in the document with the GET's answers).
        return not route.include_in_schema and route.methods != {"HEAD"}
    return not request.url.path.startswith(("/api/", "/openapi.json", "/docs", "/redoc"))


def error_page(
    request: Request,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    error: Exception | None = None,
) -> HTMLResponse:
    """An error as a page, in the page's language: ``error`` when the refusal is one,
    else ``message`` as the catalogue has it. It reads nothing from the database, which
    may be the thing that is down: the viewer is treated as signed out."""
    ctx: ServiceContext = request.app.state.ctx
    who = Viewer(request, ctx, None, None, choose_language(request))
    shown = who.refusal(error) if error is not None else who._(message)
    response = render(who, "error.html", status=status, status_code=status, message=shown)
    response.headers.update(headers or {})
    return response


def login_redirect(request: Request, error: Exception) -> RedirectResponse:
    assert isinstance(error, LoginRequired)
    return RedirectResponse(f"/login?next={quote(error.next_path, safe='')}", status_code=303)
