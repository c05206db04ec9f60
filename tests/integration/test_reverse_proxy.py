"""The compose file's reverse proxy in front of ``newsroom web``: Debian's nginx with the
project's configuration (``config/nginx``), both on loopback. nginx sends static files
and the attachments the app allows (``X-Accel-Redirect``) from disk, keeps anonymous
public pages for as long as the app says, and never anyone's own."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests import reverse_proxy
from tests.conftest import Staff
from tests.e2e.published import number_of
from tests.integration.conftest import free_port
from tests.media import samples
from tests.processes import ROOT, newsroom_web
from workflow.domain.values import Language
from workflow.services import accounts
from workflow.services import attachments as media
from workflow.services import releases as svc
from workflow.services.context import ServiceContext
from workflow.services.queries import attachments as files

pytestmark = pytest.mark.skipif(
    not reverse_proxy.available(),
    reason="needs Debian's nginx and envsubst (.ci/run installs them)",
)

PASSWORD = "correct horse battery staple"


@dataclass
class Site:
    proxy: str  # nginx
    app: str  # newsroom web itself, behind it
    ctx: ServiceContext
    published: str  # a published photo's attachment id
    number: str  # its release's number
    unpublished: str  # a photo of an approved release, not yet public
    withdrawn: str  # a photo of a withdrawn release


def photo_release(ctx: ServiceContext, staff: Staff, title: str) -> tuple[int, str]:
    """An approved release with a photo, its renditions made (as the worker does)."""
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title=title, body="본문.", topics=[staff.health]
    ).release_id
    with tempfile.NamedTemporaryFile(suffix=".jpg") as file:
        file.write(samples.jpeg(1200, 800))
        file.flush()
        attachment_id, _ = media.upload_attachment(
            ctx,
            staff.author,
            release_id,
            path=Path(file.name),
            filename="회담 사진.jpg",
            words={Language.KO: {"alt": "회담 사진"}},
        )
    assert media.make_renditions(ctx, attachment_id)
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    return release_id, attachment_id


def behind_nginx(ctx: ServiceContext, database_url: str, **settings: str) -> dict[str, str]:
    """The environment of a ``newsroom web`` on this test's database, trusting the nginx
    in front of it, with ``settings`` besides."""
    return {
        **os.environ,
        "NEWSROOM_ENVIRONMENT": "test",
        "NEWSROOM_DATABASE_URL": database_url,
        "NEWSROOM_BROKER_URL": "",
        "NEWSROOM_VAR_DIR": str(ctx.settings.var_dir),
        "NEWSROOM_TRUSTED_PROXIES": '["127.0.0.1"]',
        **settings,
    }


@pytest.fixture
def site(
    ctx: ServiceContext,
    staff: Staff,
    database_url: str,
    tmp_path: Path,
    cheap_password_hashing: None,
) -> Iterator[Site]:
    published_id, published = photo_release(ctx, staff, "공개된 보도자료")
    svc.publish_release(ctx, staff.author, published_id)
    _, unpublished = photo_release(ctx, staff, "승인된 보도자료")
    withdrawn_id, withdrawn = photo_release(ctx, staff, "철회된 보도자료")
    svc.publish_release(ctx, staff.author, withdrawn_id)
    svc.withdraw_release(ctx, staff.approver, withdrawn_id, "잘못 배포됨")
    accounts.set_password(ctx, staff.author, staff.author, PASSWORD)

    app_port, proxy_port = free_port(), free_port()
    env = behind_nginx(
        ctx,
        database_url,
        NEWSROOM_MEDIA_ACCEL_REDIRECT="/_media/",
        # Kept pages are checked again every 10 s, and nginx keeps them as long: long
        # enough that a second request finds the first's answer on any machine.
        NEWSROOM_PUBLIC_CACHE_SECONDS="10",
    )
    with (
        newsroom_web(env, app_port, tmp_path / "web.log", workers=1),
        reverse_proxy.reverse_proxy(
            tmp_path / "nginx",
            proxy_port,
            NGINX_UPSTREAM=f"127.0.0.1:{app_port}",
            NGINX_STATIC_ROOT=str(ROOT / "static"),
            NGINX_MEDIA_ROOT=str(ctx.settings.var_dir / "media"),
        ) as proxy,
    ):
        yield Site(
            proxy.base,
            f"http://127.0.0.1:{app_port}",
            ctx,
            published,
            number_of(ctx, published_id),
            unpublished,
            withdrawn,
        )


def stored(ctx: ServiceContext, attachment_id: str) -> tuple[files.ServedFile, bytes]:
    found = files.public_file(ctx, attachment_id, files.ORIGINAL)
    assert found is not None
    return found, b"".join(ctx.media.read(found.sha256))


def test_nginx_sends_a_published_photo_that_the_app_allowed(site: Site) -> None:
    found, data = stored(site.ctx, site.published)
    url = f"/files/{site.published}/photo.jpg"
    # The app decides and names the file; it sends no byte of it.
    decided = httpx.get(site.app + url)
    assert decided.headers["x-accel-redirect"] == f"/_media/{found.sha256[:2]}/{found.sha256}"
    assert decided.content == b""

    whole = httpx.get(site.proxy + url)
    assert whole.status_code == 200
    assert whole.content == data
    assert "x-accel-redirect" not in whole.headers
    assert whole.headers["content-type"] == "image/jpeg"
    assert whole.headers["content-length"] == str(len(data))
    assert whole.headers["etag"] == f'"{found.sha256}"'
    assert whole.headers["cache-control"] == "public, max-age=300"
    assert whole.headers["x-content-type-options"] == "nosniff"
    assert whole.headers["content-disposition"].startswith("inline; ")
    assert "filename*=UTF-8''" in whole.headers["content-disposition"]
    assert "last-modified" not in whole.headers
    assert "frame-ancestors 'none'" in whole.headers["content-security-policy"]

    part = httpx.get(site.proxy + url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = httpx.get(site.proxy + url, headers={"Range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, data[-10:])
    # As the app answers: several ranges get the whole file; If-Range holds only for
    # this very ETag; a range past the end is 416.
    several = httpx.get(site.proxy + url, headers={"Range": "bytes=0-1,5-6"})
    assert (several.status_code, several.content) == (200, data)
    held = httpx.get(
        site.proxy + url, headers={"Range": "bytes=0-9", "If-Range": f'"{found.sha256}"'}
    )
    assert (held.status_code, held.content) == (206, data[:10])
    moved = httpx.get(site.proxy + url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert (moved.status_code, moved.content) == (200, data)
    past = httpx.get(site.proxy + url, headers={"Range": f"bytes={len(data)}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{len(data)}"

    fresh = httpx.get(site.proxy + url, headers={"If-None-Match": f'"{found.sha256}"'})
    assert fresh.status_code == 304
    assert fresh.headers["etag"] == f'"{found.sha256}"'
    assert fresh.content == b""
    stale = httpx.get(site.proxy + url, headers={"If-None-Match": '"something else"'})
    assert (stale.status_code, stale.content) == (200, data)
    assert httpx.get(site.proxy + url, headers={"If-Match": '"other"'}).status_code == 412
    matched = httpx.get(site.proxy + url, headers={"If-Match": f'"{found.sha256}"'})
    assert (matched.status_code, matched.content) == (200, data)
    head = httpx.head(site.proxy + url)
    assert (head.status_code, head.headers["content-length"]) == (200, str(len(data)))

    page = httpx.get(f"{site.proxy}/files/{site.published}/r/page")
    assert page.status_code == 200
    assert page.headers["content-type"] == "image/jpeg"


def test_a_photo_that_is_not_public_is_refused_through_nginx(site: Site) -> None:
    for attachment_id in (site.unpublished, site.withdrawn):
        for path in (f"/files/{attachment_id}/photo.jpg", f"/files/{attachment_id}/r/page"):
            answer = httpx.get(site.proxy + path)
            assert answer.status_code == 404, path
            assert "x-accel-redirect" not in answer.headers
    # The internal location itself answers no one, even for a published file.
    found, _ = stored(site.ctx, site.published)
    direct = httpx.get(f"{site.proxy}/_media/{found.sha256[:2]}/{found.sha256}")
    assert direct.status_code == 404
    assert httpx.get(f"{site.proxy}/metrics").status_code == 404


def test_nginx_serves_static_files_itself_compressed(site: Site) -> None:
    css = (ROOT / "static" / "newsroom.css").read_bytes()
    answer = httpx.get(f"{site.proxy}/static/newsroom.css", headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.content == css  # httpx decompresses
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["content-type"].startswith("text/css")
    # nginx's own validators (mtime-size), not Starlette's, which the app would send.
    assert re.fullmatch(r'W/"[0-9a-f]+-[0-9a-f]+"', answer.headers["etag"])
    app_etag = httpx.get(f"{site.app}/static/newsroom.css").headers["etag"]
    assert not re.fullmatch(r'"[0-9a-f]+-[0-9a-f]+"', app_etag)


def test_anonymous_public_pages_are_kept_for_as_long_as_the_app_says(site: Site) -> None:
    for path in ("/", "/api/v1/public/releases", f"/api/v1/public/releases/{site.number}"):
        first = httpx.get(site.proxy + path, headers={"Accept-Language": "ko"})
        assert first.status_code == 200
        assert first.headers["cache-control"] == "public, max-age=0, s-maxage=10"
        assert first.headers["x-cache-status"] == "MISS", path
        again = httpx.get(site.proxy + path, headers={"Accept-Language": "ko"})
        assert again.headers["x-cache-status"] == "HIT", path
        assert again.content == first.content
        # Another language is another page.
        english = httpx.get(site.proxy + path, headers={"Accept-Language": "en"})
        assert english.headers["x-cache-status"] == "MISS", path
    # A release's page counts its reader's view, so every reader reaches the app.
    for _ in range(2):
        release = httpx.get(f"{site.proxy}/releases/{site.number}")
        assert release.status_code == 200
        assert "s-maxage" not in release.headers.get("cache-control", "")
        assert release.headers["x-cache-status"] == "MISS"


def test_no_one_is_answered_from_the_cache_or_kept_in_it_when_signed_in(site: Site) -> None:
    with httpx.Client(base_url=site.proxy) as browser:
        signed_in = browser.post(
            "/api/v1/auth/login", json={"email": "author@newsroom.example", "password": PASSWORD}
        )
        assert signed_in.status_code == 200, signed_in.text
        for _ in range(2):
            office = browser.get("/office")
            assert office.status_code == 200
            assert "Kim Min-ji" in office.text
            assert office.headers["x-cache-status"] == "BYPASS"
        # The public list, kept for anonymous readers, is not theirs to get.
        assert httpx.get(f"{site.proxy}/").status_code == 200
        assert httpx.get(f"{site.proxy}/").headers["x-cache-status"] == "HIT"
        assert browser.get("/").headers["x-cache-status"] == "BYPASS"
    token = httpx.post(
        f"{site.proxy}/api/v1/auth/token",
        json={"email": "author@newsroom.example", "password": PASSWORD, "name": "laptop"},
    ).json()["token"]
    for _ in range(2):
        mine = httpx.get(
            f"{site.proxy}/api/v1/public/releases", headers={"Authorization": f"Bearer {token}"}
        )
        assert mine.headers["x-cache-status"] == "BYPASS"
    # Pages the app does not mark are not kept, signed in or not.
    for _ in range(2):
        assert httpx.get(f"{site.proxy}/login").headers["x-cache-status"] == "MISS"


def test_a_body_over_the_upload_limit_is_refused_by_nginx(site: Site) -> None:
    answer = httpx.post(
        f"{site.proxy}/api/v1/releases/1/attachments",
        content=b"x" * (27 * 1024 * 1024 + 1),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 413
    assert "nginx" in answer.text  # its own page: the app never saw the request


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for press.example and its key, made by Debian's openssl."""
    key, certificate = folder / "privkey.pem", folder / "fullchain.pem"
    subprocess.run(  # noqa: S603  # Debian's openssl
        [shutil.which("openssl") or "/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048",
         "-nodes", "-days", "1", "-subj", "/CN=press.example",
         "-keyout", str(key), "-out", str(certificate)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return certificate, key


def test_the_configuration_passes_nginx_t_with_https_ready(tmp_path: Path) -> None:
    certificate, key = self_signed(tmp_path)
    # Where compose's service names resolve, the default upstream is web:8000.
    values = {"NGINX_UPSTREAM": "127.0.0.1:8000", "NGINX_CACHE_DIR": str(tmp_path / "cache")}
    plain = reverse_proxy.render(tmp_path / "plain", **values)
    assert not (tmp_path / "plain" / "newsroom" / "tls.conf").exists()
    with_tls = reverse_proxy.render(
        tmp_path / "tls",
        **values,
        NGINX_TLS_CERTIFICATE=str(certificate),
        NGINX_TLS_CERTIFICATE_KEY=str(key),
    )
    assert "listen 443 ssl" in (tmp_path / "tls" / "newsroom" / "tls.conf").read_text()
    for conf in (plain, with_tls):
        checked = reverse_proxy.check(conf, conf.parent)
        assert checked.returncode == 0, checked.stderr
        assert "test is successful" in checked.stderr
    # A template's placeholder left unrendered would be taken for nginx's own variable.
    for rendered in (tmp_path / "tls" / "newsroom").iterdir():
        assert "${NGINX_" not in rendered.read_text(), rendered


def test_https_is_served_once_a_certificate_is_given(tmp_path: Path) -> None:
    certificate, key = self_signed(tmp_path)
    tls_port = free_port()
    with reverse_proxy.reverse_proxy(
        tmp_path / "nginx",
        free_port(),
        NGINX_TLS_LISTEN=str(tls_port),
        NGINX_UPSTREAM=f"127.0.0.1:{free_port()}",
        NGINX_STATIC_ROOT=str(ROOT / "static"),
        NGINX_MEDIA_ROOT=str(tmp_path / "media"),
        NGINX_TLS_CERTIFICATE=str(certificate),
        NGINX_TLS_CERTIFICATE_KEY=str(key),
    ):
        answer = httpx.get(f"https://127.0.0.1:{tls_port}/static/newsroom.css", verify=False)  # noqa: S501  # its own self-signed certificate
        assert answer.status_code == 200
        assert answer.http_version in ("HTTP/1.1", "HTTP/2")


# nginx keeps an answer of s-maxage=1 until the end of the second after the one it came
# in (its clock counts whole seconds): up to two seconds.
PAST_EXPIRY = 2.2


def test_the_public_list_outlives_the_app_and_an_expired_page_is_served_meanwhile(
    ctx: ServiceContext, staff: Staff, database_url: str, tmp_path: Path
) -> None:
    """An expired page is answered from the cache while one request renders it again,
    and while the app is down (a restart, a deployment) the last page kept is served."""
    release_id = svc.create_release(
        ctx, staff.author, language="ko", title="공개 목록", body="본문.", topics=[staff.health]
    ).release_id
    svc.submit_release(ctx, staff.author, release_id)
    svc.approve_release(ctx, staff.approver, release_id)
    svc.publish_release(ctx, staff.author, release_id)
    app_port = free_port()
    env = behind_nginx(ctx, database_url, NEWSROOM_PUBLIC_CACHE_SECONDS="1")
    with reverse_proxy.reverse_proxy(
        tmp_path / "nginx",
        free_port(),
        NGINX_UPSTREAM=f"127.0.0.1:{app_port}",
        NGINX_STATIC_ROOT=str(ROOT / "static"),
        NGINX_MEDIA_ROOT=str(ctx.settings.var_dir / "media"),
    ) as proxy:
        with newsroom_web(env, app_port, tmp_path / "web.log", workers=1):
            first = httpx.get(f"{proxy.base}/api/v1/public/releases")
            assert first.status_code == 200
            assert first.headers["cache-control"] == "public, max-age=0, s-maxage=1"
            assert first.headers["x-cache-status"] == "MISS"
            time.sleep(PAST_EXPIRY)
            expired = httpx.get(f"{proxy.base}/api/v1/public/releases")
            assert expired.headers["x-cache-status"] in ("STALE", "UPDATING")
            assert expired.content == first.content
        # The app is stopped: nginx cannot reach it, and answers with what it kept.
        time.sleep(PAST_EXPIRY)
        down = httpx.get(f"{proxy.base}/api/v1/public/releases")
        assert down.status_code == 200, down.text
        assert down.headers["x-cache-status"] in ("STALE", "UPDATING")
        assert down.json() == first.json()
        # A page it never kept has nothing to fall back on.
        assert httpx.get(f"{proxy.base}/login").status_code == 502
