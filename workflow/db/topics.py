"""The topics releases are filed under."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.db.tables import TopicRow
from workflow.db.writes import flush


class TopicRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str, now: datetime) -> int:
        row = TopicRow(name=name, created_at=now)
        self.session.add(row)
        flush(self.session)
        return row.id

    def by_name(self, name: str) -> int | None:
        return self.session.scalar(
            select(TopicRow.id).where(func.lower(TopicRow.name) == name.lower())
        )

    def existing(self, topic_ids: Iterable[int]) -> set[int]:
        ids = set(topic_ids)
        if not ids:
            return set()
        return set(self.session.scalars(select(TopicRow.id).where(TopicRow.id.in_(ids))))

    def all(self) -> list[tuple[int, str]]:
        rows = self.session.execute(select(TopicRow.id, TopicRow.name).order_by(TopicRow.name))
        return [(row.id, row.name) for row in rows]
