"""Preview links: a release not yet public, shown read-only to someone outside the office
(a minister's office, a partner ministry, an embassy) before it goes out.

A press officer or an approver makes a link for a release in ``PREVIEW_STATES``; it opens
for ``expires_in_days`` (``DEFAULT_DAYS``, at most ``MAX_DAYS``) unless revoked first, and
every showing of it is recorded. A link ends for good once its release leaves those
states after it was made (published, withdrawn, abandoned, rejected), even if the release
comes back to a draft later: what was shared was a draft on its way out, and a reopened
release needs a new decision to share it.

The address is ``{public_base_url}/preview/<token>``, the token being the link's id signed
with the secret key (itsdangerous, a salt of its own, older keys still accepted): a
forged or cut token is refused without a look at the database, and an id seen in the
audit trail or a log opens nothing. A forged token and an unknown link answer alike
(``PreviewUnavailable``, 404), and an expired or revoked link and one whose release
moved on alike (``PreviewEnded``, 410), so that an answer tells a stranger nothing of
which it was.

Making and revoking a link each write an audit entry on the release
(``create_preview_link``, ``revoke_preview_link``, from and to its current state); they
change nothing of the release itself, so its row version and its "updated" time stay.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from workflow.db.appended import append
from workflow.db.tables import (
    AuditRow,
    PreviewLinkRow,
    PreviewOpeningRow,
    ReleaseRow,
    RevisionRow,
    UserRow,
    VersionRow,
)
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain.errors import (
    N_,
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from workflow.domain.release_core import role_values
from workflow.domain.states import ReleaseState, Role
from workflow.domain.users import User
from workflow.domain.values import Language, Text
from workflow.services.context import Actor, ServiceContext, resolve_actor
from workflow.services.queries.attachments import ServedFile, Shown, file_facts, served, shown

S = ReleaseState
# The states a release may be previewed in: written, not yet public, still going ahead.
PREVIEW_STATES: Final = frozenset(
    {S.DRAFT, S.IN_REVIEW, S.CHANGES_REQUESTED, S.APPROVED, S.SCHEDULED}
)
SHARERS: Final = frozenset({Role.PRESS_OFFICER, Role.APPROVER})
DEFAULT_DAYS: Final = 7
MAX_DAYS: Final = 30
CREATE_ACTION: Final = "create_preview_link"
REVOKE_ACTION: Final = "revoke_preview_link"

_SALT: Final = "preview-link"
# What ``secrets.token_urlsafe`` makes, and nothing longer than the column.
_LINK_ID: Final = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
# A signed 22-character id is about 50; anything far longer is not one of ours.
_MAX_TOKEN: Final = 200

# What a link is, as of a read: ``ended`` once its release moved on.
LinkStatus = Literal["open", "expired", "revoked", "ended"]

SHARERS_ONLY: Final = N_("only press officers and approvers share previews")
NOT_PREVIEWABLE: Final = N_(
    "only a release not yet public (a draft, in review, with changes requested, approved "
    "or scheduled) can be previewed"
)
DAYS_RULE: Final = N_("must be a whole number of days from 1 to %(days)s")


class PreviewUnavailable(NotFound):
    """No preview at this address: the token is forged or cut, or names no link."""

    code = "preview_not_found"

    def __init__(self) -> None:
        DomainError.__init__(self, N_("there is no preview at this address"))
        self.what = "preview"
        self.key = "at this address"


class PreviewEnded(DomainError):
    """The link was real but opens no more: expired, revoked, or its release moved on."""

    code = "preview_ended"

    def __init__(self) -> None:
        super().__init__(N_("this preview has ended"))


class PreviewNotAllowed(Conflict):
    """The release is not in a state a preview is for (``PREVIEW_STATES``)."""

    code = "not_previewable"

    def __init__(self, state: ReleaseState) -> None:
        super().__init__(NOT_PREVIEWABLE)
        self.state = state


@dataclass(frozen=True, slots=True)
class IssuedPreviewLink:
    """A link just made: its id, its address to hand out, and when it stops opening."""

    id: str
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PreviewLinkView:
    """A link as the release page and the API list it. ``status`` is ``open``,
    ``expired``, ``revoked`` or ``ended`` (the release moved on), as of the read."""

    id: str
    url: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_opened_at: datetime | None
    open_count: int
    status: LinkStatus

    @property
    def is_open(self) -> bool:
        return self.status == "open"


@dataclass(frozen=True, slots=True)
class PreviewPanel:
    """What the office's release page shows of its preview links, to someone who may
    share them: the links, newest first, and whether a new one may be made now."""

    links: list[PreviewLinkView]
    may_create: bool
    default_days: int = DEFAULT_DAYS
    max_days: int = MAX_DAYS


@dataclass(frozen=True, slots=True)
class PreviewVersion:
    """One language version as the preview shows it: its current text and files."""

    language: Language
    text: Text
    files: list[Shown]


@dataclass(frozen=True, slots=True)
class Preview:
    """What an open link shows: every language version, the original first."""

    release_id: int
    versions: list[PreviewVersion]
    expires_at: datetime


# --- the address ---------------------------------------------------------------------------


def _keys(settings: Settings) -> tuple[str, ...]:
    # Oldest first, as itsdangerous wants them: signed with the newest, and links made
    # before a key rotation still open.
    return (*settings.previous_secret_keys, settings.secret_key)


@lru_cache(maxsize=4)
def _serializer(keys: tuple[str, ...]) -> URLSafeSerializer:
    return URLSafeSerializer(
        list(keys), salt=_SALT, signer_kwargs={"digest_method": hashlib.sha256}
    )


def preview_token(settings: Settings, link_id: str) -> str:
    """The signed token of link ``link_id``: what its address carries."""
    return str(_serializer(_keys(settings)).dumps(link_id))


def preview_url(settings: Settings, link_id: str) -> str:
    """The address to hand out for link ``link_id``."""
    return f"{settings.public_base_url.rstrip('/')}/preview/{preview_token(settings, link_id)}"


def read_token(settings: Settings, token: str) -> str | None:
    """The link id ``token`` carries if we signed it; None for anything else."""
    if not token or len(token) > _MAX_TOKEN:
        return None
    try:
        link_id = _serializer(_keys(settings)).loads(token)
    except BadSignature:
        return None
    if not isinstance(link_id, str) or not _LINK_ID.match(link_id):
        return None
    return link_id


def client_key(settings: Settings, address: str) -> str:
    """How an opening records where it came from: an HMAC of the address under the
    secret key. It tells one reader from several, which is what a leaked link looks
    like, without keeping an address that would be personal data; without the key
    nobody can test a guessed address against it."""
    message = b"preview-opening:" + address.encode("utf-8", "surrogatepass")
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


# --- commands ------------------------------------------------------------------------------


def _require_sharer(actor: User) -> None:
    actor.require_active()
    if not actor.roles & SHARERS:
        raise PermissionDenied(SHARERS_ONLY)


def _checked_days(value: int) -> int:
    if type(value) is not int or not 1 <= value <= MAX_DAYS:
        raise ValidationFailed("expires_in_days", DAYS_RULE, days=MAX_DAYS)
    return value


def _locked_state(session: Session, release_id: int) -> ReleaseState:
    """The release's state, its row locked until commit (PostgreSQL; SQLite's immediate
    transaction holds the lock already), so that no transition slips in between."""
    state = session.scalar(
        select(ReleaseRow.state).where(ReleaseRow.id == release_id).with_for_update()
    )
    if state is None:
        raise NotFound("release", release_id)
    return ReleaseState(state)


def _audit(
    uow: UnitOfWork,
    action: str,
    actor: User,
    release_id: int,
    state: ReleaseState,
    now: datetime,
    details: dict[str, str | None],
) -> None:
    append(
        uow.session,
        AuditRow,
        [
            {
                "release_id": release_id,
                "action": action,
                "actor_id": actor.id if actor.id > 0 else None,
                "actor_roles": ",".join(role_values(actor)),
                "from_state": state.value,
                "to_state": state.value,
                "comment": "",
                "details": details,
                "at": now,
            }
        ],
    )


def create_preview_link(
    ctx: ServiceContext, who: Actor, release_id: int, *, expires_in_days: int = DEFAULT_DAYS
) -> IssuedPreviewLink:
    """Make a preview link for release ``release_id``, open for ``expires_in_days``.

    Refused with ``PermissionDenied`` unless ``who`` is a press officer or an approver,
    ``ValidationFailed`` for a term outside 1 to ``MAX_DAYS`` days, and
    ``PreviewNotAllowed`` (a ``Conflict``) unless the release is in ``PREVIEW_STATES``.
    """
    days = _checked_days(expires_in_days)
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        _require_sharer(actor)
        state = _locked_state(uow.session, release_id)
        if state not in PREVIEW_STATES:
            raise PreviewNotAllowed(state)
        now = ctx.clock.now()
        row = PreviewLinkRow(
            id=secrets.token_urlsafe(16),
            release_id=release_id,
            created_by=actor.id,
            created_at=now,
            expires_at=now + timedelta(days=days),
            open_count=0,
        )
        uow.session.add(row)
        details: dict[str, str | None] = {
            "link_id": row.id,
            "expires_at": row.expires_at.isoformat(),
        }
        _audit(uow, CREATE_ACTION, actor, release_id, state, now, details)
        uow.commit()
        return IssuedPreviewLink(row.id, preview_url(ctx.settings, row.id), row.expires_at)


def revoke_preview_link(
    ctx: ServiceContext, who: Actor, link_id: str, *, release_id: int | None = None
) -> int:
    """Stop link ``link_id`` from opening; returns its release's id.

    Any press officer or approver may revoke any link. Revoking a link already revoked
    changes nothing and succeeds (no second audit entry): the caller wanted it closed,
    and it is. With ``release_id``, a link of another release is ``NotFound``.
    """
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        _require_sharer(actor)
        # Locked, so that two revocations at once write one audit entry between them.
        row = (
            uow.session.get(PreviewLinkRow, link_id, with_for_update=True)
            if _LINK_ID.match(link_id)
            else None
        )
        if row is None or (release_id is not None and row.release_id != release_id):
            raise NotFound("preview link", link_id)
        if row.revoked_at is not None:
            return row.release_id
        state = _locked_state(uow.session, row.release_id)
        now = ctx.clock.now()
        row.revoked_at = now
        row.revoked_by = actor.id
        _audit(uow, REVOKE_ACTION, actor, row.release_id, state, now, {"link_id": row.id})
        uow.commit()
        return row.release_id


# --- reading -------------------------------------------------------------------------------


def _last_left(release_id: Any) -> Any:
    """When the release last moved to a state outside ``PREVIEW_STATES``, or NULL."""
    return (
        select(func.max(AuditRow.at))
        .where(
            AuditRow.release_id == release_id,
            AuditRow.to_state.not_in([s.value for s in PREVIEW_STATES]),
        )
        .scalar_subquery()
    )


def _status(
    row: PreviewLinkRow, state: str, last_left: datetime | None, now: datetime
) -> LinkStatus:
    if row.revoked_at is not None:
        return "revoked"
    if ReleaseState(state) not in PREVIEW_STATES or (
        last_left is not None and last_left > row.created_at
    ):
        return "ended"
    if row.expires_at <= now:
        return "expired"
    return "open"


def preview_links(ctx: ServiceContext, who: Actor, release_id: int) -> list[PreviewLinkView]:
    """Every preview link of the release, newest first, for those who may share them
    (others: ``PermissionDenied``, since each carries its address)."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        _require_sharer(actor)
        return _links(uow.session, ctx, release_id)


