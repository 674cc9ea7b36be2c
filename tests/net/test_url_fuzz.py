"""Fuzzing the URL rules every user-given URL passes (net/safe_fetch.py): any text ends in
a vetted URL whose addresses are all public, or InvalidInput; nothing else escapes."""

from __future__ import annotations

import asyncio
import ipaddress

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tensornode.errors import InvalidInput
from tensornode.net.safe_fetch import IPAddress, address_refusal, check_url_allowed, pinned_url

PUBLIC = ipaddress.ip_address("93.184.216.34")
FUZZ = settings(
    max_examples=400, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)


async def _dns(host: str, port: int) -> list[IPAddress]:
    """No network in tests: every name is one public address, except these."""
    if host.endswith(".internal"):
        return [ipaddress.ip_address("10.1.2.3")]
    return [PUBLIC]


_hosts = st.sampled_from(
    ["example.org", "a.internal", "127.0.0.1", "[::1]", "[::ffff:10.0.0.1]", "169.254.169.254",
     "0x7f.1", "2130706433", "[fe80::1%25eth0]", "localhost.", "ex ample.org", ""]
)  # fmt: skip
_urls = st.one_of(
    st.text(max_size=80),
    st.builds(
        lambda scheme, user, host, port, path: f"{scheme}://{user}{host}{port}{path}",
        st.sampled_from(["http", "https", "ftp", "HTTP", "file", ""]),
        st.sampled_from(["", "u:p@", "@"]),
        _hosts,
        st.sampled_from(["", ":80", ":0", ":99999", ":x"]),
        st.text(max_size=20),
    ),
)


@FUZZ
@given(url=_urls)
def test_any_url_is_vetted_or_refused(url: str) -> None:
    try:
        vetted = asyncio.run(check_url_allowed(url, allow_private=False, resolver=_dns))
    except InvalidInput as refused:
        assert refused.message
        return
    assert vetted.url.scheme in ("http", "https")
    assert vetted.addresses and all(address_refusal(ip) is None for ip in vetted.addresses)
    pinned = pinned_url(vetted)
    assert "internal" not in pinned.split("/")[2] or vetted.url.scheme == "https"
