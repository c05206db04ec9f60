"""Two-factor sign-in in a real browser: setting it up from the account page (the QR
code drawn, the key readable), the recovery codes, then signing in with a code; at
desktop and phone width, with screenshots."""

from __future__ import annotations

import pyotp
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.navigation import click_and_wait
from tests.browser.test_public_pages import assert_no_sideways_scroll, phone_width
from tests.conftest import Staff
from workflow.clock import FrozenClock
from workflow.services import accounts
from workflow.services.context import ServiceContext

PASSWORD = "correct horse battery staple"
EMAIL = "approver@newsroom.example"


def submit(driver: WebDriver, form: str) -> None:
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, f"{form} button[type=submit]"))


def password_step(driver: WebDriver, live_server: str, lang: str) -> None:
    driver.get(f"{live_server}/login?lang={lang}&next=/account")
    driver.find_element(By.ID, "email").send_keys(EMAIL)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    submit(driver, "form.stacked")


def test_setting_up_and_signing_in_with_an_authenticator(
    live_server: str,
    driver: WebDriver,
    ctx: ServiceContext,
    clock: FrozenClock,
    staff: Staff,
    shoot,  # type: ignore[no-untyped-def]
) -> None:
    accounts.set_password(ctx, staff.approver, staff.approver, PASSWORD)
    password_step(driver, live_server, "ko")
    assert driver.current_url.endswith("/account")

    driver.find_element(By.ID, "two-factor-password").send_keys(PASSWORD)
    submit(driver, "form[action='/account/two-factor/start']")
    assert driver.current_url.endswith("/account/two-factor")
    qr = driver.find_element(By.CSS_SELECTOR, ".qr svg[role=img]")
    assert qr.size["width"] >= 150 and qr.size["height"] == qr.size["width"]
    assert qr.get_attribute("aria-label") == "인증 앱에 등록할 QR 코드"
    secret = driver.find_element(By.ID, "secret").text.replace(" ", "")
    assert len(secret) == 32
    shoot("setup-ko")
    phone_width(driver)
    driver.refresh()
    assert_no_sideways_scroll(driver)
    shoot("setup-ko", phone=True)
    driver.set_window_size(1280, 900)

    driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).at(clock.now()))
    submit(driver, "form.stacked")
    codes = [c.text for c in driver.find_elements(By.CSS_SELECTOR, ".recovery-codes code")]
    assert len(codes) == 10
    assert "2단계 인증을 켰습니다." in driver.find_element(By.CSS_SELECTOR, ".notice").text
    shoot("recovery-codes-ko")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "a.button"))
    assert "남은 복구 코드 10개" in driver.find_element(By.ID, "two-factor").text

    # Out, and in again: the password, then the code.
    submit(driver, "form[action='/logout']")
    clock.advance(seconds=30)
    password_step(driver, live_server, "en")
    assert driver.find_element(By.TAG_NAME, "h1").text == "Two-factor sign-in"
    assert not driver.get_cookie("newsroom_session")
    shoot("code-step-en")
    driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).at(clock.now()))
    submit(driver, "form.stacked")
    assert driver.current_url.endswith("/account")
    assert driver.get_cookie("newsroom_session")
