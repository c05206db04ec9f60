"""A release's stable address, ``/r/<id>``, the link in every embargoed copy and embargo
notice (``workflow.links.stable_release_url``).

Before the release is public the address answers with a page saying until when it is
under embargo, or that it was withdrawn before it was public, and nothing of its title
or text; once public it leads to the release's page by its number, with the same
``?lang=``. No answer is kept by anyone: not by the public page cache, whose paths it is
not among, nor by a browser or a proxy (``no-store``), since an embargo lifts with the
clock alone.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path
from fastapi.responses import RedirectResponse, Response

from workflow.dates import date_time_zone
from workflow.domain.errors import NotFound
from workflow.domain.values import Language
from workflow.services.queries.release_links import Standing, release_standing
from workflow.web.pages import AnyViewer, render

router = APIRouter(include_in_schema=False)

ReleaseId = Annotated[int, Path(ge=1, le=2_147_483_647)]
NOT_KEPT: Final = {"Cache-Control": "no-store"}


@router.get("/r/{release_id}", response_model=None)
def release_link(who: AnyViewer, release_id: ReleaseId) -> Response:
    try:
        found = release_standing(who.ctx, release_id)
    except NotFound:
        message = who._("There is no press release at this address.")
        response: Response = render(who, "error.html", status=404, status_code=404, message=message)
    else:
        if found.standing is Standing.PUBLIC:
            target = f"/releases/{found.number}"
            lang = who.request.query_params.get("lang")
            if lang in (Language.KO, Language.EN):
                target += f"?lang={lang}"
            response = RedirectResponse(target, status_code=303)
        else:
            zone = who.ctx.settings.office_zone
            response = render(
                who,
                "public/release_link.html",
                withdrawn=found.standing is Standing.WITHDRAWN,
                until=(date_time_zone(found.until, who.language, zone) if found.until else None),
            )
    response.headers.update(NOT_KEPT)
    return response
