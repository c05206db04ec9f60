"""Single sign-on: this service as an OpenID Connect client (Authlib) of the provider that
``NEWSROOM_OIDC_ISSUER`` names, with the authorization code flow and PKCE (S256).

``start`` makes the provider's authorization address and the flow's secrets (``state``,
``nonce``, the PKCE verifier), which the browser keeps in a signed cookie of its own for
ten minutes: nothing is stored on the server. ``finish`` checks the ``state`` the
provider sent back against that cookie, exchanges the code (with the verifier and the
client's secret), and verifies the ID token: its signature against the provider's
published keys (JWKS, fetched again once when a token names a key not seen yet), its
``iss``, ``aud`` (and ``azp`` when there are several audiences), ``exp`` and ``iat``
against the service's clock, and the ``nonce``. Only then is the identity believed.

The provider's discovery document and keys are read on first use and kept an hour by
each process.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from config.settings import Settings
from workflow.domain.errors import DomainError

_KEPT_SECONDS: Final = 3600
# How far the provider's clock and ours may disagree.
CLOCK_LEEWAY_SECONDS: Final = 60
# Algorithms an ID token may be signed with: asymmetric ones, so that only the provider
# signs (never "none", never a MAC keyed with our own client secret).
ID_TOKEN_ALGORITHMS: Final = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")


class SignOnFailed(DomainError):
    """The provider's answer is not believed. ``message`` says why in a fixed sentence,
    for the person (and the catalogue); ``detail`` what exactly, for the log."""

    def __init__(self, message: str, detail: object = "") -> None:
        super().__init__(message)
        self.detail = str(detail)


@dataclass(frozen=True, slots=True)
class Flow:
    """What the browser keeps between leaving for the provider and coming back."""

    state: str
    nonce: str
    code_verifier: str
    next: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in, from a verified ID token."""

    subject: str
    email: str
    email_verified: bool
    name: str
    amr: tuple[str, ...]
    acr: str


class OpenIDClient:
    """The client of one provider. Thread-safe: the web's threads share one per process."""

    def __init__(self, settings: Settings, redirect_uri: str) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.client_secret = settings.oidc_client_secret
        self.scopes = settings.oidc_scopes
        self.timeout = settings.oidc_timeout
        self.redirect_uri = redirect_uri
        self._lock = threading.Lock()
        self._metadata: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, KeySet] | None = None

    def start(self, next: str) -> tuple[str, Flow]:
        """The provider's authorization address to send the browser to, and the flow."""
        flow = Flow(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
            next=next,
        )
        with self._session() as session:
            url, _state = session.create_authorization_url(
                self._endpoint("authorization_endpoint"),
                state=flow.state,
                nonce=flow.nonce,
                code_verifier=flow.code_verifier,
            )
        return str(url), flow

    def finish(self, flow: Flow, answer: Mapping[str, str], now: datetime) -> Identity:
        """The identity in the provider's ``answer`` (the callback's query), checked
        against ``flow``; ``SignOnFailed`` if anything does not hold."""
        if "error" in answer:
            raise SignOnFailed("the provider refused the sign-in", answer["error"][:200])
        if not hmac.compare_digest(answer.get("state", "").encode(), flow.state.encode()):
            raise SignOnFailed("the sign-in state does not match this browser; start again")
        # RFC 9207: a provider that names itself in the answer must name itself.
        if "iss" in answer and answer["iss"].rstrip("/") != self.issuer:
            raise SignOnFailed("the answer came from another provider")
        code = answer.get("code", "")
        if not code:
            raise SignOnFailed("the provider sent no authorization code")
        with self._session() as session:
            try:
                token = session.fetch_token(
                    self._endpoint("token_endpoint"),
                    code=code,
                    code_verifier=flow.code_verifier,
                    timeout=self.timeout,
                )
            except (OAuth2Error, requests.RequestException, ValueError) as error:
                raise SignOnFailed("the provider did not exchange the code", error) from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignOnFailed("the provider sent no ID token")
        return self._verified(id_token, flow.nonce, now)

    def _verified(self, id_token: str, nonce: str, now: datetime) -> Identity:
        try:
            decoded = jwt.decode(id_token, self._key_set(id_token), algorithms=ID_TOKEN_ALGORITHMS)
        except (JoseError, ValueError) as error:
            raise SignOnFailed("the signature of the ID token does not hold", error) from None
        claims = decoded.claims
        rules = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=CLOCK_LEEWAY_SECONDS,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.client_id},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        try:
            rules.validate(claims)
        except JoseError as error:
            raise SignOnFailed("the ID token is not for this sign-in", error) from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise SignOnFailed("the ID token is not for this sign-in", "azp is another client's")
        amr = claims.get("amr") or []
        return Identity(
            subject=str(claims["sub"]),
            email=str(claims.get("email") or ""),
            email_verified=claims.get("email_verified") is True,
            name=str(claims.get("name") or ""),
            amr=tuple(str(a) for a in amr) if isinstance(amr, list) else (),
            acr=str(claims.get("acr") or ""),
        )

    def _session(self) -> OAuth2Session:
        return OAuth2Session(
            self.client_id,
            self.client_secret,
            scope=self.scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
        )

    def _endpoint(self, name: str) -> str:
        value = self._discovery().get(name)
        if not isinstance(value, str) or not value:
            raise SignOnFailed(
                "the provider cannot be used", f"its discovery document has no {name}"
            )
        return value

    def _discovery(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata[0] < _KEPT_SECONDS:
                return self._metadata[1]
        document = self._get_json(f"{self.issuer}/.well-known/openid-configuration")
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise SignOnFailed("the provider cannot be used", "discovery names another issuer")
        with self._lock:
            self._metadata = (time.monotonic(), document)
        return document

    def _key_set(self, id_token: str) -> KeySet:
        """The provider's keys, fetched again (once) if the token names a key not in them:
        the provider has rotated its keys."""
        kid = _header_kid(id_token)
        with self._lock:
            kept = self._keys
        fresh = kept is not None and time.monotonic() - kept[0] < _KEPT_SECONDS
        if kept is not None and fresh and (kid is None or kid in _kids(kept[1])):
            return kept[1]
        keys = KeySet.import_key_set(self._get_json(self._endpoint("jwks_uri")))  # type: ignore[arg-type]
        with self._lock:
            self._keys = (time.monotonic(), keys)
        return keys

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = requests.get(url, timeout=self.timeout)
            response.raise_for_status()
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise SignOnFailed("the provider cannot be reached", error) from None
        if not isinstance(document, dict):
            raise SignOnFailed("the provider cannot be used", f"{url} is not a JSON object")
        return document


def _header_kid(token: str) -> str | None:
    try:
        kid = extract_compact(token.encode()).headers().get("kid")
    except (JoseError, ValueError):
        return None
    return kid if isinstance(kid, str) else None


def _kids(keys: KeySet) -> set[str]:
    return {str(k.kid) for k in keys.keys if k.kid}
