"""Credentials: password hashes, random tokens, and the CSRF token of a browser session.

No I/O here; ``workflow.services.accounts`` stores and checks what these produce.
Passwords are hashed with Argon2id (argon2-cffi's defaults follow RFC 9106). Tokens are
256 random bits, so a plain SHA-256 of one is enough to store it: nobody can guess a
token from its hash, and a lookup by hash takes no time that depends on the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from workflow.domain.errors import ValidationFailed

MIN_PASSWORD_LENGTH: Final = 10
# Long enough for any passphrase; bounded so that hashing cannot be made expensive.
MAX_PASSWORD_LENGTH: Final = 1_000
# Personal access tokens start with this, so that a leaked one is recognisable in logs
# and secret scanners.
TOKEN_PREFIX: Final = "nrt_"  # noqa: S105  # a public marker, not a secret


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def checked_password(password: str) -> str:
    """``password`` if it may be used, or ``ValidationFailed`` on ``password``."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            "password", "must be at least %(limit)s characters", limit=MIN_PASSWORD_LENGTH
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            "password", "must be at most %(limit)s characters", limit=MAX_PASSWORD_LENGTH
        )
    if "\x00" in password:
        raise ValidationFailed("password", "must not contain NUL bytes")
    return password


def hash_password(password: str) -> str:
    return _hasher().hash(checked_password(password))


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches. With no hash (an unknown email, or an account with
    no password) a dummy hash is checked instead, so that the answer takes as long."""
    if len(password) > MAX_PASSWORD_LENGTH:
        password = password[:MAX_PASSWORD_LENGTH]  # same work, and cannot match anyway
    try:
        matched = _hasher().verify(password_hash or _dummy_hash(), password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None


def new_token(prefix: str = "") -> str:
    """A fresh random token (256 bits), URL- and header-safe."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_token(secret_key: str, session_token: str) -> str:
    """The CSRF token of a browser session: bound to it and unforgeable without the key,
    so nothing extra needs storing."""
    message = b"csrf:" + token_digest(session_token).encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def csrf_matches(secret_key: str, session_token: str, presented: str) -> bool:
    expected = csrf_token(secret_key, session_token).encode()
    return hmac.compare_digest(expected, presented.encode("utf-8", "surrogatepass"))
