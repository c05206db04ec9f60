"""Differences between two revisions of a text, line by line."""

from __future__ import annotations

import difflib

from workflow.domain.values import Text


def _lines(text: Text) -> list[str]:
    head = [f"# {text.title}"] + ([f"## {text.subtitle}"] if text.subtitle else []) + [""]
    return head + text.body.split("\n")


def unified_diff(old: Text, new: Text, *, old_label: str, new_label: str) -> str:
    """A unified diff of title, subtitle and body, as a reviewer reads it."""
    return "\n".join(
        difflib.unified_diff(
            _lines(old), _lines(new), fromfile=old_label, tofile=new_label, lineterm=""
        )
    )
