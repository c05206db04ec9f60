"""What a browser would act on in a piece of HTML: tags, attributes, link targets."""

from __future__ import annotations

from html.parser import HTMLParser

ACTIVE_TAGS = {"script", "iframe", "svg", "style", "object", "embed", "form", "base", "meta"}
SAFE_SCHEMES = ("http:", "https:", "mailto:")


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name in {"href", "src"} and value is not None:
                target = "".join(value.split()).lower()
                if ":" in target.split("/", 1)[0] and not target.startswith(SAFE_SCHEMES):
                    self.found.append(f"{tag} {name}={value}")


def dangerous_markup(html: str) -> list[str]:
    """Active tags, event-handler attributes and non-http(s)/mailto links in ``html``
    (text that merely shows such markup, escaped, is harmless and not reported)."""
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.found
