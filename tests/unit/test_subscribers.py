"""Subscribers: the states and who moves them, and the signed links. No I/O."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer

from config.settings import Settings
from workflow.domain.errors import Conflict, PermissionDenied, ValidationFailed
from workflow.domain.states import Role
from workflow.domain.subscribers import (
    TRANSITIONS,
    LanguagePreference,
    Subscriber,
    SubscriberAction,
    SubscriberState,
    SubscriberTransitionRefused,
    SubscriptionRequest,
    SuppressionReason,
    allowed_actions,
    topics_by_name,
)
from workflow.domain.users import User
from workflow.services.subscription_tokens import (
    make_token,
    read_token,
    subscription_links,
)

S, A = SubscriberState, SubscriberAction
T0 = datetime(2026, 5, 14, 0, 0, tzinfo=UTC)
ADMIN = User(1, "Jung Do-hyun", frozenset({Role.ADMIN}))
OFFICER = User(2, "Kim Min-ji", frozenset({Role.PRESS_OFFICER}))
HEALTH, PENINSULA = 10, 11
SETTINGS = Settings(environment="test", secret_key="unit-test-secret")
# Built once: a Settings reads the environment, and the property test below runs 100 times.
ROTATED = Settings(
    environment="test", secret_key="unit-test-secret", previous_secret_keys=["older"]
)


def request(email: str = "Reporter@Example.ORG", language: str = "both") -> SubscriptionRequest:
    return SubscriptionRequest.checked(
        email, "Lee Reporter", [HEALTH], language, known_topics={HEALTH, PENINSULA}
    )


def subscriber_in(state: SubscriberState, token_version: int = 1) -> Subscriber:
    subscriber = Subscriber.new(request(), T0)
    subscriber.id = 42
    subscriber.state = state
    subscriber.token_version = token_version
    subscriber.changes.clear()
    return subscriber


# --- the table ---------------------------------------------------------------------------

# Every state, the actions it allows: the table read the other way round, written out.
EXPECTED_ACTIONS = {
    S.PENDING: {A.SUBSCRIBE, A.CONFIRM, A.UNSUBSCRIBE, A.UPDATE_PREFERENCES},
    S.ACTIVE: {A.SUBSCRIBE, A.UNSUBSCRIBE, A.UPDATE_PREFERENCES, A.SUSPEND, A.BOUNCE},
    S.UNSUBSCRIBED: {A.SUBSCRIBE, A.UNSUBSCRIBE},
    S.SUSPENDED: {A.SUBSCRIBE, A.UNSUBSCRIBE, A.UPDATE_PREFERENCES, A.UNSUSPEND},
    S.BOUNCED: {A.SUBSCRIBE, A.UNSUBSCRIBE},  # both leave it bounced
}


def test_the_table_allows_exactly_these_actions() -> None:
    assert {state: set(allowed_actions(state)) for state in S} == EXPECTED_ACTIONS


def test_active_is_entered_only_by_a_confirmation_or_an_admin_unsuspending() -> None:
    into_active = {
        (t.source, t.action)
        for t in TRANSITIONS.values()
        if t.target is S.ACTIVE and t.source is not S.ACTIVE
    }
    assert into_active == {(S.PENDING, A.CONFIRM), (S.SUSPENDED, A.UNSUSPEND)}


@pytest.mark.parametrize("state", list(S))
def test_only_active_subscribers_are_mailed(state: SubscriberState) -> None:
    assert subscriber_in(state).mailable is (state is S.ACTIVE)


# --- input -------------------------------------------------------------------------------


def test_a_request_is_normalised() -> None:
    checked = request("  Reporter@Example.ORG ", "EN")
    assert checked.email == "reporter@example.org"
    assert checked.language is LanguagePreference.EN


@pytest.mark.parametrize(
    ("email", "name", "topics", "language", "field"),
    [
        ("not-an-address", "", [HEALTH], "ko", "email"),
        ("a@example.org", "Two\nlines", [HEALTH], "ko", "name"),
        ("a@example.org", "", [], "ko", "topics"),
        ("a@example.org", "", [99], "ko", "topics"),
        ("a@example.org", "", [HEALTH], "fr", "language"),
    ],
)
def test_bad_input_names_its_field(
    email: str, name: str, topics: list[int], language: str, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        SubscriptionRequest.checked(email, name, topics, language, known_topics={HEALTH})
    assert refused.value.field == field


def test_topics_are_found_by_name_whatever_the_case() -> None:
    known = {"Global Health": HEALTH, "Korean Peninsula": PENINSULA}
    assert topics_by_name([" global health", "Korean Peninsula", ""], known) == {
        HEALTH,
        PENINSULA,
    }
    with pytest.raises(ValidationFailed, match="unknown topic 'Sports'"):
        topics_by_name(["Sports"], known)


# --- the opt-in --------------------------------------------------------------------------


def test_a_new_subscriber_is_pending_until_confirmed() -> None:
    subscriber = Subscriber.new(request(), T0)
    assert subscriber.state is S.PENDING and not subscriber.mailable
    subscriber.confirm(1, T0)
    assert subscriber.state is S.ACTIVE and subscriber.confirmed_at == T0


def test_a_used_confirmation_cannot_be_replayed() -> None:
    subscriber = Subscriber.new(request(), T0)
    subscriber.confirm(1, T0)
    subscriber.suspend(ADMIN)
    with pytest.raises(ValidationFailed, match="already been used"):
        subscriber.confirm(1, T0 + timedelta(hours=1))
    assert subscriber.state is S.SUSPENDED and subscriber.confirmed_at == T0


def test_after_an_opt_out_only_a_new_opt_in_brings_it_back() -> None:
    subscriber = subscriber_in(S.UNSUBSCRIBED, token_version=3)
    subscriber.hard_bounces = 2
    assert subscriber.subscribe_again(request(language="en"), link_just_sent=False)
    assert subscriber.state is S.PENDING and not subscriber.mailable
    assert subscriber.token_version == 4 and subscriber.language is LanguagePreference.EN
    with pytest.raises(ValidationFailed, match="replaced by a newer one"):
        subscriber.confirm(3, T0)  # the link from before the opt-out
    subscriber.confirm(4, T0)
    assert subscriber.state is S.ACTIVE and subscriber.hard_bounces == 0


@pytest.mark.parametrize("state", [S.ACTIVE, S.SUSPENDED])
def test_the_public_form_cannot_change_an_active_or_suspended_subscriber(
    state: SubscriberState,
) -> None:
    subscriber = subscriber_in(state)
    assert not subscriber.subscribe_again(request(language="en"), link_just_sent=False)
    assert subscriber.state is state and subscriber.token_version == 1
    assert subscriber.language is LanguagePreference.BOTH


def test_a_pending_subscriber_gets_a_new_link_but_not_twice_in_a_row() -> None:
    subscriber = subscriber_in(S.PENDING)
    assert not subscriber.subscribe_again(request(language="ko"), link_just_sent=True)
    assert subscriber.token_version == 1 and subscriber.language is LanguagePreference.KO
    assert subscriber.subscribe_again(request(), link_just_sent=False)
    assert subscriber.token_version == 2


# --- leaving -----------------------------------------------------------------------------


def test_unsubscribing_is_immediate_voids_old_links_and_is_idempotent() -> None:
    subscriber = subscriber_in(S.ACTIVE, token_version=2)
    assert subscriber.unsubscribe(2, T0)
    assert subscriber.state is S.UNSUBSCRIBED and not subscriber.mailable
    assert subscriber.token_version == 3 and subscriber.unsubscribed_at == T0
    # The same one-click POST again, and an even older link: success, nothing changes.
    assert not subscriber.unsubscribe(2, T0 + timedelta(minutes=1))
    assert not subscriber.unsubscribe(1, T0 + timedelta(minutes=1))
    assert subscriber.token_version == 3 and subscriber.unsubscribed_at == T0


def test_an_old_unsubscribe_link_does_not_end_a_new_subscription() -> None:
    subscriber = subscriber_in(S.ACTIVE)
    subscriber.unsubscribe(1, T0)
    subscriber.subscribe_again(request(), link_just_sent=False)
    with pytest.raises(ValidationFailed, match="replaced"):
        subscriber.unsubscribe(1, T0)
    assert subscriber.state is S.PENDING


def test_preferences_change_topics_and_language_but_not_for_a_suppressed_address() -> None:
    subscriber = subscriber_in(S.ACTIVE)
    subscriber.update_preferences(1, frozenset({PENINSULA}), LanguagePreference.EN)
    assert subscriber.topics == {PENINSULA} and subscriber.language is LanguagePreference.EN
    gone = subscriber_in(S.BOUNCED)
    with pytest.raises(SubscriberTransitionRefused, match="subscribe again"):
        gone.update_preferences(1, frozenset({PENINSULA}), LanguagePreference.EN)


# --- admins and bounces ------------------------------------------------------------------


def test_admins_suspend_and_unsuspend() -> None:
    subscriber = subscriber_in(S.ACTIVE)
    with pytest.raises(PermissionDenied, match="only admins suspend subscribers"):
        subscriber.suspend(OFFICER)
    subscriber.suspend(ADMIN)
    assert subscriber.state is S.SUSPENDED and not subscriber.mailable
    subscriber.unsuspend(ADMIN)
    assert subscriber.state is S.ACTIVE


@pytest.mark.parametrize("state", [S.PENDING, S.UNSUBSCRIBED, S.BOUNCED, S.SUSPENDED])
def test_only_an_active_subscriber_can_be_suspended(state: SubscriberState) -> None:
    with pytest.raises(Conflict, match=f"cannot suspend a subscriber who is {state.value}"):
        subscriber_in(state).suspend(ADMIN)


def test_an_unsuspend_never_reactivates_an_opt_out() -> None:
    with pytest.raises(SubscriberTransitionRefused, match="who is unsubscribed"):
        subscriber_in(S.UNSUBSCRIBED).unsuspend(ADMIN)


def test_only_admins_decide_who_sees_embargoed_releases() -> None:
    subscriber = subscriber_in(S.ACTIVE)
    with pytest.raises(PermissionDenied):
        subscriber.set_embargo_trusted(OFFICER, True)
    subscriber.set_embargo_trusted(ADMIN, True)
    assert subscriber.embargo_trusted


def test_hard_bounces_up_to_the_limit_set_an_active_subscriber_to_bounced() -> None:
    subscriber = subscriber_in(S.ACTIVE)
    later = T0 + timedelta(days=1)
    assert [subscriber.record_hard_bounce(3, T0) for _ in range(2)] == [False, False]
    assert subscriber.record_hard_bounce(3, later)
    assert subscriber.state is S.BOUNCED and subscriber.hard_bounces == 3
    assert subscriber.bounced_at == subscriber.suppressed_since == later
    assert subscriber.suppression is SuppressionReason.BOUNCED
    assert not subscriber.record_hard_bounce(3, later + timedelta(days=1))  # counted only
    assert subscriber.hard_bounces == 4 and subscriber.bounced_at == later


def test_a_bounced_address_is_never_mailed_again_whatever_the_form_or_its_links_say() -> None:
    subscriber = subscriber_in(S.BOUNCED, token_version=3)
    assert not subscriber.subscribe_again(request(language="en"), link_just_sent=False)
    assert subscriber.state is S.BOUNCED and subscriber.token_version == 3
    assert subscriber.language is LanguagePreference.BOTH
    # Its old unsubscribe link succeeds, and leaves it bounced: nothing could revive it.
    assert not subscriber.unsubscribe(3, T0)
    assert subscriber.state is S.BOUNCED and subscriber.unsubscribed_at is None
    assert not subscriber.subscribe_again(request(), link_just_sent=False)
    with pytest.raises(ValidationFailed, match="already been used"):
        subscriber.confirm(3, T0)
    assert not subscriber.mailable


def test_what_a_keyed_hash_keeps_and_what_it_allows() -> None:
    assert SuppressionReason.UNSUBSCRIBED.allows_opt_in
    assert not SuppressionReason.BOUNCED.allows_opt_in
    assert "only a new confirmed subscription" in SuppressionReason.UNSUBSCRIBED.import_note()
    assert "never mailed again" in SuppressionReason.BOUNCED.import_note()
    assert subscriber_in(S.ACTIVE).erasure_reason() is SuppressionReason.UNSUBSCRIBED
    assert subscriber_in(S.PENDING).erasure_reason() is SuppressionReason.UNSUBSCRIBED
    assert subscriber_in(S.BOUNCED).erasure_reason() is SuppressionReason.BOUNCED
    gone = subscriber_in(S.ACTIVE)
    gone.unsubscribe(1, T0)
    assert (gone.suppression, gone.suppressed_since) == (SuppressionReason.UNSUBSCRIBED, T0)
    assert subscriber_in(S.SUSPENDED).suppressed_since is None


def test_bounces_of_a_suspended_subscriber_are_counted_without_a_state_change() -> None:
    subscriber = subscriber_in(S.SUSPENDED)
    for _ in range(5):
        subscriber.record_hard_bounce(3, T0)
    assert subscriber.state is S.SUSPENDED and subscriber.hard_bounces == 5


@pytest.mark.parametrize(
    ("state", "note"),
    [
        (S.UNSUBSCRIBED, "not reactivated: it unsubscribed"),
        (S.BOUNCED, "not reactivated: it bounced"),
        (S.SUSPENDED, "left suspended"),
        (S.PENDING, "left pending"),
        (S.ACTIVE, "already subscribed"),
    ],
)
def test_an_import_leaves_every_existing_address_alone(state: SubscriberState, note: str) -> None:
    assert note in subscriber_in(state).import_note()


def test_an_import_makes_new_addresses_active_or_keeps_the_files_suppression() -> None:
    assert Subscriber.imported(request(), T0).mailable
    record = Subscriber.imported(request(), T0, state=S.UNSUBSCRIBED)
    assert record.suppressed and record.unsubscribed_at == T0


# --- random walks ------------------------------------------------------------------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["subscribe", "confirm", "unsubscribe", "preferences", "suspend", "unsuspend", "bounce"]
        ),
        st.integers(min_value=-2, max_value=0),  # how old a link is: 0 current, -1 older …
        st.sampled_from([ADMIN, OFFICER]),
        st.booleans(),  # a confirmation went out moments ago
    ),
    max_size=40,
)


@given(STEPS)
def test_no_sequence_of_actions_mails_anyone_without_consent(
    steps: list[tuple[str, int, User, bool]],
) -> None:
    subscriber = Subscriber.new(request(), T0)
    subscriber.id = 1
    consented = False  # a confirmation followed since the last opt-out or bounce
    for action, age, actor, just_sent in steps:
        version_before = subscriber.token_version
        link = subscriber.token_version + age
        try:
            match action:
                case "subscribe":
                    subscriber.subscribe_again(request(), link_just_sent=just_sent)
                case "confirm":
                    subscriber.confirm(link, T0)
                    consented = True
                case "unsubscribe":
                    subscriber.unsubscribe(link, T0)
                case "preferences":
                    subscriber.update_preferences(
                        link, frozenset({PENINSULA}), LanguagePreference.KO
                    )
                case "suspend":
                    subscriber.suspend(actor)
                case "unsuspend":
                    subscriber.unsuspend(actor)
                case "bounce":
                    subscriber.record_hard_bounce(3, T0)
        except (ValidationFailed, PermissionDenied, Conflict):
            assert subscriber.token_version == version_before
        if subscriber.state in (S.UNSUBSCRIBED, S.BOUNCED, S.PENDING):
            consented = False  # what was confirmed before no longer counts
        assert subscriber.token_version >= version_before
        assert subscriber.mailable == (subscriber.state is S.ACTIVE)
        if subscriber.mailable:
            assert consented, "active without a confirmed opt-in"
        if subscriber.state is S.UNSUBSCRIBED:
            assert subscriber.unsubscribed_at is not None


# --- signed links ------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["confirm", "unsubscribe", "preferences"])
def test_a_token_round_trips(purpose: str) -> None:
    token = make_token(SETTINGS, 42, 7, purpose, now=T0)
    link = read_token(SETTINGS, token, purpose, now=T0 + timedelta(days=1))
    assert (link.subscriber_id, link.purpose, link.token_version) == (42, purpose, 7)


@given(
    subscriber_id=st.integers(min_value=1, max_value=2**40),
    version=st.integers(min_value=0, max_value=2**31),
    purpose=st.sampled_from(["unsubscribe", "preferences"]),
)
@example(subscriber_id=1111111111111, version=1111111111, purpose="unsubscribe")  # compressed
@example(subscriber_id=42, version=7, purpose="preferences")  # not compressed
def test_a_never_expiring_link_is_the_token_itsdangerous_would_make(
    subscriber_id: int, version: int, purpose: str
) -> None:
    # Signed with a key derived once per process: byte for byte what the serializer
    # makes, so links already mailed and links mailed now read the same.
    for settings in (SETTINGS, ROTATED):
        reference = URLSafeSerializer(
            [*settings.previous_secret_keys, settings.secret_key],
            salt=f"newsroom.subscription.{purpose}",
            signer_kwargs={"digest_method": hashlib.sha256},
        )
        payload = {"sub": subscriber_id, "purpose": purpose, "v": version}
        assert make_token(settings, subscriber_id, version, purpose) == reference.dumps(payload)


def test_a_forged_token_is_refused() -> None:
    forged = URLSafeSerializer("not-our-secret", salt="newsroom.subscription.unsubscribe")
    token = forged.dumps({"sub": 42, "purpose": "unsubscribe", "v": 1})
    with pytest.raises(ValidationFailed, match="not valid") as refused:
        read_token(SETTINGS, token, "unsubscribe")
    assert refused.value.field == "token"


@pytest.mark.parametrize("cut", ["truncate", "flip", "empty", "garbage"])
def test_a_tampered_token_is_refused(cut: str) -> None:
    token = make_token(SETTINGS, 42, 1, "unsubscribe")
    tampered = {
        "truncate": token[:-3],
        "flip": token[:5] + ("A" if token[5] != "A" else "B") + token[6:],
        "empty": "",
        "garbage": "x" * 5000,
    }[cut]
    with pytest.raises(ValidationFailed) as refused:
        read_token(SETTINGS, tampered, "unsubscribe")
    assert refused.value.field == "token"


def test_a_token_signed_under_another_key_is_refused() -> None:
    other = Settings(environment="test", secret_key="another-secret")
    with pytest.raises(ValidationFailed, match="not valid"):
        read_token(SETTINGS, make_token(other, 42, 1, "preferences"), "preferences")


@pytest.mark.parametrize("purpose", ["confirm", "unsubscribe", "preferences"])
def test_links_survive_a_key_rotation_that_keeps_the_old_key(purpose: str) -> None:
    before = Settings(environment="test", secret_key="key-of-2025")
    after = Settings(
        environment="test", secret_key="key-of-2026", previous_secret_keys=["key-of-2025"]
    )
    forgotten = Settings(environment="test", secret_key="key-of-2026")
    old_link = make_token(before, 42, 3, purpose, now=T0)
    assert read_token(after, old_link, purpose, now=T0).subscriber_id == 42
    with pytest.raises(ValidationFailed, match="not valid"):
        read_token(forgotten, old_link, purpose, now=T0)
    new_link = make_token(after, 42, 3, purpose, now=T0)
    assert read_token(forgotten, new_link, purpose, now=T0).subscriber_id == 42, (
        "new links are signed with the current key"
    )
    with pytest.raises(ValidationFailed, match="not valid"):
        read_token(before, new_link, purpose, now=T0)


@pytest.mark.parametrize(
    ("made_for", "used_as", "message"),
    [
        ("confirm", "unsubscribe", "this is a confirm link, not an unsubscribe link"),
        ("unsubscribe", "preferences", "this is an unsubscribe link, not a preferences link"),
        ("preferences", "confirm", "this is a preferences link, not a confirm link"),
    ],
)
def test_a_link_for_one_purpose_does_nothing_else(
    made_for: str, used_as: str, message: str
) -> None:
    token = make_token(SETTINGS, 42, 1, made_for, now=T0)
    with pytest.raises(ValidationFailed, match=message):
        read_token(SETTINGS, token, used_as, now=T0)


def test_a_confirmation_link_expires_after_the_configured_days() -> None:
    token = make_token(SETTINGS, 42, 1, "confirm", now=T0)
    read_token(SETTINGS, token, "confirm", now=T0 + timedelta(days=7))
    with pytest.raises(ValidationFailed, match="confirmation link expired on 2026-05-21"):
        read_token(SETTINGS, token, "confirm", now=T0 + timedelta(days=7, seconds=1))
    shorter = Settings(environment="test", secret_key="unit-test-secret", confirmation_link_days=1)
    with pytest.raises(ValidationFailed, match="expired"):
        read_token(shorter, token, "confirm", now=T0 + timedelta(days=2))


def test_unsubscribe_and_preferences_links_never_expire() -> None:
    for purpose in ("unsubscribe", "preferences"):
        token = make_token(SETTINGS, 42, 1, purpose, now=T0)
        assert (
            read_token(SETTINGS, token, purpose, now=T0 + timedelta(days=3650)).subscriber_id == 42
        )


def test_a_token_of_a_bumped_version_is_stale() -> None:
    subscriber = subscriber_in(S.ACTIVE, token_version=1)
    link = read_token(SETTINGS, make_token(SETTINGS, 42, 1, "preferences"), "preferences")
    subscriber.unsubscribe(link.token_version, T0)
    subscriber.subscribe_again(request(), link_just_sent=False)
    subscriber.confirm(subscriber.token_version, T0)
    with pytest.raises(ValidationFailed, match="replaced by a newer one"):
        subscriber.update_preferences(
            link.token_version, frozenset({HEALTH}), LanguagePreference.KO
        )


def test_the_links_are_built_in_one_place() -> None:
    settings = Settings(
        environment="test", secret_key="unit-test-secret", public_base_url="https://press.example/"
    )
    links = subscription_links(settings, 42, 3, now=T0)
    assert set(links) == {"confirm", "unsubscribe", "preferences"}
    for purpose, url in links.items():
        assert url.startswith(f"https://press.example/subscriptions/{purpose}?token=")
        token = url.split("token=", 1)[1]
        assert read_token(settings, token, purpose, now=T0).token_version == 3
