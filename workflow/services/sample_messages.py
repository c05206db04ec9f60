"""What a subscriber would receive, for the office to see before it goes out.

``preview_message`` renders the exact message of a (release, kind, language) as the
fan-out would send it (``newsroom mail preview``), to a sample reader. ``send_test_email``
sends the release's message to the officer who asks, marked "[TEST]" in its subject,
through the notification queue: it is never a delivery, so no report counts it and no
subscriber's history holds it. Either works at any state, before publication above all:
a text not yet public is shown as its latest revision.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.db.appended import append
from workflow.db.tables import AuditRow, ReleaseRow, VersionRow
from workflow.distribution import rules
from workflow.distribution.rendering import TEMPLATES, Kept, render_variant
from workflow.distribution.sending import list_message
from workflow.domain.errors import N_, NotFound, PermissionDenied, ValidationFailed
from workflow.domain.release_core import role_values
from workflow.domain.states import ReleaseState, Role
from workflow.mail import mime, signing
from workflow.mail.templates import RenderedMail
from workflow.services.context import Actor, ServiceContext, resolve_actor
from workflow.services.notifications import queue_email
from workflow.services.subscription_tokens import subscription_links

# By the name of the template folder each kind is written in: "embargoed_release".
KINDS: Final = {folder: kind for kind, folder in TEMPLATES.items()}
LANGUAGES: Final = ("ko", "en", "both")
TESTERS: Final = frozenset({Role.PRESS_OFFICER, Role.APPROVER, Role.ADMIN})
TEST_ACTION: Final = "send_test_email"
# The reader a preview is addressed to; a subscriber with no name is greeted by the
# first part of their address, as here.
SAMPLE_READER: Final = "journalist@example.org"

LANGUAGE_RULE: Final = N_("must be ko, en or both")


def preview_message(ctx: ServiceContext, release: str, *, kind: str, language: str) -> bytes:
    """The message of ``kind`` in ``language`` a subscriber would get for ``release``
    (its number, such as 2026-0001, or its id), signed when a DKIM key is set."""
    if kind not in KINDS:
        raise ValidationFailed("kind", "must be one of %(kinds)s", kinds=", ".join(KINDS))
    kind = KINDS[kind]
    if language not in LANGUAGES:
        raise ValidationFailed("language", LANGUAGE_RULE)
    with ctx.uow() as uow:
        release_id = _release_id(uow.session, release)
        kept = _kept(uow.session, release_id, kind, language)
    links = subscription_links(ctx.settings, 0, 0, purposes=("unsubscribe", "preferences"))
    data = mime.assemble(
        list_message(ctx, render_variant(ctx, kept)),
        to=SAMPLE_READER,
        name=SAMPLE_READER.split("@", 1)[0],
        unsubscribe_url=links["unsubscribe"],
        preferences_url=links["preferences"],
        message_id=mime.new_message_id(mime.mail_domain(ctx.settings.mail_from)),
        date=mime.message_date(ctx.clock.now()),
    )
    dkim = signing.signer(ctx.settings)
    return dkim.sign(data) if dkim else data


def send_test_email(ctx: ServiceContext, who: Actor, release_id: int, *, language: str = "") -> str:
    """Queue the release's message, as its subscribers will get it, to the officer who
    asks (an embargoed copy while an embargo is set); returns the address it goes to.
    ``language`` defaults to the officer's own when the release has that version."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, who)
        if not actor.roles & TESTERS:
            raise PermissionDenied("only press officers, approvers and admins send test emails")
        row = uow.session.get(ReleaseRow, release_id)
        if row is None:
            raise NotFound("release", release_id)
        versions = _versions(uow.session, release_id)
        chosen = language or (
            actor.language.value if actor.language.value in versions else row.primary_language
        )
        if chosen not in LANGUAGES or (chosen != "both" and chosen not in versions):
            raise ValidationFailed("language", "the release has no text in that language")
        kind = rules.EMBARGOED if row.embargo_until and not row.published_at else rules.RELEASE
        kept = _kept(uow.session, release_id, kind, chosen)
        user_email, primary = actor.email, row.primary_language
        now = ctx.clock.now()
    variant = render_variant(ctx, kept)
    public = ctx.settings.public_base_url.rstrip("/")
    mail = RenderedMail(
        subject=f"[TEST] {variant.subject}",
        text=_filled(variant.text, actor.name, public),
        html=_filled(variant.html, actor.name, public),
    )
    with ctx.uow() as uow:
        queue_email(
            ctx,
            uow.session,
            mail,
            dedup_key=f"test-email:{release_id}:{actor.id}:{now:%Y%m%dT%H%M%S.%f}",
            kind="test_email",
            to=user_email,
            language=chosen if chosen != "both" else primary,
            release_id=release_id,
            user_id=actor.id,
        )
        state = ReleaseState(
            uow.session.scalars(select(ReleaseRow.state).where(ReleaseRow.id == release_id)).one()
        )
        _audit(
            uow.session,
            actor_id=actor.id,
            roles=",".join(role_values(actor)),
            release_id=release_id,
            state=state,
            now=now,
            details={"kind": kind, "language": chosen},
        )
        uow.commit()
    return user_email


def _filled(body: str, name: str, public_url: str) -> str:
    """A test copy's reader parts: the officer's name, and the subscription page for
    the links only a subscriber has."""
    return (
        body.replace(mime.NAME, name)
        .replace(mime.UNSUBSCRIBE, f"{public_url}/subscribe")
        .replace(mime.PREFERENCES, f"{public_url}/subscribe")
    )


def _release_id(session: Session, reference: str) -> int:
    reference = reference.strip()
    query = select(ReleaseRow.id).where(
        ReleaseRow.id == int(reference) if reference.isdigit() else ReleaseRow.number == reference
    )
    found = session.scalar(query)
    if found is None:
        raise NotFound("release", reference)
    return int(found)


def _versions(session: Session, release_id: int) -> dict[str, int]:
    """Each language version's latest revision."""
    return {
        language: revision
        for language, revision in session.execute(
            select(VersionRow.language, VersionRow.revision).where(
                VersionRow.release_id == release_id
            )
        )
    }


def _kept(session: Session, release_id: int, kind: str, language: str) -> Kept:
    row = session.get(ReleaseRow, release_id)
    assert row is not None
    versions = _versions(session, release_id)
    # The bilingual message shows both versions: a release in one language has none.
    wanted = {"ko", "en"} if language == "both" else {language}
    if not wanted <= set(versions):
        raise ValidationFailed("language", "the release has no text in that language")
    # An embargoed copy carries the text it was sent with: here, the latest; and the
    # time its banner names, the embargo's end, else the publication it waits for.
    text_key = rules.text_key({lang: versions[lang] for lang in wanted})
    embargo_until = row.embargo_until or row.publish_at
    return Kept(release_id, kind, language, text_key, embargo_until, reader=language)


def _audit(
    session: Session,
    *,
    actor_id: int,
    roles: str,
    release_id: int,
    state: ReleaseState,
    now: datetime,
    details: dict[str, str],
) -> None:
    append(
        session,
        AuditRow,
        [
            {
                "release_id": release_id,
                "action": TEST_ACTION,
                "actor_id": actor_id if actor_id > 0 else None,
                "actor_roles": roles,
                "from_state": state.value,
                "to_state": state.value,
                "comment": "",
                "details": details,
                "at": now,
            }
        ],
    )
