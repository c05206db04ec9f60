"""The check on every one-line field people type: titles, names, captions."""

from __future__ import annotations

import re
import unicodedata

from workflow.domain.errors import ValidationFailed

_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def single_line(field: str, value: str, *, max_length: int, required: bool = True) -> str:
    """A title, a name: one line with no control characters (no header can be smuggled in)."""
    value = unicodedata.normalize("NFC", value).strip()
    if required and not value:
        raise ValidationFailed(field, "must not be empty")
    if _LINE_CONTROL.search(value):
        raise ValidationFailed(field, "must be one line without control characters")
    if len(value) > max_length:
        raise ValidationFailed(field, "must be at most %(limit)s characters", limit=max_length)
    return value
