"""Korean for the press office: dashboard, editor, review, history, distribution, admin."""

from typing import Final

KOREAN: Final[dict[str, str]] = {
    # Why a button is missing (``Release.choices``); a unit test checks every one.
    "authors cannot approve their own release": "작성자는 자신의 보도자료를 승인할 수 없습니다",
    "you edited this text, so someone else must approve it": (
        "이 글을 편집하셨으므로 다른 사람이 승인해야 합니다"
    ),
    "you have already approved this text": "이미 이 글을 승인하셨습니다",
    "only approvers can approve": "승인권자만 승인할 수 있습니다",
    "only approvers can reject": "승인권자만 반려할 수 있습니다",
    "only approvers can request changes": "승인권자만 수정을 요청할 수 있습니다",
    "only approvers can withdraw": "승인권자만 철회할 수 있습니다",
    "only press officers can abandon": "공보 담당자만 폐기할 수 있습니다",
    "only press officers can correct": "공보 담당자만 정정할 수 있습니다",
    "only press officers can publish": "공보 담당자만 공개할 수 있습니다",
    "only press officers can reopen": "공보 담당자만 다시 열 수 있습니다",
    "only press officers can schedule": "공보 담당자만 예약할 수 있습니다",
    "only press officers can submit": "공보 담당자만 검토 요청할 수 있습니다",
    "only press officers can unschedule": "공보 담당자만 예약을 취소할 수 있습니다",
    "only press officers can update details": "공보 담당자만 세부 정보를 바꿀 수 있습니다",
    "only press officers or translators can edit": "공보 담당자나 번역자만 편집할 수 있습니다",
    "only press officers request translations": "공보 담당자만 번역을 요청할 수 있습니다",
    "only the author can abandon a release": "작성자만 보도자료를 폐기할 수 있습니다",
    "the release is closed": "종결된 보도자료입니다",
    "the scheduler publishes it at the scheduled time": "예약된 시각에 자동으로 공개됩니다",
    "translators edit only the language version assigned to them": (
        "번역자는 배정받은 언어만 편집할 수 있습니다"
    ),
}
