"""The press office's main path in headless Chromium, in Korean: a press officer drafts,
asks for an English translation, the translator hands it in, the officer attaches a photo
and a PDF, the release goes to review,
a second person approves it, it is published, and the public reads it in both languages.
Each page is photographed, and the office's pages must not scroll sideways on a phone.

Every click that posts a form waits for the next page to replace the old one, so that a
slow, loaded machine makes the test slower, never flaky."""

from __future__ import annotations

import re
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from tests.browser.navigation import WAIT, click_and_wait
from tests.browser.test_public_pages import assert_no_sideways_scroll, phone_width
from tests.conftest import Staff
from tests.media import samples
from workflow.domain.values import Language
from workflow.services import accounts
from workflow.services import attachments as media
from workflow.services.context import ServiceContext
from workflow.services.queries import attachments as files
from workflow.services.queries.staff_release import get_release

PASSWORD = "correct horse battery staple"
KO_TITLE = "국제보건 협력 강화를 위한 전문가 회의 개최"
KO_BODY = (
    "1. 외교부는 5월 14일 국제보건 전략 전문가들과 함께 회의를 개최하였다.\n\n"
    "   - 한국 측에서는 공공외교대사 등이 참석하였다.\n\n"
    "2. 참석자들은 보건 위기가 안보 문제라는 데 의견을 같이하였다.\n"
)
EN_TITLE = "Experts Meet on Global Health Cooperation"
EN_BODY = (
    "1. On May 14, the Ministry of Foreign Affairs hosted global health experts.\n\n"
    "   - Participants from Korea included the Ambassador for Public Diplomacy.\n\n"
    "2. The participants agreed that health crises are issues of security.\n"
)


PHOTO_ALT = "회의장에 모인 전문가들"


def attach(driver: WebDriver, path: Path, **fields: str) -> None:
    """Fill in the release page's upload form and send it (with its progress bar)."""
    driver.find_element(By.ID, "upload-file").send_keys(str(path))
    for name, value in fields.items():
        field, lang = name.rsplit("_", 1)
        driver.find_element(By.ID, f"upload-{field}-{lang}").send_keys(value)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.upload-form button"))
    assert not driver.find_elements(By.CSS_SELECTOR, ".error"), driver.find_element(
        By.CSS_SELECTOR, ".error"
    ).text


def log_in(driver: WebDriver, base: str, email: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "email").send_keys(email)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "form.stacked button"))
    assert driver.current_url == f"{base}/office", driver.current_url


def press(driver: WebDriver, action: str) -> None:
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, f"form.action-{action} button"))
    assert not driver.find_elements(By.CSS_SELECTOR, ".error"), driver.find_element(
        By.CSS_SELECTOR, ".error"
    ).text


def text_of(driver: WebDriver, css: str = "body") -> str:
    return driver.find_element(By.CSS_SELECTOR, css).text