def preview_panel(ctx: ServiceContext, viewer: User, release_id: int) -> PreviewPanel | None:
    """What the release page shows of its preview links: None to someone who may not
    share them, who sees nothing of them."""
    if not viewer.active or not viewer.roles & SHARERS:
        return None
    with ctx.uow() as uow:
        links = _links(uow.session, ctx, release_id)
        state = uow.session.scalar(select(ReleaseRow.state).where(ReleaseRow.id == release_id))
    return PreviewPanel(links, state is not None and ReleaseState(state) in PREVIEW_STATES)


def _links(session: Session, ctx: ServiceContext, release_id: int) -> list[PreviewLinkView]:
    release = session.execute(
        select(ReleaseRow.state, _last_left(ReleaseRow.id)).where(ReleaseRow.id == release_id)
    ).first()
    if release is None:
        raise NotFound("release", release_id)
    state, last_left = release
    rows = session.execute(
        select(PreviewLinkRow, UserRow.name)
        .join(UserRow, UserRow.id == PreviewLinkRow.created_by)
        .where(PreviewLinkRow.release_id == release_id)
        .order_by(PreviewLinkRow.created_at.desc(), PreviewLinkRow.id)
    ).all()
    now = ctx.clock.now()
    return [
        PreviewLinkView(
            id=row.id,
            url=preview_url(ctx.settings, row.id),
            created_by=name,
            created_at=row.created_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
            last_opened_at=row.last_opened_at,
            open_count=row.open_count,
            status=_status(row, state, last_left, now),
        )
        for row, name in rows
    ]


