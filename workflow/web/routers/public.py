"""The public newsroom: the list of press releases (by topic, by words), each release's
page, and the Atom feeds. Anyone may read them; they show only what ``public_releases``
and ``public_release`` (``workflow.services.queries.public``) let the public see, so
nothing embargoed or scheduled is reachable before its time by any of these paths.

Each release page counts one view per visitor and window (``view_counting``), without
a database write: the page shows the stored count plus those not flushed yet.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from workflow.domain.errors import NotFound
from workflow.domain.values import Language
from workflow.services import people
from workflow.services.context import ServiceContext
from workflow.services.queries.attachments import public_documents
from workflow.services.queries.public import (
    ReleaseReplaced,
    live_texts,
    public_release,
    public_releases,
    sitemap_entries,
)
from workflow.web import site_index
from workflow.web.feeds import atom_feed, feed_path
from workflow.web.link_previews import link_preview
from workflow.web.pages import AnyViewer, render
from workflow.web.public_cache import COUNTED_RELEASE
from workflow.web.view_counting import count_view, flush_if_due, view_counter

router = APIRouter(include_in_schema=False)

ReleaseNumber = Annotated[str, Path(pattern=r"^[0-9]{4}-[0-9]{4,6}$")]
Page = Annotated[int, Query(ge=1, le=100_000)]
TopicId = Annotated[int | None, Query(ge=1, le=2_147_483_647)]
Words = Annotated[str, Query(max_length=200)]


@router.get("/", response_class=HTMLResponse)
def release_list(
    who: AnyViewer,
    page: Page = 1,
    topic_choice: Annotated[str, Query(alias="topic", max_length=9, pattern=r"^[0-9]*$")] = "",
    q: Words = "",
) -> HTMLResponse:
    settings = who.ctx.settings
    # The list's own form sends "topic=" for "all topics".
    topic = int(topic_choice or 0) or None
    words = " ".join(q.split())
    result = public_releases(
        who.ctx,
        language=who.language,
        topic_id=topic,
        text=words,
        page=page,
        per_page=settings.public_page_size,
    )
    pending = view_counter(who.request).pending(i.release_id for i in result.items)

    def list_url(**changes: Any) -> str:
        params: dict[str, Any] = {"topic": topic, "q": words, "page": page, **changes}
        kept = {k: v for k, v in params.items() if v and not (k == "page" and v == 1)}
        return "/?" + urlencode(kept) if kept else "/"

    topics = people.topics_in(who.ctx, who.language)
    return render(
        who,
        "public/index.html",
        result=result,
        views={i.release_id: i.view_count + pending.get(i.release_id, 0) for i in result.items},
        pages=max(1, math.ceil(result.total / result.per_page)),
        topics=topics,
        topic=topic,
        topic_name=dict(topics).get(topic) if topic else None,
        q=words,
        list_url=list_url,
        feed_url=feed_path(who.language, topic),
        zone=settings.office_zone,
    )


@router.get("/releases/{number}", response_class=HTMLResponse, response_model=None)
def release_page(who: AnyViewer, number: ReleaseNumber) -> HTMLResponse | RedirectResponse:
    try:
        release = public_release(who.ctx, number)
    except ReleaseReplaced as replaced:
        # Permanent: links and search engines move to the release that replaced it.
        target = f"/releases/{replaced.by_number}"
        lang = who.request.query_params.get("lang")
        if lang in (Language.KO, Language.EN):
            target += f"?lang={lang}"
        return RedirectResponse(target, status_code=301)
    language = who.language if who.language in release.versions else next(iter(release.versions))
    counter = view_counter(who.request)
    if not release.withdrawn:
        count_view(who.request, who.ctx, counter, release.release_id)
        # A replay of this page by the public page cache counts its own reader.
        setattr(who.request.state, COUNTED_RELEASE, release.release_id)
    views = release.view_count + counter.pending([release.release_id]).get(release.release_id, 0)
    other = [lang for lang in release.versions if lang is not language]
    response = render(
        who,
        "public/release.html",
        release=release,
        text=release.versions[language],
        text_lang=language.value,
        other_language=other[0] if other else None,
        views=views,
        zone=who.ctx.settings.office_zone,
        share=link_preview(who.ctx.settings.public_base_url, release, language),
    )
    response.background = flush_if_due(who.ctx, counter)
    return response


@router.get("/sitemap.xml")
def sitemap_xml(request: Request) -> Response:
    ctx: ServiceContext = request.app.state.ctx
    document = site_index.sitemap(ctx.settings.public_base_url, sitemap_entries(ctx))
    return Response(document, media_type="application/xml; charset=utf-8")


@router.get("/robots.txt")
def robots_txt(request: Request) -> Response:
    ctx: ServiceContext = request.app.state.ctx
    return Response(site_index.robots(ctx.settings.public_base_url), media_type="text/plain")


@router.get("/feed.atom")
def feed(
    request: Request,
    lang: Annotated[Language | None, Query()] = None,
    topic: TopicId = None,
) -> Response:
    ctx: ServiceContext = request.app.state.ctx
    language = lang or Language.KO
    topic_entry = None
    if topic is not None:
        name = dict(people.topics_in(ctx, language)).get(topic)
        if name is None:
            raise NotFound("topic", topic)
        topic_entry = (topic, name)
    result = public_releases(
        ctx, language=language, topic_id=topic, per_page=ctx.settings.feed_size
    )
    document = atom_feed(
        ctx.settings.public_base_url,
        language,
        result.items,
        topic=topic_entry,
        now=ctx.clock.now(),
        documents=public_documents(ctx, [item.release_id for item in result.items], language),
        texts=live_texts(ctx, [item.release_id for item in result.items], language),
    )
    return Response(document, media_type="application/atom+xml; charset=utf-8")
