"""Korean text on a phone: words wrap whole (``word-break: keep-all``) and the
signed-in office header keeps its account line on one line at 390 px."""

from __future__ import annotations

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import PHONE_WIDTH
from tests.browser.navigation import click_and_wait
from tests.conftest import Staff
from workflow.services import accounts
from workflow.services.context import ServiceContext

PASSWORD = "correct horse battery staple"


def line_height(driver: WebDriver, selector: str) -> float:
    """The computed line height of ``selector``'s first element, in CSS pixels."""
    value = driver.execute_script(
        "const s = getComputedStyle(document.querySelector(arguments[0]));"
        "return s.lineHeight === 'normal' ? 1.2 * parseFloat(s.fontSize) : parseFloat(s.lineHeight);",
        selector,
    )
    return float(value)


def test_the_signed_in_header_holds_on_one_line_on_a_phone(
    live_server: str, driver: WebDriver, ctx: ServiceContext, staff: Staff, shoot
) -> None:
    # The admin's header is the fullest: every link of the site and the account's.
    accounts.set_password(ctx, staff.admin, staff.admin, PASSWORD)
    driver.get(f"{live_server}/login?lang=ko")
    driver.find_element(By.ID, "email").send_keys("admin@newsroom.example")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]"))
    driver.get(f"{live_server}/office?lang=ko")
    driver.set_window_size(PHONE_WIDTH, 844)
    shoot("office-header-ko", phone=True)
    driver.set_window_size(PHONE_WIDTH, 844)

    one_line = line_height(driver, ".site-header .account")
    account = driver.find_element(By.CSS_SELECTOR, ".site-header .account")
    assert account.rect["height"] < 1.5 * one_line, "language, who and log out on one line"
    who = driver.find_element(By.CSS_SELECTOR, ".site-header .who")
    log_out = driver.find_element(By.CSS_SELECTOR, ".site-header .account form button")
    assert abs(who.rect["y"] - log_out.rect["y"]) < one_line / 2
    assert log_out.rect["x"] + log_out.rect["width"] <= PHONE_WIDTH
    for link in driver.find_elements(By.CSS_SELECTOR, ".site-header .brand, .site-nav a"):
        assert link.rect["height"] < 1.5 * one_line, f"{link.text!r} is not split"
    header = driver.find_element(By.CSS_SELECTOR, ".site-header .bar")
    assert header.rect["height"] < 3 * one_line + 24, "the site's links, then the account"


def test_korean_words_wrap_whole_on_a_phone(live_server: str, driver: WebDriver, shoot) -> None:
    driver.set_window_size(PHONE_WIDTH, 844)
    driver.get(f"{live_server}/subscribe?lang=ko")
    shoot("subscribe-ko", phone=True)
    driver.set_window_size(PHONE_WIDTH, 844)
    style = driver.execute_script(
        "const s = getComputedStyle(document.querySelector('main p'));"
        "return [s.wordBreak, s.overflowWrap];"
    )
    assert style == ["keep-all", "anywhere"]
    # Every line break of the page's first paragraph falls between words: each line's
    # text, as the browser laid it out, starts and ends with whole words.
    words = driver.execute_script(
        """
        const p = document.querySelector('main p');
        const text = p.firstChild;
        const range = document.createRange();
        const lines = [];
        let top = null, start = 0;
        for (let i = 0; i < text.length; i++) {
          range.setStart(text, i); range.setEnd(text, i + 1);
          const y = Math.round(range.getBoundingClientRect().top);
          if (top !== null && y > top + 2) { lines.push(text.data.slice(start, i)); start = i; }
          if (top === null || y > top + 2) top = y;
        }
        lines.push(text.data.slice(start));
        return lines;
        """
    )
    assert len(words) > 1, "the paragraph wraps at 390 px"
    for line in words[:-1]:
        assert line.endswith((" ", ".", ",")), f"a word is split at the end of {line!r}"
