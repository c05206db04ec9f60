"""The read side: what people see of releases, built straight from the tables.

Read models are plain frozen dataclasses; they never go through the aggregate and never
write. ``staff_release`` holds one release as staff see it, ``staff_lists`` the staff's
lists, ``translation_requests`` a translator's requests, ``public`` what anyone may read,
``public_marks`` what the public pages' cache checks for changes, and ``release_links``
where a release stands for its stable address (under embargo, public or withdrawn).

The office pages read the names below as ``queries.<name>``.
"""

from workflow.services.queries.staff_lists import (
    drafts_of,
    recently_published,
    review_queue,
    scheduled_releases,
)
from workflow.services.queries.staff_release import (
    ReleaseView,
    audit_trail,
    changes_since_review,
    comments,
    get_release,
    revisions,
)
from workflow.services.queries.translation_requests import translation_requests_for

__all__ = [
    "ReleaseView",
    "audit_trail",
    "changes_since_review",
    "comments",
    "drafts_of",
    "get_release",
    "recently_published",
    "review_queue",
    "revisions",
    "scheduled_releases",
    "translation_requests_for",
]
