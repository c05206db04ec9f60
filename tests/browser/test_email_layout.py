"""Each kind of subscriber message, as a mail program's browser engine lays it out: at
600 pixels (a desktop reading pane) and at a phone's 390, nothing wider than the
screen. Screenshots of both are kept with the page screenshots."""

from __future__ import annotations

from urllib.parse import quote

from tests.browser.conftest import PHONE_WIDTH, SCREENSHOTS
from tests.conftest import Staff
from tests.email_gallery import every_kind
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.services.context import ServiceContext


def test_every_message_holds_at_600_pixels_and_on_a_phone(
    ctx: ServiceContext,
    staff: Staff,
    clock: FrozenClock,
    faulty: FaultyHandler,
    driver: object,
) -> None:
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(driver, WebDriver)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    gallery = every_kind(ctx, staff, clock, faulty)
    assert len(gallery) >= 20
    for name, mail in sorted(gallery.items()):
        for width in (600, PHONE_WIDTH):
            driver.execute_cdp_cmd(  # type: ignore[attr-defined]
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
            )
            driver.get("data:text/html;charset=utf-8," + quote(mail.html))
            wide = driver.execute_script("return document.documentElement.scrollWidth")
            assert wide <= width, f"{name} is {wide} px wide on a {width} px screen"
            sheet = driver.execute_script(
                "return document.querySelector('table.sheet').getBoundingClientRect().width"
            )
            assert sheet <= 600, f"{name}: the sheet is {sheet} px"
            # The Korean words are not broken inside: the label sits on one line.
            label = driver.execute_script(
                "var c = document.querySelector('td.label');return c.getBoundingClientRect().height"
            )
            assert label < 30, f"{name}: the label wraps at {width} px"
            driver.save_screenshot(str(SCREENSHOTS / f"email-{name}-{width}px.png"))
