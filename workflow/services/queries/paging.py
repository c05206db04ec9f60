"""Which slice of a list a page is, for the staff's and the public's lists alike."""

from __future__ import annotations

from workflow.domain.errors import ValidationFailed

MAX_PAGE_SIZE = 100


def paging(page: int, per_page: int) -> tuple[int, int]:
    """The limit and offset of page ``page`` (from 1) of ``per_page`` items."""
    if page < 1:
        raise ValidationFailed("page", "must be 1 or more")
    if not 1 <= per_page <= MAX_PAGE_SIZE:
        raise ValidationFailed("per_page", "must be between 1 and %(limit)s", limit=MAX_PAGE_SIZE)
    return per_page, (page - 1) * per_page