def test_from_draft_to_the_public_page(
    live_server: str, driver: WebDriver, ctx: ServiceContext, staff: Staff, shoot, tmp_path: Path
) -> None:
    for user_id in (staff.author, staff.translator, staff.approver):
        accounts.set_password(ctx, user_id, user_id, PASSWORD)

    # A press officer drafts in Korean; the preview follows the typing (the script).
    log_in(driver, live_server, "author@newsroom.example")
    assert "대시보드" in text_of(driver, "h1")
    shoot("dashboard")
    driver.find_element(By.LINK_TEXT, "새 보도자료").click()
    WebDriverWait(driver, WAIT).until(ec.presence_of_element_located((By.ID, "title_ko")))
    driver.find_element(By.ID, "title_ko").send_keys(KO_TITLE)
    driver.find_element(By.ID, "body_ko").send_keys(KO_BODY)
    driver.find_element(By.ID, f"topic-{staff.health}").click()
    WebDriverWait(driver, WAIT).until(lambda d: "공공외교대사" in text_of(d, '[data-preview="ko"]'))
    assert KO_TITLE in text_of(driver, '[data-preview="ko"] h1')
    shoot("editor")
    shoot("editor", phone=True)
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=save]"))
    match = re.search(r"/office/releases/(\d+)$", driver.current_url)
    assert match, driver.current_url
    release_url = driver.current_url
    release_id = int(match.group(1))
    assert "저장되었습니다." in text_of(driver, ".notice")

    # … and asks for an English translation.
    press(driver, "request_translation")
    shoot("release-draft")

    # The translator hands it in from the dashboard.
    log_in(driver, live_server, "translator@newsroom.example")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "#my-translations ~ ul a"))
    assert "공공외교대사" in text_of(driver, ".source")
    driver.find_element(By.ID, "title_en").send_keys(EN_TITLE)
    driver.find_element(By.ID, "body_en").send_keys(EN_BODY)
    shoot("translation")
    click_and_wait(driver, driver.find_element(By.CSS_SELECTOR, "button[name=save]"))
    assert driver.current_url == release_url
    release = get_release(ctx, release_id)
    assert release.versions[Language.EN].title == EN_TITLE

    # The author attaches a photo of the meeting and the joint statement…
    log_in(driver, live_server, "author@newsroom.example")
    driver.get(release_url)
    photo, statement = tmp_path / "회의 사진.jpg", tmp_path / "공동성명.pdf"
    photo.write_bytes(samples.jpeg(1800, 1200, colour="#2f6f8f"))
    statement.write_bytes(samples.PDF)
    attach(
        driver, photo, alt_ko=PHOTO_ALT, caption_ko="회의 참석자들", alt_en="Experts at the meeting"
    )
    attach(driver, statement, title_ko="공동성명", title_en="Joint statement")
    for shown in files.staff_attachments(ctx, release_id):
        media.make_renditions(ctx, next(iter(shown.values())).id)  # the worker's part
    driver.get(release_url)
    assert "공동성명" in text_of(driver, "#attachments")
    driver.execute_script("document.getElementById('attachments').scrollIntoView()")
    shoot("release-attachments")

    # … and submits it for review; they may not approve it themselves.
    press(driver, "submit")
    assert not driver.find_elements(By.CSS_SELECTOR, "form.action-approve")
    shoot("release-in-review")

    # A second person approves.
    log_in(driver, live_server, "approver@newsroom.example")
    driver.get(release_url)
    assert "검토 중" in text_of(driver, ".facts")
    shoot("review")
    shoot("review", phone=True)
    press(driver, "approve")
    assert "승인됨" in text_of(driver, ".facts")

    # The author publishes.
    log_in(driver, live_server, "author@newsroom.example")
    driver.get(release_url)
    press(driver, "publish")
    assert "공개됨" in text_of(driver, ".facts")
    number = get_release(ctx, release_id).number
    assert number
    shoot("release-published")
    driver.get(f"{release_url}/history")
    shoot("history")

    # The public reads it in Korean and in English.
    driver.get(f"{live_server}/releases/{number}?lang=ko")
    assert text_of(driver, "h1.release-title") == KO_TITLE
    paragraphs = driver.find_elements(By.CSS_SELECTOR, ".release-body > ol > li")
    assert [p.find_element(By.TAG_NAME, "p").text for p in paragraphs] == [
        "외교부는 5월 14일 국제보건 전략 전문가들과 함께 회의를 개최하였다.",
        "참석자들은 보건 위기가 안보 문제라는 데 의견을 같이하였다.",
    ]
    lead = driver.find_element(By.CSS_SELECTOR, ".release-text figure.release-photo img")
    assert lead.get_attribute("alt") == PHOTO_ALT
    assert driver.execute_script("return arguments[0].naturalWidth", lead) == 1200
    assert "공동성명 (PDF, 142 B)" in text_of(driver, ".release-documents")
    shoot("public-ko")
    driver.get(f"{live_server}/releases/{number}?lang=en")
    assert "Joint statement (PDF, 142 B)" in text_of(driver, ".release-documents")
    assert text_of(driver, "h1.release-title") == EN_TITLE
    assert "Participants from Korea included the Ambassador for Public Diplomacy." in text_of(
        driver, ".release-body"
    )
    shoot("public-en")
    shoot("public-en", phone=True)

    # The office's pages hold on a phone.
    phone_width(driver)
    for path in ("/office", "/office/releases/new", release_url, f"{release_url}/history"):
        driver.get(path if path.startswith("http") else f"{live_server}{path}")
        assert_no_sideways_scroll(driver)
    driver.get(f"{release_url}/edit")
    assert_no_sideways_scroll(driver)
    shoot("editor-phone")
