"""What a shared release link shows in a messenger or on social media, and what a search
engine reads as the page's address and its other language: Open Graph and Twitter card
tags, the canonical address and ``hreflang`` alternates of the release page."""

from __future__ import annotations

import re
from dataclasses import dataclass

from workflow.domain.values import Language
from workflow.services.queries.public import PublicRelease

DESCRIPTION_LENGTH = 200
# A link's address, a list item's mark, and emphasis, heading and quote marks.
_MARKUP = re.compile(r"\]\([^)]*\)|^\s*[-*+]\s+|[#*_>`\[\]|]+", re.MULTILINE)
LOCALES = {Language.KO: "ko_KR", Language.EN: "en_US"}


@dataclass(frozen=True, slots=True)
class LinkPreview:
    canonical: str
    alternates: dict[str, str]  # hreflang → address, x-default included
    title: str
    description: str
    locale: str
    other_locales: tuple[str, ...]
    image: str | None  # the lead photo's 1200×630 crop
    image_alt: str


def link_preview(base_url: str, release: PublicRelease, language: Language) -> LinkPreview:
    base = base_url.rstrip("/")
    page = f"{base}/releases/{release.number}"
    alternates = {lang.value: f"{page}?lang={lang.value}" for lang in release.versions}
    # The original's address stands for the page when no language is asked for.
    alternates["x-default"] = page
    text = release.versions[language]
    lead = next((a for a in text.attachments if a.lead and a.file.ready), None)
    return LinkPreview(
        canonical=f"{page}?lang={language.value}",
        alternates=alternates,
        title=text.title,
        description=summary(text.subtitle or text.body),
        locale=LOCALES[language],
        other_locales=tuple(LOCALES[lang] for lang in release.versions if lang is not language),
        image=base + lead.file.path("preview") if lead else None,
        image_alt=lead.words.alt if lead else "",
    )


def summary(text: str, length: int = DESCRIPTION_LENGTH) -> str:
    """The first words of ``text`` without Markdown marks, cut at a word near ``length``."""
    # A link's address goes without a trace, so that its words join what follows.
    bare = _MARKUP.sub(lambda mark: "" if mark.group().startswith("](") else " ", text)
    plain = " ".join(bare.split())
    if len(plain) <= length:
        return plain
    cut = plain[:length].rsplit(" ", 1)[0]
    return f"{cut}…"
