"""Subscribers: the public opt-in, the signed links in every email, the admins' controls.

Each function is one command in one transaction. The public ones (``subscribe``,
``confirm``, ``unsubscribe``, ``update_preferences``) need no login: a signed link is the
authority, and ``unsubscribe`` is what an RFC 8058 one-click POST calls, so it answers a
repeat with success and changes nothing. The confirmation email is stored as a
``notifications`` row in the same transaction as the subscription, and sent by the
notification sweep like every workflow email.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.db import deliveries
from workflow.db.subscribers import SubscriberRepository
from workflow.db.tables import NotificationRow, SubscriberRow
from workflow.db.unit_of_work import UnitOfWork
from workflow.domain.admin_acts import AdminActKind
from workflow.domain.errors import NotFound, ValidationFailed
from workflow.domain.subscribers import (
    Subscriber,
    SubscriberState,
    SubscriptionRequest,
    chosen_topics,
    confirmation_language,
    delivery_choice,
    language_preference,
    subscriber_email,
    time_of_day,
)
from workflow.domain.users import User
from workflow.domain.values import Language
from workflow.mail.templates import render_email
from workflow.services import suppressions
from workflow.services.admin_acts import record_admin_act
from workflow.services.context import ServiceContext, resolve_actor
from workflow.services.notifications import queue_email
from workflow.services.subscription_tokens import (
    Purpose,
    SubscriptionToken,
    read_token,
    subscription_links,
)

log = logging.getLogger(__name__)

# A pending address gets at most one confirmation email in this time, however often the
# public form is sent for it: the form must not be a way to flood someone's inbox.
RESEND_AFTER = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SubscriberView:
    id: int
    email: str
    name: str
    language: str
    topic_ids: tuple[int, ...]
    topics: tuple[str, ...]  # names, sorted
    state: str
    embargo_trusted: bool
    hard_bounces: int
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None
    # "08:00": a daily digest at that time (office time zone); "": each release as
    # it is published.
    digest_time: str = ""

    @property
    def delivery(self) -> str:
        return "digest" if self.digest_time else "each"


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    """What ``subscribe`` did. A public page should say the same thing whatever it was
    ("check your inbox"), so that the form does not tell who is on the list. No
    subscriber at all (``subscriber_id`` None) for an address kept only as the keyed
    hash of one that bounced: it is never mailed again."""

    subscriber_id: int | None
    state: str
    confirmation_queued: bool


def _view(subscriber: Subscriber, topic_names: dict[int, str]) -> SubscriberView:
    assert subscriber.id is not None
    return SubscriberView(
        id=subscriber.id,
        email=subscriber.email,
        name=subscriber.name,
        language=subscriber.language.value,
        topic_ids=tuple(sorted(subscriber.topics)),
        topics=tuple(sorted(topic_names[t] for t in subscriber.topics if t in topic_names)),
        state=subscriber.state.value,
        embargo_trusted=subscriber.embargo_trusted,
        hard_bounces=subscriber.hard_bounces,
        created_at=subscriber.created_at,
        confirmed_at=subscriber.confirmed_at,
        unsubscribed_at=subscriber.unsubscribed_at,
        digest_time=time_of_day(subscriber.digest_time),
    )


def _topic_names(uow: UnitOfWork) -> dict[int, str]:
    return dict(uow.topics.all())


def _log_changes(subscriber: Subscriber, by: str) -> None:
    for action, source, target in subscriber.changes:
        log.info(
            "subscriber %s %s: %s -> %s by %s", subscriber.id, action, source or "-", target, by
        )
    subscriber.changes.clear()


# --- the public side ---------------------------------------------------------------------


def subscribe(
    ctx: ServiceContext,
    email: str,
    name: str,
    topics: Iterable[int],
    language: str,
    *,
    delivery: str = "each",
    digest_time: str = "",
) -> SubscribeResult:
    """Ask to receive the releases of ``topics`` in ``language`` (ko, en or both), each
    as it is published (``delivery`` "each") or in a daily digest at ``digest_time``
    (``HH:MM``, office time zone; ``delivery`` "digest").

    A new address, or one that unsubscribed, becomes pending and is sent a confirmation
    link; only following it makes the subscription active. An active, suspended or
    bounced subscriber is not changed (see ``Subscriber.subscribe_again``), and an
    address kept only as the keyed hash of one that bounced gets nothing either.
    """
    topic_ids = list(topics)
    with ctx.uow() as uow:
        request = SubscriptionRequest.checked(
            email,
            name,
            topic_ids,
            language,
            known_topics=uow.topics.existing(topic_ids),
            delivery=delivery,
            digest_at=digest_time,
        )
        repository = SubscriberRepository(uow.session)
        subscriber = repository.by_email(request.email, for_update=True)
        now = ctx.clock.now()
        if subscriber is None:
            reason = suppressions.suppression_of(uow.session, ctx.settings, request.email)
            if reason is not None and not reason.allows_opt_in:
                log.info("a subscription to a suppressed address (%s) was refused", reason)
                return SubscribeResult(None, reason.value, False)
            subscriber = Subscriber.new(request, now)
            repository.add(subscriber)
            send = True
        else:
            just_sent = _confirmation_sent_since(uow.session, subscriber, now - RESEND_AFTER)
            send = subscriber.subscribe_again(request, link_just_sent=just_sent)
            repository.save(subscriber)
        if send:
            _queue_confirmation(ctx, uow, subscriber)
        uow.commit()
        _log_changes(subscriber, "the public form")
        assert subscriber.id is not None
        return SubscribeResult(subscriber.id, subscriber.state.value, send)


def _confirmation_key(subscriber: Subscriber) -> str:
    return f"confirm:{subscriber.id}:{subscriber.token_version}"


def _confirmation_sent_since(session: Session, subscriber: Subscriber, since: datetime) -> bool:
    queued_at = session.scalar(
        select(NotificationRow.created_at).where(
            NotificationRow.dedup_key == _confirmation_key(subscriber),
            NotificationRow.to_address == subscriber.email,
        )
    )
    return queued_at is not None and queued_at > since


def _queue_confirmation(ctx: ServiceContext, uow: UnitOfWork, subscriber: Subscriber) -> None:
    assert subscriber.id is not None
    now = ctx.clock.now()
    settings = ctx.settings
    lang = confirmation_language(subscriber.language)
    links = subscription_links(settings, subscriber.id, subscriber.token_version, now=now)
    expires = (now + timedelta(days=settings.confirmation_link_days)).astimezone(
        settings.office_zone
    )
    names = {topic.id: topic.name_in(lang) for topic in uow.topics.records()}
    mail = render_email(
        "subscription_confirm",
        lang,
        # No name, nor the address: anyone can type any name with anyone's address, and
        # a greeting would carry their words into that stranger's inbox.
        recipient_name="",
        office_name=ctx.settings.office_name_ko if lang == "ko" else ctx.settings.office_name_en,
        confirm_url=links["confirm"],
        expires_at=f"{expires:%Y-%m-%d %H:%M %Z}",
        topics=sorted(names[t] for t in subscriber.topics if t in names),
        language_choice=subscriber.language.value,
    )
    queue_email(
        ctx,
        uow.session,
        mail,
        dedup_key=_confirmation_key(subscriber),
        kind="subscription_confirm",
        to=subscriber.email,
        language=lang,
    )


def _stop_mail_if_gone(uow: UnitOfWork, subscriber: Subscriber) -> None:
    """A subscriber no longer active is sent nothing more, not even what was planned."""
    if subscriber.state is not SubscriberState.ACTIVE and subscriber.id is not None:
        deliveries.cancel_for_subscriber(uow.session, subscriber.id)


def _by_link(uow: UnitOfWork, subscriber_id: int) -> Subscriber:
    subscriber = SubscriberRepository(uow.session).find(subscriber_id, for_update=True)
    if subscriber is None:
        raise ValidationFailed("token", "this link is no longer valid")
    return subscriber


def confirm(ctx: ServiceContext, token: str) -> SubscriberView:
    """Follow the link in a confirmation email: the subscription becomes active. A link
    that was used already, was replaced by a newer one or expired changes nothing."""
    link = read_token(ctx.settings, token, "confirm", now=ctx.clock.now())
    with ctx.uow() as uow:
        subscriber = _by_link(uow, link.subscriber_id)
        subscriber.confirm(link.token_version, ctx.clock.now())
        SubscriberRepository(uow.session).save(subscriber)
        # A fresh opt-in: the hash an earlier unsubscription left has done its work.
        suppressions.lift(uow.session, ctx.settings, subscriber.email)
        view = _view(subscriber, _topic_names(uow))
        uow.commit()
    _log_changes(subscriber, "confirmation link")
    return view


def unsubscribe(ctx: ServiceContext, token: str) -> SubscriberView:
    """Stop all mail to the link's subscriber at once; no login needed (RFC 8058
    one-click). Repeating it, or an older link of an unsubscribed address, succeeds and
    changes nothing. Every link sent before stops working."""
    return _unsubscribe(ctx, read_token(ctx.settings, token, "unsubscribe", now=ctx.clock.now()))


def unsubscribe_from_preferences(ctx: ServiceContext, token: str) -> SubscriberView:
    """Unsubscribe from the preferences page: its link is as much the subscriber's
    authority as the unsubscribe link, and dies with it."""
    return _unsubscribe(ctx, read_token(ctx.settings, token, "preferences", now=ctx.clock.now()))


def _unsubscribe(ctx: ServiceContext, link: SubscriptionToken) -> SubscriberView:
    with ctx.uow() as uow:
        subscriber = _by_link(uow, link.subscriber_id)
        if subscriber.unsubscribe(link.token_version, ctx.clock.now()):
            SubscriberRepository(uow.session).save(subscriber)
            _stop_mail_if_gone(uow, subscriber)
        view = _view(subscriber, _topic_names(uow))
        uow.commit()
    _log_changes(subscriber, "unsubscribe link")
    return view


def reader_language(ctx: ServiceContext, token: str, purpose: Purpose) -> Language | None:
    """The language the link's subscriber reads (Korean for a reader of both), so that
    the page an email leads to speaks it; None for a link that is not one of ours. A
    read only: what the link may do is checked when it is used."""
    try:
        link = read_token(ctx.settings, token, purpose, now=ctx.clock.now())
    except ValidationFailed:
        return None
    with ctx.uow() as uow:
        language = uow.session.scalar(
            select(SubscriberRow.language).where(SubscriberRow.id == link.subscriber_id)
        )
    if language is None:
        return None
    return Language.EN if language == Language.EN.value else Language.KO


def preferences(ctx: ServiceContext, token: str) -> SubscriberView:
    """What a preferences link shows: the subscriber's current choices."""
    link = read_token(ctx.settings, token, "preferences", now=ctx.clock.now())
    with ctx.uow() as uow:
        subscriber = SubscriberRepository(uow.session).find(link.subscriber_id)
        if subscriber is None:
            raise ValidationFailed("token", "this link is no longer valid")
        subscriber.require_link_version(link.token_version)
        return _view(subscriber, _topic_names(uow))


