"""Moving from page to page in the browser without racing it."""

from __future__ import annotations

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

WAIT = 30  # seconds; generous for a machine shared with other test runs


def click_and_wait(driver: WebDriver, button: WebElement) -> None:
    """Press a submit button and wait until the next page has replaced this one and
    finished loading. The old page is marked first; errors while the browser is between
    two documents are waited out, not failed on."""
    driver.execute_script("document.documentElement.dataset.leaving = 'yes'")
    button.click()
    WebDriverWait(driver, WAIT, ignored_exceptions=[WebDriverException]).until(
        lambda d: d.execute_script(
            "return document.readyState === 'complete'"
            " && document.documentElement.dataset.leaving === undefined"
        )
    )
