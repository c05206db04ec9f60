"""Markdown bodies as safe HTML, for the API, the web interface and emails.

Bodies are stored as the press officer wrote them; they become HTML only when shown.
Two layers keep the HTML safe: markdown-it escapes raw HTML in the text and refuses
``javascript:``-style links, and nh3 (the ammonia sanitiser) then keeps only an allow-list
of tags, attributes and URL schemes, so that no script, event handler or script link can
reach a reader even if the first layer had a bug.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import unescape
from typing import Final

import nh3
from markdown_it import MarkdownIt

_TAG: Final = re.compile(r"<[^>]+>")

ALLOWED_TAGS: Final = frozenset(
    {
        "a", "abbr", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4",
        "h5", "h6", "hr", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup",
        "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "ol": {"start"},
    "td": {"style"},
    "th": {"style"},
}
ALLOWED_URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
# markdown-it writes table alignment as a style; nothing else may be styled.
ALLOWED_STYLES: Final = {"text-align"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # CommonMark with tables and strikethrough; raw HTML in the text is shown as text.
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


# A published text is rendered on every view of its page: the same few texts again and
# again, and the rendering (parse, then sanitise) costs more than the page's queries.
@lru_cache(maxsize=256)
def render_markdown(text: str) -> str:
    """The HTML for a Markdown ``text``, sanitised: safe to put in any page or email."""
    html = _parser().render(text)
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        filter_style_properties=set(ALLOWED_STYLES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def opening_words(markdown: str, length: int) -> str:
    """The start of a text as plain words, cut at a word to about ``length`` characters:
    an email's preheader, a feed entry's summary."""
    text = " ".join(unescape(_TAG.sub(" ", render_markdown(markdown))).split())
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0] + "…"
