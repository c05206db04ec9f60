"""The browser frame itself: Chromium reaches the live server and signs in."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.navigation import click_and_wait
from tests.conftest import Staff
from workflow.services import accounts
from workflow.services.context import ServiceContext

PASSWORD = "correct horse battery staple"


def test_signing_in_in_a_real_browser(
    live_server: str, driver: WebDriver, ctx: ServiceContext, staff: Staff, shoot
) -> None:
    accounts.set_password(ctx, staff.author, staff.author, PASSWORD)
    driver.get(f"{live_server}/login?lang=en&next=/login")
    shoot("login")
    shoot("login", phone=True)
    driver.find_element(By.ID, "email").send_keys("author@newsroom.example")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]"))
    assert "Signed in as Kim Min-ji" in driver.find_element(By.TAG_NAME, "body").text
    cookie = driver.get_cookie("newsroom_session")
    assert cookie is not None and cookie["httpOnly"]
