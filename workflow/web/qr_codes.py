"""QR codes drawn on the server as inline SVG (segno): no script, no request to another
site, and nothing the Content-Security-Policy has to allow."""

from __future__ import annotations

from html import escape

import segno
from markupsafe import Markup


def qr_svg(data: str, label: str) -> Markup:
    """``data`` as a QR code, an ``<svg>`` element named ``label`` for screen readers.
    Dark on white whatever the page's colours, with the quiet zone readers need."""
    code = segno.make(data, error="m", micro=False)
    svg = code.svg_inline(
        scale=5, dark="#000", light="#fff", border=4, svgclass="qr-code", lineclass=None
    )
    named = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    # segno's output holds only its own numbers and the escaped label.
    return Markup(named)  # noqa: S704
