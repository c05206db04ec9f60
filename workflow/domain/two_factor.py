"""Two-factor sign-in: who must have it, what a code typed in looks like, and when a
time step may be used.

The office's policy says whose sign-in needs a second factor: nobody's (``off``, each
person may still turn it on for themselves), the approvers' and admins' (who decide what
is published and who may act), or everyone's. A code is either the six digits an
authenticator app shows (TOTP, RFC 6238) or one of the person's recovery codes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Literal

from workflow.domain.errors import DomainError, PermissionDenied, ValidationFailed
from workflow.domain.states import Role

# Each person gets this many recovery codes, each usable once.
RECOVERY_CODE_COUNT: Final = 10
# Letters and digits a person cannot misread for one another (no 0/O, 1/I/L, 8/B...).
RECOVERY_ALPHABET: Final = "ACDEFGHJKMNPQRTUVWXY2345679"
RECOVERY_CODE_LENGTH: Final = 16  # about 76 bits: a stored SHA-256 of it cannot be walked back
TOTP_DIGITS: Final = 6


class TwoFactorPolicy(StrEnum):
    OFF = "off"
    APPROVERS_AND_ADMINS = "approvers_and_admins"
    EVERYONE = "everyone"


_DECIDERS: Final = frozenset({Role.APPROVER, Role.ADMIN})


def policy_covers(policy: TwoFactorPolicy, roles: frozenset[Role]) -> bool:
    """Whether ``policy`` requires a second factor of someone with ``roles``."""
    if policy is TwoFactorPolicy.EVERYONE:
        return True
    if policy is TwoFactorPolicy.APPROVERS_AND_ADMINS:
        return bool(roles & _DECIDERS)
    return False


def checked_policy(value: str) -> TwoFactorPolicy:
    try:
        return TwoFactorPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in TwoFactorPolicy)
        raise ValidationFailed("two_factor", f"must be one of {choices}") from None


@dataclass(frozen=True, slots=True)
class TypedCode:
    """A code as typed, told apart by its shape and cleaned of spaces and dashes."""

    kind: Literal["totp", "recovery"]
    value: str


_SEPARATORS: Final = re.compile(r"[\s\-]+")


def read_code(typed: str) -> TypedCode:
    """The code someone typed: six digits are an authenticator's code, sixteen letters
    and digits of the recovery alphabet a recovery code; anything else is refused."""
    cleaned = _SEPARATORS.sub("", typed).upper()
    if len(cleaned) == TOTP_DIGITS and cleaned.isascii() and cleaned.isdigit():
        return TypedCode("totp", cleaned)
    if len(cleaned) == RECOVERY_CODE_LENGTH and all(c in RECOVERY_ALPHABET for c in cleaned):
        return TypedCode("recovery", cleaned)
    raise ValidationFailed(
        "code", "type the six digits your authenticator app shows, or a recovery code"
    )


def step_usable(step: int, last_used_step: int | None) -> bool:
    """A time step may be used once: a code of a step already used, or of an earlier
    one, is refused, so that a code seen over a shoulder cannot be replayed."""
    return last_used_step is None or step > last_used_step


def require_may_turn_off(policy: TwoFactorPolicy, roles: frozenset[Role]) -> None:
    if policy_covers(policy, roles):
        raise PermissionDenied("the office requires two-factor sign-in of you")


class SecondFactorRequired(DomainError):
    """A sign-in or a new token needs the code of the person's second factor."""

    def __init__(self) -> None:
        super().__init__("two-factor sign-in is on: send the code from your authenticator app")


class EnrolmentRequired(DomainError):
    """The policy covers this person, who has not set up a second factor yet."""

    def __init__(self) -> None:
        super().__init__(
            "the office requires two-factor sign-in: set it up by signing in on the web page"
        )