def update_preferences(
    ctx: ServiceContext,
    token: str,
    topics: Iterable[int],
    language: str,
    *,
    delivery: str = "each",
    digest_time: str = "",
) -> SubscriberView:
    """Change the topics, the language, and each release or a daily digest (as
    ``subscribe`` takes them) through a preferences link. Releases waiting for a
    digest that none has taken yet go at once when the subscriber chooses each release
    as it is published."""
    link = read_token(ctx.settings, token, "preferences", now=ctx.clock.now())
    topic_ids = list(topics)
    with ctx.uow() as uow:
        chosen = chosen_topics(topic_ids, uow.topics.existing(topic_ids))
        lang = language_preference(language)
        at = delivery_choice(delivery, digest_time)
        subscriber = _by_link(uow, link.subscriber_id)
        subscriber.update_preferences(link.token_version, chosen, lang, at)
        SubscriberRepository(uow.session).save(subscriber)
        if at is None:
            deliveries.release_waiting(uow.session, link.subscriber_id)
        view = _view(subscriber, _topic_names(uow))
        uow.commit()
    _log_changes(subscriber, "preferences link")
    return view


def links_for(ctx: ServiceContext, subscriber_id: int) -> dict[str, str]:
    """The current confirm, unsubscribe and preferences links of one subscriber. They
    are that subscriber's authority: for mail to them and for tests, never to show
    anyone else."""
    with ctx.uow() as uow:
        subscriber = SubscriberRepository(uow.session).get(subscriber_id)
    assert subscriber.id is not None
    return subscription_links(
        ctx.settings, subscriber.id, subscriber.token_version, now=ctx.clock.now()
    )


