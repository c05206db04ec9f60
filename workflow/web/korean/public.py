"""Korean for the public newsroom: archive, release pages, feeds, subscriptions."""

from typing import Final

KOREAN: Final[dict[str, str]] = {
    # The list of releases
    "Search: %(words)s": "검색: %(words)s",
    "Search words": "검색어",
    "Topic": "주제",
    "All topics": "전체 주제",
    "Search": "검색",
    "%(count)s releases contain “%(words)s”.": "“%(words)s”이(가) 포함된 보도자료 %(count)s건",
    "%(count)s releases": "보도자료 %(count)s건",
    "Atom feed": "Atom 피드",
    "No.": "번호",
    "Date": "등록일",
    "Hit": "조회수",
    "Status": "상태",
    "Corrected": "정정됨",
    "No press releases match.": "조건에 맞는 보도자료가 없습니다.",
    "Pages": "페이지",
    "Previous": "이전",
    "Next": "다음",
    # One release
    "This press release was withdrawn": "이 보도자료는 철회되었습니다",
    "Withdrawn on %(date)s.": "%(date)s 철회",
    "Correction": "정정",
    "Contact": "문의",
    # A release's stable address, before it is public
    "Press release under embargo": "엠바고 보도자료",
    "This press release is under embargo until %(when)s.": (
        "이 보도자료는 %(when)s까지 엠바고가 걸려 있습니다."
    ),
    "This press release is under embargo until further notice.": (
        "이 보도자료는 추후 공지가 있을 때까지 엠바고가 걸려 있습니다."
    ),
    "Its text will be at this address once the embargo lifts.": (
        "엠바고가 해제되면 이 주소에서 본문을 볼 수 있습니다."
    ),
    "Press release withdrawn": "철회된 보도자료",
    "This press release was withdrawn before it was made public. It will not be published.": (
        "이 보도자료는 공개되기 전에 철회되었으며 공개되지 않습니다."
    ),
    "There is no press release at this address.": "이 주소에는 보도자료가 없습니다.",
    # Subscriptions
    "Subscribe to press releases": "보도자료 구독 신청",
    "Journalists receive our press releases by email as soon as they are published. "
    "We send a link to confirm the address first.": (
        "기자 여러분께 보도자료가 공개되는 즉시 이메일로 보내 드립니다. "
        "먼저 주소를 확인하는 링크를 보냅니다."
    ),
    "Please enter a valid email address.": "올바른 이메일 주소를 입력하십시오.",
    "Choose at least one topic.": "주제를 하나 이상 선택하십시오.",
    "Name (optional)": "이름 (선택)",
    "Topics": "주제",
    "Language of the emails": "이메일 언어",
    "Korean": "한국어",
    "English": "영어",
    "Both": "한국어와 영어",
    "Check your inbox": "받은편지함을 확인하십시오",
    "If the address can receive our releases, a confirmation link is on its way to it. "
    "The subscription starts when you follow that link.": (
        "입력하신 주소로 보도자료를 받을 수 있다면 확인 링크를 보냈습니다. "
        "그 링크를 따라가시면 구독이 시작됩니다."
    ),
    "Back to the press releases": "보도자료 목록으로",
    "Confirm your subscription": "구독 확인",
    "Press the button to start receiving our press releases at this address.": (
        "아래 단추를 누르면 이 주소로 보도자료를 받기 시작합니다."
    ),
    "Confirm my subscription": "구독 확인하기",
    "Subscription confirmed": "구독이 확인되었습니다",
    "You will receive our press releases on these topics:": "다음 주제의 보도자료를 받게 됩니다:",
    "Every email has a link to change your choices or to unsubscribe.": (
        "모든 이메일에 구독 설정 변경 및 구독 해지 링크가 있습니다."
    ),
    "Your subscription": "구독 설정",
    "Press releases go to %(email)s.": "보도자료를 %(email)s(으)로 보냅니다.",
    "Save my choices": "설정 저장",
    "Unsubscribe": "구독 해지",
    "Stop receiving press releases at this address.": "이 주소로 보도자료를 더 이상 받지 않습니다.",
    "Your choices are saved.": "설정이 저장되었습니다.",
    "You are unsubscribed and will receive no more releases.": (
        "구독이 해지되었습니다. 더 이상 보도자료를 보내지 않습니다."
    ),
    "This link does not work": "이 링크는 사용할 수 없습니다",
    "The link is incomplete, was replaced by a newer one, has expired or was already used.": (
        "링크가 불완전하거나, 새 링크로 대체되었거나, 만료되었거나, 이미 사용되었습니다."
    ),
    "Subscribe again": "다시 구독 신청",
    # A release's photos and documents (templates/web/release_text.html)
    "Photos": "사진",
    "Documents": "첨부 문서",
    "Photo: %(credit)s": "사진: %(credit)s",
    "This press release replaces No. %(numbers)s.": (
        "이 보도자료는 제%(numbers)s호 보도자료를 대체합니다."
    ),
    "this press release was published in error and is no longer available": (
        "이 보도자료는 잘못 게시되어 더 이상 제공되지 않습니다"
    ),
    "Updates": "수정 내역",
    "Updated %(date)s: %(note)s": "%(date)s 수정: %(note)s",
    "No longer available": "더 이상 제공되지 않습니다",
}
