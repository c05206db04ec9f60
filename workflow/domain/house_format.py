"""The ministry's house format of press releases, and the one Markdown form it is kept in.

Press officers paste their text from the ministry's word processor, written in the
conventions of Korean government documents:

- numbered paragraphs, "1.", "2.", … at the margin (or lettered "가.", "나.", … where
  nothing is numbered above them);
- sub-points under a paragraph, one a line, marked "o", "○", "°", "ㅇ", "-", "·" or "•",
  or lettered "가.", "나.", …; a mark not yet used above in the paragraph goes one level
  deeper, a mark used above goes back to its level, and a point indented further than
  the one above goes deeper too;
- notes marked "※" or "*";
- lines holding only spaces, non-breaking ones included, between paragraphs.

Markdown reads those marks as text and the spaced-out numbers as one list each, so a body
is stored in one canonical Markdown form that the public page and the emails render
from (``canonical_body``):

- ONE ordered list of the numbered paragraphs, each keeping its number, a blank line
  between them;
- sub-points as nested "-" lists under their paragraph, lettered ones as a nested
  ordered list (가. is 1., 나. is 2.: Markdown numbers only with digits);
- a note as a paragraph of its own that keeps its mark as the reader sees it ("※ …",
  or "\\* …" so that Markdown shows the star): inside the numbered paragraph it follows
  when another numbered paragraph comes after it, else after the list;
- other lines as Markdown paragraphs, as written.

A text is read in the house format only when it holds something Markdown would misread
(a mark or a letter it does not know, a line of non-breaking spaces, a "※" note run on
into the line above, points or notes under a numbered paragraph but short of its
indentation); any other text, Markdown bodies and the canonical form itself included, is
kept exactly as written, which makes ``canonical_body`` idempotent. In the house format
a line right under another (no blank line between) that has no mark continues it, as in
Markdown.

``parse_header`` reads the header block a pasted release starts with (보도자료, 배포일시,
보도일시, 담당부서, 담당자, 제목, 부제) for the editor to fill its fields, and
``structure`` reads back, from the rendered HTML, the structure a reader sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import Enum
from html.parser import HTMLParser
from typing import Any, Final
from zoneinfo import ZoneInfo

from workflow.rendering import render_markdown

__all__ = [
    "SEOUL",
    "PastedRelease",
    "Point",
    "Structure",
    "canonical_body",
    "parse_header",
    "structure",
    "structure_of_html",
]

SEOUL: Final = ZoneInfo("Asia/Seoul")

# Markdown's own list marker is "-"; these are marks only the house format uses.
HOUSE_MARKS: Final = frozenset("o○°ㅇ·•")
LETTERS: Final = "가나다라마바사아자차카타파하"
# The mark of an ordered sub-point in the stack of levels: lettered or numbered.
_LETTERED: Final = "가."
_NUMBERED: Final = "1."


# --- reading lines ---------------------------------------------------------------------


class _Kind(Enum):
    BLANK = "blank"
    NUMBERED = "numbered"  # "1. text"
    LETTERED = "lettered"  # "가. text"
    POINT = "point"  # "ㅇ text"
    NOTE = "note"  # "※ text", "* text"
    TEXT = "text"  # anything else
    FENCE = "fence"  # a fenced code block, kept whole


_BLANK = re.compile(r"[\s\u200b\ufeff]*")
_NUMBER_LINE = re.compile(r"(\d{1,3})\.\s+(\S.*)")
_LETTER_LINE = re.compile(rf"([{LETTERS}])\.\s+(\S.*)")
_POINT_LINE = re.compile(r"([o○°ㅇ·•\-])\s+(\S.*)")
_REFERENCE_NOTE = re.compile(r"(※)\s*(\S.*)")
_STAR_NOTE = re.compile(r"(\*)\s+(\S.*)")
_FENCE = re.compile(r"(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class _Line:
    kind: _Kind
    indent: int
    text: str = ""  # the words after the mark, stripped
    mark: str = ""  # the point's or note's mark; "1." or "가." for ordered lines
    number: int = 0  # a numbered or lettered line's number (가 is 1)
    column: int = 0  # where the words start: a list item's content column
    spaced: bool = True  # a "※" followed by a space before its words
    exotic: bool = False  # a blank line holding more than spaces and tabs
    raw: tuple[str, ...] = ()  # a fence's lines, as written


def _indent(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip())


def _dedent(line: str, width: int) -> str:
    """``line`` without up to ``width`` columns of its leading spaces."""
    expanded = line.expandtabs(4)
    return expanded[min(width, _indent(expanded)) :]


def _read_lines(text: str) -> list[_Line]:
    source = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines: list[_Line] = []
    i = 0
    while i < len(source):
        line = source[i]
        indent = _indent(line)
        content = line.strip()
        if _BLANK.fullmatch(line):
            lines.append(_Line(_Kind.BLANK, 0, exotic=bool(line.strip(" \t"))))
            i += 1
            continue
        fence = _FENCE.match(content) if indent < 4 else None
        if fence:
            end = i + 1
            while end < len(source) and not _closes(source[end], fence.group(1)):
                end += 1
            block = source[i : end + 1]
            raw = tuple(_dedent(x, indent) for x in block)
            lines.append(_Line(_Kind.FENCE, indent, raw=raw))
            i = end + 1
            continue
        lines.append(_classify(content, indent))
        i += 1
    return lines


def _closes(line: str, opener: str) -> bool:
    """Whether ``line`` closes the fenced code block that ``opener`` opened."""
    content = line.strip()
    return _indent(line) < 4 and len(content) >= len(opener) and content == opener[0] * len(content)


def _classify(content: str, indent: int) -> _Line:
    if match := _NUMBER_LINE.fullmatch(content):
        column = indent + match.start(2)
        return _Line(_Kind.NUMBERED, indent, match.group(2), _NUMBERED, int(match.group(1)), column)
    if match := _LETTER_LINE.fullmatch(content):
        number = LETTERS.index(match.group(1)) + 1
        return _Line(
            _Kind.LETTERED, indent, match.group(2), _LETTERED, number, indent + match.start(2)
        )
    if match := _POINT_LINE.fullmatch(content):
        return _Line(
            _Kind.POINT, indent, match.group(2), match.group(1), column=indent + match.start(2)
        )
    if match := _REFERENCE_NOTE.fullmatch(content):
        spaced = match.start(2) > match.end(1)
        return _Line(_Kind.NOTE, indent, match.group(2), "※", spaced=spaced)
    if match := _STAR_NOTE.fullmatch(content):
        return _Line(_Kind.NOTE, indent, match.group(2), "*")
    return _Line(_Kind.TEXT, indent, content)


def _misread_by_markdown(lines: list[_Line]) -> bool:
    """Whether Markdown would misread the text: a mark or letter it does not know, a
    line of non-breaking spaces (an empty paragraph), a "※" note right under a line of
    words (run on into its paragraph), points or "*" notes under a
    numbered paragraph but short of its indentation (a list of their own beside it), or
    numbered paragraphs that notes at the margin split into lists of their own
    (``<ol start=2>``)."""
    number: int | None = None  # the open list's last number, as Markdown reads it
    column = 0
    split = False
    after_blank = False
    previous = False  # a line of words above
    for line in lines:
        if line.kind is _Kind.BLANK:
            if line.exotic:
                return True
            after_blank = True
            continue
        if line.kind is _Kind.LETTERED or (line.kind is _Kind.POINT and line.mark in HOUSE_MARKS):
            return True
        if line.kind is _Kind.NOTE and line.mark == "※" and not after_blank and previous:
            return True  # Markdown would run the note on into the paragraph above
        previous = True
        inside = number is not None and line.indent >= column
        if line.kind is _Kind.NUMBERED and not inside and line.indent < 4:
            if split and number is not None and line.number == number + 1:
                return True
            number, column, split = line.number, line.column, False
        elif not inside and number is not None:
            if line.kind is _Kind.POINT or (line.kind is _Kind.NOTE and line.mark == "*"):
                # A list marker short of the paragraph's indentation: Markdown starts a
                # list beside the numbered paragraph, not under it.
                return True
            if line.kind is _Kind.NOTE and after_blank:
                split = True
            elif after_blank:
                number = None  # a paragraph ends the list, as the writer may well mean
        after_blank = False
    return False


# --- the house format as a tree --------------------------------------------------------


@dataclass(eq=False)
class _Item:
    """A numbered paragraph or a point: its lines of words and what is under it."""

    mark: str
    number: int
    lines: list[str]
    children: list[_List | _Para] = field(default_factory=list)


@dataclass(eq=False)
class _List:
    ordered: bool
    items: list[_Item] = field(default_factory=list)
    paragraphs: bool = False  # the numbered paragraphs themselves


@dataclass(eq=False)
class _Para:
    lines: list[str]
    verbatim: bool = False  # a fenced code block


@dataclass(frozen=True, slots=True)
class _Open:
    """A point still open for points under it: its mark, indentation and node."""

    mark: str
    indent: int
    item: _Item


def _level(stack: list[_Open], mark: str, indent: int) -> int:
    """How many open points a new point with ``mark`` at ``indent`` stays under."""
    if stack and indent > stack[-1].indent:
        return len(stack)
    same = [k for k, entry in enumerate(stack) if entry.mark == mark]
    if same:
        within = [k for k in same if stack[k].indent <= indent]
        return within[-1] if within else same[0]
    depth = len(stack)
    while depth > 0 and stack[depth - 1].indent > indent:
        depth -= 1
    return depth


class _Reader:
    """Reads classified lines into blocks: one pass, looking ahead only for whether
    another numbered paragraph follows."""

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.blocks: list[_List | _Para] = []
        self.paragraphs: _List | None = None  # the open list of numbered paragraphs
        self.kind = _NUMBERED  # how the open list numbers: "1." or "가."
        self.margin = 0  # the indentation of its numbers
        self.stack: list[_Open] = []
        self.last: list[str] | None = None  # where a wrapped line continues
        self._ahead: dict[tuple[str, int], list[int]] = {}

    @property
    def item(self) -> _Item | None:
        return self.paragraphs.items[-1] if self.paragraphs else None

    def read(self) -> list[_List | _Para]:
        for position, line in enumerate(self.lines):
            if line.kind is _Kind.BLANK:
                self.last = None
            elif line.kind in (_Kind.NUMBERED, _Kind.LETTERED):
                self._ordinal(line)
            elif line.kind is _Kind.POINT:
                self._point(line.mark, line)
            elif line.kind is _Kind.NOTE:
                # The mark stays, as the reader sees it; a star escaped, or it is a list.
                mark = "※" if line.mark == "※" else "\\*"
                words = f"{mark} {line.text}" if line.spaced else f"{mark}{line.text}"
                self._paragraph(position, line, [words])
            elif line.kind is _Kind.FENCE:
                self._paragraph(position, line, list(line.raw), verbatim=True)
                self.last = None
            elif self.last is not None:
                self.last.append(_escape(line.text))  # a wrapped line
            else:
                self._paragraph(position, line, [_escape(line.text)])
        return self.blocks

    def _ordinal(self, line: _Line) -> None:
        item = self.item
        sibling = (
            item is not None
            and line.mark == self.kind
            and line.indent <= self.margin + 1
            and line.number > item.number
        )
        if sibling:
            assert self.paragraphs is not None
            self._add_paragraph(line)
        elif item is not None and (line.mark != self.kind or line.indent > self.margin + 1):
            self._point(line.mark, line)
        else:
            self.paragraphs = _List(ordered=True, paragraphs=True)
            self.blocks.append(self.paragraphs)
            self.kind, self.margin = line.mark, line.indent
            self._add_paragraph(line)

    def _add_paragraph(self, line: _Line) -> None:
        assert self.paragraphs is not None
        new = _Item(line.mark, line.number, [_escape(line.text)])
        self.paragraphs.items.append(new)
        self.stack = []
        self.last = new.lines

    def _point(self, mark: str, line: _Line) -> None:
        depth = _level(self.stack, mark, line.indent)
        del self.stack[depth:]
        parent = self.stack[-1].item if self.stack else self.item
        siblings = parent.children if parent is not None else self.blocks
        ordered = mark in (_LETTERED, _NUMBERED)
        new = _Item(mark, line.number, [_escape(line.text)])
        last = siblings[-1] if siblings else None
        if isinstance(last, _List) and last.ordered == ordered and not last.paragraphs:
            last.items.append(new)
        else:
            siblings.append(_List(ordered, [new]))
        self.stack.append(_Open(mark, line.indent, new))
        self.last = new.lines

    def _paragraph(
        self, position: int, line: _Line, lines: list[str], *, verbatim: bool = False
    ) -> None:
        item = self.item
        para = _Para(lines, verbatim)
        if item is not None and (line.indent > self.margin or self._continues(position, item)):
            item.children.append(para)
        else:
            self.paragraphs = None
            self.blocks.append(para)
        # Points after a paragraph start afresh: a list goes after it, never before.
        self.stack = []
        self.last = None if verbatim else para.lines

    def _continues(self, position: int, item: _Item) -> bool:
        """Whether a numbered paragraph after ``position`` carries the list on."""
        following = self._next_paragraphs(self.kind, self.margin)[position + 1]
        return following > item.number

    def _next_paragraphs(self, kind: str, margin: int) -> list[int]:
        """For each line, the number of the first numbered paragraph (of ``kind`` at
        ``margin``) from that line on, 0 if none: one pass from the end, so that a long
        text is read in linear time."""
        key = (kind, margin)
        if key not in self._ahead:
            found = [0] * (len(self.lines) + 1)
            for position in range(len(self.lines) - 1, -1, -1):
                line = self.lines[position]
                top = line.mark == kind and line.indent <= margin + 1
                found[position] = line.number if top else found[position + 1]
            self._ahead[key] = found
        return self._ahead[key]


# Lines Markdown would take for the start of a block of its own.
_BLOCK_START = re.compile(
    r"#{1,6}(?:\s|$)|>|[-+*](?:\s|$)|(?:[-_*]\s*){3,}$|=+\s*$|`{3,}|~{3,}|\d{1,9}[.)](?:\s|$)"
)


def _escape(words: str) -> str:
    """Words that Markdown keeps as words where they start a line."""
    if not _BLOCK_START.match(words):
        return words
    digits = len(words) - len(words.lstrip("0123456789"))
    return words[:digits] + "\\" + words[digits:]


def _write(blocks: list[_List | _Para]) -> str:
    out: list[str] = []
    for block in blocks:
        if out:
            out.append("")
        out.extend(_write_block(block, ""))
    return "\n".join(out) + "\n"


def _write_block(block: _List | _Para, pad: str) -> list[str]:
    if isinstance(block, _Para):
        return [pad + line if line else "" for line in block.lines]
    if not block.paragraphs:
        return _write_points(block, pad)
    out: list[str] = []
    for item in block.items:
        if out:
            out.append("")
        marker = f"{item.number}. "
        inner = pad + " " * len(marker)
        out.append(pad + marker + item.lines[0])
        out.extend(inner + line for line in item.lines[1:])
        for child in item.children:
            out.append("")
            out.extend(_write_block(child, inner))
    return out


def _write_points(points: _List, pad: str) -> list[str]:
    """A list of points, tight: one line a point, sub-points right under it."""
    out: list[str] = []
    for item in points.items:
        marker = f"{item.number}. " if points.ordered else "- "
        inner = pad + " " * len(marker)
        out.append(pad + marker + item.lines[0])
        out.extend(inner + line for line in item.lines[1:])
        for child in item.children:
            assert isinstance(child, _List)
            out.extend(_write_points(child, inner))
    return out


def canonical_body(text: str) -> str:
    """The body as it is stored: a text in the house format as canonical Markdown, any
    other text (Markdown, plain paragraphs, the canonical form itself) unchanged."""
    lines = _read_lines(text)
    if not _misread_by_markdown(lines):
        return text
    return _write(_Reader(lines).read())


# --- the header block -------------------------------------------------------------------

_HEADER_KEYS: Final = {
    "배포일시": "distributed",
    "배포일자": "distributed",
    "보도일시": "embargo",
    "보도일자": "embargo",
    "보도시점": "embargo",
    "엠바고": "embargo",
    "담당부서": "department",
    "담당과": "department",
    "부서": "department",
    "담당자": "contact",
    "문의": "contact",
    "문의처": "contact",
    "연락처": "contact",
    "제목": "title",
    "부제": "subtitle",
    "부제목": "subtitle",
}
_HEADER_TITLES: Final = frozenset({"보도자료", "보도참고자료"})
_KEY_LINE = re.compile(r"\s*([가-힣][가-힣 ]{0,7}?)\s*(?:[:：]|\t)\s*(.*)")
_MOMENT = re.compile(
    r"(?P<year>\d{4})\s*[.\-/년]\s*(?P<month>\d{1,2})\s*[.\-/월]\s*(?P<day>\d{1,2})\s*[.일]?"
    r"\s*(?:\([^)]*\))?\s*(?:(?P<half>오전|오후)\s*)?"
    r"(?P<hour>\d{1,2})\s*(?::|시)\s*(?:(?P<minute>\d{1,2})\s*분?)?"
)
_PHONE = re.compile(r"(?:\+82[\s\-]?)?0?\d{1,3}[\s\-.)]\s?\d{3,4}[\s\-.]\d{4}")
_EMAIL = re.compile(r"[^\s(),;<>]+@[^\s(),;<>]+\.[^\s(),;<>]+")


@dataclass(frozen=True, slots=True)
class PastedRelease:
    """What a pasted release's header block says, and the body after it."""

    title: str = ""
    subtitle: str = ""
    contact_name: str = ""  # the first person of 담당자, as the header writes them
    contact_phone: str = ""
    contact_email: str = ""
    department: str = ""
    embargo_until: datetime | None = None  # aware, in the header's zone
    body: str = ""  # canonical (``canonical_body``)
    pasted_body: str = ""  # the text after the header block, as pasted
    # The fields the header gave: names of the fields above.
    found: frozenset[str] = frozenset()


