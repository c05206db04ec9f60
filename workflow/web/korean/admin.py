"""Korean for the administration pages (users, topics, subscribers) and a release's
distribution page."""

from typing import Final

KOREAN: Final[dict[str, str]] = {
    # Administration: the frame and users
    "Users": "사용자",
    "Topics": "주제",
    "Subscribers": "구독자",
    "Active": "활성",
    "Deactivated": "비활성",
    "No password yet": "비밀번호 미설정",
    "Roles": "역할",
    "Roles of %(name)s": "%(name)s 님의 역할",
    "Admin": "관리자",
    "Approver": "승인자",
    "Press officer": "보도 담당관",
    "Translator": "번역자",
    "Save roles": "역할 저장",
    "Deactivate": "비활성화",
    "Deactivate %(name)s": "%(name)s 님 계정 비활성화",
    "Add a user": "사용자 추가",
    "Name": "이름",
    "Password (optional, at least 10 characters)": "비밀번호 (선택, 10자 이상)",
    "Add the user": "사용자 추가하기",
    "%(email)s was added.": "%(email)s 사용자를 추가했습니다.",
    "The roles were saved.": "역할을 저장했습니다.",
    "The account was deactivated.": "계정을 비활성화했습니다.",
    # Topics
    "No topics yet.": "아직 주제가 없습니다.",
    "Add a topic": "주제 추가",
    "Add the topic": "주제 추가하기",
    "The topic %(name)s was added.": "주제 %(name)s을(를) 추가했습니다.",
    # Subscribers
    "Pending": "확인 대기",
    "Unsubscribed": "구독 해지",
    "Suspended": "발송 중지",
    "Bounced": "반송",
    "Address contains": "주소 검색",
    "State": "상태",
    "Any state": "모든 상태",
    "%(count)s subscribers": "구독자 %(count)s명",
    "Embargo-trusted": "엠바고 사전 배포",
    "Yes": "예",
    "No": "아니요",
    "Hard bounces": "영구 반송 횟수",
    "Suspend": "발송 중지",
    "Suspend %(email)s": "%(email)s 발송 중지",
    "Unsuspend": "발송 재개",
    "Unsuspend %(email)s": "%(email)s 발송 재개",
    "Trust with embargoes": "엠바고 사전 배포 허용",
    "Trust %(email)s with embargoed releases": "%(email)s에 엠바고 보도자료 사전 배포 허용",
    "Untrust": "사전 배포 해제",
    "Stop trusting %(email)s with embargoed releases": (
        "%(email)s에 엠바고 보도자료 사전 배포 해제"
    ),
    "No subscriber matches.": "조건에 맞는 구독자가 없습니다.",
    "Page %(page)s of %(pages)s": "%(pages)s쪽 중 %(page)s쪽",
    "The subscriber was suspended.": "구독자에게 발송을 중지했습니다.",
    "The subscriber is mailed again.": "구독자에게 다시 발송합니다.",
    "Embargo trust was changed.": "엠바고 사전 배포 설정을 변경했습니다.",
    # Import and export
    "Import": "가져오기",
    "Import a list": "명단 가져오기",
    "A UTF-8 CSV file with the columns email, name, language, topics (names separated by "
    "“;”) and optionally embargo_trusted and state, up to %(size)s. New addresses are "
    "active at once, without a confirmation email; addresses already on the list are left "
    "as they are.": (
        "email, name, language, topics(주제 이름을 “;”로 구분) 열과 선택 열 embargo_trusted, "
        "state가 있는 UTF-8 CSV 파일(최대 %(size)s). 새 주소는 확인 메일 없이 바로 활성화되며, "
        "이미 명단에 있는 주소는 그대로 둡니다."
    ),
    "CSV file": "CSV 파일",
    "Skip invalid rows and import the others": "잘못된 행은 건너뛰고 나머지를 가져오기",
    "%(added)s added, %(kept)s already on the list and left as they were, %(rejected)s rejected.": (
        "%(added)s건 추가, %(kept)s건은 이미 명단에 있어 그대로 둠, %(rejected)s건 거부."
    ),
    "%(rejected)s of %(lines)s rows are invalid; nothing was imported. Mend them, or tick "
    "“skip invalid rows” to import the others.": (
        "%(lines)s행 중 %(rejected)s행이 잘못되어 아무것도 가져오지 않았습니다. 해당 행을 "
        "고치거나 “잘못된 행은 건너뛰기”를 선택하여 나머지를 가져오십시오."
    ),
    "Rejected rows": "거부된 행",
    "Left as they were": "그대로 둔 주소",
    "Line": "행",
    "Reason": "사유",
    "Export the list": "명단 내보내기",
    "Every subscriber with their state, in the import format.": (
        "모든 구독자를 상태와 함께 가져오기 형식으로 내보냅니다."
    ),
    "Download CSV": "CSV 내려받기",
    # Distribution
    "Distribution": "배포 현황",
    "No emails to journalists are planned for this release yet.": (
        "이 보도자료의 기자 대상 이메일은 아직 예정된 것이 없습니다."
    ),
    "Progress": "진행 상황",
    "%(settled)s of %(total)s emails settled (%(percent)s %%).": (
        "이메일 %(total)s건 중 %(settled)s건 완료 (%(percent)s%%)."
    ),
    "%(reached)s of %(total)s journalists reached: sent at least one email.": (
        "기자 %(total)s명 중 %(reached)s명에게 이메일이 한 건 이상 발송되었습니다."
    ),
    "By kind of email": "이메일 종류별",
    "Still going out: this page reloads every %(seconds)s seconds.": (
        "발송 중입니다. 이 페이지는 %(seconds)s초마다 새로 고쳐집니다."
    ),
    "Sent": "발송 완료",
    "Sending": "발송 중",
    "Deferred": "재시도 대기",
    "Failed": "실패",
    "Possible duplicates": "중복 가능",
    "Deliveries over time": "시간대별 발송",
    "%(sent)s sent and %(failed)s failed or bounced, from %(first)s to %(last)s, in "
    "%(count)s intervals.": (
        "%(first)s부터 %(last)s까지 %(count)s개 구간에 발송 완료 %(sent)s건, "
        "실패 또는 반송 %(failed)s건."
    ),
    "%(sent)s sent, %(failed)s failed or bounced": (
        "발송 완료 %(sent)s건, 실패 또는 반송 %(failed)s건"
    ),
    "Failed or bounced": "실패 또는 반송",
    "Times in %(zone)s": "시각 기준: %(zone)s",
    "The same as a table": "표로 보기",
    "Deliveries settled per interval": "구간별 발송 결과",
    "Interval": "구간",
    "No delivery has settled yet.": "아직 완료된 발송이 없습니다.",
    "Failures": "실패",
    "Kind": "종류",
    "Release": "보도자료",
    "Embargoed copy": "엠바고 사전 배포",
    "Embargo notice": "엠바고 변경 안내",
    "Updated embargoed copy": "엠바고 사전 배포 수정본",
    "Embargo suspended": "엠바고 무기한 연장 안내",
    "Embargo lifted": "엠바고 해제",
    "Withdrawal": "철회 안내",
    "Published in error": "잘못 게시됨",
    "Reply of the mail server": "메일 서버 응답",
    "and %(count)s more": "외 %(count)s건",
    "None.": "없음.",
}
