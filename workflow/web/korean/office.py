"""Korean for the press office: dashboard, editor, review, history, distribution, admin."""

from typing import Final

KOREAN: Final[dict[str, str]] = {}
