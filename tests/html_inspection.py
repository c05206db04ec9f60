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


def html_error(page: str) -> str | None:
    """The first thing a strict HTML5 parser objects to in ``page``, or None if it is valid."""
    import html5lib
    from html5lib.html5parser import ParseError

    try:
        html5lib.HTMLParser(strict=True, namespaceHTMLElements=False).parse(page)
    except ParseError as error:
        return str(error)
    return None


class _Controls(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[dict[str, str | None]] = []
        self.label_targets: set[str] = set()
        self._labels_open = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "label":
            self._labels_open += 1
            if attributes.get("for"):
                self.label_targets.add(str(attributes["for"]))
        elif tag in {"input", "select", "textarea"}:
            kind = (attributes.get("type") or "").lower()
            if tag == "input" and kind in {"hidden", "submit", "button", "reset", "image"}:
                return
            attributes["_tag"] = tag
            attributes["_wrapped"] = "yes" if self._labels_open else None
            self.controls.append(attributes)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self._labels_open:
            self._labels_open -= 1


def unlabelled_controls(html: str) -> list[str]:
    """Form controls a screen reader could not name: every input (but hidden ones and
    buttons), select and textarea needs a ``<label for>``, a wrapping label, or an
    ``aria-label``/``aria-labelledby``."""
    parser = _Controls()
    parser.feed(html)
    parser.close()
    return [
        f"<{c['_tag']} name={c.get('name')!r} id={c.get('id')!r}>"
        for c in parser.controls
        if not (
            (c.get("id") and c["id"] in parser.label_targets)
            or c.get("_wrapped")
            or (c.get("aria-label") or "").strip()
            or c.get("aria-labelledby")
        )
    ]
