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
}
