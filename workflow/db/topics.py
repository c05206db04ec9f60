"""The topics releases are filed under."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.db.tables import TopicRow
from workflow.db.writes import flush
from workflow.domain.topics import Topic


class TopicRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, name: str, now: datetime, name_ko: str = "") -> int:
        row = TopicRow(name=name, name_ko=name_ko or None, created_at=now)
        self.session.add(row)
        flush(self.session)
        return row.id

    def rename(self, topic_id: int, name: str, name_ko: str) -> bool:
        """Set both names; False when there is no such topic."""
        row = self.session.get(TopicRow, topic_id)
        if row is None:
            return False
        row.name, row.name_ko = name, name_ko or None
        flush(self.session)
        return True

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
        """Each topic's id and English name, by that name."""
        rows = self.session.execute(select(TopicRow.id, TopicRow.name).order_by(TopicRow.name))
        return [(row.id, row.name) for row in rows]

    def records(self) -> list[Topic]:
        """Every topic with both its names, by the English one."""
        rows = self.session.execute(
            select(TopicRow.id, TopicRow.name, TopicRow.name_ko).order_by(TopicRow.name)
        )
        return [Topic(row.id, row.name, row.name_ko or "") for row in rows]
