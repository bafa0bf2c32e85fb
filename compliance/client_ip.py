"""The client's address, for throttles and the admin lockout: never a header anyone can set.

``REMOTE_ADDR`` is the answer unless it is one of ``settings.TRUSTED_PROXIES`` (addresses or
networks). Only then is ``X-Forwarded-For`` read, right to left, skipping trusted proxies:
the first address not in the list is the client (a value a client put at the left of the
header is never reached while a trusted proxy appended the real one).

An IPv6 client is its /64 (the address with the last 64 bits zeroed): a host is usually given
a whole /64 and can send from any address in it, so counting per address would give it 2^64
fresh budgets. An IPv4-mapped IPv6 address is its IPv4 address.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip())


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def is_trusted_proxy(address: str | None) -> bool:
    parsed = _parse(address or "")
    if parsed is None:
        return False
    return any(parsed in network for network in _networks(tuple(settings.TRUSTED_PROXIES)))


def _subject(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The address as one client: an IPv6 address's /64, an IPv4-mapped address's IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False).network_address)
    return str(address)


def client_ip(request: Any) -> str:
    """The address to throttle and lock out by (a Django or DRF request)."""
    address = _client_address(request)
    parsed = _parse(address)
    return _subject(parsed) if parsed is not None else address


def _client_address(request: Any) -> str:
    meta = request.META
    remote = (meta.get("REMOTE_ADDR") or "").strip()
    if not is_trusted_proxy(remote):
        return remote
    hops = [hop.strip() for hop in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        parsed = _parse(hop)
        if parsed is None:
            return remote  # a malformed hop: trust nothing further left
        if not is_trusted_proxy(hop):
            return str(parsed)
    return remote
