"""The second factor's credentials: TOTP secrets and their codes (RFC 6238, through
pyotp), recovery codes, and the encryption of secrets at rest. No I/O here;
``workflow.services.two_factor`` stores and checks what these produce.

A TOTP secret must be readable again to check a code, so it cannot be hashed: it is kept
encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``) under a key
derived from the secret key with HKDF. A copy of the database alone then gives nobody a
working authenticator. Secrets encrypted under a previous key
(``NEWSROOM_PREVIOUS_SECRET_KEYS``) still open after a rotation.

Recovery codes are random (about 76 bits), so a plain SHA-256 of each is enough to store
them, as with API tokens: nobody can walk a hash back to a code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

import pyotp
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from workflow.domain.two_factor import (
    RECOVERY_ALPHABET,
    RECOVERY_CODE_COUNT,
    RECOVERY_CODE_LENGTH,
    TOTP_DIGITS,
)

ISSUER = "Newsroom"
TOTP_PERIOD = 30  # seconds, what every authenticator app assumes
# Codes of the step before and after now are accepted too: a phone's clock a little off,
# or a code typed as it changed.
TOTP_DRIFT_STEPS = 1


def new_secret() -> str:
    """A fresh TOTP secret: 160 random bits in base32, as RFC 4226 recommends."""
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD).provisioning_uri(
        name=account, issuer_name=issuer
    )


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is, among now's and its neighbours', or None.
    The caller refuses a step already used (``domain.two_factor.step_usable``)."""
    totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_PERIOD)
    current = totp.timecode(now)
    found = None
    # Every candidate is compared, so the time taken does not say which one matched.
    for offset in range(-TOTP_DRIFT_STEPS, TOTP_DRIFT_STEPS + 1):
        expected = totp.generate_otp(current + offset)
        if hmac.compare_digest(expected.encode(), code.encode()):
            found = current + offset
    return found


def new_recovery_codes(count: int = RECOVERY_CODE_COUNT) -> list[str]:
    """Fresh recovery codes, as shown to the person: ``XXXX-XXXX-XXXX-XXXX``."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4)))
    return codes


def recovery_digest(code: str) -> str:
    """What is stored of a recovery code: the SHA-256 of its letters without dashes."""
    return hashlib.sha256(code.replace("-", "").upper().encode()).hexdigest()


class SecretBox:
    """Encrypts TOTP secrets under the secret key, and opens those encrypted under it or
    a previous one."""

    def __init__(self, secret_key: str, previous_keys: Sequence[str] = ()) -> None:
        # The current key first: MultiFernet encrypts with the first and tries each.
        self._fernet = _fernet((secret_key, *reversed(previous_keys)))

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret, or ``ValueError`` if no key in force opens it (a secret key
        changed without keeping the old one in the previous keys)."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError(
                "a two-factor secret cannot be decrypted with the secret keys in force"
            ) from None


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_derived_key(key)) for key in keys])


def _derived_key(secret_key: str) -> bytes:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=b"newsroom two-factor secrets",
    ).derive(secret_key.encode())
    return base64.urlsafe_b64encode(derived)


def display_secret(secret: str) -> str:
    """The secret in groups of four, for a person to type into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
