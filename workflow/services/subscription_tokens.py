"""Signed links for subscribers: confirm, unsubscribe, change preferences.

A token carries the subscriber's id, its purpose and the subscriber's ``token_version``,
signed with ``settings.secret_key`` and a salt of its own per purpose (itsdangerous), so
that one kind of link can never be used as another. Confirmation links carry the time
they were made and expire; unsubscribe and preferences links never expire (they are in
every email, and a journalist must be able to leave years later) but die when the
version is bumped. Nothing is stored: the signature and the version are the check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Final, Literal
from urllib.parse import quote

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode

from config.settings import Settings
from workflow.domain.errors import ValidationFailed

Purpose = Literal["confirm", "unsubscribe", "preferences"]
PURPOSES: Final[tuple[Purpose, ...]] = ("confirm", "unsubscribe", "preferences")
# The one purpose whose links expire.
_TIMED: Final = frozenset({"confirm"})
# What each link does, for error messages and the pages behind the links.
_PATHS: Final[dict[Purpose, str]] = {
    "confirm": "/subscriptions/confirm",
    "unsubscribe": "/subscriptions/unsubscribe",
    "preferences": "/subscriptions/preferences",
}


@dataclass(frozen=True, slots=True)
class SubscriptionToken:
    """What a valid link says. Whether its version is still current is the domain's
    question (``Subscriber.require_link_version``)."""

    subscriber_id: int
    purpose: Purpose
    token_version: int
    signed_at: datetime | None = None


class _ClockSigner(TimestampSigner):
    """Takes "now" from the caller, so that expiry follows the service's clock."""

    def __init__(self, *args: Any, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now.timestamp())


def _salt(purpose: str) -> str:
    return f"newsroom.subscription.{purpose}"


def _serializer(
    settings: Settings, purpose: str, now: datetime
) -> URLSafeSerializer | URLSafeTimedSerializer:
    if purpose in _TIMED:
        return URLSafeTimedSerializer(
            list(_keys(settings)),
            salt=_salt(purpose),
            signer=_ClockSigner,
            signer_kwargs={"now": now, "digest_method": hashlib.sha256},
        )
    return _untimed(_keys(settings), purpose)


def _keys(settings: Settings) -> tuple[str, ...]:
    """Oldest first, as itsdangerous wants them: links are signed with the current key
    and still accepted under the previous ones, so a key rotation does not break the
    unsubscribe links in every email already sent."""
    return (*settings.previous_secret_keys, settings.secret_key)


@lru_cache(maxsize=8)
def _untimed(keys: tuple[str, ...], purpose: str) -> URLSafeSerializer:
    # Built once per key and purpose: a fan-out signs two links per recipient.
    return URLSafeSerializer(
        list(keys), salt=_salt(purpose), signer_kwargs={"digest_method": hashlib.sha256}
    )


def make_token(
    settings: Settings,
    subscriber_id: int,
    token_version: int,
    purpose: Purpose,
    *,
    now: datetime | None = None,
) -> str:
    """A URL-safe signed token; ``now`` only matters for the expiring kind."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    if purpose not in _TIMED:
        return _untimed_signer(_keys(settings), purpose).token(subscriber_id, token_version)
    payload = {"sub": subscriber_id, "purpose": purpose, "v": token_version}
    return _serializer(settings, purpose, now or datetime.now(UTC)).dumps(payload)


class _UntimedSigner:
    """``URLSafeSerializer.dumps`` with the key derived once: itsdangerous builds a
    ``Signer`` and derives its HMAC key again for every token, and a fan-out signs two
    links per recipient. Same payload encoding, same key, same HMAC, so the same token
    byte for byte (a property test holds it to that, over ids and versions up to 2⁴⁰,
    compressed or not) and ``read_token`` reads it as it reads itsdangerous' own."""

    __slots__ = ("_mac", "_purpose", "_sep")

    def __init__(self, serializer: URLSafeSerializer, purpose: str) -> None:
        signer = serializer.make_signer()
        # Signed with the newest key, as itsdangerous does.
        self._mac = hmac.new(signer.derive_key(), digestmod=hashlib.sha256)
        self._sep = signer.sep
        self._purpose = json.dumps(purpose)

    def token(self, subscriber_id: int, token_version: int) -> str:
        """The token of ``{"sub": subscriber_id, "purpose": …, "v": token_version}``.
        Its JSON is written here as itsdangerous' compact ``json.dumps`` writes it (the
        two are integers), then compressed where that is shorter, as it does."""
        if type(subscriber_id) is not int or type(token_version) is not int:
            raise TypeError("a subscriber id and token version are integers")
        data = f'{{"sub":{subscriber_id},"purpose":{self._purpose},"v":{token_version}}}'
        value = data.encode("ascii")
        compressed = zlib.compress(value)
        if len(compressed) < len(value) - 1:
            value = b"." + base64_encode(compressed)
        else:
            value = base64_encode(value)
        mac = self._mac.copy()
        mac.update(value)
        return (value + self._sep + base64_encode(mac.digest())).decode("ascii")


