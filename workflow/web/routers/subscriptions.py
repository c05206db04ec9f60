"""Journalists' subscription pages: the form, the confirmation button behind the emailed
link, the unsubscribe button behind the email's link, and the preferences page (topics,
language, each release or a daily digest, unsubscribe). A page an email leads to speaks
its subscriber's language, unless the visitor chose one with the KOR/ENG switch.

The emailed links are GETs that change nothing: mail scanners and link previews follow
links, so confirming and every change is a button, a POST with the form token. The
JSON API keeps its own routes (``POST /subscriptions/confirm`` and the RFC 8058
``POST /subscriptions/unsubscribe``); the confirmation form therefore posts to
``/subscriptions/confirmation``. A forged, superseded or expired link gets a page saying
so (422), never a stack trace, and changes nothing.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from workflow.domain.errors import ValidationFailed
from workflow.domain.values import Language
from workflow.services import people, subscribers
from workflow.services.subscription_tokens import Purpose, read_token
from workflow.web.pages import AnyViewer, Viewer, redirect, render

router = APIRouter(include_in_schema=False)

_LINK = r"^[A-Za-z0-9._\-:]+$"  # the alphabet of the signed links
LinkToken = Annotated[str, Query(min_length=10, max_length=500, pattern=_LINK)]
FormToken = Annotated[str, Form(min_length=10, max_length=500, pattern=_LINK)]
CsrfToken = Annotated[str, Form(max_length=200)]
Delivery = Annotated[str, Form(max_length=10)]
DigestTime = Annotated[str, Form(max_length=10)]
LANGUAGES = ("ko", "en", "both")
# The time a digest field offers until the subscriber chooses another.
DIGEST_TIME = "08:00"


def _link_refused(who: Viewer, error: ValidationFailed) -> HTMLResponse:
    return render(
        who, "public/link_invalid.html", status=422, reason=who.refusal(error, name_the_field=False)
    )


def _in_readers_language(who: Viewer, token: str, purpose: Purpose) -> None:
    if "lang" not in who.request.query_params:
        who.language = subscribers.reader_language(who.ctx, token, purpose) or who.language


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_form(who: AnyViewer) -> HTMLResponse:
    return render(
        who,
        "public/subscribe.html",
        topics=people.topics_in(who.ctx, who.language),
        form={
            "email": "",
            "name": "",
            "topics": [],
            "language": who.language.value,
            "delivery": "each",
            "digest_time": DIGEST_TIME,
        },
        office_zone=who.ctx.settings.office_timezone,
        error=None,
    )


@router.post("/subscribe", response_model=None)
def subscribe(
    who: AnyViewer,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    topics: Annotated[list[int] | None, Form()] = None,
    language: Annotated[str, Form(max_length=4)] = "ko",
    delivery: Delivery = "each",
    digest_time: DigestTime = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        subscribers.subscribe(
            who.ctx,
            email,
            name,
            topics or [],
            language,
            delivery=delivery,
            digest_time=digest_time,
        )
    except ValidationFailed as error:
        # Only the input's own faults come back (a malformed address, no topic): never
        # whether the address is already on the list.
        return render(
            who,
            "public/subscribe.html",
            status=422,
            topics=people.topics_in(who.ctx, who.language),
            form={
                "email": email,
                "name": name,
                "topics": topics or [],
                "language": language,
                "delivery": delivery,
                "digest_time": digest_time,
            },
            office_zone=who.ctx.settings.office_timezone,
            error=error,
            reason=who.refusal(error, name_the_field=False),
        )
    return redirect(who, "/subscribe/sent")


@router.get("/subscribe/sent", response_class=HTMLResponse)
def subscribe_sent(who: AnyViewer) -> HTMLResponse:
    return render(who, "public/subscribe_sent.html")


@router.get("/subscriptions/confirm", response_class=HTMLResponse)
def confirm_page(who: AnyViewer, token: LinkToken) -> HTMLResponse:
    """The page behind the emailed link: a button, so that a scanner confirms nothing.
    A forged or expired link is told so here already (whether it was used or replaced,
    only pressing the button finds out)."""
    _in_readers_language(who, token, "confirm")
    try:
        read_token(who.ctx.settings, token, "confirm", now=who.ctx.clock.now())
    except ValidationFailed as error:
        return _link_refused(who, error)
    return render(who, "public/confirm.html", token=token)


@router.post("/subscriptions/confirmation", response_class=HTMLResponse)
def confirm(who: AnyViewer, token: FormToken, csrf_token: CsrfToken = "") -> HTMLResponse:
    who.check_form(csrf_token)
    try:
        view = subscribers.confirm(who.ctx, token)
    except ValidationFailed as error:
        return _link_refused(who, error)
    named = people.topics_in(who.ctx, who.language)
    topics = [name for topic_id, name in named if topic_id in view.topic_ids]
    return render(who, "public/confirmed.html", subscriber=view, topics=topics)


@router.get("/subscriptions/preferences", response_class=HTMLResponse)
def preferences_page(who: AnyViewer, token: LinkToken) -> HTMLResponse:
    _in_readers_language(who, token, "preferences")
    try:
        view = subscribers.preferences(who.ctx, token)
    except ValidationFailed as error:
        return _link_refused(who, error)
    return render(
        who,
        "public/preferences.html",
        token=token,
        subscriber=view,
        topics=people.topics_in(who.ctx, who.language),
        chosen=set(view.topic_ids),
        language=view.language,
        delivery=view.delivery,
        digest_time=view.digest_time or DIGEST_TIME,
        office_zone=who.ctx.settings.office_timezone,
        error=None,
    )


@router.post("/subscriptions/preferences", response_model=None)
def update_preferences(
    who: AnyViewer,
    token: FormToken,
    topics: Annotated[list[int] | None, Form()] = None,
    language: Annotated[str, Form(max_length=4)] = "ko",
    delivery: Delivery = "each",
    digest_time: DigestTime = "",
    csrf_token: CsrfToken = "",
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        subscribers.update_preferences(
            who.ctx, token, topics or [], language, delivery=delivery, digest_time=digest_time
        )
    except ValidationFailed as error:
        if error.field == "token":
            return _link_refused(who, error)
        view = subscribers.preferences(who.ctx, token)
        # The page shows what was sent, with what was wrong in it.
        return render(
            who,
            "public/preferences.html",
            status=422,
            token=token,
            subscriber=view,
            topics=people.topics_in(who.ctx, who.language),
            chosen=set(topics or []),
            language=language,
            delivery=delivery,
            digest_time=digest_time,
            office_zone=who.ctx.settings.office_timezone,
            error=error,
            reason=who.refusal(error, name_the_field=False),
        )
    return redirect(
        who,
        f"/subscriptions/preferences?token={quote(token, safe='')}",
        notice=who._("Your choices are saved."),
    )


@router.get("/subscriptions/unsubscribe", response_class=HTMLResponse)
def unsubscribe_page(who: AnyViewer, token: LinkToken) -> HTMLResponse:
    """The page behind the email's unsubscribe link: a button, since mail scanners
    follow links. (The RFC 8058 one-click POST on the same address is the API's.)"""
    _in_readers_language(who, token, "unsubscribe")
    try:
        read_token(who.ctx.settings, token, "unsubscribe", now=who.ctx.clock.now())
    except ValidationFailed as error:
        return _link_refused(who, error)
    return render(who, "public/unsubscribe.html", token=token)


@router.post("/subscriptions/unsubscription", response_class=HTMLResponse)
def unsubscribe_by_link(
    who: AnyViewer, token: FormToken, csrf_token: CsrfToken = ""
) -> HTMLResponse:
    who.check_form(csrf_token)
    try:
        view = subscribers.unsubscribe(who.ctx, token)
    except ValidationFailed as error:
        return _link_refused(who, error)
    who.language = Language.EN if view.language == Language.EN.value else Language.KO
    return render(who, "public/unsubscribed.html", subscriber=view)


@router.post("/subscriptions/preferences/unsubscribe", response_model=None)
def unsubscribe(
    who: AnyViewer, token: FormToken, csrf_token: CsrfToken = ""
) -> HTMLResponse | RedirectResponse:
    who.check_form(csrf_token)
    try:
        subscribers.unsubscribe_from_preferences(who.ctx, token)
    except ValidationFailed as error:
        return _link_refused(who, error)
    return redirect(
        who, "/subscribe", notice=who._("You are unsubscribed and will receive no more releases.")
    )
