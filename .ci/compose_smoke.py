"""The compose smoke test's requests, made by ``.ci/compose-smoke`` against
docker-compose.yml with .ci/compose-local.yml, through nginx on loopback.

``first``: a journalist subscribes and confirms through the link the mail catcher caught;
a release with a photo is published through the API; its email reaches the mail catcher;
its page and photo come through nginx, the photo's bytes sent by nginx from the media
volume (web answers with ``X-Accel-Redirect`` alone). ``again``, after ``down`` and a
second ``up``: the release, its page and its photo are still there. What ``again``
looks for is kept in var/compose-smoke/release.json. Any failure is one line, also
written to var/compose-smoke/failure for the script's last line. ``compose-file`` writes
the compose file that the script runs."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import httpx
import yaml
from PIL import Image

NGINX = "http://127.0.0.1:18080"
WEB = "http://127.0.0.1:18000"  # web itself, behind nginx, on the same loopback
LOGS = Path("var/compose-smoke")
STATE = LOGS / "release.json"
PASSWORD = "compose-smoke-correct-horse"  # noqa: S105  # a throwaway account of the test
TITLE = "Compose Smoke Test Release"
REPORTER = "reporter@newspaper.example"
WAIT_SECONDS = 180

T = TypeVar("T")


class SmokeFailure(Exception):
    """What the smoke test found wrong, in one line."""


def expect(condition: object, message: str) -> None:
    if not condition:
        raise SmokeFailure(message)


def wait_for(what: str, probe: Callable[[], T | None]) -> T:
    """``probe``'s first answer that is not None, tried every second for a bounded time."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = probe()
        if found is not None:
            return found
        expect(time.monotonic() < deadline, f"{what}: nothing after {WAIT_SECONDS} s")
        time.sleep(1)


def run(*command: str, stdin: str = "") -> bytes:
    # The smoke test's own docker and docker-compose commands.
    done = subprocess.run(command, input=stdin.encode(), capture_output=True, check=False)  # noqa: S603
    expect(
        done.returncode == 0,
        f"{' '.join(command[:4])} … exited {done.returncode}: "
        + done.stderr.decode(errors="replace").strip()[-300:],
    )
    return done.stdout


def container(service: str) -> str:
    found = run("docker-compose", "ps", "-q", service).decode().split()
    expect(len(found) == 1, f"no single running container for {service}: {found}")
    return found[0]


def newsroom(*args: str, stdin: str = "") -> None:
    """The ``newsroom`` command in the web container, as an operator runs it."""
    run("docker", "exec", "-i", container("web"), "newsroom", *args, stdin=stdin)


def caught_mail() -> list[EmailMessage]:
    """Every message in the mail catcher's folder, copied out of its container."""
    archive = run("docker", "cp", f"{container('mailcatcher')}:/app/var/mail", "-")
    messages = []
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            file = tar.extractfile(member) if member.name.endswith(".eml") else None
            if file is not None:
                parsed = email.message_from_bytes(file.read(), policy=email.policy.default)
                assert isinstance(parsed, EmailMessage)
                messages.append(parsed)
    return messages


def mail_to(address: str, subject_has: str) -> EmailMessage | None:
    for message in caught_mail():
        if address in str(message["To"]) and subject_has in str(message["Subject"]):
            return message
    return None


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    expect(part is not None, f"no text in the message {message['Subject']!r}")
    assert isinstance(part, EmailMessage)
    return str(part.get_content())


def ready(client: httpx.Client) -> None:
    def probe() -> bool | None:
        try:
            return True if client.get("/readyz").status_code == 200 else None
        except httpx.TransportError:
            return None

    wait_for("/readyz through nginx", probe)
    print("/readyz answers 200 through nginx")


def answer(response: httpx.Response, status: int, what: str) -> httpx.Response:
    expect(
        response.status_code == status,
        f"{what}: {response.request.method} {response.request.url.path} answered "
        f"{response.status_code}, not {status}: {response.text[:300]}",
    )
    return response