def _open_link(uow: UnitOfWork, ctx: ServiceContext, token: str) -> PreviewLinkRow:
    """The link ``token`` names if it opens now; otherwise ``PreviewUnavailable`` or
    ``PreviewEnded``. One statement: the link, its release's state and when the release
    last left the preview states."""
    link_id = read_token(ctx.settings, token)
    if link_id is None:
        raise PreviewUnavailable
    query: Select[Any] = (
        select(PreviewLinkRow, ReleaseRow.state, _last_left(PreviewLinkRow.release_id))
        .join(ReleaseRow, ReleaseRow.id == PreviewLinkRow.release_id)
        .where(PreviewLinkRow.id == link_id)
    )
    found = uow.session.execute(query).first()
    if found is None:
        raise PreviewUnavailable
    row: PreviewLinkRow = found[0]
    if _status(row, found[1], found[2], ctx.clock.now()) != "open":
        raise PreviewEnded
    return row


def open_preview(ctx: ServiceContext, token: str, *, client_address: str) -> Preview:
    """What the link ``token`` shows, recorded as one opening from ``client_address``
    in the same transaction as the read: a preview is shown only if it is counted.
    ``PreviewUnavailable`` (404) or ``PreviewEnded`` (410) otherwise, recording nothing."""
    with ctx.uow() as uow:
        link = _open_link(uow, ctx, token)
        release = uow.releases.get(link.release_id)
        original = release.versions[release.primary_language].text.attachments
        ordered = sorted(release.versions, key=lambda lang: lang is not release.primary_language)
        versions = []
        for language in ordered:
            text = release.versions[language].text
            fallback = original if language is not release.primary_language else ()
            versions.append(
                PreviewVersion(language, text, shown(uow.session, text.attachments, fallback))
            )
        now = ctx.clock.now()
        # A counter updated in place, so that two readers at once both count.
        uow.session.execute(
            update(PreviewLinkRow)
            .where(PreviewLinkRow.id == link.id)
            .values(open_count=PreviewLinkRow.open_count + 1, last_opened_at=now)
        )
        append(
            uow.session,
            PreviewOpeningRow,
            [
                {
                    "link_id": link.id,
                    "opened_at": now,
                    "client": client_key(ctx.settings, client_address),
                }
            ],
        )
        expires_at = link.expires_at
        uow.commit()
        return Preview(link.release_id, versions, expires_at)


def preview_file(ctx: ServiceContext, token: str, attachment_id: str, rendition: str) -> ServedFile:
    """A photo or document the preview of ``token`` shows, checked as the page is
    (``PreviewUnavailable``, ``PreviewEnded``); a file its release's current text does
    not show (removed, or another release's), or a rendition not made yet, is
    ``NotFound``. Fetching a file is not an opening and records nothing."""
    with ctx.uow() as uow:
        link = _open_link(uow, ctx, token)
        current = uow.session.scalars(
            select(RevisionRow.attachments)
            .join(
                VersionRow,
                (VersionRow.release_id == RevisionRow.release_id)
                & (VersionRow.language == RevisionRow.language)
                & (VersionRow.revision == RevisionRow.number),
            )
            .where(RevisionRow.release_id == link.release_id)
        )
        if not any(p.get("id") == attachment_id for placed in current for p in placed or ()):
            raise NotFound("file", attachment_id)
        facts = file_facts(uow.session, [attachment_id]).get(attachment_id)
    found = served(facts, rendition) if facts is not None else None
    if found is None:
        raise NotFound("file", attachment_id)
    return found
