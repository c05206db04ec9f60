"""The audit of administrative acts without a database: the filter an admin asks for,
where an act comes from, and that no code can rewrite the record."""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from workflow.domain.admin_acts import AdminActFilter, AdminActKind
from workflow.domain.errors import ValidationFailed
from workflow.origin import acting_from, command_line_origin, current_origin

ROOT = Path(__file__).resolve().parent.parent.parent
SEOUL = ZoneInfo("Asia/Seoul")


def test_the_days_of_a_filter_are_whole_days_in_the_office_zone() -> None:
    wanted = AdminActFilter.checked(since=date(2026, 12, 1), until=date(2026, 12, 1))
    start, end = wanted.window(SEOUL)
    assert start == datetime(2026, 11, 30, 15, tzinfo=UTC)
    assert end == datetime(2026, 12, 1, 15, tzinfo=UTC)
    assert AdminActFilter().window(SEOUL) == (None, None)


def test_a_filter_refuses_an_unknown_kind_and_days_the_wrong_way_round() -> None:
    with pytest.raises(ValidationFailed, match=r"kind: must be one of user\.added"):
        AdminActFilter.checked(kind="user.promoted")
    with pytest.raises(ValidationFailed, match="until: the last day comes before the first"):
        AdminActFilter.checked(since=date(2026, 12, 2), until=date(2026, 12, 1))
    wanted = AdminActFilter.checked(actor_id=-2, kind="token.created", since=date(2026, 1, 1))
    assert wanted.kind is AdminActKind.TOKEN_CREATED
    assert wanted.as_details() == {
        "actor_id": -2,
        "kind": "token.created",
        "since": "2026-01-01",
        "until": None,
    }


def test_an_origin_holds_within_its_block_only() -> None:
    assert current_origin() is None
    with acting_from("203.0.113.7"):
        assert current_origin() == "203.0.113.7"
        with acting_from("x" * 500):
            assert current_origin() == "x" * 200
        assert current_origin() == "203.0.113.7"
    assert current_origin() is None


def test_the_command_line_names_its_user_and_host() -> None:
    assert re.fullmatch(r"cli:[^@]+@.+", command_line_origin())


def _source_files() -> list[Path]:
    return sorted(p for package in ("workflow", "tasks") for p in (ROOT / package).rglob("*.py"))


def test_no_code_updates_or_deletes_an_administrative_act() -> None:
    """The table's triggers refuse it anyway; this keeps anyone from writing the code."""
    offences: list[str] = []
    for path in _source_files():
        source = path.read_text(encoding="utf-8")
        if re.search(r"(UPDATE|DELETE\s+FROM)\s+admin_acts\b", source, re.IGNORECASE):
            offences.append(f"{path.name}: SQL that changes admin_acts")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            arguments = [getattr(a, "id", "") for a in node.args]
            if name in {"update", "delete"} and "AdminActRow" in arguments:
                offences.append(f"{path.name}:{node.lineno}: {name}(AdminActRow)")
    assert offences == []
