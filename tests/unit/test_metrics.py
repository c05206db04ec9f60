"""What the metrics record and who may read them (``workflow.metrics``), in this
process's memory; ``tests/integration/test_metrics.py`` runs the real processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from config.settings import Settings
from workflow import metrics
from workflow.domain import events as ev

TOKEN = "a-token-of-twenty-chars"


def sample(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("250 2.0.0 Ok: queued as 4Xz", "2xx"),
        ("250", "2xx"),
        ("421 4.7.0 Try again later", "4xx"),
        ("451-4.3.0 Temporary failure", "4xx"),
        ("550 5.1.1 No such user", "5xx"),
        ("SMTPServerDisconnected: Connection lost", "none"),
        ("TimeoutError: ", "none"),
        ("not sent: the address is not ASCII", "none"),
        ("gave up after 8: 421 busy", "none"),
        ("2500 not a reply", "none"),
        ("", "none"),
    ],
)
def test_an_smtp_replys_class(reply: str, kind: str) -> None:
    assert metrics.reply_class(reply) == kind


def settings(**values: object) -> Settings:
    return Settings(environment="test", **values)  # type: ignore[arg-type]


def test_the_allowed_addresses_read_the_metrics_and_no_one_else() -> None:
    loopback = settings()
    assert metrics.allowed(loopback, "127.0.0.1", None)
    assert metrics.allowed(loopback, "::1", None)
    assert metrics.allowed(loopback, "::ffff:127.0.0.1", None)
    assert not metrics.allowed(loopback, "127.0.0.2", None)
    assert not metrics.allowed(loopback, "10.0.0.5", None)
    assert not metrics.allowed(loopback, None, None)
    assert not metrics.allowed(loopback, "testclient", None)

    network = settings(metrics_allow=["10.0.0.0/8", "192.168.1.7"])
    assert metrics.allowed(network, "10.200.3.4", None)
    assert metrics.allowed(network, "192.168.1.7", None)
    assert not metrics.allowed(network, "192.168.1.8", None)
    assert not metrics.allowed(network, "127.0.0.1", None)


def test_the_token_opens_them_from_anywhere_and_only_the_token() -> None:
    with_token = settings(metrics_token=TOKEN, metrics_allow=[])
    assert metrics.allowed(with_token, "203.0.113.9", f"Bearer {TOKEN}")
    assert metrics.allowed(with_token, None, f"bearer {TOKEN}")
    assert not metrics.allowed(with_token, "203.0.113.9", f"Bearer {TOKEN}x")
    assert not metrics.allowed(with_token, "203.0.113.9", f"Basic {TOKEN}")
    assert not metrics.allowed(with_token, "203.0.113.9", None)
    # No token set: a bearer header opens nothing.
    assert not metrics.allowed(settings(metrics_allow=[]), "203.0.113.9", "Bearer ")


def test_a_short_token_or_a_bad_network_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="16 characters"):
        settings(metrics_token="short")
    with pytest.raises(ValueError, match="not an address or network"):
        settings(metrics_allow=["localhost"])


def test_committed_events_are_counted_by_type_and_a_schedules_lateness_observed() -> None:
    at = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    published = ev.ReleasePublished(
        occurred_at=(at + timedelta(seconds=1.5)).isoformat(),
        actor_id=None,
        release_id=1,
        number="2027-0001",
        languages=["ko"],
        scheduled_for=at.isoformat(),
        embargo_until=None,
    )
    by_hand = ev.ReleasePublished(
        occurred_at=at.isoformat(),
        actor_id=3,
        release_id=2,
        number="2027-0002",
        languages=["ko"],
        scheduled_for=None,
        embargo_until=None,
    )
    submitted = ev.ReleaseSubmitted(occurred_at=at.isoformat(), actor_id=3, release_id=2)
    before = {
        "published": sample("newsroom_events_committed_total", type="ReleasePublished"),
        "submitted": sample("newsroom_events_committed_total", type="ReleaseSubmitted"),
        "late_count": sample("newsroom_publication_lateness_seconds_count"),
        "late_sum": sample("newsroom_publication_lateness_seconds_sum"),
        "within_2s": sample("newsroom_publication_lateness_seconds_bucket", le="2.0"),
    }
    metrics.events_committed([published, by_hand, submitted])
    after = {
        "published": sample("newsroom_events_committed_total", type="ReleasePublished"),
        "submitted": sample("newsroom_events_committed_total", type="ReleaseSubmitted"),
        "late_count": sample("newsroom_publication_lateness_seconds_count"),
        "late_sum": sample("newsroom_publication_lateness_seconds_sum"),
        "within_2s": sample("newsroom_publication_lateness_seconds_bucket", le="2.0"),
    }
    assert after["published"] - before["published"] == 2
    assert after["submitted"] - before["submitted"] == 1
    assert after["late_count"] - before["late_count"] == 1
    assert after["late_sum"] - before["late_sum"] == pytest.approx(1.5)
    assert after["within_2s"] - before["within_2s"] == 1


def test_deliveries_are_counted_by_state_and_reply_class() -> None:
    def counts() -> dict[tuple[str, str], float]:
        return {
            (state, kind): sample("newsroom_deliveries_total", state=state, reply_class=kind)
            for state in ("sent", "deferred", "failed")
            for kind in ("2xx", "4xx", "5xx", "none")
        }

    before = counts()
    metrics.deliveries_recorded(
        [
            ("sent", "250 2.0.0 OK"),
            ("sent", "250 2.0.0 OK"),
            ("deferred", "421 4.7.0 busy"),
            ("deferred", "SMTPServerDisconnected: lost"),
            ("failed", "550 5.1.1 unknown"),
        ]
    )
    after = counts()
    grew = {key: after[key] - before[key] for key in after if after[key] != before[key]}
    assert grew == {
        ("sent", "2xx"): 2,
        ("deferred", "4xx"): 1,
        ("deferred", "none"): 1,
        ("failed", "5xx"): 1,
    }


def test_requests_are_timed_by_route_and_unknown_methods_are_one_label() -> None:
    def count(method: str, route: str, status: str) -> float:
        return sample(
            "newsroom_http_request_duration_seconds_count",
            method=method,
            route=route,
            status=status,
        )

    route = "/api/v1/releases/{release_id}"
    before = count("GET", route, "200"), count("other", route, "405")
    metrics.observe_request("GET", route, 200, 0.004)
    metrics.observe_request("GET", route, 200, 0.2)
    metrics.observe_request("BREW", route, 405, 0.001)
    assert count("GET", route, "200") - before[0] == 2
    assert count("other", route, "405") - before[1] == 1


def test_a_metric_that_cannot_be_recorded_never_breaks_the_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    malformed: list[tuple[str, str]] = [("sent",)]  # type: ignore[list-item]
    metrics.deliveries_recorded(malformed)  # raises nothing
    metrics.deliveries_recorded(malformed)
    logged = [r for r in caplog.records if r.name == "workflow.metrics"]
    assert len(logged) == 1 and "deliveries_recorded" in logged[0].getMessage()
