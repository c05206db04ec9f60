"""The headers every answer carries, whatever made it: a page, the API, an error, a file.

The Content-Security-Policy allows scripts, styles and images from this site only and no
inline script at all (no template has one; the API documentation's start-up is a file of
its own), and no page may be framed, so that no other site can overlay the approve and
publish buttons. A header a route set itself (a preview's stricter ``Referrer-Policy``)
is kept. HSTS is sent only when the public address is https.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
PERMISSIONS_POLICY: Final = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)
HSTS: Final = "max-age=31536000; includeSubDomains"


def security_headers(https: bool) -> list[tuple[str, str]]:
    headers = [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Frame-Options", "DENY"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        ("Permissions-Policy", PERMISSIONS_POLICY),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]
    if https:
        headers.append(("Strict-Transport-Security", HSTS))
    return headers


class SecurityHeaders:
    """Adds ``security_headers`` to every HTTP answer; ``https`` is asked on every
    request, so that the setting in force applies."""

    def __init__(self, app: ASGIApp, https: Callable[[], bool]) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = security_headers(self.https())

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
