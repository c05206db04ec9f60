"""Which language a page speaks, and its interface text (``workflow.catalogue``).

``?lang=`` on the request (the KOR/ENG switch, which is then remembered in a cookie),
else that cookie, else the signed-in user's preference, else the browser's
Accept-Language, else Korean, the office's own language.
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request

from workflow.catalogue import Translator
from workflow.domain.users import User
from workflow.domain.values import Language

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGE_COOKIE", "Translator", "choose_language"]

LANGUAGE_COOKIE: Final = "newsroom_lang"
DEFAULT_LANGUAGE: Final = Language.KO


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
