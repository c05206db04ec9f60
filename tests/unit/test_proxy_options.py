"""Which proxies' forwarded headers the web server believes (``workflow.web.server``);
``tests/integration/test_proxy_trust.py`` sends them to the real server."""

from __future__ import annotations

import pytest

from config.settings import Settings
from workflow.web.server import proxy_options


def test_no_proxy_is_trusted_unless_one_is_named() -> None:
    # uvicorn's own default would trust 127.0.0.1 (or FORWARDED_ALLOW_IPS).
    assert proxy_options(Settings(environment="test")) == {"proxy_headers": False}


def test_named_proxies_are_written_out_whole_for_uvicorn() -> None:
    settings = Settings(environment="test", trusted_proxies=["172.30.89.10", "10.1.2.3/24", "::1"])
    assert proxy_options(settings) == {
        "proxy_headers": True,
        "forwarded_allow_ips": ["172.30.89.10/32", "10.1.2.0/24", "::1/128"],
    }


def test_a_name_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="not an address or network: 'nginx'"):
        Settings(environment="test", trusted_proxies=["nginx"])
