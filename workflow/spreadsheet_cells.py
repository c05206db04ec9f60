"""Cells of the CSV files the office downloads and uploads, safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to a spreadsheet: a subscriber's name from the public form, or a topic's name, must not
run in an admin's spreadsheet. Such a cell is written with a leading apostrophe, which a
spreadsheet shows as text and ``read_cell`` takes off again.
"""

from __future__ import annotations

from typing import Final

FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """``value`` as a cell no spreadsheet runs."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def read_cell(value: str) -> str:
    """A cell as ``safe_cell`` wrote it, back to its value (stripped)."""
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value
