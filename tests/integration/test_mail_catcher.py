"""The mail catcher of ``newsroom up`` keeps every message it caught as a file, numbered in
the order they came, across restarts and beside another catcher on the same folder."""

from __future__ import annotations

import smtplib
from email import message_from_bytes
from pathlib import Path

from tests.private_servers import free_port
from workflow.mail.catcher import start_catcher


def send(port: int, subject: str) -> None:
    message = f"From: a@press.example\r\nTo: b@press.example\r\nSubject: {subject}\r\n\r\nhi\r\n"
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail("a@press.example", ["b@press.example"], message)


def kept(folder: Path) -> list[tuple[str, str]]:
    """The files, in name order, with the subject of each."""
    return [
        (path.name, str(message_from_bytes(path.read_bytes())["Subject"]))
        for path in sorted(folder.glob("*.eml"))
    ]


def test_a_restarted_catcher_keeps_what_it_caught_before(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    for run in ("first", "second"):
        port = free_port()
        controller, _ = start_catcher("127.0.0.1", port, folder=folder)
        try:
            send(port, f"{run} 1")
            send(port, f"{run} 2")
        finally:
            controller.stop()
    assert kept(folder) == [
        ("000001.eml", "first 1"),
        ("000002.eml", "first 2"),
        ("000003.eml", "second 1"),
        ("000004.eml", "second 2"),
    ]


def test_two_catchers_on_one_folder_take_turns_and_overwrite_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    ports = [free_port(), free_port()]
    controllers = [start_catcher("127.0.0.1", port, folder=folder)[0] for port in ports]
    try:
        for n in range(1, 5):
            send(ports[n % 2], f"message {n}")
    finally:
        for controller in controllers:
            controller.stop()
    assert [subject for _, subject in kept(folder)] == [f"message {n}" for n in range(1, 5)]
