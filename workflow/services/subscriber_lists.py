"""The distribution list as a CSV file: the office's own list imported, the list exported.

The format, one header row then one subscriber a row, UTF-8 (a byte-order mark is
accepted):

    email,name,language,topics,embargo_trusted,state,digest

``language`` is ko, en or both; ``topics`` are topic names separated by ``;``;
``embargo_trusted`` (optional) is yes/no, true/false or 1/0, empty meaning no;
``digest`` (optional) is the time of a daily digest, ``HH:MM`` in the office's time
zone, empty meaning each release as it is published. ``state``
(optional) is what ``export`` writes: a new address marked pending, unsubscribed,
bounced or suspended is recorded in that state, so that a suppression list moves with
the data; without it, or ``active``, a row is imported active, because the office vouches
for its own list. An address already on the list is never changed by an import, and is
reported: above all, an address that unsubscribed or bounced stays suppressed, and so
does one that retention has reduced to a keyed hash (``suppressions``).

Importing checks every row first; any invalid row stops the whole import unless
``skip_invalid`` is set, and then only the valid rows are imported. An import that
writes, and every export, is recorded as an administrative act.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, TextIO, TypeVar

from workflow.db.subscribers import SubscriberRepository
from workflow.domain.admin_acts import AdminActKind
from workflow.domain.errors import ValidationFailed
from workflow.domain.subscribers import (
    Subscriber,
    SubscriberState,
    SubscriptionRequest,
    digest_time,
    language_preference,
    subscriber_email,
    topics_by_name,
)
from workflow.domain.values import MAX_NAME_LENGTH, single_line
from workflow.services import suppressions
from workflow.services.admin_acts import record_admin_act
from workflow.services.context import ServiceContext, resolve_actor
from workflow.services.subscribers import SubscriberView, subscriber_views
from workflow.spreadsheet_cells import read_cell, safe_cell

T = TypeVar("T")

REQUIRED: Final = ("email", "name", "language", "topics")
OPTIONAL: Final = ("embargo_trusted", "state", "digest")
COLUMNS: Final = REQUIRED + OPTIONAL
TOPIC_SEPARATOR: Final = ";"
MAX_LINES: Final = 200_000

_TRUE: Final = frozenset({"yes", "true", "1", "y"})
_FALSE: Final = frozenset({"no", "false", "0", "n", ""})


@dataclass(frozen=True, slots=True)
class CsvLine:
    number: int  # the line in the file, for messages
    values: Mapping[str, str]
    problem: str = ""  # what is wrong with its shape, if anything


@dataclass(frozen=True, slots=True)
class LineNote:
    line: int
    email: str
    reason: str


@dataclass
class ImportReport:
    lines: int
    added: int = 0
    # Invalid lines, with the reason.
    rejected: list[LineNote] = field(default_factory=list)
    # Addresses already on the list and left as they were (suppressed ones among them).
    kept: list[LineNote] = field(default_factory=list)
    # False when invalid lines stopped the import: then nothing was written.
    imported: bool = False


@dataclass(frozen=True, slots=True)
class _Entry:
    request: SubscriptionRequest
    embargo_trusted: bool
    state: SubscriberState


def read_csv(stream: TextIO) -> list[CsvLine]:
    """The rows of a subscriber file, checked only for shape (header, field counts)."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationFailed("file", "the file is empty; it needs a header row") from None
    except csv.Error as error:
        raise ValidationFailed("file", "line 1: %(error)s", error=error) from None
    names = [read_cell(h.lstrip("\ufeff")).lower() for h in header]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [n for n in REQUIRED if n not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise ValidationFailed(
            "file",
            "the header must name the columns %(required)s and optionally %(optional)s, "
            "once each (found: %(found)s)",
            required=", ".join(REQUIRED),
            optional=", ".join(OPTIONAL),
            found=", ".join(names) or "nothing",
        )
    lines: list[CsvLine] = []
    number = reader.line_num
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                number = reader.line_num
                continue
            start = number + 1  # a quoted cell may span lines; name the first
            number = reader.line_num
            if len(lines) >= MAX_LINES:
                raise ValidationFailed(
                    "file", "more than %(limit)s rows; split the file", limit=MAX_LINES
                )
            if len(row) != len(names):
                problem = f"{len(row)} fields where the header names {len(names)}"
                lines.append(CsvLine(start, dict(zip(names, row, strict=False)), problem))
                continue
            lines.append(CsvLine(start, dict(zip(names, row, strict=True))))
    except csv.Error as error:
        raise ValidationFailed(
            "file", "line %(line)s: %(error)s", line=reader.line_num, error=error
        ) from None
    return lines


def _boolean(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValidationFailed("embargo_trusted", "must be yes or no (or empty for no)")


def _state(value: str) -> SubscriberState:
    try:
        return SubscriberState(value.lower() or "active")
    except ValueError:
        choices = ", ".join(s.value for s in SubscriberState)
        raise ValidationFailed(
            "state", "must be empty or one of %(choices)s", choices=choices
        ) from None


def _checked(problems: list[str], check: Callable[[str], T], value: str) -> T | None:
    try:
        return check(value)
    except ValidationFailed as error:
        problems.append(error.message)
        return None


def _entry(line: CsvLine, known_topics: Mapping[str, int]) -> _Entry:
    """The line's subscriber, or ``ValidationFailed`` naming every bad cell at once, so
    that one pass over the report is enough to mend the file."""
    if line.problem:
        raise ValidationFailed("line", line.problem)
    cell = {key: read_cell(value) for key, value in line.values.items()}.get
    problems: list[str] = []
    email = _checked(problems, subscriber_email, cell("email", ""))
    name = _checked(
        problems,
        lambda v: single_line("name", v, max_length=MAX_NAME_LENGTH, required=False),
        cell("name", ""),
    )
    language = _checked(problems, language_preference, cell("language", ""))
    topics = _checked(
        problems,
        lambda v: topics_by_name(v.split(TOPIC_SEPARATOR), known_topics),
        cell("topics", ""),
    )
    trusted = _checked(problems, _boolean, cell("embargo_trusted", ""))
    state = _checked(problems, _state, cell("state", ""))
    at = cell("digest", "")
    digest = _checked(problems, digest_time, at) if at else None
    if problems:
        every_problem = "; ".join(problems)
        raise ValidationFailed("line", every_problem)
    assert email is not None and name is not None and language is not None
    assert topics is not None and trusted is not None and state is not None
    return _Entry(SubscriptionRequest(email, name, topics, language, digest), trusted, state)


def import_subscribers(
    ctx: ServiceContext,
    actor_id: int,
    lines: Iterable[CsvLine],
    *,
    skip_invalid: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the office's own list in one transaction: every line is checked first,
    then new addresses are added (active unless the file says otherwise) and every
    address already on the list is left as it was and reported.
    ``progress`` is told of each line written."""
    lines = list(lines)
    report = ImportReport(lines=len(lines))
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("import subscribers")
        known = {name: topic_id for topic_id, name in uow.topics.all()}
        entries: list[tuple[int, _Entry]] = []
        first_line: dict[str, int] = {}
        for line in lines:
            try:
                entry = _entry(line, known)
            except ValidationFailed as error:
                email = line.values.get("email", "").strip()
                report.rejected.append(LineNote(line.number, email, error.reason))
                continue
            email = entry.request.email
            if email in first_line:
                report.rejected.append(
                    LineNote(line.number, email, f"the same address as line {first_line[email]}")
                )
                continue
            first_line[email] = line.number
            entries.append((line.number, entry))
        if report.rejected and not skip_invalid:
            return report

        repository = SubscriberRepository(uow.session)
        existing = repository.by_emails(first_line, for_update=True)
        hashed_out = suppressions.suppressions_of(
            uow.session, ctx.settings, (e for e in first_line if e not in existing)
        )
        now = ctx.clock.now()
        for number, entry in entries:
            current = existing.get(entry.request.email)
            suppressed = hashed_out.get(entry.request.email)
            if suppressed is not None:
                report.kept.append(LineNote(number, entry.request.email, suppressed.import_note()))
            elif current is None:
                repository.add(
                    Subscriber.imported(
                        entry.request, now, embargo_trusted=entry.embargo_trusted, state=entry.state
                    )
                )
                report.added += 1
            else:
                report.kept.append(LineNote(number, current.email, current.import_note()))
            if progress is not None:
                progress(1)
        record_admin_act(
            uow,
            actor,
            AdminActKind.SUBSCRIBERS_IMPORTED,
            at=now,
            details={
                "lines": report.lines,
                "added": report.added,
                "kept": len(report.kept),
                "rejected": len(report.rejected),
                "skip_invalid": skip_invalid,
            },
        )
        uow.commit()
    report.imported = True
    return report


def export_subscribers(ctx: ServiceContext, actor_id: int) -> list[SubscriberView]:
    """The whole list, suppression records included, for ``write_csv``: the list leaving
    the system is recorded as an administrative act. Admins only."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("export the distribution list")
        found = subscriber_views(uow)
        record_admin_act(
            uow,
            actor,
            AdminActKind.SUBSCRIBERS_EXPORTED,
            at=ctx.clock.now(),
            details={"rows": len(found)},
        )
        uow.commit()
    return found


def write_csv(subscribers: Iterable[SubscriberView], stream: TextIO) -> int:
    """Write the list in the import format, plus each row's state; returns the rows."""
    writer = csv.writer(stream)
    writer.writerow(COLUMNS)
    count = 0
    for s in subscribers:
        writer.writerow(
            [
                safe_cell(s.email),
                safe_cell(s.name),
                s.language,
                safe_cell(TOPIC_SEPARATOR.join(s.topics)),
                "yes" if s.embargo_trusted else "no",
                s.state,
                s.digest_time,
            ]
        )
        count += 1
    return count
