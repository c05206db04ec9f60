"""Email templates: ``templates/email/<name>/{subject.txt,body.txt,body.html}``, each
extending a shared base, rendered in the recipient's language (``lang``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from config.settings import PROJECT_ROOT
from workflow.catalogue import Translator
from workflow.catalogue import install as install_catalogue
from workflow.domain.values import Language

TEMPLATES = PROJECT_ROOT / "templates"


@dataclass(frozen=True, slots=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    install_catalogue(env)  # _() and {% trans %} speak the render's ``lang``
    return env


def translator(language: str) -> Translator:
    """The catalogue's ``_`` in ``language``, for a part of a message that speaks
    another language than the message (a version's labels in a message holding both)."""
    return Translator(Language(language))


def render_email(name: str, lang: str, **context: Any) -> RenderedMail:
    env = environment()
    values = {"lang": lang, **context}
    # Whatever a title contained, the subject is one line.
    subject = " ".join(env.get_template(f"email/{name}/subject.txt").render(values).split())
    values["subject"] = subject  # escaped again where the HTML shows it
    return RenderedMail(
        subject=subject,
        text=env.get_template(f"email/{name}/body.txt").render(values),
        html=env.get_template(f"email/{name}/body.html").render(values),
    )