def _header_key(line: str) -> tuple[str, str] | None:
    match = _KEY_LINE.fullmatch(line)
    if not match:
        return None
    key = _HEADER_KEYS.get(re.sub(r"\s", "", match.group(1)))
    return (key, match.group(2).strip()) if key else None


def parse_header(text: str, zone: tzinfo = SEOUL) -> PastedRelease:
    """The header block a pasted release starts with (보도자료 / 배포일시 / 보도일시 …
    (엠바고) / 담당부서 / 담당자 / 제목 / 부제): its title, subtitle, first contact,
    department and embargo time (in ``zone``, the ministry's), with the body after it
    made canonical. A text that starts otherwise has no header: ``found`` is empty and
    the body is the whole text."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    values: dict[str, str] = {}
    end = 0
    for position, line in enumerate(lines):
        if _BLANK.fullmatch(line):
            continue
        if re.sub(r"\s", "", line) in _HEADER_TITLES:
            end = position + 1
            continue
        found = _header_key(line)
        if found is None:
            break
        values.setdefault(*found)
        end = position + 1
    rest = "\n".join(lines[end:]).lstrip("\n") if end else text
    fields: dict[str, Any] = {}
    if values.get("title"):
        fields["title"] = values["title"]
    if values.get("subtitle"):
        fields["subtitle"] = re.sub(r"^[-–—]\s*", "", values["subtitle"])
    if values.get("department"):
        fields["department"] = values["department"]
    if values.get("contact"):
        fields.update(_first_contact(values["contact"]))
    embargo = _moment(values.get("embargo", ""), zone)
    if embargo is not None:
        fields["embargo_until"] = embargo
    return PastedRelease(
        **fields, body=canonical_body(rest), pasted_body=rest, found=frozenset(fields)
    )


def _first_contact(value: str) -> dict[str, str]:
    """Name, phone and email of the first person in a 담당자 line: "과장 홍길동
    (02-2100-0000), 사무관 김민지 (02-2100-0001)"."""
    depth = 0
    first = value
    for position, char in enumerate(value):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth = max(0, depth - 1)
        elif depth == 0 and char in ",;/、":
            first = value[:position]
            break
    found: dict[str, str] = {}
    if phone := _PHONE.search(first):
        found["contact_phone"] = phone.group(0).strip()
    if email := _EMAIL.search(first):
        found["contact_email"] = email.group(0)
    name = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", first)
    name = _EMAIL.sub(" ", _PHONE.sub(" ", name))
    name = re.sub(r"☎|☏|(?i:\btel\b\.?)|전화", " ", name)
    name = " ".join(name.split()).strip(" :,-")
    if name:
        found["contact_name"] = name
    return found


