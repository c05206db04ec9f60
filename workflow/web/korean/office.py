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
    "only approvers can unpublish": "승인권자만 잘못 게시된 보도자료를 내릴 수 있습니다",
    "only approvers can supersede": "승인권자만 다른 보도자료로 대체할 수 있습니다",
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
    # Refusals of a request, shown on the release page.
    "that language's text is already live: change it through a correction, not a translation": (
        "그 언어의 본문은 이미 공개되어 있습니다. 번역 대신 정정으로 고치십시오"
    ),
    # Release states
    "Draft": "초안",
    "In review": "검토 중",
    "Changes requested": "수정 요청됨",
    "Approved": "승인됨",
    "Scheduled": "예약됨",
    "Published": "공개됨",
    "Correction in review": "정정 검토 중",
    "Correction: changes requested": "정정: 수정 요청됨",
    "Rejected": "반려됨",
    "Withdrawn": "철회됨",
    "Abandoned": "폐기됨",
    # Actions
    "Edit": "편집",
    "Change topics and contact": "주제와 문의처 변경",
    "Submit for review": "검토 요청",
    "Request changes": "수정 요청",
    "Approve": "승인",
    "Reject": "반려",
    "Reopen as a draft": "초안으로 다시 열기",
    "Schedule": "공개 예약",
    "Cancel the schedule": "예약 취소",
    "Publish now": "지금 공개",
    "Correct": "정정",
    "Withdraw": "철회",
    "Abandon": "폐기",
    "Request a translation": "번역 요청",
    # Dashboard
    "New release": "새 보도자료",
    "My drafts": "내 초안",
    "No drafts.": "초안이 없습니다.",
    "Waiting for review": "검토 대기",
    "Nothing is waiting for review.": "검토를 기다리는 보도자료가 없습니다.",
    "My translation requests": "내 번역 요청",
    "No translation requests.": "번역 요청이 없습니다.",
    "due %(when)s": "기한 %(when)s",
    "in %(left)s": "%(left)s 남음",
    "Nothing is scheduled.": "예약된 보도자료가 없습니다.",
    "Recently published": "최근 공개",
    "Nothing published yet.": "아직 공개된 보도자료가 없습니다.",
    "Distribution": "배포 현황",
    "%(days)s d %(hours)s h": "%(days)s일 %(hours)s시간",
    "%(hours)s h %(minutes)s min": "%(hours)s시간 %(minutes)s분",
    "%(minutes)s min": "%(minutes)s분",
    "due now": "공개 시각 도래",
    # The release page
    "History": "이력",
    "Public page": "공개 페이지",
    "Publication": "공개 예정",
    "Embargo until": "엠바고 해제",
    "Approvals": "승인 수",
    "Proposed correction note, public once approved": "제안된 정정 안내 (승인되면 공개)",
    "Corrected %(when)s (revision %(number)s): %(note)s": (
        "%(when)s 정정 (판 %(number)s): %(note)s"
    ),
    "Times are in %(zone)s.": "시각은 %(zone)s 기준입니다.",
    "What you can do": "할 수 있는 일",
    "Nothing, for now.": "지금은 없습니다.",
    "Reason (shown to the public)": "사유 (공개됨)",
    "Comment for the author": "작성자에게 남길 의견",
    "Publish at": "공개 일시",
    "Embargo until (optional)": "엠바고 해제 일시 (선택)",
    "Into": "번역할 언어",
    "Due (optional)": "기한 (선택)",
    "Not available to you, and why": "할 수 없는 일과 그 이유",
    "Language versions": "언어별 본문",
    "revision %(number)s by %(name)s, %(when)s": "%(name)s, %(when)s, 판 %(number)s",
    "live: revision %(number)s": "공개된 판: %(number)s",
    "Changes since the last review": "마지막 검토 이후 변경 사항",
    "Nobody has reviewed this release yet.": "아직 아무도 검토하지 않았습니다.",
    "Last reviewed by %(name)s, %(when)s.": "마지막 검토: %(name)s, %(when)s.",
    "revision %(old)s → %(new)s": "판 %(old)s → %(new)s",
    "The text has not changed since.": "그 뒤로 본문이 바뀌지 않았습니다.",
    "No differences.": "차이가 없습니다.",
    "Comments": "의견",
    "No comments yet.": "아직 의견이 없습니다.",
    "Your comment": "의견",
    "Add comment": "의견 남기기",
    "Comment added.": "의견을 남겼습니다.",
    "Done.": "처리되었습니다.",
    # The editor
    "Edit release": "보도자료 편집",
    "Correct a published release": "공개된 보도자료 정정",
    "Back to the release": "보도자료로 돌아가기",
    "Original language": "원문 언어",
    "Correction note, shown to the public": "정정 안내 (공개됨)",
    "A changed live text needs its own note; each language's page shows only its own.": (
        "공개된 본문을 고치면 그 언어의 정정 안내가 따로 필요합니다. "
        "각 언어 페이지에는 그 언어의 안내만 표시됩니다."
    ),
    "note: a correction of the Korean text needs a public note": (
        "한국어 본문을 정정하려면 공개할 정정 안내를 적어 주십시오"
    ),
    "note: a correction of the English text needs a public note": (
        "영어 본문을 정정하려면 공개할 정정 안내를 적어 주십시오"
    ),
    "Number the paragraphs “1.”, “2.”; put each sub-point on its own line under its "
    "paragraph, indented by three spaces and starting with “-”.": (
        "문단에는 “1.”, “2.”처럼 번호를 붙이고, 세부 항목은 해당 문단 아래 "
        "한 줄에 하나씩 세 칸 들여 쓴 뒤 “-”로 시작하십시오."
    ),
    "Title": "제목",
    "Subtitle (optional)": "부제 (선택)",
    "Text": "본문",
    "Preview": "미리보기",
    "Topics and contact": "주제와 문의처",
    "Contact name": "담당자",
    "Contact phone": "전화번호",
    "Contact email": "이메일",
    "Save": "저장",
    "Save my merged text": "합친 본문 저장",
    "Saved.": "저장되었습니다.",
    "Nothing to save: the text is unchanged.": "바뀐 내용이 없어 저장하지 않았습니다.",
    "%(name)s saved the %(language)s text while you were editing it": (
        "편집하시는 동안 %(name)s 님이 %(language)s 본문을 저장했습니다"
    ),
    "Nothing of yours was saved, and nothing is lost: your text is still in the form "
    "below. Compare it with theirs, merge what you want to keep, then save again.": (
        "작성하신 내용은 저장되지 않았지만 사라지지도 않았습니다. 아래 양식에 그대로 "
        "있습니다. 상대의 본문과 비교해 남길 내용을 합친 뒤 다시 저장하십시오."
    ),
    "Their text (revision %(number)s, %(when)s)": "상대의 본문 (판 %(number)s, %(when)s)",
    "From their text to yours": "상대의 본문과 내 본문의 차이",
    "your text": "내 본문",
    # Translation
    "Translation": "번역",
    "Translate into %(language)s": "%(language)s 번역",
    "Requested by %(name)s, due %(when)s.": "요청: %(name)s, 기한: %(when)s.",
    "This translation was handed in.": "이 번역은 제출되었습니다.",
    "Original (%(language)s)": "원문 (%(language)s)",
    "The original as typed": "원문 입력 내용",
    "Hand in the translation": "번역 제출",
    "Translation submitted.": "번역을 제출했습니다.",
    # History
    "Audit trail": "처리 기록",
    "When": "일시",
    "Who": "처리자",
    "What": "처리",
    "Comment": "의견",
    "Revisions: %(language)s": "판 기록: %(language)s",
    "%(settled)s of %(total)s emails settled": "이메일 %(total)s건 중 %(settled)s건 완료",
    # Photos and documents (templates/web/office/attachments.html)
    "Photos and documents": "사진 및 첨부 문서",
    "Preparing the photo…": "사진을 준비하고 있습니다…",
    "Lead photo": "대표 사진",
    "Alt text": "대체 텍스트",
    "Caption": "설명",
    "Credit": "출처",
    "Lead with this photo": "대표 사진으로 지정",
    "Move up": "위로 이동",
    "Remove": "삭제",
    "Public note": "공개 정정 안내",
    "No photos or documents yet.": "아직 사진이나 첨부 문서가 없습니다.",
    "Photo (JPEG, PNG, WebP) or document (PDF, HWP, HWPX, Word, Excel, PowerPoint)": (
        "사진(JPEG, PNG, WebP) 또는 문서(PDF, HWP, HWPX, Word, Excel, PowerPoint)"
    ),
    "Alt text (required for a photo in the original language)": (
        "대체 텍스트 (원문 언어의 사진에는 필수)"
    ),
    "Public note on this change": "이 변경에 대한 공개 안내",
    "Attach": "첨부",
    "The file is attached.": "파일을 첨부했습니다.",
    "The file is removed.": "파일을 삭제했습니다.",
    "The lead photo is chosen.": "대표 사진을 지정했습니다.",
    "The order is changed.": "순서를 바꾸었습니다.",
    "The lead photo was changed.": "대표 사진이 바뀌었습니다.",
    "The order of the attachments was changed.": "첨부 파일의 순서가 바뀌었습니다.",
    "file: choose a file": "파일: 파일을 선택하십시오",
    "alt: a photo needs alt text, for readers who cannot see it": (
        "대체 텍스트: 사진을 볼 수 없는 독자를 위해 대체 텍스트가 필요합니다"
    ),
    "file: a release carries photos (JPEG, PNG, WebP) and documents (PDF, HWP, HWPX, Word, "
    "Excel, PowerPoint) only": (
        "파일: 보도자료에는 사진(JPEG, PNG, WebP)과 문서(PDF, HWP, HWPX, Word, Excel, "
        "PowerPoint)만 첨부할 수 있습니다"
    ),
    "file: the file is damaged, or is not what its type says": (
        "파일: 파일이 손상되었거나 형식과 내용이 다릅니다"
    ),
    "file: the file is empty": "파일: 빈 파일입니다",
    "file: the image is damaged or incomplete": "파일: 이미지가 손상되었거나 불완전합니다",
    "file: the image has too many pixels": "파일: 이미지의 화소 수가 너무 많습니다",
    "filename: the file name must be a plain name of at most 255 bytes, without folders, "
    "control or direction characters": (
        "파일 이름: 폴더, 제어 문자, 방향 문자 없이 255바이트 이내의 이름이어야 합니다"
    ),
    "only press officers change a release's photos and documents": (
        "보도 담당관만 보도자료의 사진과 문서를 바꿀 수 있습니다"
    ),
    # Ending a release's public life (templates/web/office/release.html)
    "Take down: published in error": "내리기: 잘못 게시됨",
    "Replace with another release": "다른 보도자료로 대체",
    "Why it was published in error (for the audit trail)": "잘못 게시된 이유 (감사 기록용)",
    "Number of the published release that replaces it": "대체할 게시된 보도자료의 번호",
    "superseded_by: the release that replaces it must be published": (
        "대체 보도자료: 대체할 보도자료는 게시된 상태여야 합니다"
    ),
    "superseded_by: a release cannot replace itself": (
        "대체 보도자료: 보도자료는 자기 자신을 대체할 수 없습니다"
    ),
    "Superseded": "대체됨",
    "Change under review": "검토 중인 변경",
    "Minor: no public note, no email": "경미한 변경: 공개 안내 없음, 메일 없음",
    "Major: a public note, mailed to everyone who received it": (
        "중대한 변경: 공개 정정 안내, 받은 모든 분께 메일 발송"
    ),
    # The editor's house format (templates/web/office/editor.html)
    "Read the header": "머리 정보 불러오기",
    "Filled in from the header; check them before saving:": (
        "머리 정보에서 채운 항목입니다. 저장하기 전에 확인하십시오:"
    ),
    "Embargo in the header, for when you schedule the release:": (
        "머리 정보의 엠바고 시각(예약할 때 쓰십시오):"
    ),
    "Department in the header:": "머리 정보의 담당부서:",
    "The text does not start with a header block (보도자료, 보도일시, 담당자, 제목…).": (
        "본문이 머리 정보(보도자료, 보도일시, 담당자, 제목…)로 시작하지 않습니다."
    ),
    "A text pasted from the ministry's word processor keeps its numbered paragraphs, its "
    "points (“o”, “ㅇ”, “-”, “가.” …) and its “※” notes; “Read the header” fills the fields "
    "from the header block it starts with.": (
        "워드프로세서에서 붙여 넣은 본문은 번호 문단, 세부 항목(“o”, “ㅇ”, “-”, “가.” …)과 "
        "“※” 참고 문구를 그대로 유지합니다. “머리 정보 불러오기”를 누르면 본문 앞의 머리 "
        "정보로 각 항목을 채웁니다."
    ),
    "Kind of change": "변경 종류",
    "Major: a correction of substance, with a public note, mailed to everyone who received it": (
        "중대한 변경: 내용 정정, 공개 안내와 함께 받은 모든 분께 메일 발송"
    ),
    "Minor: a typo, a link or formatting; no note, no email": (
        "경미한 변경: 오탈자, 링크, 서식 수정, 안내와 메일 없음"
    ),
    "note: a minor change has no public note; make it a major change to tell readers": (
        "공개 안내: 경미한 변경에는 공개 안내를 붙이지 않습니다. "
        "독자에게 알리려면 중대한 변경으로 하십시오"
    ),
}
