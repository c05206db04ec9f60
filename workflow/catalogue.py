"""Korean and English for the interface, through gettext catalogues.

Interface text is written in English in the templates (``{{ _("Press releases") }}``,
``{% trans count=n %}…{% pluralize %}…{% endtrans %}``) and in Python
(``who._("Saved.")``); ``workflow/locale/ko/LC_MESSAGES/messages.po`` gives the Korean,
compiled to the ``messages.mo`` beside it. English needs no catalogue: the message is
its own English. ``make messages`` extracts every string (``babel.cfg`` says from where)
and merges them into the ``.po``; ``make compile-messages`` writes the ``.mo``. Tests fail
when a string has no Korean or the ``.mo`` is older than its ``.po``.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, pass_context
from jinja2.runtime import Context

from workflow.domain.values import Language

LOCALE_DIR: Final = Path(__file__).resolve().parent / "locale"
DOMAIN: Final = "messages"


@cache
def catalogue(language: Language) -> gettext.NullTranslations:
    """The compiled catalogue of ``language``, read once per process. English is the
    language the messages are written in, so it needs none."""
    if language is Language.EN:
        return gettext.NullTranslations()
    # No fallback: a missing .mo is a broken deployment, not an English page.
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[language.value])


class Translator:
    """A language's interface text, for Python code: ``_("Saved.")``,
    ``_("%(email)s was added.", email=…)``, ``_.ngettext("%(num)s release",
    "%(num)s releases", n)``. Templates use the same catalogue through the Jinja
    ``i18n`` extension (see ``install``)."""

    __slots__ = ("language",)

    def __init__(self, language: Language) -> None:
        self.language = language

    def __call__(self, message: str, **values: object) -> str:
        """``message`` in the language, %-formatted with ``values`` when there are any."""
        text = catalogue(self.language).gettext(message) if message else message
        return text % values if values else text

    def pgettext(self, context: str, message: str, **values: object) -> str:
        """``message`` as meant in ``context`` (one English word, two meanings)."""
        text = catalogue(self.language).pgettext(context, message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        """The form for ``n`` (Korean has one, English two), formatted with ``values``
        and ``num`` (``n``), as the template's ``ngettext`` is."""
        text = catalogue(self.language).ngettext(singular, plural, n)
        return text % {"num": n, **values}


def install(env: Environment) -> None:
    """Give ``env``'s templates ``_``, ``gettext`` and ``ngettext`` (and ``{% trans %}``)
    in the language of the template's ``lang`` variable, which every render passes. The
    environment is shared by all requests, so the language is read from each render's
    context rather than installed once."""
    env.add_extension("jinja2.ext.i18n")
    # A {% trans %} block's message is its text with runs of whitespace made one space,
    # as babel.cfg extracts it.
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the extension
        _in_context(lambda c: c.gettext),
        _in_context(lambda c: c.ngettext),
        newstyle=True,
        pgettext=_in_context(lambda c: c.pgettext),
        npgettext=_in_context(lambda c: c.npgettext),
    )


def _in_context(
    method: Callable[[gettext.NullTranslations], Callable[..., str]],
) -> Callable[..., str]:
    @pass_context
    def lookup(context: Context, *args: Any) -> str:
        return method(catalogue(Language(context["lang"])))(*args)

    return lookup
