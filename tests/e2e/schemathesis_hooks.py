"""Which refusals of schema-valid requests the API may give: the rules a schema cannot
state, each named as the README's API section names it. test_openapi_contract runs
schemathesis with every check on, in its own process (importing this module registers
the hook) and as ``schemathesis run`` (which loads it through ``SCHEMATHESIS_HOOKS``): a
finding of "schema-valid data is accepted" is dropped only when every field the answer
refuses is one of ``RULES`` for that operation. Any other refusal of valid data fails the run,
as does a listed field refused by an operation not listed for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData

# The README's words, one for each rule (test_openapi_contract checks it says them).
EXIST: Final = "ids, topics, numbers and attachments must exist"
READY: Final = "a topic and a body before review"
REVISION: Final = "a revision or language it has"
LIVE_NOTE: Final = "a public note only for live text"
PHOTO_LEADS: Final = "a photo to lead"
ONCE: Final = "each file once"
SUPERSEDE: Final = "another published release to supersede it"
TRANSLATOR: Final = "a translation goes to an active translator, into the other language"
FUTURE: Final = "times ahead are in the future"
EMBARGO: Final = "an embargo ends after publication"
DAYS: Final = "`until` is not before `since`"
SIGNED: Final = "links and bounce messages must be ones the server signed or can read"
PASSWORD: Final = "a current password the right one"
ADDRESS: Final = "an address must pass email-validator"
ALT_TEXT: Final = "a photo needs alt text"
DIGEST: Final = "a daily digest its time of day"
FILE_KIND: Final = "a file must be a photo or a document of a listed kind (415)"
GONE: Final = "a release taken down answers 410"

RELEASE: Final = "/api/v1/releases/{release_id}"


def _in_each_language(rules: dict[str, str]) -> dict[str, str]:
    """An upload form's words: ``alt`` speaks for the original, ``alt_en`` for English."""
    return {
        f"{name}{suffix}": rule for name, rule in rules.items() for suffix in ("", "_ko", "_en")
    }


# (method, path) -> {refused field: the rule that refuses it}.
RULES: Final[dict[tuple[str, str], dict[str, str]]] = {
    ("POST", "/api/v1/releases"): {"topics": EXIST, "contact.email": ADDRESS},
    ("PATCH", RELEASE): {"topics": EXIST, "contact.email": ADDRESS},
    ("PUT", f"{RELEASE}/versions/{{language}}"): {
        "base_revision": REVISION,
        "language": REVISION,
        "note": LIVE_NOTE,
    },
    ("POST", f"{RELEASE}/submit"): {"topics": READY, "body": READY},
    ("POST", f"{RELEASE}/schedule"): {"publish_at": FUTURE, "embargo_until": EMBARGO},
    ("POST", f"{RELEASE}/publish"): {"embargo_until": EMBARGO},
    ("POST", f"{RELEASE}/correct"): {
        "base_revision": REVISION,
        "language": REVISION,
        "note": LIVE_NOTE,
    },
    ("POST", f"{RELEASE}/supersede"): {"superseded_by": SUPERSEDE},
    ("POST", f"{RELEASE}/attachments"): {
        "file": FILE_KIND,
        **_in_each_language({"alt": ALT_TEXT, "note": LIVE_NOTE}),
    },
    ("PATCH", f"{RELEASE}/attachments/{{attachment_id}}"): {
        "alt": ALT_TEXT,
        "note": LIVE_NOTE,
        "notes": LIVE_NOTE,
    },
    ("PUT", f"{RELEASE}/attachments"): {
        "lead": PHOTO_LEADS,
        "order": ONCE,
        "note": LIVE_NOTE,
        "notes": LIVE_NOTE,
    },
    ("POST", f"{RELEASE}/translation-requests"): {
        "translator": TRANSLATOR,
        "target_language": TRANSLATOR,
        "due_at": FUTURE,
    },
    ("POST", "/api/v1/translation-requests/{request_id}/submit"): {"base_revision": REVISION},
    ("POST", f"{RELEASE}/test-email"): {"language": REVISION},
    ("GET", "/api/v1/admin-acts"): {"until": DAYS},
    ("GET", "/api/v1/admin-acts/export"): {"until": DAYS},
    ("POST", "/api/v1/auth/login"): {"email": ADDRESS},
    ("POST", "/api/v1/auth/token"): {"email": ADDRESS},
    ("POST", "/api/v1/auth/password"): {"current_password": PASSWORD},
    ("POST", "/api/v1/users"): {"email": ADDRESS},
    ("POST", "/api/v1/subscriptions"): {"email": ADDRESS, "topics": EXIST, "digest_time": DIGEST},
    ("POST", "/api/v1/bounces/message"): {"body": SIGNED},
    ("GET", "/subscriptions/confirm"): {"token": SIGNED},
    ("POST", "/subscriptions/confirm"): {"token": SIGNED},
    ("GET", "/subscriptions/unsubscribe"): {"token": SIGNED},
    ("POST", "/subscriptions/unsubscribe"): {"token": SIGNED},
}


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keeps every failure but a refusal of schema-valid data that a rule explains."""
    if not isinstance(failure, RejectedPositiveData):
        return True
    return excuse(case.method, case.path, response.status_code, response.content, case) is None


def excuse(method: str, path: str, status: int, content: bytes, case: Any) -> str | None:
    """The rule that explains why this schema-valid request was refused, or None."""
    if status == 410:
        return GONE
    if status not in (415, 422):
        return None
    answer = _json(content)
    if answer is None:
        # A page (the links in emails lead to pages): it refused what was sent.
        refused = set(_sent(case))
    else:
        refused = {entry["field"] for entry in answer.get("fields") or ()}
        if refused == {"body"} and _not_an_object(case):
            # schemathesis's coverage phase, failing to make a body for a schema with
            # a long `body` field under a pattern, sends a scalar as "valid": every
            # request body in this API is an object (test_every_body_is_an_object).
            return "schemathesis: a scalar body taken for an object"
    rules = RULES.get((method.upper(), path), {})
    found = [rules.get(field) for field in refused]
    if not found or None in found:
        return None
    return "; ".join(sorted({rule for rule in found if rule is not None}))


def _json(content: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(content)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def _sent(case: Any) -> Iterable[str]:
    yield from case.query or {}
    if isinstance(case.body, dict):
        yield from case.body


def _not_an_object(case: Any) -> bool:
    return case.media_type == "application/json" and not isinstance(case.body, dict)
