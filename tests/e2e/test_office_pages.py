"""The press office's pages through the ASGI app: dashboard, editor, release page, review
actions, translation and history, each page valid HTML with labelled controls, each
refusal a page that says why and changes nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from tests.conftest import Staff
from tests.e2e.office import Office, page, post, released_id, textareas
from tests.e2e.published import draft
from workflow.clock import FrozenClock
from workflow.db.tables import DeliveryRow
from workflow.domain.users import CONSOLE
from workflow.domain.values import Language
from workflow.services import people
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries.staff_lists import list_releases
from workflow.services.queries.staff_release import audit_trail, comments, get_release
from workflow.services.queries.translation_requests import translation_requests_for

KO_BODY = "1. 외교부는 전문가 회의를 개최하였다.\n\n   - 20여 명이 참석하였다.\n"
EN_BODY = "1. The Ministry hosted an expert meeting.\n\n   - Some twenty attended.\n"


@pytest.fixture
def office(app: FastAPI, ctx: ServiceContext, staff: Staff) -> Iterator[Office]:
    with ExitStack() as stack:
        yield Office(app, ctx, staff, stack)


def new_release(office: Office, persona: str = "author", **fields: object) -> int:
    data = {
        "primary": "ko",
        "title_ko": "국제보건 전문가 회의 개최",
        "body_ko": KO_BODY,
        "topics": [office.staff.health],
        "contact_name": "Kim Min-ji",
        "details": "1",
        **fields,
    }
    response = post(office(persona), "/office/releases/new", "/office/releases/new", data)
    return released_id(response)


def test_logging_in_leads_to_the_dashboard(office: Office) -> None:
    browser = office("author")
    assert browser.client.get("/office").status_code == 200
    response = browser.submit(
        "/login",
        "/login",
        {"email": "author@newsroom.example", "password": "correct horse battery staple"},
    )
    assert response.headers["location"] == "/office"


def test_a_visitor_is_sent_to_log_in(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/office/releases/new", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Foffice%2Freleases%2Fnew"


def test_every_office_page_is_valid_html_with_labelled_controls(office: Office) -> None:
    author = office("author")
    for url in ("/office", "/office/releases/new"):
        page(author, url)
    release_id = new_release(office)
    for url in ("", "/edit", "/history"):
        page(author, f"/office/releases/{release_id}{url}")
    post(
        author,
        f"/office/releases/{release_id}",
        f"/office/releases/{release_id}/request_translation",
        {"target_language": "en"},
    )
    request = translation_requests_for(office.ctx, office.staff.translator)[0]
    translator = office("translator")
    page(translator, "/office")
    page(translator, f"/office/translations/{request.id}")
    post(author, f"/office/releases/{release_id}", f"/office/releases/{release_id}/submit", {})
    for persona in ("approver", "admin"):
        page(office(persona), "/office")
        page(office(persona), f"/office/releases/{release_id}")


def test_the_dashboard_shows_each_role_its_work(
    office: Office, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    mine = new_release(office, title_ko="작성 중인 보도자료")
    waiting = draft(ctx, staff, ko=("검토를 기다리는 보도자료", KO_BODY))
    svc.edit_version(
        ctx,
        staff.author,
        waiting,
        language="ko",
        title="검토를 기다리는 보도자료",
        body=KO_BODY + "\n2. 추가",
        base_revision=1,
    )
    scheduled = draft(ctx, staff, ko=("예약된 보도자료", KO_BODY))
    svc.schedule_release(
        ctx, staff.author, scheduled, publish_at=clock.now().replace(hour=3, minute=30)
    )
    published = draft(ctx, staff, ko=("공개된 보도자료", KO_BODY))
    svc.publish_release(ctx, staff.author, published)
    svc.request_translation(ctx, staff.author, mine, target_language="en")

    author = page(office("author"), "/office").text
    assert "작성 중인 보도자료" in author
    assert "Waiting for review" not in author  # not an approver
    approver = page(office("approver"), "/office").text
    assert "검토를 기다리는 보도자료" in approver and "My drafts" not in approver
    translator = page(office("translator"), "/office").text
    assert "My translation requests" in translator and "작성 중인 보도자료" in translator
    # Scheduled at 03:30 UTC = 12:30 in Seoul, 3 h 30 min from the frozen clock's 00:00 UTC.
    assert "14 May 2026, 12:30" in author and "in 3 h 30 min" in author
    assert f'href="/office/releases/{published}/distribution"' in author


def test_the_dashboard_shows_how_far_each_publications_emails_have_got(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    from tests.integration.test_distribution import handle_events, subscribe_many

    subscribe_many(ctx, 3, staff.health)
    published = draft(ctx, staff, ko=("배포 중인 보도자료", KO_BODY))
    svc.publish_release(ctx, staff.author, published)
    assert handle_events(ctx) == 3
    dashboard = page(office("author"), "/office?lang=en").text
    assert f'<progress id="delivery-{published}" max="3" value="0">' in dashboard
    assert "0 of 3 emails settled" in dashboard
    with ctx.engine.begin() as connection:
        connection.execute(
            update(DeliveryRow).where(DeliveryRow.id.in_(select(func.min(DeliveryRow.id)))),
            {"state": "sent"},
        )
    dashboard = page(office("author"), "/office?lang=ko").text
    assert "이메일 3건 중 1건 완료" in dashboard


def test_korean_and_english_interface(office: Office) -> None:
    author = office("author")
    english = page(author, "/office?lang=en").text
    assert '<html lang="en">' in english and "My drafts" in english and "New release" in english
    korean = page(author, "/office?lang=ko").text
    assert '<html lang="ko">' in korean and "내 초안" in korean and "새 보도자료" in korean
    release_id = new_release(office)
    korean = page(author, f"/office/releases/{release_id}").text
    assert "할 수 있는 일" in korean


def test_the_release_page_names_its_topics_in_the_pages_language(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    people.rename_topic(ctx, CONSOLE.id, staff.health, "Global Health", "글로벌 보건")
    release_id = new_release(office)
    author = office("author")
    assert "<dd>글로벌 보건</dd>" in page(author, f"/office/releases/{release_id}?lang=ko").text
    assert "<dd>Global Health</dd>" in page(author, f"/office/releases/{release_id}?lang=en").text


def test_a_draft_in_two_languages_side_by_side(office: Office, ctx: ServiceContext) -> None:
    release_id = new_release(office, title_en="Experts meet", body_en=EN_BODY)
    release = get_release(ctx, release_id)
    assert release.primary_language is Language.KO
    assert release.versions[Language.EN].body == EN_BODY
    assert release.topics == ["Global Health"] and release.contact["name"] == "Kim Min-ji"
    edit = page(office("author"), f"/office/releases/{release_id}/edit").text
    assert edit.index('id="body_ko"') < edit.index('id="body_en"')
    assert 'name="base_ko" value="1"' in edit and 'name="base_en" value="1"' in edit


def test_a_bad_draft_comes_back_with_what_was_typed(office: Office, ctx: ServiceContext) -> None:
    response = post(
        office("author"),
        "/office/releases/new",
        "/office/releases/new",
        {"primary": "ko", "title_ko": "", "body_ko": "본문만 있는 초안"},
        status=422,
    )
    assert "title: must not be empty" in response.text
    assert textareas(response.text)["body_ko"] == "본문만 있는 초안"
    assert list_releases(ctx).total == 0


def test_preview_without_javascript_saves_nothing(office: Office, ctx: ServiceContext) -> None:
    response = post(
        office("author"),
        "/office/releases/new",
        "/office/releases/new",
        {"title_ko": "미리보기", "body_ko": KO_BODY, "preview": "1"},
        status=200,
    )
    preview = response.text.split('data-preview="ko"')[1]
    assert '<h1 class="release-title">미리보기</h1>' in preview
    assert "<li>20여 명이 참석하였다.</li>" in preview
    assert list_releases(ctx).total == 0


def test_the_preview_endpoint_answers_the_public_partial(office: Office) -> None:
    author = office("author")
    # A fragment, not a page: the editor's script puts it in place.
    response = author.submit(
        "/office/releases/new",
        "/office/preview",
        {"lang": "en", "title": "T", "body": EN_BODY + "\n<script>x</script>"},
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<article class="release-text" lang="en">')
    assert "<li>Some twenty attended.</li>" in response.text
    assert "<script>" not in response.text
    refused = author.client.post("/office/preview", data={"lang": "en", "title": "T"})
    assert refused.status_code == 403


def test_self_approval_is_refused_with_its_reason_and_changes_nothing(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    both = office("officer_approver")
    release_id = new_release(office, "officer_approver")
    post(both, f"/office/releases/{release_id}", f"/office/releases/{release_id}/submit", {})
    shown = page(both, f"/office/releases/{release_id}").text
    assert f'action="/office/releases/{release_id}/approve"' not in shown
    assert "<strong>Approve</strong>: authors cannot approve their own release" in shown
    audit = len(audit_trail(ctx, release_id))
    refused = post(
        both,
        f"/office/releases/{release_id}",
        f"/office/releases/{release_id}/approve",
        {},
        status=403,
    )
    assert "authors cannot approve their own release" in refused.text
    assert 'role="alert"' in refused.text
    assert office.state(release_id) == "in_review"
    assert len(audit_trail(ctx, release_id)) == audit


def test_an_editor_is_told_why_they_cannot_approve_in_korean(
    office: Office, ctx: ServiceContext
) -> None:
    release_id = new_release(office)
    post(
        office("author"),
        f"/office/releases/{release_id}",
        f"/office/releases/{release_id}/submit",
        {},
    )
    editor = office("officer_approver", lang="ko")
    post(
        editor,
        f"/office/releases/{release_id}/edit",
        f"/office/releases/{release_id}/edit",
        {"title_ko": "고친 제목", "body_ko": KO_BODY, "base_ko": 1},
    )
    shown = page(editor, f"/office/releases/{release_id}").text
    assert "이 글을 편집하셨으므로 다른 사람이 승인해야 합니다" in shown


def test_the_wrong_role_gets_a_page_saying_so(office: Office, ctx: ServiceContext) -> None:
    release_id = new_release(office)
    post(
        office("author"),
        f"/office/releases/{release_id}",
        f"/office/releases/{release_id}/submit",
        {},
    )
    translator = office("translator")
    refused = post(
        translator,
        f"/office/releases/{release_id}",
        f"/office/releases/{release_id}/approve",
        {},
        status=403,
    )
    assert "only approvers can approve" in refused.text
    assert office.state(release_id) == "in_review"
    # A refusal by state (409) is a page too, with the text of the form kept.
    approver = office("approver")
    post(
        approver,
        f"/office/releases/{release_id}",
        f"/office/releases/{release_id}/reject",
        {"comment": "아니요"},
    )
    refused = post(
        approver,
        f"/office/releases/{release_id}",
        f"/office/releases/{release_id}/request_changes",
        {"comment": "더 자세히"},
        status=409,
    )
    assert "cannot request_changes a release that is rejected" in refused.text
    assert office.state(release_id) == "rejected"


def test_a_form_without_its_token_is_refused(office: Office, ctx: ServiceContext) -> None:
    release_id = new_release(office)
    author = office("author")
    for url, data in [
        (f"/office/releases/{release_id}/submit", {}),
        (f"/office/releases/{release_id}/comments", {"body": "hello"}),
        (
            f"/office/releases/{release_id}/edit",
            {"title_ko": "바뀐 제목", "body_ko": "x", "base_ko": 1},
        ),
        ("/office/releases/new", {"title_ko": "새 초안", "body_ko": "x"}),
    ]:
        response = author.client.post(url, data=data, follow_redirects=False)
        assert response.status_code == 403, url
        assert "did not come from this site" in response.text
    assert office.state(release_id) == "draft"
    assert get_release(ctx, release_id).versions[Language.KO].revision == 1
    assert comments(ctx, release_id) == []
    assert list_releases(ctx).total == 1


def test_a_stale_edit_shows_both_texts_and_keeps_mine(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_release(office)
    author = office("author")
    edit_url = f"/office/releases/{release_id}/edit"
    form = page(author, edit_url).text
    assert 'name="base_ko" value="1"' in form
    # Someone else saves while the author is still typing.
    svc.edit_version(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="동료가 고친 제목",
        body=KO_BODY + "\n2. 동료의 문단\n",
        base_revision=1,
    )
    mine = KO_BODY + "\n2. 내 문단\n"
    response = author.client.post(
        edit_url,
        data={
            "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', form).group(1),  # type: ignore[union-attr]
            "title_ko": "내가 고친 제목",
            "body_ko": mine,
            "base_ko": "1",
        },
    )
    assert response.status_code == 409
    text = response.text
    assert "Yoon Ji-woo saved the Korean text while you were editing it" in text
    assert "동료의 문단" in text.split('class="their-text"')[1].split("</pre>")[0]
    assert textareas(text)["body_ko"] == mine  # nothing lost
    assert 'name="base_ko" value="2"' in text  # based on their revision now
    assert '<span class="added">+2. 내 문단</span>' in text
    assert '<span class="removed">-2. 동료의 문단</span>' in text
    current = get_release(ctx, release_id).versions[Language.KO]
    assert (current.revision, current.title) == (2, "동료가 고친 제목")  # never overwritten
    # Saving the merged text now is a deliberate choice, and goes through.
    merged = KO_BODY + "\n2. 동료의 문단\n\n3. 내 문단\n"
    post(author, edit_url, edit_url, {"title_ko": "합친 제목", "body_ko": merged, "base_ko": 2})
    current = get_release(ctx, release_id).versions[Language.KO]
    assert (current.revision, current.body) == (3, merged)


def test_an_untouched_language_is_not_a_conflict(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_release(office, title_en="Experts meet", body_en=EN_BODY)
    author = office("author")
    edit_url = f"/office/releases/{release_id}/edit"
    svc.edit_version(
        ctx,
        staff.officer,
        release_id,
        language="en",
        title="Experts met",
        body=EN_BODY,
        base_revision=1,
    )
    post(
        author,
        edit_url,
        edit_url,
        {
            "title_ko": "고친 제목",
            "body_ko": KO_BODY,
            "base_ko": 1,
            "title_en": "Experts meet",
            "body_en": EN_BODY,
            "base_en": 1,
        },
    )
    release = get_release(ctx, release_id)
    assert release.versions[Language.KO].title == "고친 제목"
    assert release.versions[Language.EN].title == "Experts met"  # the officer's, kept


def test_review_translation_and_publication_through_the_pages(
    office: Office, ctx: ServiceContext, staff: Staff, clock: FrozenClock
) -> None:
    author, approver, translator = office("author"), office("approver"), office("translator")
    release_id = new_release(office)
    url = f"/office/releases/{release_id}"
    post(
        author,
        url,
        f"{url}/request_translation",
        {"target_language": "en", "due_at": "2026-05-15T18:00"},
    )
    request = translation_requests_for(ctx, staff.translator)[0]
    assert request.due_at == datetime(2026, 5, 15, 9, 0, tzinfo=UTC)  # 18:00 in Seoul
    translation_url = f"/office/translations/{request.id}"
    # The translator's "Edit" on the release page leads to their request's page.
    assert f'href="{translation_url}"' in page(translator, url).text
    source = page(translator, translation_url).text
    assert "외교부는 전문가 회의를 개최하였다." in source
    post(
        translator,
        translation_url,
        translation_url,
        {"title_en": "Experts meet", "body_en": EN_BODY, "base_en": 0},
    )
    assert get_release(ctx, release_id).versions[Language.EN].body == EN_BODY
    assert "This translation was handed in." in page(translator, translation_url).text

    post(author, url, f"{url}/submit", {})
    clock.advance(minutes=5)
    post(approver, url, f"{url}/request_changes", {"comment": "날짜를 밝혀 주십시오."})
    clock.advance(minutes=5)
    edit_url = f"{url}/edit"
    post(
        author,
        edit_url,
        edit_url,
        {
            "title_ko": "국제보건 전문가 회의 개최",
            "body_ko": KO_BODY.replace("전문가 회의를", "5월 14일 전문가 회의를"),
            "base_ko": 1,
            "title_en": "Experts meet",
            "body_en": EN_BODY,
            "base_en": 1,
        },
    )
    post(author, url, f"{url}/submit", {})
    shown = page(approver, url).text
    assert "Last reviewed by Lee Jun-ho" in shown
    assert '<span class="added">+1. 외교부는 5월 14일 전문가 회의를 개최하였다.</span>' in shown
    assert "날짜를 밝혀 주십시오." in page(approver, f"{url}/history").text

    post(approver, url, f"{url}/comments", {"body": "좋습니다."})
    assert [(c.kind, c.body) for c in comments(ctx, release_id)] == [
        ("request_changes", "날짜를 밝혀 주십시오."),
        ("comment", "좋습니다."),
    ]
    post(approver, url, f"{url}/approve", {})
    # Scheduled in office time (Seoul), stored in UTC, then brought forward by publishing now.
    post(author, url, f"{url}/schedule", {"publish_at": "2026-05-14T15:00", "embargo_until": ""})
    assert get_release(ctx, release_id).publish_at == datetime(2026, 5, 14, 6, 0, tzinfo=UTC)
    post(author, url, f"{url}/unschedule", {})
    post(author, url, f"{url}/publish", {})
    release = get_release(ctx, release_id)
    assert release.state.value == "published" and release.number
    public = page(author, f"/releases/{release.number}?lang=en").text
    assert "Some twenty attended." in public


def test_a_correction_needs_its_public_note(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff, ko=("공개된 보도자료", KO_BODY))
    svc.publish_release(ctx, staff.author, release_id)
    author = office("author")
    edit_url = f"/office/releases/{release_id}/edit"
    assert "Correction note, shown to the public" in page(author, edit_url).text
    refused = post(
        author,
        edit_url,
        edit_url,
        {"title_ko": "정정된 제목", "body_ko": KO_BODY, "base_ko": 1},
        status=422,
    )
    assert "note: a correction of the Korean text needs a public note" in refused.text
    assert textareas(refused.text)["body_ko"] == KO_BODY
    post(
        author,
        edit_url,
        edit_url,
        {
            "title_ko": "정정된 제목",
            "body_ko": KO_BODY,
            "base_ko": 1,
            "note_ko": "제목을 바로잡았습니다.",
        },
    )
    assert office.state(release_id) == "correction_in_review"
    shown = page(office("approver"), f"/office/releases/{release_id}").text
    assert "Proposed correction note, public once approved" in shown
    assert "제목을 바로잡았습니다." in shown


def test_each_corrected_language_has_its_own_note(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = draft(ctx, staff, ko=("공개된 보도자료", KO_BODY), en=("Published", EN_BODY))
    svc.publish_release(ctx, staff.author, release_id)
    author = office("author", lang="ko")
    edit_url = f"/office/releases/{release_id}/edit"
    form = page(author, edit_url).text
    assert 'name="note_ko"' in form and 'name="note_en"' in form
    both = {
        "title_ko": "정정된 제목",
        "body_ko": KO_BODY,
        "base_ko": 1,
        "title_en": "Corrected Title",
        "body_en": EN_BODY,
        "base_en": 1,
        "note_ko": "제목을 바로잡았습니다.",
    }
    refused = post(author, edit_url, edit_url, both, status=422)
    assert "공개 안내: 영어 본문을 정정하려면 공개할 정정 안내를 적어 주십시오" in refused.text
    assert office.state(release_id) == "published"
    post(author, edit_url, edit_url, {**both, "note_en": "The title was corrected."})
    assert office.state(release_id) == "correction_in_review"

    approver = office("approver")
    url = f"/office/releases/{release_id}"
    shown = page(approver, url).text
    assert "Proposed correction note, public once approved (Korean)" in shown
    assert "Proposed correction note, public once approved (English)" in shown
    assert "제목을 바로잡았습니다." in shown and "The title was corrected." in shown
    post(approver, url, f"{url}/approve", {})
    shown = page(approver, url).text
    assert "Proposed correction note" not in shown
    assert re.search(r"Corrected [^<]*\(revision 2\): 제목을 바로잡았습니다\.", shown)
    assert re.search(r"Corrected [^<]*\(revision 2\): The title was corrected\.", shown)


def test_the_history_shows_each_revision_against_the_one_before(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_release(office)
    svc.edit_version(
        ctx,
        staff.officer,
        release_id,
        language="ko",
        title="두 번째 제목",
        body=KO_BODY,
        base_revision=1,
    )
    history = page(office("author"), f"/office/releases/{release_id}/history").text
    assert "revision 2 by Yoon Ji-woo" in history and "revision 1 by Kim Min-ji" in history
    assert '<span class="removed">-# 국제보건 전문가 회의 개최</span>' in history
    assert '<span class="added">+# 두 번째 제목</span>' in history
    assert "<code>create</code>" in history and "<code>edit</code> (ko)" in history


def test_someone_elses_translation_request_is_not_found(
    office: Office, ctx: ServiceContext, staff: Staff
) -> None:
    release_id = new_release(office)
    request_id = svc.request_translation(ctx, staff.author, release_id, target_language="en")
    page(office("officer"), f"/office/translations/{request_id}", status=404)
    page(office("author"), "/office/releases/999999", status=404)
