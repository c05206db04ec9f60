"""Loading and saving user accounts with their roles, and finding who holds a credential."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from workflow.db.tables import ApiTokenRow, UserRoleRow, UserRow, WebSessionRow
from workflow.db.writes import flush
from workflow.domain.errors import NotFound
from workflow.domain.states import Role
from workflow.domain.users import NewUser, User
from workflow.domain.values import Language

Credential = TypeVar("Credential", ApiTokenRow, WebSessionRow)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: int) -> User:
        # The account and its roles in one query: every command resolves its actor.
        found = self.session.execute(
            select(UserRow, UserRoleRow.role)
            .outerjoin(UserRoleRow, UserRoleRow.user_id == UserRow.id)
            .where(UserRow.id == user_id)
        ).all()
        if not found:
            raise NotFound("user", user_id)
        return self._to_domain(found[0][0], [role for _, role in found if role is not None])

    def by_credential(
        self, credential: type[Credential], digest: str
    ) -> tuple[Credential, User] | None:
        """The token or session whose SHA-256 is ``digest``, whatever its state, with
        the user it belongs to and their roles: one query, as every signed-in request
        makes one."""
        found = self.session.execute(
            select(credential, UserRow, UserRoleRow.role)
            .join(UserRow, UserRow.id == credential.user_id)
            .outerjoin(UserRoleRow, UserRoleRow.user_id == UserRow.id)
            .where(credential.token_hash == digest)
        ).all()
        if not found:
            return None
        held, user = found[0][0], found[0][1]
        return held, self._to_domain(user, [role for *_, role in found if role is not None])

    def by_email(self, email: str) -> User | None:
        row = self.session.scalar(select(UserRow).where(UserRow.email == email))
        return None if row is None else self._to_domain(row)

    def add(self, new: NewUser, now: datetime, password_hash: str | None = None) -> int:
        row = UserRow(
            email=new.email,
            name=new.name,
            language=new.language.value,
            active=True,
            password_hash=password_hash,
            created_at=now,
        )
        self.session.add(row)
        flush(self.session)
        self.session.add_all(UserRoleRow(user_id=row.id, role=r.value) for r in new.roles)
        return row.id

    def set_active(self, user_id: int, active: bool) -> None:
        row = self.session.get(UserRow, user_id)
        if row is None:
            raise NotFound("user", user_id)
        row.active = active

    def set_roles(self, user_id: int, roles: Iterable[Role]) -> None:
        self.session.execute(delete(UserRoleRow).where(UserRoleRow.user_id == user_id))
        self.session.add_all(UserRoleRow(user_id=user_id, role=r.value) for r in roles)

    def with_role(self, role: Role) -> list[User]:
        rows = self.session.scalars(
            select(UserRow)
            .join(UserRoleRow, UserRoleRow.user_id == UserRow.id)
            .where(UserRoleRow.role == role.value, UserRow.active.is_(True))
            .order_by(UserRow.id)
        )
        return [self._to_domain(row) for row in rows]

    def _to_domain(self, row: UserRow, roles: Iterable[str] | None = None) -> User:
        if roles is None:
            roles = self.session.scalars(
                select(UserRoleRow.role).where(UserRoleRow.user_id == row.id)
            )
        return User(
            id=row.id,
            name=row.name,
            roles=frozenset(Role(r) for r in roles),
            active=row.active,
            email=row.email,
            language=Language(row.language),
        )


@dataclass(frozen=True, slots=True)
class EndedSignIns:
    sessions: int
    tokens: int


def end_sign_ins(
    session: Session, user_id: int, now: datetime, *, keep_session_hash: str | None = None
) -> EndedSignIns:
    """End every live browser session (but the one kept) and API token of ``user_id``:
    after a new password or a deactivation, nothing made before may act for them.
    Returns how many of each it ended."""
    sessions = update(WebSessionRow).where(
        WebSessionRow.user_id == user_id, WebSessionRow.revoked_at.is_(None)
    )
    if keep_session_hash is not None:
        sessions = sessions.where(WebSessionRow.token_hash != keep_session_hash)
    ended = session.execute(sessions.values(revoked_at=now))
    revoked = session.execute(
        update(ApiTokenRow)
        .where(ApiTokenRow.user_id == user_id, ApiTokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # An UPDATE's result is a CursorResult, whose row count the typing leaves out.
    return EndedSignIns(int(ended.rowcount), int(revoked.rowcount))  # type: ignore[attr-defined]
