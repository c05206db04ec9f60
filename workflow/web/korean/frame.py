"""Korean for the frame every page shares: header, footer, login, errors."""

from typing import Final

KOREAN: Final[dict[str, str]] = {
    "Newsroom": "뉴스룸",
    "Ministry of Foreign Affairs": "외교부",
    "Press releases": "보도자료",
    "Log in": "로그인",
    "Log out": "로그아웃",
    "Email": "이메일",
    "Password": "비밀번호",
    "Signed in as %(name)s": "%(name)s 님으로 로그인됨",
    "Skip to content": "본문 바로가기",
    "Language": "언어",
    "Site": "사이트",
    "Something went wrong": "문제가 발생했습니다",
    "Back to the front page": "첫 화면으로",
    "Not found": "찾을 수 없습니다",
    "You are not allowed to do that": "권한이 없습니다",
    "Please log in to continue.": "계속하려면 로그인하십시오.",
    "The form has expired; please try again.": "양식이 만료되었습니다. 다시 시도하십시오.",
    "Dashboard": "대시보드",
    "Administration": "관리",
    "Subscribe": "구독",
    # The signed-in person's own account (templates/web/account.html)
    "Your account": "내 계정",
    "Change your password": "비밀번호 변경",
    "Current password": "현재 비밀번호",
    "New password (at least 10 characters)": "새 비밀번호 (10자 이상)",
    "Every other browser session and every API token ends at once.": (
        "다른 모든 브라우저 세션과 API 토큰이 즉시 종료됩니다."
    ),
    "Change password": "비밀번호 변경하기",
    "Signed-in browsers": "로그인된 브라우저",
    "Since %(when)s, until %(until)s": "%(when)s부터 %(until)s까지",
    "this browser": "이 브라우저",
    "End": "종료",
    "API tokens": "API 토큰",
    "made %(when)s, expires %(until)s": "%(when)s 발급, %(until)s 만료",
    "Revoke": "폐기",
    "No API tokens.": "API 토큰이 없습니다.",
    "Your password is changed; every other session and token ended.": (
        "비밀번호를 바꾸었습니다. 다른 모든 세션과 토큰이 종료되었습니다."
    ),
    "The session is ended.": "세션을 종료했습니다.",
    "The token is revoked.": "토큰을 폐기했습니다.",
    "current_password: the current password is not right": (
        "현재 비밀번호: 현재 비밀번호가 맞지 않습니다"
    ),
}
