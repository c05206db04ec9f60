"""Signing in with the office's identity provider (OpenID Connect).

``/login/sso`` sends the browser to the provider with a fresh ``state``, ``nonce`` and
PKCE verifier, which the browser keeps in a signed, HttpOnly cookie of ten minutes on
this path alone; ``/login/sso/callback`` checks what the provider sent back against it
(``workflow.openid_connect``), then signs the staff member in
(``services.single_sign_on``): a session, or the second factor's page when the policy
asks for Newsroom's own. The cookie is spent either way.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Annotated, Final

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from workflow.api.auth import client_address
from workflow.domain.errors import DomainError, NotFound
from workflow.openid_connect import Flow, SignOnFailed
from workflow.services import single_sign_on
from workflow.services.accounts import CodeNeeded
from workflow.web.pages import AnyViewer, Viewer, redirect, safe_next
from workflow.web.routers.account import (
    login_refused,
    second_step,
    signed_in_response,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

FLOW_COOKIE: Final = "newsroom_sso"
FLOW_PATH: Final = "/login/sso"
FLOW_SECONDS: Final = 600


def _serializer(who: Viewer) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        who.ctx.settings.secret_key,
        salt="newsroom.single-sign-on.flow",
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def _configured(who: Viewer) -> None:
    if not who.ctx.settings.single_sign_on:
        raise NotFound("page", who.request.url.path)


@router.get("/login/sso")
def start(who: AnyViewer, next: Annotated[str, Query(max_length=2000)] = "/office") -> Response:
    _configured(who)
    try:
        url, flow = who.ctx.openid.start(safe_next(next))
    except SignOnFailed as error:
        log.warning("single sign-on cannot start: %s", error.detail)
        return login_refused(who, "login.html", error, next=safe_next(next), email="")
    response = RedirectResponse(url, status_code=303)
    value = _serializer(who).dumps([flow.state, flow.nonce, flow.code_verifier, flow.next])
    response.set_cookie(
        FLOW_COOKIE,
        str(value),
        max_age=FLOW_SECONDS,
        path=FLOW_PATH,
        httponly=True,
        # Lax: the provider's redirect back is a top-level navigation, which carries it.
        samesite="lax",
        secure=who.ctx.settings.session_cookie_secure or who.request.url.scheme == "https",
    )
    return response


@router.get("/login/sso/callback", response_model=None)
def finish(who: AnyViewer) -> HTMLResponse | RedirectResponse:
    _configured(who)
    flow = _flow(who)
    next = flow.next if flow is not None else "/office"
    try:
        if flow is None:
            raise SignOnFailed(
                "the sign-in took too long, or began in another browser; start again"
            )
        answer = {k: v[:2000] for k, v in who.request.query_params.items()}
        identity = who.ctx.openid.finish(flow, answer, who.ctx.clock.now())
        outcome = single_sign_on.sign_in(who.ctx, identity, client_address(who.request))
    except DomainError as error:
        if isinstance(error, SignOnFailed):
            log.warning("single sign-on refused: %s (%s)", error.message, error.detail)
        response: HTMLResponse | RedirectResponse = login_refused(
            who, "login.html", error, next=next, email=""
        )
    else:
        if isinstance(outcome, CodeNeeded):
            response = second_step(who, outcome, next)
        else:
            response = signed_in_response(who, outcome, redirect(who, next))
    response.delete_cookie(FLOW_COOKIE, path=FLOW_PATH, httponly=True, samesite="lax")
    return response


def _flow(who: Viewer) -> Flow | None:
    value = who.request.cookies.get(FLOW_COOKIE)
    if not value:
        return None
    try:
        state, nonce, verifier, next = _serializer(who).loads(value, max_age=FLOW_SECONDS)
    except (BadSignature, ValueError, TypeError):
        return None
    return Flow(state=state, nonce=nonce, code_verifier=verifier, next=safe_next(next))
