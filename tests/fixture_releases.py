"""The sample press releases in ../shared/fixtures: title, date, hits, and the numbered
paragraphs with their sub-points, read from the saved page text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

PARAGRAPH = re.compile(r"^\d+\.\s")
SUB_POINT = re.compile(r"^[°o]\s+")


@dataclass(frozen=True)
class SampleRelease:
    title: str
    date: str
    hits: int
    paragraphs: list[tuple[str, list[str]]]

    @property
    def markdown(self) -> str:
        """The body as a press officer types it: numbered paragraphs, sub-points under them."""
        blocks = []
        for paragraph, points in self.paragraphs:
            blocks.append(paragraph)
            blocks.extend(f"   - {point}" for point in points)
        return "\n\n".join(blocks) + "\n"


def _after(lines: list[str], label: str) -> str:
    """The value of ``label``: on its own line before the value, or as ``• Label : value``."""
    for i, line in enumerate(lines):
        if line.lower() == label.lower():
            return lines[i + 1]
        match = re.match(rf"^•?\s*{label}\s*:\s*(.+)$", line, re.IGNORECASE)
        if match:
            return match.group(1)
    raise ValueError(f"no {label} in the sample")


def load(path: Path) -> SampleRelease:
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    # The title is the line just before the date, in both page layouts.
    date_line = next(i for i, line in enumerate(lines) if re.match(r"^(•\s*)?Date\b", line))
    paragraphs: list[tuple[str, list[str]]] = []
    for line in lines[date_line:]:
        if PARAGRAPH.match(line):
            paragraphs.append((line, []))
        elif SUB_POINT.match(line) and paragraphs:
            paragraphs[-1][1].append(SUB_POINT.sub("", line))
        elif paragraphs:
            break  # the page footer
    return SampleRelease(
        title=lines[date_line - 1],
        date=_after(lines, "Date")[:10],
        hits=int(_after(lines, "Hit")),
        paragraphs=paragraphs,
    )


def samples(directory: Path) -> list[SampleRelease]:
    return [load(path) for path in sorted(directory.glob("mofa-*.txt"))]