# --- the delivery engine -----------------------------------------------------------------


def record_hard_bounce(ctx: ServiceContext, subscriber_id: int) -> str:
    """Count one permanent failure; at ``settings.hard_bounce_limit`` an active
    subscriber becomes bounced and is no longer mailed. Returns the state after."""
    with ctx.uow() as uow:
        repository = SubscriberRepository(uow.session)
        subscriber = repository.get(subscriber_id, for_update=True)
        subscriber.record_hard_bounce(ctx.settings.hard_bounce_limit, ctx.clock.now())
        repository.save(subscriber)
        _stop_mail_if_gone(uow, subscriber)
        uow.commit()
    _log_changes(subscriber, "the delivery engine")
    return subscriber.state.value


# --- admins ------------------------------------------------------------------------------


def list_subscribers(
    ctx: ServiceContext, actor_id: int, *, state: str | None = None
) -> list[SubscriberView]:
    """The whole list, suppression records included, in the order they were added."""
    wanted = _state_filter(state)
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("see the distribution list")
        return subscriber_views(uow, wanted)


def subscriber_views(uow: UnitOfWork, state: SubscriberState | None = None) -> list[SubscriberView]:
    """Every subscriber (in ``state``, if given) as admins see them, read in ``uow``."""
    names = _topic_names(uow)
    return [_view(s, names) for s in SubscriberRepository(uow.session).all(state)]


@dataclass(frozen=True, slots=True)
class SubscriberPage:
    subscribers: list[SubscriberView]
    total: int  # how many match, on every page


MAX_PAGE_SIZE = 500


