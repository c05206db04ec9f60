"""The named errors a refused action raises. Each message is meant for a person.

A refusal carries a stable ``code`` for programs (the API's ``code``) and its English
``message``, made from ``template`` (a %-format) and ``values``. The template is the
message's id in the interface catalogue, so a page shows the refusal in its own language:
``make messages`` extracts the literal templates passed to these classes (babel.cfg's
keywords), and a template written elsewhere is marked with ``N_``.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar


def N_(template: str) -> str:  # gettext's name: mark for extraction, translate later
    return template


class DomainError(Exception):
    """Base of every refusal by the domain; nothing was changed when one is raised."""

    code: ClassVar[str] = "refused"

    def __init__(self, template: str, *, code: str | None = None, **values: object) -> None:
        self.template = template
        self.values = values
        self.message = template % values if values else template
        super().__init__(self.message)
        if code is not None:
            self.code = code  # type: ignore[misc]  # one refusal's own code


class PermissionDenied(DomainError):
    """The actor may not do this; ``rule`` names the rule that refused."""

    code = "permission_denied"

    def __init__(self, rule: str, *, code: str | None = None, **values: object) -> None:
        super().__init__(rule, code=code, **values)
        self.rule = self.message


class InvalidTransition(DomainError):
    """The action is not allowed from the release's current state. ``reason``, when
    given, is a template of its own, filled from ``reason_values``."""

    code = "invalid_transition"

    def __init__(
        self,
        action: str,
        state: str,
        allowed: list[str],
        reason: str = "",
        **reason_values: object,
    ) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none"
        template = N_("cannot %(action)s a release that is %(state)s")
        if reason:
            template = N_("cannot %(action)s a release that is %(state)s: %(reason)s")
        super().__init__(
            template,
            action=str(action),
            state=str(state),
            reason=reason % reason_values if reason_values else reason,
        )
        self.message += f" (allowed from {state}: {allowed_text})"
        self.args = (self.message,)
        self.reason = reason
        self.reason_values = reason_values
        self.action = action
        self.state = state
        self.allowed = allowed


class StaleEdit(DomainError):
    """An edit started from an older revision than the current one."""

    code = "stale_edit"

    def __init__(
        self, language: str, base: int, current: int, editor_name: str, edited_at: datetime
    ) -> None:
        super().__init__(
            N_(
                "the %(language)s text was changed while you edited it: you started from "
                "revision %(base)s, the current revision is %(current)s, saved by "
                "%(editor)s at %(when)s UTC"
            ),
            language=language,
            base=base,
            current=current,
            editor=editor_name,
            when=f"{edited_at:%Y-%m-%d %H:%M}",
        )
        self.language = language
        self.base = base
        self.current = current
        self.editor_name = editor_name


class ValidationFailed(DomainError):
    """An input value is not acceptable; ``field`` names it. ``template`` and ``values``
    make the ``reason``; the message is the field, a colon, and the reason."""

    code = "validation_failed"

    def __init__(
        self, field: str, reason: str, *, code: str | None = None, **values: object
    ) -> None:
        super().__init__(reason, code=code, **values)
        self.field = field
        self.reason = self.message
        self.message = f"{field}: {self.reason}"
        self.args = (self.message,)


class NotFound(DomainError):
    """There is no ``what`` called ``key``; the code names what was missing."""

    code = "not_found"

    def __init__(self, what: str, key: object) -> None:
        super().__init__(
            N_("%(what)s %(key)s does not exist"),
            code=f"{what.replace(' ', '_')}_not_found",
            what=what,
            key=key,
        )
        self.what = what
        self.key = key


class ConcurrentUpdate(DomainError):
    """Someone else changed the same release in the same instant; try again."""

    code = "concurrent_update"

    def __init__(self, what: str) -> None:
        super().__init__(
            N_("%(what)s was changed by someone else at the same time; reload and retry"),
            what=what,
        )
        self.what = what


class Conflict(DomainError):
    """A uniqueness rule refused the change (an email or topic that already exists)."""

    code = "conflict"


class TooLarge(DomainError):
    """An upload is larger than the configured limit."""

    code = "too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            N_("the file is larger than the limit of %(megabytes)s MB"),
            megabytes=f"{limit / 1_048_576:.0f}",
        )
        self.limit = limit


class UnsupportedFile(ValidationFailed):
    """An upload whose bytes are not of a type a release may carry."""

    code = "unsupported_media_type"
