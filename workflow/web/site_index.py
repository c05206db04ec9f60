"""What search engines read: ``/sitemap.xml`` (every public release, with its language
versions as alternates) and ``/robots.txt`` (the office, previews and the API are not for
them). Built with ElementTree, so whatever a number or address holds is escaped."""

from __future__ import annotations

from collections.abc import Iterable
from xml.etree import ElementTree as ET

from workflow.services.queries.public import SitemapEntry

SITEMAP = "http://www.sitemaps.org/schemas/sitemap/0.9"
XHTML = "http://www.w3.org/1999/xhtml"


def sitemap(base_url: str, entries: Iterable[SitemapEntry]) -> bytes:
    """A sitemap with one address per language version, each naming the others."""
    ET.register_namespace("", SITEMAP)
    ET.register_namespace("xhtml", XHTML)
    base = base_url.rstrip("/")
    root = ET.Element(f"{{{SITEMAP}}}urlset")
    for entry in entries:
        addresses = {
            language: f"{base}/releases/{entry.number}?lang={language.value}"
            for language in entry.languages
        }
        for address in addresses.values():
            url = ET.SubElement(root, f"{{{SITEMAP}}}url")
            ET.SubElement(url, f"{{{SITEMAP}}}loc").text = address
            ET.SubElement(url, f"{{{SITEMAP}}}lastmod").text = entry.updated_at.isoformat(
                timespec="seconds"
            )
            for language, alternate in addresses.items():
                ET.SubElement(
                    url,
                    f"{{{XHTML}}}link",
                    rel="alternate",
                    hreflang=language.value,
                    href=alternate,
                )
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def robots(base_url: str) -> str:
    return (
        "User-agent: *\n"
        "Disallow: /office\n"
        "Disallow: /preview/\n"
        "Disallow: /api/\n"
        "Disallow: /r/\n"
        "Disallow: /subscriptions/\n"
        "Disallow: /login\n"
        f"Sitemap: {base_url.rstrip('/')}/sitemap.xml\n"
    )