def search_subscribers(
    ctx: ServiceContext,
    actor_id: int,
    *,
    address: str = "",
    state: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> SubscriberPage:
    """One page of the list: the subscribers whose address contains ``address`` (any
    case), optionally only those in ``state``, in the order they were added."""
    wanted = _state_filter(state)
    if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
        raise ValidationFailed(
            "page", "offset from 0, limit from 1 to %(limit)s", limit=MAX_PAGE_SIZE
        )
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("see the distribution list")
        names = _topic_names(uow)
        found, total = SubscriberRepository(uow.session).search(
            address.strip().lower(), wanted, offset=offset, limit=limit
        )
        return SubscriberPage([_view(s, names) for s in found], total)


def _state_filter(state: str | None) -> SubscriberState | None:
    if state is None:
        return None
    try:
        return SubscriberState(state)
    except ValueError:
        choices = ", ".join(s.value for s in SubscriberState)
        raise ValidationFailed("state", "must be one of %(choices)s", choices=choices) from None


def find_subscriber(ctx: ServiceContext, actor_id: int, email: str) -> SubscriberView:
    address = subscriber_email(email)
    with ctx.uow() as uow:
        resolve_actor(uow, actor_id).require_admin("see the distribution list")
        subscriber = SubscriberRepository(uow.session).by_email(address)
        if subscriber is None:
            raise NotFound("subscriber", address)
        return _view(subscriber, _topic_names(uow))


def _admin_change(
    ctx: ServiceContext,
    actor_id: int,
    subscriber_id: int,
    change: Callable[[Subscriber, User], None],
    kind: AdminActKind,
) -> SubscriberView:
    """Make an admin's ``change`` and, if it changed anything, record it as ``kind``."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        repository = SubscriberRepository(uow.session)
        subscriber = repository.get(subscriber_id, for_update=True)
        change(subscriber, actor)
        if subscriber.changes:
            repository.save(subscriber)
            _stop_mail_if_gone(uow, subscriber)
            # By id, never by address: see ``record_admin_act``.
            details = {"state": subscriber.state.value}
            record_admin_act(
                uow, actor, kind, at=ctx.clock.now(), target_id=subscriber_id, details=details
            )
        view = _view(subscriber, _topic_names(uow))
        uow.commit()
    _log_changes(subscriber, f"{actor.name} (user {actor.id})")
    return view


def suspend(ctx: ServiceContext, actor_id: int, subscriber_id: int) -> SubscriberView:
    """Stop mailing an active subscriber until an admin unsuspends them."""
    return _admin_change(
        ctx, actor_id, subscriber_id, Subscriber.suspend, AdminActKind.SUBSCRIBER_SUSPENDED
    )


def unsuspend(ctx: ServiceContext, actor_id: int, subscriber_id: int) -> SubscriberView:
    """Mail a suspended subscriber again."""
    return _admin_change(
        ctx, actor_id, subscriber_id, Subscriber.unsuspend, AdminActKind.SUBSCRIBER_UNSUSPENDED
    )


def set_embargo_trusted(
    ctx: ServiceContext, actor_id: int, subscriber_id: int, trusted: bool
) -> SubscriberView:
    """Decide whether a subscriber receives releases before their embargo lifts."""
    return _admin_change(
        ctx,
        actor_id,
        subscriber_id,
        lambda subscriber, actor: subscriber.set_embargo_trusted(actor, trusted),
        AdminActKind.SUBSCRIBER_TRUSTED if trusted else AdminActKind.SUBSCRIBER_UNTRUSTED,
    )


def erase(ctx: ServiceContext, actor_id: int, subscriber_id: int) -> None:
    """Forget a subscriber at their request (PIPA's right to erasure), now rather than
    when retention would: their row, topics, confirmation emails and deliveries go (the
    deliveries kept as their releases' counts), and only the keyed hash of their address
    stays, so that it is never mailed again without a new confirmed subscription (never
    at all if it bounced). Admins only; recorded as an administrative act, by id."""
    with ctx.uow() as uow:
        actor = resolve_actor(uow, actor_id)
        actor.require_admin("erase subscribers")
        subscriber = SubscriberRepository(uow.session).get(subscriber_id, for_update=True)
        now = ctx.clock.now()
        reason = subscriber.erasure_reason()
        suppressions.reduce_to_hash(
            uow.session,
            ctx.settings,
            subscriber_id,
            subscriber.email,
            reason,
            subscriber.suppressed_since or now,
            now,
        )
        record_admin_act(
            uow,
            actor,
            AdminActKind.SUBSCRIBER_ERASED,
            at=now,
            target_id=subscriber_id,
            details={"state": subscriber.state.value, "kept_as": reason.value},
        )
        uow.commit()
    log.info("subscriber %s erased by %s (user %s)", subscriber_id, actor.name, actor.id)