def _moment(value: str, zone: tzinfo) -> datetime | None:
    """The time a 보도일시 line names, or None (no time, or "즉시": at once)."""
    match = _MOMENT.search(value)
    if match is None or "즉시" in value[: match.start()]:
        return None
    hour = int(match.group("hour"))
    if match.group("half") == "오후" and hour < 12:
        hour += 12
    elif match.group("half") == "오전" and hour == 12:
        hour = 0
    try:
        return datetime(
            int(match.group("year")),
            int(match.group("month")),
            int(match.group("day")),
            hour,
            int(match.group("minute") or 0),
            tzinfo=zone,
        )
    except ValueError:
        return None


# --- the structure a reader sees --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    """A numbered paragraph or a sub-point: its words, and the points under it."""

    text: str
    points: tuple[Point, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "points": [point.as_json() for point in self.points]}


@dataclass(frozen=True, slots=True)
class Structure:
    """What a reader sees in a body: the numbered paragraphs with their points, in
    order, the notes (without their mark), the attachments line (붙임: … 끝., without
    either word) and any other paragraph. Words are compared with runs of whitespace,
    non-breaking spaces included, as one space."""

    paragraphs: tuple[Point, ...] = ()
    notes: tuple[str, ...] = ()
    attachments_line: str | None = None
    others: tuple[str, ...] = ()
    # Top-level numbered lists: one when the paragraphs are numbered as one list.
    numbered_lists: int = 0

    def as_json(self) -> dict[str, Any]:
        """The shape of ``ko-house-format.expected.json`` (without title and subtitle)."""
        return {
            "paragraphs": [p.as_json() for p in self.paragraphs],
            "notes": list(self.notes),
            "attachments_line": self.attachments_line,
        }


