"""docker-compose.yml stays in step with the code: its services, its settings, its
commands. (No Docker engine runs here; CI also runs `docker compose config` where it can.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings
from workflow.cli import app as cli

yaml = pytest.importorskip("yaml")
ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_the_services_of_a_production_deployment() -> None:
    assert set(COMPOSE["services"]) == {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "beat",
        "mailcatcher",
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
