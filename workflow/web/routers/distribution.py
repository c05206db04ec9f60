"""A release's distribution to journalists, for staff: the delivery report's counts, in
all and per kind of message, how many journalists were reached, a progress bar while
messages are still going out (the page reloads itself every few seconds until none is
left), each failure with the relay's reply, and the deliveries over time as an inline SVG
chart with a table beside it.

Reads only: ``queries.get_release``, ``reports.delivery_report`` and
``reports.delivery_timeline``, as the API's delivery report does.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse

from workflow.distribution import reports
from workflow.services.queries.staff_release import get_release
from workflow.web.delivery_chart import chart
from workflow.web.pages import StaffViewer, render

router = APIRouter(include_in_schema=False)

# In the order a reader follows a fan-out: done, waiting, under way, to retry, lost.
STATES: Final = ("sent", "pending", "sending", "deferred", "failed", "bounced")
UNFINISHED: Final = ("pending", "sending", "deferred")
BUCKETS: Final = 24
REFRESH_SECONDS: Final = 5
FAILURES_SHOWN: Final = 200

ReleaseId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.get("/office/releases/{release_id}/distribution", response_class=HTMLResponse)
def distribution_page(who: StaffViewer, release_id: ReleaseId) -> HTMLResponse:
    assert who.user is not None
    release = get_release(who.ctx, release_id, who.user.id)
    report = reports.delivery_report(who.ctx, release_id)
    timeline = reports.delivery_timeline(who.ctx, release_id, BUCKETS)
    total = sum(report.counts.values())
    unfinished = sum(report.counts.get(state, 0) for state in UNFINISHED)
    version = release.versions.get(release.primary_language)
    return render(
        who,
        "distribution/release.html",
        release=release,
        title=version.title if version else "",
        counts={state: report.counts.get(state, 0) for state in STATES},
        by_kind={
            kind: {state: counts.get(state, 0) for state in STATES}
            for kind, counts in report.by_kind.items()
        },
        subscribers=report.subscribers,
        subscribers_reached=report.subscribers_reached,
        folded_at=report.folded_at,
        total=total,
        settled=total - unfinished,
        unfinished=unfinished,
        refresh=REFRESH_SECONDS if unfinished else None,
        failures=report.failures[:FAILURES_SHOWN],
        more_failures=max(0, len(report.failures) - FAILURES_SHOWN),
        possible_duplicates=report.possible_duplicates,
        timeline=timeline,
        chart=chart(timeline, who.ctx.settings.office_zone),
        zone=who.ctx.settings.office_zone,
    )
