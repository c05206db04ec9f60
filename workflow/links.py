"""Addresses on the public site that mail and pages hand out, built without the web stack.

A release's stable address, ``/r/<id>``, works from its first email on: before the
release is public it answers with a page saying until when it is under embargo (and
nothing of its text); once public it leads to the release's page by its number, which
does not exist before publication (``workflow.web.routers.release_links``).
"""

from __future__ import annotations

from urllib.parse import quote

from workflow.domain.values import Language


def stable_release_url(base_url: str, release_id: int, language: str | None) -> str:
    """The stable address of release ``release_id`` on the public site at ``base_url``.
    ``language`` ("ko" or "en") is the language its page speaks; for anything else (None,
    or a subscriber's "both") the page chooses as every public page does."""
    url = f"{base_url.rstrip('/')}/r/{release_id}"
    if language in (Language.KO, Language.EN):
        return f"{url}?lang={language}"
    return url


def file_path(attachment_id: str, filename: str, rendition: str = "original") -> str:
    """Where the public fetches an attachment once its release is public: the original
    (a photo's re-encoded one) under its own name, a photo's rendition under its name."""
    if rendition == "original":
        return f"/files/{attachment_id}/{quote(filename)}"
    return f"/files/{attachment_id}/r/{rendition}"


def file_url(base_url: str, attachment_id: str, filename: str, rendition: str = "original") -> str:
    return base_url.rstrip("/") + file_path(attachment_id, filename, rendition)
