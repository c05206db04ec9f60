"""Loading and saving the ``Subscriber`` aggregate: one ``subscribers`` row and its
``subscriber_topics`` rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from workflow.db.tables import SubscriberRow, SubscriberTopicRow
from workflow.db.writes import flush
from workflow.domain.errors import NotFound
from workflow.domain.subscribers import LanguagePreference, Subscriber, SubscriberState

# Bound parameters per IN (...) list: well under SQLite's and PostgreSQL's limits.
_CHUNK = 500


class SubscriberRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, subscriber_id: int, *, for_update: bool = False) -> Subscriber:
        found = self._load([subscriber_id], by_email=False, for_update=for_update)
        if not found:
            raise NotFound("subscriber", subscriber_id)
        return found[0]

    def find(self, subscriber_id: int, *, for_update: bool = False) -> Subscriber | None:
        found = self._load([subscriber_id], by_email=False, for_update=for_update)
        return found[0] if found else None

    def by_email(self, email: str, *, for_update: bool = False) -> Subscriber | None:
        found = self._load([email], by_email=True, for_update=for_update)
        return found[0] if found else None

    def by_emails(
        self, emails: Iterable[str], *, for_update: bool = False
    ) -> dict[str, Subscriber]:
        return {s.email: s for s in self._load(list(emails), by_email=True, for_update=for_update)}

    def all(self, state: SubscriberState | None = None) -> list[Subscriber]:
        query = select(SubscriberRow).order_by(SubscriberRow.id)
        if state is not None:
            query = query.where(SubscriberRow.state == state.value)
        return self._with_topics(list(self.session.scalars(query)))

    def search(
        self, address: str, state: SubscriberState | None, *, offset: int, limit: int
    ) -> tuple[list[Subscriber], int]:
        """One page of the subscribers whose address contains ``address`` (lower case,
        as addresses are stored), in the order they were added, and how many match."""
        conditions = []
        if address:
            conditions.append(SubscriberRow.email.contains(address, autoescape=True))
        if state is not None:
            conditions.append(SubscriberRow.state == state.value)
        total = self.session.scalar(
            select(func.count()).select_from(SubscriberRow).where(*conditions)
        )
        rows = self.session.scalars(
            select(SubscriberRow)
            .where(*conditions)
            .order_by(SubscriberRow.id)
            .offset(offset)
            .limit(limit)
        )
        return self._with_topics(list(rows)), int(total or 0)

    def _load(
        self, keys: Sequence[int | str], *, by_email: bool, for_update: bool
    ) -> list[Subscriber]:
        rows: list[SubscriberRow] = []
        column = SubscriberRow.email if by_email else SubscriberRow.id
        for start in range(0, len(keys), _CHUNK):
            query = select(SubscriberRow).where(column.in_(keys[start : start + _CHUNK]))
            if for_update:
                # Row locks on PostgreSQL; SQLite's immediate transaction already serialises.
                query = query.with_for_update()
            rows.extend(self.session.scalars(query))
        rows.sort(key=lambda row: row.id)
        return self._with_topics(rows)

    def _with_topics(self, rows: list[SubscriberRow]) -> list[Subscriber]:
        topics: dict[int, set[int]] = {row.id: set() for row in rows}
        ids = list(topics)
        for start in range(0, len(ids), _CHUNK):
            for subscriber_id, topic_id in self.session.execute(
                select(SubscriberTopicRow.subscriber_id, SubscriberTopicRow.topic_id).where(
                    SubscriberTopicRow.subscriber_id.in_(ids[start : start + _CHUNK])
                )
            ):
                topics[subscriber_id].add(topic_id)
        return [_to_domain(row, frozenset(topics[row.id])) for row in rows]

    def add(self, subscriber: Subscriber) -> int:
        row = SubscriberRow(email=subscriber.email, created_at=subscriber.created_at)
        _copy(subscriber, row)
        self.session.add(row)
        flush(self.session)  # two first subscriptions of one address: one loses, cleanly
        subscriber.id = row.id
        self._set_topics(row.id, set(), subscriber.topics)
        return row.id

    def save(self, subscriber: Subscriber) -> None:
        assert subscriber.id is not None, "save() is for subscribers loaded from the database"
        row = self.session.get(SubscriberRow, subscriber.id)
        assert row is not None
        _copy(subscriber, row)
        current = set(
            self.session.scalars(
                select(SubscriberTopicRow.topic_id).where(
                    SubscriberTopicRow.subscriber_id == subscriber.id
                )
            )
        )
        self._set_topics(subscriber.id, current, subscriber.topics)
        flush(self.session)

    def _set_topics(self, subscriber_id: int, current: set[int], wanted: Iterable[int]) -> None:
        wanted = set(wanted)
        if current - wanted:
            self.session.execute(
                delete(SubscriberTopicRow).where(
                    SubscriberTopicRow.subscriber_id == subscriber_id,
                    SubscriberTopicRow.topic_id.in_(current - wanted),
                )
            )
        if wanted - current:
            self.session.execute(
                insert(SubscriberTopicRow),
                [
                    {"subscriber_id": subscriber_id, "topic_id": topic_id}
                    for topic_id in sorted(wanted - current)
                ],
            )


def _copy(subscriber: Subscriber, row: SubscriberRow) -> None:
    row.name = subscriber.name
    row.language = subscriber.language.value
    row.state = subscriber.state.value
    row.embargo_trusted = subscriber.embargo_trusted
    row.hard_bounces = subscriber.hard_bounces
    row.token_version = subscriber.token_version
    row.confirmed_at = subscriber.confirmed_at
    row.unsubscribed_at = subscriber.unsubscribed_at
    row.bounced_at = subscriber.bounced_at
    row.digest_time = subscriber.digest_time


def _to_domain(row: SubscriberRow, topics: frozenset[int]) -> Subscriber:
    return Subscriber(
        id=row.id,
        email=row.email,
        name=row.name,
        language=LanguagePreference(row.language),
        topics=topics,
        state=SubscriberState(row.state),
        created_at=row.created_at,
        embargo_trusted=row.embargo_trusted,
        hard_bounces=row.hard_bounces,
        token_version=row.token_version,
        confirmed_at=row.confirmed_at,
        unsubscribed_at=row.unsubscribed_at,
        bounced_at=row.bounced_at,
        digest_time=row.digest_time,
    )
