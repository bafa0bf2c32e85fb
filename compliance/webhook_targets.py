"""Where a webhook may be delivered: public internet addresses only, checked at registration
and again at every delivery, and the connection made to the very address that was checked.

A receiver URL is refused when its scheme is not ``https`` (``http`` only with
``WEBHOOK_ALLOW_HTTP``), when it carries credentials, when its host does not resolve, or
when *any* address it resolves to is loopback, private (RFC 1918, unique local), shared
(100.64/10), link-local (169.254/16 and fe80::/10, cloud metadata services included),
multicast, reserved, unspecified (``0.0.0.0``, ``::``) or otherwise not globally routable;
an IPv6 address embedding an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64) is judged by the
embedded address as well. A name is judged by what it resolves to, so
``metadata.google.internal``, ``localhost``, ``2130706433`` and ``127.1`` are refused like
the literal addresses they stand for.

Delivery resolves the host again, checks every address again, and opens the TCP connection
to a checked address itself (:class:`PinnedHTTPSConnection`): a DNS answer that changes
between the check and the connection (DNS rebinding) cannot redirect it. TLS still sends
the host name (SNI) and verifies the certificate against it; the ``Host`` header carries
the name. Redirects are never followed (``http.client`` does not).

Two operator settings (``settings.COMPLIANCE``), both off by default:

- ``WEBHOOK_ALLOWED_HOSTS``: host names (or IP literals) trusted although they resolve to
  non-public addresses (an in-cluster relay). Matched exactly, case-insensitively.
- ``WEBHOOK_ALLOW_PRIVATE_NETWORKS``: lift the address check for every host (development).

``WEBHOOK_ALLOW_HTTP`` (also off) permits plain ``http`` URLs, for development and the
tests' local listener.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.utils.translation import gettext, gettext_noop

from common.errors import DomainError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# What a company is told: one message whatever the reason, so registration is no oracle for
# which internal names exist or which addresses they point to.
FORBIDDEN_MESSAGE = gettext_noop(
    "The webhook URL is not allowed: it must be an https URL whose host name resolves to public "
    "internet addresses only."
)


class WebhookUrlForbidden(DomainError):
    """A receiver URL the service will not call. ``message`` is the public, generic text;
    ``reason`` the precise one, for logs and the regulator's admin only."""

    code = "webhook_url_forbidden"
    status_code = 400

    def __init__(self, reason: str) -> None:
        message = gettext(FORBIDDEN_MESSAGE)
        super().__init__(message, fields={"url": [message]})
        self.reason = reason


@dataclass(frozen=True)
class WebhookTarget:
    """A receiver URL, checked: where to connect (``addresses``, all of them checked) and what
    to call the host in TLS and in the ``Host`` header (``host``)."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def _config(name: str, default: Any) -> Any:
    return settings.COMPLIANCE.get(name, default)


def _normalise_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


def allowed_hosts() -> frozenset[str]:
    return frozenset(_normalise_host(host) for host in _config("WEBHOOK_ALLOWED_HOSTS", ()) if host.strip())


def forbidden_address_reason(address: IPAddress) -> str | None:
    """Why ``address`` may not receive a webhook, or ``None`` if it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = [
            candidate for candidate in (address.ipv4_mapped, address.sixtofour) if candidate is not None
        ]
        if address.teredo is not None:
            embedded.extend(address.teredo)
        if address in NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        for inner in embedded:
            reason = forbidden_address_reason(inner)
            if reason is not None:
                return f"{reason} (embedded in {address})"
    checks = (
        ("is_unspecified", "an unspecified address"),
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    )
    for attribute, label in checks:
        if getattr(address, attribute):
            return f"{address} is {label}"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return f"{address} is a site-local address"
    if not address.is_global:
        return f"{address} is not a globally routable address"
    return None


def _split(url: str) -> tuple[SplitResult, str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookUrlForbidden(f"malformed URL: {error}") from None
    schemes = ("https", "http") if _config("WEBHOOK_ALLOW_HTTP", False) else ("https",)
    if parts.scheme not in schemes:
        raise WebhookUrlForbidden(f"scheme {parts.scheme!r} is not allowed (allowed: {', '.join(schemes)})")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlForbidden("credentials in the URL are not allowed")
    host = _normalise_host(parts.hostname or "")
    if not host:
        raise WebhookUrlForbidden("the URL has no host")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address ``host`` resolves to (TCP), in the resolver's order, without duplicates."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as error:
        raise WebhookUrlForbidden(f"{host} does not resolve: {error}") from None
    addresses = tuple(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise WebhookUrlForbidden(f"{host} does not resolve")
    return addresses


def _check_addresses(host: str, addresses: tuple[str, ...]) -> None:
    for text in addresses:
        try:
            address = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
        except ValueError:
            raise WebhookUrlForbidden(f"{host} resolves to {text!r}, not an IP address") from None
        reason = forbidden_address_reason(address)
        if reason is not None:
            literal = host.strip("[]") == str(address)
            raise WebhookUrlForbidden(reason if literal else f"{host} resolves to a non-public address ({reason})")


def webhook_target(url: str) -> WebhookTarget:
    """Resolve and check ``url`` for a delivery now; raises :class:`WebhookUrlForbidden`."""
    parts, host, port = _split(url)
    addresses = _resolve(host, port)
    trusted = host in allowed_hosts() or _config("WEBHOOK_ALLOW_PRIVATE_NETWORKS", False)
    if not trusted:
        _check_addresses(host, addresses)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return WebhookTarget(scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)


def check_webhook_url(url: str) -> None:
    """At registration: refuse a URL no delivery could be made to (the same rules as a
    delivery). A host in ``WEBHOOK_ALLOWED_HOSTS`` is trusted without being resolved."""
    _parts, host, _port = _split(url)
    if host in allowed_hosts():
        return
    webhook_target(url)


# --- Connections to the checked address ------------------------------------------------------


class _PinnedMixin:
    """Connect to one of the checked addresses instead of resolving ``host`` again."""

    host: str
    port: int

    def _pin(self, addresses: tuple[str, ...]) -> None:
        self._pinned_addresses = addresses
        self._create_connection = self._connect_pinned  # http.client's hook for opening the socket

    def _connect_pinned(self, _address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        error: OSError | None = None
        for address in self._pinned_addresses:
            try:
                return socket.create_connection((address, self.port), timeout, source_address)
            except OSError as exc:
                error = exc
        raise error or OSError(f"no address to connect to for {self.host}")


class PinnedHTTPConnection(_PinnedMixin, http.client.HTTPConnection):
    def __init__(self, target: WebhookTarget, *, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._pin(target.addresses)


class PinnedHTTPSConnection(_PinnedMixin, http.client.HTTPSConnection):
    """TLS to a checked address; SNI and certificate verification use the host name."""

    def __init__(self, target: WebhookTarget, *, timeout: float, context: ssl.SSLContext | None = None) -> None:
        context = context or ssl.create_default_context()  # verifies the certificate against ``host``
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._pin(target.addresses)


def connection_for(
    target: WebhookTarget, *, timeout: float, tls_context: ssl.SSLContext | None = None
) -> http.client.HTTPConnection:
    """An unopened HTTP(S) connection to ``target`` that connects only to its checked addresses
    (``tls_context``: the system's trust store unless given, as a test gives its own CA)."""
    if target.scheme == "https":
        return PinnedHTTPSConnection(target, timeout=timeout, context=tls_context)
    return PinnedHTTPConnection(target, timeout=timeout)
