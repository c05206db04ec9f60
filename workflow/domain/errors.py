"""The named errors a refused action raises. Each message is meant for a person."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """Base of every refusal by the domain; nothing was changed when one is raised."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(DomainError):
    """The actor may not do this; ``rule`` names the rule that refused."""

    def __init__(self, rule: str) -> None:
        super().__init__(rule)
        self.rule = rule


class InvalidTransition(DomainError):
    """The action is not allowed from the release's current state."""

    def __init__(self, action: str, state: str, allowed: list[str], reason: str = "") -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        message = f"cannot {action} a release that is {state}"
        if reason:
            message += f": {reason}"
        message += f" (allowed from {state}: {allowed_text})"
        super().__init__(message)
        self.action = action
        self.state = state
        self.allowed = allowed


class StaleEdit(DomainError):
    """An edit started from an older revision than the current one."""

    def __init__(
        self, language: str, base: int, current: int, editor_name: str, edited_at: datetime
    ) -> None:
        super().__init__(
            f"the {language} text was changed while you edited it: you started from revision "
            f"{base}, the current revision is {current}, saved by {editor_name} at "
            f"{edited_at:%Y-%m-%d %H:%M} UTC"
        )
        self.language = language
        self.base = base
        self.current = current
        self.editor_name = editor_name


class ValidationFailed(DomainError):
    """An input value is not acceptable; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.reason = message


class NotFound(DomainError):
    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} {key} does not exist")
        self.what = what
        self.key = key


class ConcurrentUpdate(DomainError):
    """Someone else changed the same release in the same instant; try again."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was changed by someone else at the same time; reload and retry")


class Conflict(DomainError):
    """A uniqueness rule refused the change (an email or topic that already exists)."""


class TooLarge(DomainError):
    """An upload is larger than the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than the limit of {limit / 1_048_576:.0f} MB")
        self.limit = limit


class UnsupportedFile(ValidationFailed):
    """An upload whose bytes are not of a type a release may carry."""
