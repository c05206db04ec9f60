"""The geometry of the deliveries-over-time chart, drawn as inline SVG by
``templates/web/distribution/chart.html``: stacked bars per interval (sent, then failed
or bounced), a y axis with three lines, and a time under the first, middle and last bar.
Numbers only; the template writes the markup, escaped."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from workflow.distribution.reports import TimelineBucket

WIDTH = 640
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 32  # margins for the axes' labels


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    width: float
    sent_y: float
    sent_height: float
    failed_y: float
    failed_height: float
    label: str  # the interval, in the office's time zone
    sent: int
    failed: int  # failed or bounced


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True, slots=True)
class TimeLabel:
    x: float
    text: str
    anchor: str  # start, middle, end


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    left: int
    right: float  # x of the plot's right edge
    baseline: float  # y of the x axis
    bars: list[Bar]
    ticks: list[Tick]
    times: list[TimeLabel]


def _nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5 × 10ⁿ at or above ``value``, so the axis reads round."""
    if value <= 1:
        return 1
    power: int = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _time_format(width: timedelta, span: timedelta) -> str:
    clock = "%H:%M:%S" if width < timedelta(minutes=1) else "%H:%M"
    return f"%m-%d {clock}" if span >= timedelta(days=1) else clock


def chart(buckets: list[TimelineBucket], zone: ZoneInfo) -> Chart:
    plot_width = WIDTH - LEFT - RIGHT
    plot_height = HEIGHT - TOP - BOTTOM
    baseline = float(TOP + plot_height)
    top = _nice_ceiling(max((b.total for b in buckets), default=0))
    slot = plot_width / max(1, len(buckets))
    gap = min(2.0, slot / 4)
    fmt = "%H:%M"
    if buckets:
        fmt = _time_format(buckets[0].end - buckets[0].start, buckets[-1].end - buckets[0].start)

    def local(moment: datetime) -> str:
        return f"{moment.astimezone(zone):{fmt}}"

    bars = []
    for i, bucket in enumerate(buckets):
        failed = bucket.failed + bucket.bounced
        sent_height = plot_height * bucket.sent / top
        failed_height = plot_height * failed / top
        bars.append(
            Bar(
                x=round(LEFT + i * slot + gap / 2, 2),
                width=round(slot - gap, 2),
                sent_y=round(baseline - sent_height, 2),
                sent_height=round(sent_height, 2),
                failed_y=round(baseline - sent_height - failed_height, 2),
                failed_height=round(failed_height, 2),
                label=f"{local(bucket.start)}–{local(bucket.end)}",
                sent=bucket.sent,
                failed=failed,
            )
        )
    ticks = [Tick(round(baseline - plot_height * v / top, 2), v) for v in (0, top // 2, top)]
    times = []
    if buckets:
        picks = sorted({0, len(buckets) // 2, len(buckets) - 1})
        anchors = {0: "start", len(buckets) - 1: "end"}
        for i in picks:
            anchor = anchors.get(i, "middle")
            x = LEFT + i * slot + {"start": 0.0, "middle": slot / 2, "end": slot}[anchor]
            times.append(TimeLabel(round(x, 2), local(buckets[i].start), anchor))
        if len(buckets) == 1:
            times = [TimeLabel(float(LEFT), local(buckets[0].start), "start")]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=float(WIDTH - RIGHT),
        baseline=baseline,
        bars=bars,
        ticks=ticks if top > 1 else [ticks[0], ticks[-1]],
        times=times,
    )
