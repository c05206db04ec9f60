"""docker-compose.yml stays in step with the code: its services, its settings, its
commands, and the monitoring profile's configuration. (CI also brings it up for real:
.ci/compose-smoke.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from config.settings import Settings
from workflow.cli import app as cli

yaml = pytest.importorskip("yaml")
ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_services_of_a_production_deployment() -> None:
    assert {name for name, s in COMPOSE["services"].items() if "profiles" not in s} == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
        "mailcatcher",
        "nginx",
    }
    assert "--appendonly" in COMPOSE["services"]["redis"]["command"]
    assert COMPOSE["services"]["beat"]["deploy"]["replicas"] == 1
    for name, service in COMPOSE["services"].items():
        assert "healthcheck" in service or name == "migrate", f"{name} has no health check"


def test_every_setting_named_is_a_real_setting() -> None:
    known = {f"NEWSROOM_{name.upper()}" for name in Settings.model_fields}
    for name, service in COMPOSE["services"].items():
        for variable in service.get("environment", {}):
            assert variable in known or not variable.startswith("NEWSROOM_"), (name, variable)
    environment = COMPOSE["services"]["worker"]["environment"]
    assert environment["NEWSROOM_BROKER_URL"].startswith("redis://")
    assert environment["NEWSROOM_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_nginx_is_the_way_in_and_the_one_proxy_web_believes() -> None:
    services = COMPOSE["services"]
    # nginx lives in web's network namespace: web's published ports are nginx's, and
    # the one address web believes X-Forwarded-For from is loopback, which is nginx.
    assert services["nginx"]["network_mode"] == "service:web"
    assert services["web"]["ports"] == ["80:80", "443:443"]
    assert services["nginx"]["environment"]["NGINX_UPSTREAM"] == "127.0.0.1:8000"
    web = services["web"]["environment"]
    assert json.loads(web["NEWSROOM_TRUSTED_PROXIES"]) == ["127.0.0.1"]
    assert "--port" in services["web"]["command"] and "8000" in services["web"]["command"]
    # The app names files under the location that serves the media volume.
    locations = (ROOT / "config" / "nginx" / "locations.inc.template").read_text()
    assert f"location {web['NEWSROOM_MEDIA_ACCEL_REDIRECT']} {{\n    internal;" in locations
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services["nginx"]["volumes"]}
    assert mounts["/srv/newsroom/media"] == "media"
    assert "media:/app/var/media" in services["web"]["volumes"]
    for target, source in mounts.items():
        if source.startswith("./"):
            assert (ROOT / source).exists(), target


def test_ci_runs_the_same_services_on_loopback_and_operators_keep_the_usual_base() -> None:
    """.ci/compose-smoke runs this file with .ci/compose-local.yml: every service of a
    production deployment, each on the host's network (nothing leaves loopback), with
    settings that exist. The Dockerfile's base is an argument only CI changes."""
    local = yaml.safe_load((ROOT / ".ci" / "compose-local.yml").read_text())
    production = {name for name, s in COMPOSE["services"].items() if "profiles" not in s}
    assert set(local["services"]) == production
    known = {f"NEWSROOM_{name.upper()}" for name in Settings.model_fields}
    for name, service in local["services"].items():
        assert service["network_mode"] == "host", name
        assert service["image"].startswith("newsroom-ci/"), name
        for variable in service.get("environment", {}):
            assert variable in known or not variable.startswith("NEWSROOM_"), (name, variable)
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    assert "ARG BASE=python:3.11-slim" in dockerfile
    assert [line for line in dockerfile if line.startswith("FROM ")] == ["FROM ${BASE}"]


def test_every_command_exists() -> None:
    import typer.main

    commands = typer.main.get_command(cli)
    for name, service in COMPOSE["services"].items():
        argv = service.get("command")
        if not argv or argv[0] != "newsroom":
            continue
        group, words = commands, argv[1:]
        while words and not words[0].startswith("-"):
            group = group.commands[words.pop(0)]  # type: ignore[attr-defined]
        assert group is not commands, name
        # Its options parse as the command's own (an unknown one raises).
        group.make_context(argv[-1], list(words))
    worker = COMPOSE["services"]["worker"]["command"]
    assert worker[:3] == ["celery", "-A", "tasks.app"]


def test_the_embedded_database_lives_in_the_var_dir(tmp_path: Path) -> None:
    """An operator who moves ``NEWSROOM_VAR_DIR`` moves the embedded database with it;
    a database URL given explicitly wins."""
    assert Settings(var_dir=tmp_path).database_url == f"sqlite:///{tmp_path / 'newsroom.db'}"
    given = "postgresql+psycopg://postgres@127.0.0.1/x"
    assert Settings(var_dir=tmp_path, database_url=given).database_url == given


def test_the_monitoring_profile_runs_prometheus_and_grafana_on_the_repositorys_files() -> None:
    monitoring = {
        name
        for name, service in COMPOSE["services"].items()
        if "monitoring" in service.get("profiles", [])
    }
    assert monitoring == {"prometheus", "grafana"}
    for name in monitoring:
        for volume in COMPOSE["services"][name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
    # Workers have no web in their container: each answers for itself, where
    # config/prometheus.yml looks for it.
    worker = COMPOSE["services"]["worker"]["environment"]
    assert worker["NEWSROOM_WORKER_METRICS_HOST"] == "0.0.0.0"  # noqa: S104  # the container's
    prometheus = yaml.safe_load((ROOT / "config" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: (job["dns_sd_configs"][0]["names"], job["dns_sd_configs"][0]["port"])
        for job in prometheus["scrape_configs"]
        if "dns_sd_configs" in job
    }
    assert targets == {
        "newsroom-web": (["web"], 8000),
        "newsroom-worker": (["worker"], int(worker["NEWSROOM_WORKER_METRICS_PORT"])),
    }
    # The container writes the token where the scrapes read it (no compose secret from
    # a variable: Debian's docker-compose knows none).
    service = COMPOSE["services"]["prometheus"]
    assert service["environment"]["NEWSROOM_METRICS_TOKEN"] == "${NEWSROOM_METRICS_TOKEN:-}"
    for job in prometheus["scrape_configs"]:
        if job["job_name"].startswith("newsroom"):
            written = job["authorization"]["credentials_file"]
            assert f"> {written} && exec /bin/prometheus" in service["entrypoint"][2]


def test_grafana_is_provisioned_with_a_dashboard_of_metrics_the_code_exports() -> None:
    grafana = ROOT / "config" / "grafana"
    source = yaml.safe_load(
        (grafana / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    assert source["datasources"][0]["url"] == "http://prometheus:9090"
    provider = yaml.safe_load(
        (grafana / "provisioning" / "dashboards" / "newsroom.yml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    dashboard = json.loads((grafana / "dashboards" / "newsroom.json").read_text())
    exported = {
        name
        for module in ("metrics.py", "backlog.py")
        for name in re.findall(r'"(newsroom_[a-z_]+)"', (ROOT / "workflow" / module).read_text())
    }
    suffixes = ("", "_total", "_bucket", "_sum", "_count")
    titles = []
    for panel in dashboard["panels"]:
        titles.append(panel["title"])
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == source["datasources"][0]["uid"]
            for name in re.findall(r"newsroom_[a-z_]+", target["expr"]):
                assert any(
                    name.removesuffix(s) in exported for s in suffixes if name.endswith(s)
                ), (
                    panel["title"],
                    name,
                )
    for shown in ("route", "Transitions", "lateness", "relay lag", "backlog", "per second"):
        assert any(shown.lower() in title.lower() for title in titles), shown
