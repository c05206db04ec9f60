"""The public newsroom in a real browser: the list and a release in Korean and English,
at desktop width and at a phone's 390 px, where nothing may scroll sideways."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.browser.conftest import PHONE_WIDTH
from tests.browser.navigation import click_and_wait
from tests.conftest import Staff
from tests.e2e.published import publish
from tests.fixture_releases import samples
from workflow.clock import FrozenClock
from workflow.domain.values import Contact
from workflow.services.context import ServiceContext

KO_BODY = (
    "1. 외교부는 5월 14일 국제보건 전략 전문가들과 함께 미래 감염병 대응 역량 강화를 위한 "
    "웨비나를 개최하였다.\n\n"
    "   - 한국 측에서는 공공외교대사, 서울대학교 예방의학과 교수 등이 참석하였다.\n\n"
    "   - 미국 측에서는 글로벌개발센터 부회장 등이 참석하였다.\n\n"
    "2. 참석자들은 코로나19와 같은 보건 위기가 안보 문제라는 데 의견을 같이하였다.\n"
)


@pytest.fixture
def numbers(ctx: ServiceContext, staff: Staff, clock: FrozenClock, fixtures_dir: Path) -> list[str]:
    sample = samples(fixtures_dir)[1]
    contact = Contact("Kim Min-ji", "02-2100-7000", "press@mofa.example")
    published = [
        publish(
            ctx,
            staff,
            clock,
            ko=(f"국제보건 협력 강화를 위한 전문가 웨비나 개최 ({i})", KO_BODY),
            en=(f"{sample.title} ({i})", sample.markdown),
            contact=contact,
        )
        for i in range(12)
    ]
    return published


def phone_width(driver: WebDriver) -> None:
    """Make the page's viewport exactly 390 px wide, whatever the window frame takes."""
    driver.set_window_size(PHONE_WIDTH, 844)
    inner = int(driver.execute_script("return window.innerWidth"))
    if inner != PHONE_WIDTH:
        driver.set_window_size(PHONE_WIDTH + (PHONE_WIDTH - inner), 844)
    assert int(driver.execute_script("return window.innerWidth")) == PHONE_WIDTH


def assert_no_sideways_scroll(driver: WebDriver) -> None:
    width = int(driver.execute_script("return document.documentElement.scrollWidth"))
    assert width <= PHONE_WIDTH, f"{driver.current_url} is {width} px wide at {PHONE_WIDTH} px"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_list_and_a_release_in_each_language(
    live_server: str, driver: WebDriver, numbers: list[str], lang: str, shoot
) -> None:
    driver.get(f"{live_server}/?lang={lang}")
    body = driver.find_element(By.TAG_NAME, "body").text
    assert ("조회수" if lang == "ko" else "Hit") in body
    items = driver.find_elements(By.CSS_SELECTOR, ".release-item .number")
    assert [item.text for item in items] == list(reversed(numbers))[:10]
    shoot(f"list-{lang}")
    shoot(f"list-{lang}", phone=True)

    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, ".release-item .release-link"))
    assert driver.current_url.endswith(f"/releases/{numbers[-1]}")
    title = driver.find_element(By.CSS_SELECTOR, "h1.release-title").text
    assert title.endswith("(11)")
    paragraphs = driver.find_elements(By.CSS_SELECTOR, ".release-body > ol > li")
    assert len(paragraphs) >= 2
    views = driver.find_element(By.CSS_SELECTOR, ".release-meta .views").text
    assert views == "1"
    shoot(f"release-{lang}")
    shoot(f"release-{lang}", phone=True)

    # The switch leads to the other language version of the same release.
    other = "ENG" if lang == "ko" else "KOR"
    click_and_wait(driver, driver.find_element(By.LINK_TEXT, other))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != lang
    assert driver.current_url.split("?")[0].endswith(f"/releases/{numbers[-1]}")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_nothing_scrolls_sideways_on_a_phone(
    live_server: str, driver: WebDriver, numbers: list[str], lang: str
) -> None:
    phone_width(driver)
    for path in (
        f"/?lang={lang}",
        f"/?lang={lang}&q=%EC%99%B8%EA%B5%90&page=1",
        f"/releases/{numbers[0]}?lang={lang}",
        f"/subscribe?lang={lang}",
    ):
        driver.get(f"{live_server}{path}")
        assert_no_sideways_scroll(driver)


def test_searching_and_paging_without_javascript(
    live_server: str, driver: WebDriver, numbers: list[str], shoot
) -> None:
    driver.get(f"{live_server}/?lang=ko")
    box = driver.find_element(By.ID, "q")
    box.send_keys("코로나")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]"))
    assert "q=%EC%BD%94%EB%A1%9C%EB%82%98" in driver.current_url
    found = driver.find_elements(By.CSS_SELECTOR, ".release-item .number")
    assert len(found) == 10
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, ".pagination a[rel=next]"))
    assert "page=2" in driver.current_url
    assert len(driver.find_elements(By.CSS_SELECTOR, ".release-item .number")) == 2
    assert driver.find_element(By.ID, "q").get_attribute("value") == "코로나"
    shoot("search-page-2")


def test_a_journalist_subscribes_in_the_browser(
    live_server: str, driver: WebDriver, ctx: ServiceContext, staff: Staff, shoot
) -> None:
    from tests.e2e.test_subscriptions import state

    driver.get(f"{live_server}/subscribe?lang=en")
    driver.find_element(By.ID, "email").send_keys("reporter@press.example")
    driver.find_element(By.ID, "name").send_keys("Reporter")
    driver.find_element(By.ID, f"topic-{staff.health}").click()
    driver.find_element(By.ID, "language-both").click()
    shoot("subscribe")
    shoot("subscribe", phone=True)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button[type=submit]"))
    assert driver.current_url.endswith("/subscribe/sent")
    assert "Check your inbox" in driver.find_element(By.TAG_NAME, "h1").text
    assert state(ctx, "reporter@press.example") == "pending"
