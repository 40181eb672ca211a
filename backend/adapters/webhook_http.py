"""Sending one webhook over HTTP(S), guarded against server-side request forgery.

A bank's URL is resolved here, every address it resolves to is checked (no loopback,
private, link-local, multicast, reserved or unspecified targets unless allowed), and
the connection is pinned to the checked address: the request goes to that IP with the
original Host header and TLS server name, so a DNS answer that changes between the check
and the connect (rebinding) cannot redirect it. The peer address of the connection is
checked again after the fact. Redirects are never followed; proxies from the environment
are ignored.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable, Mapping
from urllib.parse import urlsplit, urlunsplit

import httpx

from backend.ports.webhooks import BlockedTarget, SendResult

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise BlockedTarget(f"cannot resolve {host}") from exc
    return list(dict.fromkeys(info[4][0] for info in infos))


def forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or not ip.is_global)


@dataclass(frozen=True)
class Target:
    url: str            # with the host replaced by the checked address
    host_header: str
    server_name: str
    address: str


def check_target(url: str, allow_private: bool, resolver: Resolver = system_resolver) -> Target:
    """The address to connect to for `url`, or BlockedTarget saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedTarget("the URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise BlockedTarget("credentials in the URL are not allowed")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolver(parts.hostname, port)
    if not addresses:
        raise BlockedTarget(f"cannot resolve {parts.hostname}")
    if not allow_private and any(forbidden(a) for a in addresses):
        raise BlockedTarget(f"{parts.hostname} resolves to a loopback, private or link-local address")
    address = addresses[0]
    literal = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    return Target(pinned, parts.netloc.rsplit("@", 1)[-1], parts.hostname, address)


def retry_after_s(value: str | None, now_s: float) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now_s)
    except (TypeError, ValueError):
        return None


class TargetGuard:
    """Where a bank may register an endpoint: check_target with this process's flag."""

    def __init__(self, allow_private: bool, resolver: Resolver = system_resolver) -> None:
        self.allow_private, self.resolver = allow_private, resolver

    def check(self, url: str) -> None:
        check_target(url, self.allow_private, self.resolver)


class HttpSender:
    def __init__(self, *, allow_private: bool = False, timeout_s: float = 10.0,
                 resolver: Resolver = system_resolver, clock: Callable[[], float] = time.time) -> None:
        self.allow_private, self.resolver, self.clock = allow_private, resolver, clock
        self.client = httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False)

    def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult:
        started = time.perf_counter()
        elapsed_ms = lambda: (time.perf_counter() - started) * 1000  # noqa: E731
        try:
            target = check_target(url, self.allow_private, self.resolver)
            with self.client.stream("POST", target.url, content=body,
                                    headers={**headers, "host": target.host_header},
                                    extensions={"sni_hostname": target.server_name}) as response:
                self._check_peer(response, target)  # while the connection is still open
                response.read()
        except BlockedTarget as exc:
            return SendResult(None, None, str(exc), elapsed_ms(), blocked=True)
        except httpx.HTTPError as exc:
            return SendResult(None, None, type(exc).__name__, elapsed_ms())
        return SendResult(response.status_code, retry_after_s(response.headers.get("retry-after"), self.clock()),
                          None if response.is_success else f"HTTP {response.status_code}", elapsed_ms())

    def _check_peer(self, response: httpx.Response, target: Target) -> None:
        stream = response.extensions.get("network_stream")
        try:
            peer = stream.get_extra_info("server_addr") if stream is not None else None
        except OSError:
            peer = None  # the server already closed it; the address was pinned anyway
        if peer is not None and ipaddress.ip_address(peer[0]) != ipaddress.ip_address(target.address):
            raise BlockedTarget("connected to an address other than the one checked")

    def close(self) -> None:
        self.client.close()
