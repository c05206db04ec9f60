"""Atom feeds (RFC 4287) of the public releases, one per language and, optionally, topic.

Built with ElementTree rather than a template, so that any text a press officer typed
is escaped by the serializer and the document is well-formed whatever it contains.
Entries are exactly what ``queries.public.public_releases`` lists: nothing embargoed,
scheduled or withdrawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

from workflow.domain.values import Language
from workflow.rendering import opening_words, render_markdown
from workflow.services.queries.attachments import Shown
from workflow.services.queries.public import LiveText, PublicSummary

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
FEED_TITLES = {
    Language.KO: "외교부 보도자료",
    Language.EN: "Ministry of Foreign Affairs: Press Releases",
}


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


# A feed reader's list shows about two lines of a summary.
SUMMARY_LENGTH = 200


def feed_path(language: Language, topic_id: int | None = None) -> str:
    query: dict[str, str | int] = {"lang": language.value}
    if topic_id is not None:
        query["topic"] = topic_id
    return f"/feed.atom?{urlencode(query)}"


def atom_feed(
    base_url: str,
    language: Language,
    items: list[PublicSummary],
    *,
    topic: tuple[int, str] | None,
    now: datetime,
    documents: Mapping[int, Sequence[Shown]] | None = None,
    texts: Mapping[int, LiveText] | None = None,
) -> bytes:
    """The feed document for ``items`` (newest first) in ``language``; each release's
    ``documents`` (by release id) are its entry's enclosures, and its live text (by
    release id) its summary and its content, sanitised HTML as on the page."""
    ET.register_namespace("", ATOM)
    base = base_url.rstrip("/")
    self_url = base + feed_path(language, topic[0] if topic else None)
    feed = ET.Element(f"{{{ATOM}}}feed", {XML_LANG: language.value})
    title = FEED_TITLES[language] + (f" · {topic[1]}" if topic else "")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = self_url
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_url)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=f"{base}/?lang={language.value}")
    newest = max((item.updated_at or item.published_at for item in items), default=now)
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = _stamp(newest)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = FEED_TITLES[language]
    for item in items:
        url = f"{base}/releases/{item.number}?lang={language.value}"
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = item.titles.get(
            language, next(iter(item.titles.values()), item.number)
        )
        # The release's number never changes, so neither does its entry's id.
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"{base}/releases/{item.number}#{language}"
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=url)
        ET.SubElement(entry, f"{{{ATOM}}}published").text = _stamp(item.published_at)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = _stamp(
            item.updated_at or item.published_at
        )
        for name in item.topics_in(language):
            ET.SubElement(entry, f"{{{ATOM}}}category", term=name)
        text = (texts or {}).get(item.release_id)
        if text is not None:
            html = render_markdown(text.body)
            summary = ET.SubElement(entry, f"{{{ATOM}}}summary", {XML_LANG: text.language.value})
            summary.text = text.subtitle or opening_words(text.body, SUMMARY_LENGTH)
            content = ET.SubElement(
                entry, f"{{{ATOM}}}content", {"type": "html", XML_LANG: text.language.value}
            )
            content.text = html
        for attached in (documents or {}).get(item.release_id, ()):
            ET.SubElement(
                entry,
                f"{{{ATOM}}}link",
                rel="enclosure",
                href=base + attached.file.path(),
                type=attached.file.content_type,
                length=str(attached.file.size),
                title=attached.words.title or attached.file.filename,
            )
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