def bearer(client: httpx.Client, address: str) -> dict[str, str]:
    token = answer(
        client.post(
            "/api/v1/auth/token", json={"email": address, "password": PASSWORD, "name": "smoke"}
        ),
        201,
        f"a token for {address}",
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def subscribe(client: httpx.Client, topic: int) -> None:
    """Double opt-in, as a journalist does it: the form, then the emailed link."""
    answer(
        client.post(
            "/api/v1/subscriptions",
            json={"email": REPORTER, "name": "Reporter", "topics": [topic], "language": "en"},
        ),
        202,
        "subscribing",
    )
    message = wait_for("the confirmation email at the mail catcher", lambda: mail_to(REPORTER, ""))
    link = re.search(
        r"(http://\S+/subscriptions/confirm\?token=[A-Za-z0-9._\-:]+)", text_of(message)
    )
    expect(link, "no confirmation link in the confirmation email")
    assert link is not None
    expect(link[1].startswith(NGINX), f"the link does not lead through nginx: {link[1]}")
    confirmed = answer(client.post(link[1]), 200, "confirming").json()
    expect(confirmed["state"] == "active", f"the subscription is {confirmed['state']}")
    print("a journalist subscribed through the emailed link")


def publish(client: httpx.Client, topic: int) -> dict[str, str]:
    kim, lee = bearer(client, "kim@press.example"), bearer(client, "lee@press.example")
    release = answer(
        client.post(
            "/api/v1/releases",
            headers=kim,
            json={"language": "en", "title": TITLE, "body": "Photos attached.", "topics": [topic]},
        ),
        201,
        "a draft",
    ).json()["release_id"]
    jpeg = io.BytesIO()
    Image.new("RGB", (640, 480), "#3a6ea5").save(jpeg, "JPEG")
    photo = answer(
        client.post(
            f"/api/v1/releases/{release}/attachments",
            headers=kim,
            files={"file": ("harbour.jpg", jpeg.getvalue(), "image/jpeg")},
            data={"alt": "The harbour at dawn"},
        ),
        201,
        "the photo's upload",
    ).json()

    def renditions_made() -> bool | None:
        listed = client.get(f"/api/v1/releases/{release}/attachments", headers=kim).json()
        states = {item["status"] for item in listed}
        expect("failed" not in states, f"the worker could not make the renditions: {listed}")
        return True if states == {"ready"} else None

    wait_for("the photo's renditions by the worker", renditions_made)
    for who, action in ((kim, "submit"), (lee, "approve"), (kim, "publish")):
        answer(client.post(f"/api/v1/releases/{release}/{action}", headers=who), 200, action)
    number = answer(client.get("/api/v1/public/releases"), 200, "the public list").json()
    number = number["items"][0]["number"]
    print(f"release {number} published through the API, with a photo")
    return {
        "number": number,
        "attachment": photo["id"],
        "original": urlsplit(photo["public_url"]).path,
    }


def check_public(client: httpx.Client, state: dict[str, str]) -> None:
    """The release's page, and its photo sent by nginx from the media volume."""
    page = answer(client.get(f"/releases/{state['number']}"), 200, "the release's page")
    expect(TITLE in page.text, "the release's page lacks its title")
    shown = re.findall(rf'<img src="([^"]*/files/{state["attachment"]}/[^"]*)"', page.text)
    expect(shown, "the release's page shows no photo")
    for path in {state["original"], *(urlsplit(src).path for src in shown)}:
        photo = answer(client.get(path), 200, "the photo through nginx")
        expect(photo.headers["content-type"] == "image/jpeg", f"{path} is not a JPEG")
        expect(
            photo.headers["etag"] == f'"{hashlib.sha256(photo.content).hexdigest()}"',
            f"the bytes of {path} are not the ones its ETag names",
        )
        expect("x-accel-redirect" not in photo.headers, "nginx passed X-Accel-Redirect on")
        # web's own answer names the file and carries none of it: nginx sent the bytes.
        behind = answer(httpx.get(WEB + path), 200, "the photo from web itself")
        expect(
            behind.headers.get("x-accel-redirect", "").startswith("/_media/")
            and not behind.content,
            f"web sent {path} itself instead of handing it to nginx",
        )
    static = answer(client.get("/static/newsroom.css"), 200, "a static file through nginx")
    expect(static.headers["content-type"].startswith("text/css"), "newsroom.css is not CSS")
    print(f"the page of {state['number']} and its photo come through nginx")


def first() -> None:
    with httpx.Client(base_url=NGINX, timeout=30) as client:
        ready(client)
        for address, name, role in (
            ("kim@press.example", "Kim", "press_officer"),
            ("lee@press.example", "Lee", "approver"),
        ):
            newsroom("user", "add", address, "--name", name, "--role", role)
            newsroom("user", "password", address, stdin=PASSWORD + "\n")
        newsroom("topic", "add", "Maritime Affairs")
        kim = bearer(client, "kim@press.example")
        topics = answer(client.get("/api/v1/topics", headers=kim), 200, "the topics").json()
        topic = next(t["id"] for t in topics if t["name"] == "Maritime Affairs")
        subscribe(client, topic)
        state = publish(client, topic)
        STATE.write_text(json.dumps(state))
        message = wait_for(
            "the release's email at the mail catcher", lambda: mail_to(REPORTER, TITLE)
        )
        page = f"{NGINX}/releases/{state['number']}"
        expect(page in text_of(message), f"the release's email does not link to {page}")
        print(f"its email reached {REPORTER} at the mail catcher")
        check_public(client, state)


def again() -> None:
    state = json.loads(STATE.read_text())
    with httpx.Client(base_url=NGINX, timeout=30) as client:
        ready(client)
        public = answer(
            client.get(f"/api/v1/public/releases/{state['number']}"), 200, "the public release"
        ).json()
        expect(public["versions"]["en"]["title"] == TITLE, "the release lost its title")
        check_public(client, state)
    print("after down and up, the release and its photo are still there")


def compose_file(merged: str, out: str) -> None:
    """``docker-compose config``'s merge of docker-compose.yml and .ci/compose-local.yml
    as it is, less the ports of services on the host's network, which docker refuses."""
    config = yaml.safe_load(Path(merged).read_text())
    for service in config["services"].values():
        if service.get("network_mode") == "host":
            service.pop("ports", None)
    Path(out).write_text(json.dumps(config, indent=2))


if __name__ == "__main__":
    try:
        {"first": first, "again": again, "compose-file": compose_file}[sys.argv[1]](*sys.argv[2:])
    except (SmokeFailure, httpx.HTTPError) as failure:
        LOGS.mkdir(parents=True, exist_ok=True)
        said = str(failure) if isinstance(failure, SmokeFailure) else repr(failure)
        (LOGS / "failure").write_text(said)
        print(f"compose smoke test: {said}", file=sys.stderr)
        sys.exit(1)