@dataclass(eq=False)
class _Element:
    tag: str
    classes: tuple[str, ...]
    children: list[_Element | str] = field(default_factory=list)

    def text(self) -> str:
        """The words in the element, with runs of whitespace as one space."""
        return " ".join(self._characters().split())

    def _characters(self) -> str:
        parts: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag == "br":
                parts.append(" ")
            elif child.tag in _BLOCK_TAGS:
                parts.append(f" {child._characters()} ")
            else:
                parts.append(child._characters())
        return "".join(parts)


_BLOCK_TAGS = frozenset(
    {"blockquote", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ol", "p", "pre", "table"}
    | {"td", "th", "tr", "ul"}
)
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


class _Tree(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", ())
        self.open = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = tuple((dict(attrs).get("class") or "").split())
        element = _Element(tag, classes)
        self.open[-1].children.append(element)
        if tag not in _VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open[-1].children.append(_Element(tag, ()))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.open) - 1, 0, -1):
            if self.open[depth].tag == tag:
                del self.open[depth:]
                return

    def handle_data(self, data: str) -> None:
        self.open[-1].children.append(data)


_NOTE_TEXT = re.compile(r"(?:※|\*)\s*(.*)", re.DOTALL)
_ATTACHMENTS = re.compile(r"붙임\s*[:：]?\s*(.*?)(?:\s*끝\.?)?", re.DOTALL)


