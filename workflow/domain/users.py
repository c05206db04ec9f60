"""People and their roles. Only admins manage users, roles and topics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from workflow.domain.errors import PermissionDenied, ValidationFailed
from workflow.domain.states import Role
from workflow.domain.values import MAX_NAME_LENGTH, Language, normalise_email, single_line

STAFF_ROLES = frozenset({Role.PRESS_OFFICER, Role.APPROVER, Role.TRANSLATOR, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class User:
    """Whoever acts: a member of staff, the scheduler or the console operator."""

    id: int
    name: str
    roles: frozenset[Role]
    active: bool = True
    email: str = ""
    language: Language = Language.KO

    def has(self, role: Role) -> bool:
        return role in self.roles

    def require_active(self) -> None:
        if not self.active:
            raise PermissionDenied(
                "the account of %(name)s is deactivated", code="account_deactivated", name=self.name
            )

    def require_admin(self, what: str) -> None:
        """Refuse anyone but an admin; ``what`` says what only admins do, as a phrase
        that completes "only admins …" (extracted for the catalogue from each call)."""
        self.require_active()
        if Role.ADMIN not in self.roles:
            raise PermissionDenied("only admins %(what)s", code="admins_only", what=what)


# Actors that are not people have negative ids; the audit trail records them by role.
SCHEDULER = User(id=-1, name="scheduler", roles=frozenset({Role.SCHEDULER}))
# Whoever runs the ``newsroom`` command on the server: they hold the database already.
CONSOLE = User(id=-2, name="console operator", roles=frozenset({Role.ADMIN}))


def staff_email(value: str) -> str:
    """A staff member's address, lower-cased whole: it is their login and must be one
    account however it is typed (``Choi@…``, ``choi@…``), as subscribers' addresses are."""
    return normalise_email(value).lower()


def checked_roles(roles: Iterable[str]) -> frozenset[Role]:
    chosen: set[Role] = set()
    for name in roles:
        try:
            role = Role(name)
        except ValueError:
            raise ValidationFailed("roles", "unknown role %(role)r", role=name) from None
        if role not in STAFF_ROLES:
            raise ValidationFailed("roles", "%(role)r cannot be given to a person", role=name)
        chosen.add(role)
    if not chosen:
        raise ValidationFailed("roles", "a user needs at least one role")
    return frozenset(chosen)


@dataclass(frozen=True, slots=True)
class NewUser:
    email: str
    name: str
    roles: frozenset[Role]
    language: Language = Language.KO

    @classmethod
    def checked(cls, email: str, name: str, roles: Iterable[str], language: str = "ko") -> NewUser:
        try:
            lang = Language(language)
        except ValueError:
            raise ValidationFailed("language", "must be 'ko' or 'en'") from None
        return cls(
            email=staff_email(email),
            name=single_line("name", name, max_length=MAX_NAME_LENGTH),
            roles=checked_roles(roles),
            language=lang,
        )
