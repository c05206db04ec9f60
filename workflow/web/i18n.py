"""Korean and English for the interface: the template says ``{{ _("Press releases") }}``
and the Korean catalogue below gives the Korean. English needs no catalogue.

Which language a page speaks: ``?lang=`` on the request (the KOR/ENG switch, which is
then remembered in a cookie), else that cookie, else the signed-in user's preference,
else the browser's Accept-Language, else Korean, the office's own language. A test
extracts every string the templates translate and checks that each has its Korean.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from workflow.domain.users import User
from workflow.domain.values import Language
from workflow.web.korean import admin, frame, office, preview, public

LANGUAGE_COOKIE: Final = "newsroom_lang"
DEFAULT_LANGUAGE: Final = Language.KO

# English → Korean, one catalogue per part of the site. Keys are the exact English
# strings used in the templates.
KOREAN: Final[dict[str, str]] = {
    **frame.KOREAN,
    **public.KOREAN,
    **office.KOREAN,
    **admin.KOREAN,
    **preview.KOREAN,
}


class Translator:
    """``_`` in templates: the string in ``language``, %-formatted with any keywords."""

    __slots__ = ("language",)

    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, message: str, **values: object) -> str:
        text = KOREAN.get(message, message) if self.language is Language.KO else message
        return text % values if values else text


def choose_language(request: Request, user: User | None = None) -> Language:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in (Language.KO, Language.EN):
            return Language(candidate)
    if user is not None:
        return user.language
    return _from_accept_language(request.headers.get("accept-language", ""))


def _from_accept_language(header: str) -> Language:
    """The first of ko/en in the browser's list, by quality then order."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        ranked.append((-quality, position, tag.strip().lower()[:2]))
    for _q, _p, primary in sorted(ranked):
        if primary in (Language.KO, Language.EN):
            return Language(primary)
    return DEFAULT_LANGUAGE