def _find(element: _Element, css_class: str) -> _Element | None:
    if css_class in element.classes:
        return element
    for child in element.children:
        if isinstance(child, _Element) and (found := _find(child, css_class)):
            return found
    return None


def structure_of_html(html: str, within: str | None = None) -> Structure:
    """The structure a reader sees in rendered HTML: the whole of ``html``, or the
    first element whose class is ``within`` (the page's ``release-body``, an email's
    ``body``)."""
    tree = _Tree()
    tree.feed(html)
    tree.close()
    container = _find(tree.root, within) if within else tree.root
    if container is None:
        raise ValueError(f"no element of class {within!r}")
    paragraphs: list[Point] = []
    notes: list[str] = []
    others: list[str] = []
    attachments: str | None = None
    lists = 0
    for child in container.children:
        if isinstance(child, str):
            if child.strip():
                others.append(" ".join(child.split()))
            continue
        if child.tag == "ol":
            lists += 1
            paragraphs.extend(_item(li, notes) for li in _items(child))
        elif child.tag == "ul":
            others.extend(_flatten(_item(li, notes)) for li in _items(child))
        elif text := child.text():
            if child.tag == "p" and (note := _NOTE_TEXT.fullmatch(text)):
                notes.append(note.group(1))
            elif child.tag == "p" and (line := _ATTACHMENTS.fullmatch(text)):
                attachments = line.group(1)
            else:
                others.append(text)
    return Structure(tuple(paragraphs), tuple(notes), attachments, tuple(others), lists)


def _items(list_element: _Element) -> list[_Element]:
    return [c for c in list_element.children if isinstance(c, _Element) and c.tag == "li"]


def _item(li: _Element, notes: list[str]) -> Point:
    words: list[str] = []
    points: list[Point] = []
    loose = _Element("#words", ())
    for child in li.children:
        if isinstance(child, _Element) and child.tag in ("ul", "ol"):
            points.extend(_item(sub, notes) for sub in _items(child))
        elif isinstance(child, _Element) and child.tag == "p":
            text = child.text()
            if note := _NOTE_TEXT.fullmatch(text):
                notes.append(note.group(1))
            elif text:
                words.append(text)
        else:
            loose.children.append(child)
    if text := loose.text():
        words.insert(0, text)
    return Point(" ".join(words), tuple(points))


def _flatten(point: Point) -> str:
    return " ".join([point.text, *(_flatten(p) for p in point.points)])


def structure(markdown: str) -> Structure:
    """The structure a reader sees in a Markdown body, read from its rendered HTML."""
    return structure_of_html(render_markdown(markdown))
