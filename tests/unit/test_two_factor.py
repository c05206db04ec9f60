"""The pure rules of two-factor sign-in: whom the policy covers, what a typed code is,
which time step a code belongs to and whether it may be used, recovery codes, and the
encryption of secrets at rest."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from workflow import one_time_codes
from workflow.domain.errors import PermissionDenied, ValidationFailed
from workflow.domain.states import Role
from workflow.domain.two_factor import (
    RECOVERY_CODE_COUNT,
    TwoFactorPolicy,
    checked_policy,
    policy_covers,
    read_code,
    require_may_turn_off,
    step_usable,
)

NOW = datetime(2026, 12, 10, 9, 0, 10, tzinfo=UTC)

# fmt: off
COVERS = [
    # policy                                  roles                                      covered
    (TwoFactorPolicy.OFF,                     {Role.ADMIN},                              False),
    (TwoFactorPolicy.OFF,                     {Role.PRESS_OFFICER},                      False),
    (TwoFactorPolicy.APPROVERS_AND_ADMINS,    {Role.ADMIN},                              True),
    (TwoFactorPolicy.APPROVERS_AND_ADMINS,    {Role.APPROVER},                           True),
    (TwoFactorPolicy.APPROVERS_AND_ADMINS,    {Role.PRESS_OFFICER, Role.APPROVER},       True),
    (TwoFactorPolicy.APPROVERS_AND_ADMINS,    {Role.PRESS_OFFICER},                      False),
    (TwoFactorPolicy.APPROVERS_AND_ADMINS,    {Role.TRANSLATOR},                         False),
    (TwoFactorPolicy.EVERYONE,                {Role.TRANSLATOR},                         True),
    (TwoFactorPolicy.EVERYONE,                {Role.PRESS_OFFICER},                      True),
]
# fmt: on


@pytest.mark.parametrize(("policy", "roles", "covered"), COVERS)
def test_the_policy_covers_whom_it_says(
    policy: TwoFactorPolicy, roles: set[Role], covered: bool
) -> None:
    assert policy_covers(policy, frozenset(roles)) is covered
    if covered:
        with pytest.raises(PermissionDenied):
            require_may_turn_off(policy, frozenset(roles))
    else:
        require_may_turn_off(policy, frozenset(roles))


def test_an_unknown_policy_is_refused_naming_the_choices() -> None:
    assert checked_policy("everyone") is TwoFactorPolicy.EVERYONE
    with pytest.raises(ValidationFailed, match="off, approvers_and_admins, everyone"):
        checked_policy("sometimes")


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        ("123456", "totp", "123456"),
        (" 123 456 ", "totp", "123456"),
        ("ACDE-FGHJ-KMNP-QRTU", "recovery", "ACDEFGHJKMNPQRTU"),
        ("acde fghj kmnp qrtu", "recovery", "ACDEFGHJKMNPQRTU"),
    ],
)
def test_a_typed_code_is_told_apart_by_its_shape(typed: str, kind: str, value: str) -> None:
    code = read_code(typed)
    assert (code.kind, code.value) == (kind, value)


@pytest.mark.parametrize(
    "typed", ["", "12345", "1234567", "١٢٣٤٥٦", "ACDE-FGHJ-KMNP-QRT0", "ACDE-FGHJ", "x" * 40]
)
def test_anything_else_is_not_a_code(typed: str) -> None:
    with pytest.raises(ValidationFailed):
        read_code(typed)


def test_a_step_is_used_once_and_never_an_earlier_one() -> None:
    assert step_usable(100, None)
    assert step_usable(101, 100)
    assert not step_usable(100, 100)
    assert not step_usable(99, 100)


def test_a_code_matches_its_step_and_its_neighbours_only() -> None:
    secret = one_time_codes.new_secret()
    totp = pyotp.TOTP(secret)
    step = totp.timecode(NOW)
    for offset in (-1, 0, 1):
        moment = NOW + timedelta(seconds=30 * offset)
        assert one_time_codes.matching_step(secret, totp.at(moment), NOW) == step + offset
    for offset in (-2, 2):
        moment = NOW + timedelta(seconds=30 * offset)
        assert one_time_codes.matching_step(secret, totp.at(moment), NOW) is None
    wrong = f"{(int(totp.at(NOW)) + 1) % 1_000_000:06d}"
    if wrong not in {totp.at(NOW - timedelta(seconds=30)), totp.at(NOW + timedelta(seconds=30))}:
        assert one_time_codes.matching_step(secret, wrong, NOW) is None


def test_the_provisioning_address_names_the_office_and_the_person() -> None:
    secret = one_time_codes.new_secret()
    uri = one_time_codes.provisioning_uri(secret, "kim@newsroom.example")
    assert uri.startswith("otpauth://totp/Newsroom:kim%40newsroom.example?")
    assert f"secret={secret}" in uri and "issuer=Newsroom" in uri
    assert len(secret) == 32  # 160 bits


def test_recovery_codes_are_distinct_readable_and_stored_by_their_letters() -> None:
    codes = one_time_codes.new_recovery_codes()
    assert len(set(codes)) == RECOVERY_CODE_COUNT
    for code in codes:
        assert re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code)
        assert read_code(code).kind == "recovery"
    first = codes[0]
    digest = one_time_codes.recovery_digest(first)
    assert digest == one_time_codes.recovery_digest(read_code(first.lower()).value)
    assert first.replace("-", "") not in digest


def test_a_secret_is_sealed_under_the_key_and_opens_after_a_rotation() -> None:
    box = one_time_codes.SecretBox("first key of the office")
    sealed = box.seal("JBSWY3DPEHPK3PXP")
    assert "JBSWY3DPEHPK3PXP" not in sealed
    assert box.open(sealed) == "JBSWY3DPEHPK3PXP"
    rotated = one_time_codes.SecretBox("second key", ["first key of the office"])
    assert rotated.open(sealed) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError, match="cannot be decrypted"):
        one_time_codes.SecretBox("first key of the office").open(rotated.seal("NEWSECRET"))
    with pytest.raises(ValueError, match="cannot be decrypted"):
        one_time_codes.SecretBox("a key nobody kept").open(sealed)