@lru_cache(maxsize=8)
def _untimed_signer(keys: tuple[str, ...], purpose: str) -> _UntimedSigner:
    return _UntimedSigner(_untimed(keys, purpose), purpose)


def read_token(
    settings: Settings, token: str, purpose: Purpose, *, now: datetime | None = None
) -> SubscriptionToken:
    """The link's content if it was signed by us, for ``purpose``, and has not expired;
    otherwise ``ValidationFailed("token", …)`` saying which of these it is."""
    now = now or datetime.now(UTC)
    token = (token or "").strip()
    if not token or len(token) > 1000:
        raise ValidationFailed("token", "this link is incomplete; copy the whole link")
    serializer = _serializer(settings, purpose, now)
    signed_at: datetime | None = None
    try:
        if isinstance(serializer, URLSafeTimedSerializer):
            max_age = int(timedelta(days=settings.confirmation_link_days).total_seconds())
            payload, signed_at = serializer.loads(token, max_age=max_age, return_timestamp=True)
        else:
            payload = serializer.loads(token)
    except SignatureExpired as expired:
        if expired.date_signed is None:
            raise ValidationFailed(
                "token",
                "this confirmation link expired; subscribe again to get a new one",
                code="link_expired",
            ) from None
        until = expired.date_signed + timedelta(days=settings.confirmation_link_days)
        raise ValidationFailed(
            "token",
            "this confirmation link expired on %(when)s; subscribe again to get a new one",
            code="link_expired",
            when=f"{until.astimezone(settings.office_zone):%Y-%m-%d %H:%M %Z}",
        ) from None
    except BadSignature:
        other = _purpose_it_was_made_for(settings, token, purpose, now)
        if other is not None:
            raise ValidationFailed(
                "token",
                "this is %(made_for)s link, not %(wanted)s link",
                code="link_of_another_kind",
                made_for=_a(other),
                wanted=_a(purpose),
            ) from None
        raise ValidationFailed(
            "token", "this link is not valid: it was altered or cut short; copy the whole link"
        ) from None
    return _content(payload, purpose, signed_at)


def _a(purpose: str) -> str:
    return f"an {purpose}" if purpose[0] in "aeiou" else f"a {purpose}"


def _purpose_it_was_made_for(
    settings: Settings, token: str, purpose: str, now: datetime
) -> str | None:
    for other in PURPOSES:
        if other == purpose:
            continue
        try:
            _serializer(settings, other, now).loads(token)
        except BadSignature:
            continue
        return other
    return None


def _content(payload: Any, purpose: Purpose, signed_at: datetime | None) -> SubscriptionToken:
    # Signed by us, so malformed content means a bug or a leaked key: refuse it plainly.
    if (
        not isinstance(payload, dict)
        or payload.get("purpose") != purpose
        or type(payload.get("sub")) is not int
        or type(payload.get("v")) is not int
    ):
        raise ValidationFailed("token", "this link is not valid")
    return SubscriptionToken(payload["sub"], purpose, payload["v"], signed_at)


def subscription_url(settings: Settings, purpose: Purpose, token: str) -> str:
    base = settings.public_base_url.rstrip("/")
    return f"{base}{_PATHS[purpose]}?token={quote(token, safe='')}"


def subscription_links(
    settings: Settings,
    subscriber_id: int,
    token_version: int,
    *,
    now: datetime | None = None,
    purposes: Iterable[Purpose] = PURPOSES,
) -> dict[str, str]:
    """The links of one subscriber, by purpose: ``confirm``, ``unsubscribe`` and
    ``preferences``. Every distribution email shows the last two (and the unsubscribe
    one is its ``List-Unsubscribe`` header, RFC 8058)."""
    return {
        purpose: subscription_url(
            settings,
            purpose,
            make_token(settings, subscriber_id, token_version, purpose, now=now),
        )
        for purpose in purposes
    }
