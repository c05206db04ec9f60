"""Headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by Selenium
against the app served by a real uvicorn on a loopback port.

``.ci/run`` installs the two packages when they are missing; elsewhere these tests skip
and say why. Every test may save screenshots with ``shoot``; they land in
``test-artifacts/screenshots/`` (CI keeps that folder).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
PHONE_WIDTH = 390


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            if missing:
                item.add_marker(
                    pytest.mark.skip(
                        reason=f"no {' or '.join(missing)}: apt-get install chromium "
                        "chromium-driver (.ci/run does)"
                    )
                )


@pytest.fixture(autouse=True)
def _cheap_hashing(cheap_password_hashing: None) -> None:
    """Every test here signs people in: Argon2 at its smallest cost (tests/conftest.py)."""


@pytest.fixture
def driver() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        "--lang=ko-KR",
    ):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    browser.implicitly_wait(0)
    yield browser
    browser.quit()


@pytest.fixture
def shoot(driver: object, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """``shoot("name")`` saves a full-width screenshot; ``shoot("name", phone=True)`` one
    at a phone's 390 px width."""
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(driver, WebDriver)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = request.node.name.replace("/", "_")

    def take(name: str, *, phone: bool = False) -> Path:
        size = driver.get_window_size()
        if phone:
            driver.set_window_size(PHONE_WIDTH, 844)
        path = SCREENSHOTS / f"{test_name}-{name}{'-390px' if phone else ''}.png"
        driver.save_screenshot(str(path))
        if phone:
            driver.set_window_size(size["width"], size["height"])
        return path

    return take
