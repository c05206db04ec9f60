"""A refusal in the page's language.

A ``DomainError`` carries its English template and values (``workflow.domain.errors``);
the page looks the template up in the catalogue and fills it. A refused field is named
as a reader knows it ("현재 비밀번호", not ``current_password``), what was not found as a
noun of the page's language, and the reason a transition was refused in that language
too. A refusal the catalogue lacks stays English, as the API says it.
"""

from __future__ import annotations

from typing import Final

from workflow.catalogue import Translator
from workflow.domain.errors import (
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from workflow.domain.subscribers import SubscriberTransitionRefused


def NC_(context: str, message: str) -> str:  # marks a message with a context for extraction
    return message


# Every field a refusal names (the first argument of ValidationFailed); a unit test
# checks the list against the code.
FIELDS: Final = frozenset(
    {
        NC_("field", "actor"),
        NC_("field", "alt"),
        NC_("field", "attachments"),
        NC_("field", "base_revision"),
        NC_("field", "body"),
        NC_("field", "caption"),
        NC_("field", "change"),
        NC_("field", "code"),
        NC_("field", "comment"),
        NC_("field", "contact_email"),
        NC_("field", "contact_name"),
        NC_("field", "contact_phone"),
        NC_("field", "credit"),
        NC_("field", "current_password"),
        NC_("field", "date"),
        NC_("field", "delivery"),
        NC_("field", "digest_time"),
        NC_("field", "directory"),
        NC_("field", "due_at"),
        NC_("field", "email"),
        NC_("field", "embargo_trusted"),
        NC_("field", "embargo_until"),
        NC_("field", "expires_in_days"),
        NC_("field", "file"),
        NC_("field", "filename"),
        NC_("field", "kind"),
        NC_("field", "language"),
        NC_("field", "lead"),
        NC_("field", "line"),
        NC_("field", "name"),
        NC_("field", "name_ko"),
        NC_("field", "new_password"),
        NC_("field", "note"),
        NC_("field", "number"),
        NC_("field", "order"),
        NC_("field", "page"),
        NC_("field", "password"),
        NC_("field", "per_page"),
        NC_("field", "publish_at"),
        NC_("field", "q"),
        NC_("field", "reason"),
        NC_("field", "recipient"),
        NC_("field", "role"),
        NC_("field", "roles"),
        NC_("field", "state"),
        NC_("field", "subtitle"),
        NC_("field", "superseded_by"),
        NC_("field", "target_language"),
        NC_("field", "texts"),
        NC_("field", "title"),
        NC_("field", "token"),
        NC_("field", "topics"),
        NC_("field", "translator"),
        NC_("field", "two_factor"),
        NC_("field", "until"),
    }
)

# The actions and states a refused transition names.
ACTIONS: Final = frozenset(
    {
        NC_("action", "edit"),
        NC_("action", "update_details"),
        NC_("action", "submit"),
        NC_("action", "request_changes"),
        NC_("action", "approve"),
        NC_("action", "reject"),
        NC_("action", "reopen"),
        NC_("action", "schedule"),
        NC_("action", "unschedule"),
        NC_("action", "publish"),
        NC_("action", "correct"),
        NC_("action", "withdraw"),
        NC_("action", "unpublish"),
        NC_("action", "supersede"),
        NC_("action", "abandon"),
    }
)
STATES: Final = frozenset(
    {
        NC_("state", "draft"),
        NC_("state", "in_review"),
        NC_("state", "changes_requested"),
        NC_("state", "approved"),
        NC_("state", "scheduled"),
        NC_("state", "published"),
        NC_("state", "correction_in_review"),
        NC_("state", "correction_changes_requested"),
        NC_("state", "rejected"),
        NC_("state", "withdrawn"),
        NC_("state", "unpublished"),
        NC_("state", "superseded"),
        NC_("state", "abandoned"),
    }
)

# What NotFound may say is missing.
THINGS: Final = frozenset(
    {
        NC_("thing", "action"),
        NC_("thing", "attachment"),
        NC_("thing", "file"),
        NC_("thing", "page"),
        NC_("thing", "preview link"),
        NC_("thing", "release"),
        NC_("thing", "revision"),
        NC_("thing", "session"),
        NC_("thing", "subscriber"),
        NC_("thing", "token"),
        NC_("thing", "topic"),
        NC_("thing", "translation request"),
        NC_("thing", "user"),
    }
)


def refusal_text(error: Exception, _: Translator, *, name_the_field: bool = True) -> str:
    """``error``'s message in ``_``'s language; for a refused field, preceded by the
    field's name unless the page already says which it is."""
    if not isinstance(error, DomainError):
        return _(str(error))
    values = dict(error.values)
    if isinstance(error, NotFound) and "what" in values:
        values["what"] = _.pgettext("thing", error.what)
    elif isinstance(error, PermissionDenied) and "what" in values:
        values["what"] = _(str(values["what"]))  # what only admins do (require_admin)
    if isinstance(error, InvalidTransition):
        values["action"] = _.pgettext("action", str(values["action"]))
        values["state"] = _.pgettext("state", str(values["state"]))
        if error.reason:
            values["reason"] = _(error.reason, **error.reason_values)
    if isinstance(error, SubscriberTransitionRefused) and error.reason:
        values["reason"] = _(error.reason)
    text = _(error.template, **values)
    if isinstance(error, ValidationFailed) and name_the_field:
        field = _.pgettext("field", error.field)
        return _("%(field)s: %(reason)s", field=field, reason=text)
    return text
