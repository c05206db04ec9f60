"""Korean for preview links: the page a link opens, its refusals, and the office's list."""

from typing import Final

from workflow.services import preview_links as previews

KOREAN: Final[dict[str, str]] = {
    # The page a link opens, and what it answers once it no longer does
    "Draft preview": "초안 미리보기",
    "This text is still being written and may change before it is published. This link "
    "opens until %(when)s.": (
        "아직 작성 중인 글이므로 공개 전에 바뀔 수 있습니다. 이 링크는 %(when)s까지 열립니다."
    ),
    "This preview has ended": "미리보기가 종료되었습니다",
    "This link no longer opens: it has expired or been revoked, or the press release has "
    "been published or withdrawn. Ask the press office for a new link if you still need "
    "one.": (
        "이 링크는 더 이상 열리지 않습니다. 기한이 지났거나 취소되었거나, 보도자료가 "
        "공개 또는 철회되었습니다. 계속 필요하시면 공보 담당 부서에 새 링크를 요청해 주십시오."
    ),
    "There is no preview at this address. Check that you copied the whole link.": (
        "이 주소에는 미리보기가 없습니다. 링크 전체를 복사했는지 확인해 주십시오."
    ),
    # The release page's list of links and its forms
    "Preview links": "미리보기 링크",
    "A preview link shows the current text, read-only and marked as a draft, to anyone "
    "who has it, without signing in. It stops opening when it expires or is revoked, and "
    "when the release is published or withdrawn.": (
        "미리보기 링크를 받은 사람은 로그인하지 않고도 현재 글을 초안 표시와 함께 읽기 "
        "전용으로 볼 수 있습니다. 기한이 지나거나 취소되면, 그리고 보도자료가 공개되거나 "
        "철회되면 더 이상 열리지 않습니다."
    ),
    "Link": "링크",
    "Made by": "만든 사람",
    "Expires": "만료",
    "Last opened": "마지막 열람",
    "Times opened": "열람 횟수",
    "Revoke": "취소",
    "Opens": "열람 가능",
    "Expired": "기한 만료",
    "Revoked": "취소됨",
    "Ended with the release": "보도자료 상태 변경으로 종료",
    "Preview link made by %(name)s": "%(name)s 님이 만든 미리보기 링크",
    "Not yet": "아직 없음",
    "Opens for how many days (at most %(days)s)": "열람 가능 기간(일, 최대 %(days)s일)",
    "Make a preview link": "미리보기 링크 만들기",
    "Only a release not yet public can be previewed.": (
        "공개 전 보도자료만 미리보기 링크를 만들 수 있습니다."
    ),
    "The preview link is made: copy it from the list of preview links.": (
        "미리보기 링크를 만들었습니다. 미리보기 링크 목록에서 복사하십시오."
    ),
    "The preview link is revoked: it no longer opens.": (
        "미리보기 링크를 취소했습니다. 더 이상 열리지 않습니다."
    ),
    # The refusals, as the service words them
    previews.SHARERS_ONLY: "공보 담당자와 승인권자만 미리보기를 공유할 수 있습니다",
    previews.NOT_PREVIEWABLE: (
        "공개 전 보도자료(초안, 검토 중, 수정 요청, 승인, 예약)만 미리보기 링크를 만들 수 있습니다"
    ),
    f"expires_in_days: {previews.DAYS_RULE}": (
        f"열람 가능 기간: 1일에서 {previews.MAX_DAYS}일 사이의 일수여야 합니다"
    ),
}
