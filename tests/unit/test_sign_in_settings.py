"""The sign-in settings: single sign-on is complete or absent, its issuer is https (http
only on loopback), and password sign-in is switched off only when there is another way
in; each of them is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings

ROOT = Path(__file__).resolve().parent.parent.parent
COMPLETE = {"oidc_client_id": "newsroom", "oidc_client_secret": "s3cret"}


@pytest.mark.parametrize(
    "issuer",
    ["https://sso.gov.example/realms/press", "http://127.0.0.1:9000", "http://localhost:8080"],
)
def test_an_issuer_is_https_or_on_loopback(issuer: str) -> None:
    settings = Settings(oidc_issuer=issuer, **COMPLETE)
    assert settings.single_sign_on


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"oidc_issuer": "http://sso.gov.example", **COMPLETE}, "must be an https address"),
        ({"oidc_issuer": "sso.gov.example", **COMPLETE}, "must be an https address"),
        ({"oidc_issuer": "https://sso.gov.example"}, "NEWSROOM_OIDC_CLIENT_ID"),
        ({"password_sign_in": False}, "needs single sign-on"),
    ],
)
def test_a_sign_in_setting_that_cannot_work_is_refused(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**values)  # type: ignore[arg-type]


def test_password_sign_in_may_be_off_with_single_sign_on() -> None:
    settings = Settings(password_sign_in=False, oidc_issuer="https://sso.example", **COMPLETE)
    assert not settings.password_sign_in


def test_every_sign_in_setting_is_documented() -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        if name.startswith("oidc_") or name == "password_sign_in":
            assert f"NEWSROOM_{name.upper()}" in documented, name
