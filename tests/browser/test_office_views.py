"""The distribution and administration pages in a real browser, at desktop width and at
a phone's 390 px, where nothing may scroll sideways; screenshots of each."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.navigation import click_and_wait
from tests.browser.test_public_pages import assert_no_sideways_scroll, phone_width
from tests.conftest import Staff
from tests.integration.test_distribution import handle_events, published_release, subscribe
from tests.smtp_faults import FaultyHandler
from workflow.clock import FrozenClock
from workflow.distribution import sending
from workflow.services import accounts
from workflow.services.context import ServiceContext

PASSWORD = "correct horse battery staple"
GONE = "a-rather-long-address-that-the-relay-refuses@newsroom-press.example"


@pytest.fixture
def relay(faulty: FaultyHandler) -> FaultyHandler:
    """The loopback SMTP server, refusing one address."""
    faulty.faults.refuse = {GONE}
    return faulty


@pytest.fixture
def release_id(ctx: ServiceContext, staff: Staff, clock: FrozenClock, relay: FaultyHandler) -> int:
    """A release for 36 journalists, sent over an hour: 29 sent, one refused, 6 to go."""
    subscribe(ctx, GONE, [staff.health])
    for i in range(35):
        subscribe(ctx, f"reporter{i}@press.example", [staff.health], trusted=i % 7 == 0)
    release = published_release(ctx, staff)
    handle_events(ctx)
    for size in (3, 8, 5, 9, 5):
        clock.advance(minutes=12)
        sending.send_batch(ctx, limit=size, connections=2)
    return release


def sign_in(driver: WebDriver, live_server: str, ctx: ServiceContext, staff: Staff) -> None:
    accounts.set_password(ctx, staff.admin, staff.admin, PASSWORD)
    driver.get(f"{live_server}/login?lang=ko&next=/office/admin")
    driver.find_element(By.ID, "email").send_keys("admin@newsroom.example")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]"))
    assert driver.current_url.endswith("/office/admin")
    assert "로그아웃" in driver.find_element(By.TAG_NAME, "body").text


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_distribution_page_draws_its_chart(
    live_server: str,
    driver: WebDriver,
    ctx: ServiceContext,
    staff: Staff,
    release_id: int,
    lang: str,
    shoot,  # type: ignore[no-untyped-def]
) -> None:
    sign_in(driver, live_server, ctx, staff)
    driver.get(f"{live_server}/office/releases/{release_id}/distribution?lang={lang}")
    svg = driver.find_element(By.CSS_SELECTOR, "svg.timeline-chart[role=img]")
    assert svg.size["width"] > 500 and svg.size["height"] > 150
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.timeline-chart rect")) >= 5
    assert driver.find_element(By.ID, "chart-title").get_attribute("textContent")
    sent = driver.find_element(By.CSS_SELECTOR, ".count.state-sent dd").text
    assert sent == "29"
    shoot(f"distribution-{lang}")
    phone_width(driver)
    driver.get(f"{live_server}/office/releases/{release_id}/distribution?lang={lang}")
    assert_no_sideways_scroll(driver)
    svg = driver.find_element(By.CSS_SELECTOR, "svg.timeline-chart")
    assert 300 <= svg.size["width"] <= 390, "the chart shrinks to the phone's width"
    shoot(f"distribution-{lang}-phone")
    driver.execute_script("arguments[0].scrollIntoView()", svg)
    shoot(f"distribution-{lang}-phone-chart")


def test_the_admin_pages_hold_on_a_phone(
    live_server: str,
    driver: WebDriver,
    ctx: ServiceContext,
    staff: Staff,
    release_id: int,
    shoot,  # type: ignore[no-untyped-def]
) -> None:
    sign_in(driver, live_server, ctx, staff)
    pages = {
        "users": "/office/admin",
        "topics": "/office/admin/topics",
        "subscribers": "/office/admin/subscribers",
        "security": "/office/admin/security",
        "acts": "/office/admin/acts",
    }
    for name, path in pages.items():
        driver.get(f"{live_server}{path}?lang=ko")
        assert driver.find_element(By.CSS_SELECTOR, ".admin-tabs [aria-current=page]")
        shoot(f"admin-{name}")
    phone_width(driver)
    for name, path in pages.items():
        for lang in ("ko", "en"):
            driver.get(f"{live_server}{path}?lang={lang}")
            assert_no_sideways_scroll(driver)
        shoot(f"admin-{name}-phone")

    # Changing roles without JavaScript, on the phone.
    driver.get(f"{live_server}/office/admin?lang=en")
    box = driver.find_element(By.ID, f"user-{staff.translator}-role-approver")
    driver.execute_script("arguments[0].scrollIntoView()", box)
    box.click()
    click_and_wait(driver, box.find_element(By.XPATH, "ancestor::form//button[@type='submit']"))
    assert "The roles were saved." in driver.find_element(By.CSS_SELECTOR, ".notice").text
    assert driver.find_element(By.ID, f"user-{staff.translator}-role-approver").is_selected()
    shoot("admin-roles-saved-phone")
