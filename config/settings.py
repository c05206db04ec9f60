"""All of Newsroom's settings, read from ``NEWSROOM_*`` environment variables.

The defaults run the embedded mode: a SQLite file under ``var/``, a server-less Celery
transport and a local SMTP catcher. Production sets ``NEWSROOM_ENVIRONMENT=production``
and must then supply its own secret key.
"""

from __future__ import annotations

import re
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"  # noqa: S105
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSROOM_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    # Where state lives. SQLite (WAL mode) by default, in ``var_dir``; PostgreSQL in
    # production.
    database_url: str = ""
    # Signs sessions and tokens; must be set outside development.
    secret_key: str = DEVELOPMENT_SECRET
    # Keys used before, oldest first (a JSON list): subscriber links signed with them
    # still work after a rotation. Sessions and form tokens use only the current key.
    previous_secret_keys: list[str] = Field(default_factory=list)
    # How many distinct approvers must sign off a release (four-eyes: never its authors).
    required_approvals: int = Field(default=1, ge=1, le=10)
    # Shown to people and used to read the times they type; storage is always UTC.
    office_timezone: str = "Asia/Seoul"
    # How long a translator gets by default.
    translation_due_hours: int = Field(default=48, ge=1)

    # --- The office, as its emails present it ---
    office_name_ko: str = "외교부"
    office_name_en: str = "Ministry of Foreign Affairs"
    # The postal address in every subscriber email's footer (anti-spam laws ask for one).
    office_address_ko: str = "03172 서울특별시 종로구 사직로8길 60"
    office_address_en: str = "60 Sajik-ro 8-gil, Jongno-gu, Seoul 03172, Republic of Korea"
    # An absolute https address of a PNG logo about 80 pixels high (shown at 40); empty:
    # the office's name in type. Mail programs show no SVG and block data: images.
    office_logo_url: str = ""

    # --- Subscribers ---
    # How long the link in a confirmation email (the double opt-in) works. Unsubscribe
    # and preferences links never expire; a newer subscription or an unsubscribe voids them.
    confirmation_link_days: float = Field(default=7.0, gt=0, le=90)
    # Hard bounces after which an active subscriber is set to bounced and no longer mailed.
    hard_bounce_limit: int = Field(default=3, ge=1, le=100)

    # --- Celery backbone ---
    # Empty: the embedded, server-less transport (files under var/broker). Production:
    # redis://host:6379/0. The broker is transport only; the database is the truth.
    broker_url: str = ""
    # How often beat sweeps for what a lost message or a crash left undone.
    relay_sweep_seconds: float = Field(default=2.0, gt=0)
    # How long a hinted relay waits before it reads the outbox, so that the commits of a
    # busy moment are relayed in one run and one message (``tasks.runtime.wake_relay``).
    relay_gather_seconds: float = Field(default=0.2, ge=0, le=5)
    publish_sweep_seconds: float = Field(default=1.0, gt=0)
    notification_sweep_seconds: float = Field(default=5.0, gt=0)
    deadline_sweep_seconds: float = Field(default=60.0, gt=0)
    # Distribution: recipients per task, SMTP connections per task, batches started at once.
    delivery_batch_size: int = Field(default=200, ge=1, le=5000)
    smtp_connections: int = Field(default=4, ge=1, le=50)
    delivery_parallel_batches: int = Field(default=8, ge=1, le=100)
    delivery_sweep_seconds: float = Field(default=3.0, gt=0)
    # How often beat looks for daily digests that are due: a digest goes within this
    # long of its subscriber's time (workflow/distribution/digests.py).
    digest_sweep_seconds: float = Field(default=30.0, gt=0, le=3600)
    # Each connection marks this many messages "started" in one write before sending
    # them, and records their results in one write after: fewer writes, but a killed
    # worker leaves up to connections × this many possible duplicates (all flagged).
    delivery_record_every: int = Field(default=10, ge=1, le=500)
    # The relay's limit on messages per second (0: none), kept together by every sending
    # task of every worker and host when the broker is Redis (one pace in it); with the
    # embedded broker, by each worker process alone. A relay that answers 421, or
    # 450/451/454 "too many", halves it for a while (workflow/mail/send_rate.py).
    smtp_max_per_second: float = Field(default=0.0, ge=0)
    # DKIM: distribution emails are signed when a PEM private key file is set; the public
    # key is published at <selector>._domainkey.<domain> (domain: the From domain).
    dkim_private_key_file: Path | None = None
    dkim_selector: str = "newsroom"
    dkim_domain: str = ""
    # An Ed25519 key (RFC 8463) signs beside the RSA one when set; its own selector.
    dkim_ed25519_private_key_file: Path | None = None
    dkim_ed25519_selector: str = "newsroom-ed25519"
    # The Maildir the bounce address delivers to; beat reads it every so often (unset:
    # bounces come only through POST /api/v1/bounces).
    bounce_maildir: Path | None = None
    bounce_sweep_seconds: float = Field(default=60.0, gt=0)
    # How long a worker holds claimed deliveries before another may take them over.
    delivery_lease_seconds: float = Field(default=300.0, gt=0)
    # Transient failures are retried with backoff this many times, then failed.
    delivery_max_attempts: int = Field(default=8, ge=1)
    # The first retry comes after about this long (with jitter), doubling up to an hour.
    delivery_retry_seconds: float = Field(default=30.0, gt=0)
    # A schedule nearer than this also gets a timed (ETA) task, re-checked when it runs.
    eta_horizon_seconds: int = Field(default=60, ge=0, le=300)
    # Translation requests: a reminder this long before the due time; providers.
    translation_reminder_hours: float = Field(default=6.0, gt=0)
    translation_provider: Literal["human", "machine"] = "human"
    machine_translation_url: str = ""  # a LibreTranslate-compatible /translate endpoint
    machine_translation_key: str = ""
    machine_translation_timeout: float = Field(default=20.0, gt=0)
    # Mail: "smtp" (aiosmtplib), "memory" (kept in the process, for tests), "null".
    mail_backend: Literal["smtp", "memory", "null"] = "smtp"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=8025, ge=1, le=65535)  # the local catcher of `newsroom up`
    smtp_timeout: float = Field(default=30.0, gt=0)
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "Newsroom <newsroom@localhost>"
    mail_reply_to: str = ""
    # Links in emails point here.
    public_base_url: str = "http://127.0.0.1:8000"
    # Where the embedded mode keeps its broker files and caught mail.
    var_dir: Path = PROJECT_ROOT / "var"

    # --- Photos and documents ---
    # Where attachment files are kept: "local" (under var_dir/media, the embedded default;
    # in docker compose a volume shared by web and workers) or "s3" (any S3-compatible
    # object store, for hosts that share no disk).
    media_backend: Literal["local", "s3"] = "local"
    s3_endpoint_url: str = ""  # empty: AWS itself
    s3_bucket: str = ""
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # A reverse proxy's internal location that serves the local backend's folder (as
    # nginx's `location /_media/ { internal; alias <var dir>/media/; }`): once the app
    # has decided that a file may be had, it answers with `X-Accel-Redirect` to it and
    # the proxy sends the bytes. Empty: the app sends them itself (always, for "s3").
    media_accel_redirect: str = ""
    # One attachment's largest size; a larger upload is refused with 413 as it streams.
    max_attachment_bytes: int = Field(default=25 * 1024 * 1024, ge=1_024)
    max_attachments_per_release: int = Field(default=30, ge=1, le=500)
    # Decoded pixels of an uploaded image above which it is refused (a decompression
    # bomb); at most Pillow's own limit, which refuses larger images before this is read.
    max_image_pixels: int = Field(default=60_000_000, ge=1_000_000, le=89_478_485)

    # --- Public site ---
    # Releases per page of the public list, and entries per Atom feed.
    public_page_size: int = Field(default=10, ge=1, le=100)
    feed_size: int = Field(default=20, ge=1, le=100)
    # A visitor's repeated views of one release within this window count once.
    view_dedupe_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    # How often counted views are added to the database: by beat when the broker is
    # Redis (views are counted there, shared by every web process); otherwise by the web
    # process itself, which counts in its memory (the embedded mode has one).
    view_flush_seconds: float = Field(default=60.0, gt=0)
    # Each web process keeps the anonymous public pages it rendered, and checks at most
    # this often whether what they show has changed (workflow/web/public_cache.py): a
    # withdrawal or correction shows within it, and nothing shows before its time.
    # 0 turns the cache off.
    public_cache_seconds: float = Field(default=1.0, ge=0, le=10)
    # ...and renders each again once it is this old, so that the view counts a kept
    # page shows are about this far behind at most.
    public_cache_max_age_seconds: float = Field(default=120.0, gt=0, le=3600)

    # --- HTTP API ---
    # A request body larger than this is refused with 413 (declared or streamed size).
    max_body_bytes: int = Field(default=1_000_000, ge=1_024)
    # Login lockout: this many failed passwords within the window, for one email or from
    # one address, and further attempts get 429 until the oldest failure leaves it.
    login_window_seconds: int = Field(default=900, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)  # from one address
    # From every address together: only a guesser spread over many addresses reaches it.
    login_max_failures_per_account_everywhere: int = Field(default=100, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    # Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed, as
    # addresses or networks in a JSON list (empty: none; a client's address is then its
    # connection's). The login lockout, /metrics and the view counts key on that address:
    # a header from anyone else is ignored, or it would let a client name any address.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Browser sessions: lifetime, and the cookie's Secure flag (always set on https).
    session_hours: float = Field(default=12.0, gt=0)
    session_cookie_secure: bool = False
    # Personal access tokens: default and longest lifetime.
    token_expiry_days: int = Field(default=90, ge=1)
    token_max_expiry_days: int = Field(default=365, ge=1)
    # Whether staff may sign in with a password (false: single sign-on only; the
    # ``newsroom`` command still sets passwords, for when the provider is away).
    password_sign_in: bool = True

    # --- Single sign-on (OpenID Connect) ---
    # The provider's issuer (its discovery document is <issuer>/.well-known/openid-
    # configuration) and this service's client there; empty: no single sign-on. The
    # client's redirect URI is <public base URL>/login/sso/callback.
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""
    oidc_scopes: str = "openid email profile"
    # What the sign-in button calls the provider ("Sign in with …").
    oidc_provider_name: str = "single sign-on"
    # ``acr`` values that say the provider checked more than one factor; an ``amr`` with
    # "mfa" (RFC 8176) says so too. Then the office's two-factor policy is met by the
    # provider; otherwise someone it covers gives Newsroom's own second factor as well.
    oidc_mfa_acr_values: list[str] = Field(default_factory=list)
    oidc_timeout: float = Field(default=10.0, gt=0, le=60)

    # --- Retention (personal data kept no longer than its purpose needs: Korea's PIPA) ---
    # Workflow emails (confirmations among them) once settled, and the mail catcher's
    # files, are deleted this many days after they were made.
    retention_message_days: int = Field(default=90, ge=1)
    # Deliveries to journalists are deleted with who they went to this many days after
    # they were planned; each release keeps their counts (``delivery_tallies``).
    retention_delivery_days: int = Field(default=365, ge=1)
    # An unsubscribed or bounced subscriber is reduced to a keyed hash of their address,
    # which still blocks it, this many days after they unsubscribed or bounced.
    retention_suppression_days: int = Field(default=30, ge=1)
    # How often beat runs retention, and the rows each of its transactions takes.
    retention_sweep_seconds: float = Field(default=3600.0, gt=0)
    retention_batch_size: int = Field(default=1000, ge=1, le=100_000)

    # --- Logs and metrics ---
    # Log lines: "text" (plain), or "json" (one object a line, with the request id).
    log_format: Literal["text", "json"] = "text"
    # Where this host's web and worker processes keep their metrics (prometheus-client's
    # multiprocess files, emptied when each starts); must be on this host's own disk.
    # Unset: <var dir>/metrics.
    metrics_dir: Path | None = None
    # Who may read /metrics (anyone else gets 404): client addresses or networks, as a
    # JSON list, the client as NEWSROOM_TRUSTED_PROXIES has it, or anyone
    # with this bearer token (at least 16 characters; empty: no token opens it).
    metrics_allow: list[str] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    metrics_token: str = ""
    # A worker's own metrics endpoint, for workers on hosts without a web process
    # (0: none; in docker compose 9808). Its address: 0.0.0.0 to be reached from others.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    # /readyz fails once the oldest unhandled event, or the delivery longest overdue, has
    # waited longer than this (0: not checked).
    ready_outbox_max_age_seconds: float = Field(default=300.0, ge=0)
    ready_delivery_max_age_seconds: float = Field(default=1800.0, ge=0)

    @field_validator("office_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("metrics_allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {entry!r}") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        # Written out whole ("10.0.0.7/32"): uvicorn takes an entry with host bits past
        # its prefix ("10.0.0.7/24") for a name, which no address matches.
        return [str(ip_network(entry, strict=False)) for entry in cls._networks(value)]

    @field_validator("media_accel_redirect")
    @classmethod
    def _location(cls, value: str) -> str:
        if value and not re.fullmatch(r"/(?:[A-Za-z0-9._~-]+/)*", value):
            raise ValueError("a path that starts and ends with / (as /_media/), or empty")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("at least 16 characters")
        return value

    @model_validator(mode="after")
    def _database_in_var_dir(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'newsroom.db'}"
        return self

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("NEWSROOM_SECRET_KEY must be set in production")
        return self

    @model_validator(mode="after")
    def _dkim_key_readable(self) -> Settings:
        key = self.dkim_private_key_file
        if key is not None and not key.is_file():
            raise ValueError(f"NEWSROOM_DKIM_PRIVATE_KEY_FILE: no such file {key}")
        second = self.dkim_ed25519_private_key_file
        if second is not None and not second.is_file():
            raise ValueError(f"NEWSROOM_DKIM_ED25519_PRIVATE_KEY_FILE: no such file {second}")
        return self

    @model_validator(mode="after")
    def _s3_bucket_named(self) -> Settings:
        if self.media_backend == "s3" and not self.s3_bucket:
            raise ValueError("NEWSROOM_S3_BUCKET must be set when NEWSROOM_MEDIA_BACKEND=s3")
        return self

    @model_validator(mode="after")
    def _single_sign_on_complete(self) -> Settings:
        if self.oidc_issuer and not (self.oidc_client_id and self.oidc_client_secret):
            raise ValueError(
                "NEWSROOM_OIDC_CLIENT_ID and NEWSROOM_OIDC_CLIENT_SECRET must be set "
                "with NEWSROOM_OIDC_ISSUER"
            )
        issuer = urlsplit(self.oidc_issuer)
        if self.oidc_issuer and (
            issuer.scheme not in ("https", "http")
            or not issuer.hostname
            or (issuer.scheme == "http" and issuer.hostname not in _LOOPBACK)
        ):
            raise ValueError(
                "NEWSROOM_OIDC_ISSUER must be an https address (http only on loopback)"
            )
        if not self.password_sign_in and not self.oidc_issuer:
            raise ValueError(
                "NEWSROOM_PASSWORD_SIGN_IN=false needs single sign-on: set NEWSROOM_OIDC_ISSUER"
            )
        return self

    @property
    def single_sign_on(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def office_zone(self) -> ZoneInfo:
        return ZoneInfo(self.office_timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_embedded_broker(self) -> bool:
        return not self.broker_url


class InvalidSettings(ValueError):
    """A ``NEWSROOM_*`` variable that cannot be used; the message names it, in one line."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment.

    Raises ``InvalidSettings`` with the first problem, named by its variable: pydantic's
    report names the field and spans several lines, and an operator sets variables."""
    try:
        return Settings()
    except ValidationError as error:
        raise InvalidSettings(_first_problem(error)) from None
    except SettingsError as error:  # a value that is not JSON where a list is expected
        raise InvalidSettings(_unparsed(error)) from None


def _variable(field: str) -> str:
    """The environment variable that sets ``field``."""
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def _first_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:  # a check across settings, whose message names them
        return message
    # The value is left out: it may be a secret.
    return f"{_variable(str(first['loc'][0]))}: {message}"


def _unparsed(error: SettingsError) -> str:
    field = re.search(r'field "(\w+)"', str(error))
    cause = f"not valid JSON ({error.__cause__})" if error.__cause__ else str(error)
    return f"{_variable(field.group(1))}: {cause}" if field else str(error)
