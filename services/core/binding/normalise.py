"""Normalisation of the names monitoring uses for things: ports, case, domains, URLs."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from impactline.core.catalog.bindings import Normalise


def strip_port(value: str) -> str:
    """`db-gl-01:9187` -> `db-gl-01`, `[2001:db8::1]:9100` -> `2001:db8::1`; a bare IPv6
    address is left as it is (its colons are not a port)."""
    if value.startswith("["):
        end = value.find("]")
        if end > 1:
            return value[1:end]
    head, sep, tail = value.rpartition(":")
    if sep and head and tail.isdigit() and ":" not in head:
        return head
    return value


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def short_name(value: str) -> str:
    """The first label of a host name: `db-gl-01.corp.example.com` -> `db-gl-01`. IP
    addresses (with or without a port) stay whole."""
    if is_ip(strip_port(value)):
        return value
    return value.split(".", 1)[0]


def url_host(value: str) -> str:
    """The host (and port) of a URL: `https://portal.example.com:8443/health` ->
    `portal.example.com:8443`. A value without a scheme is read as `host[:port][/path]`."""
    parts = urlsplit(value if "://" in value else f"//{value}")
    host = parts.netloc.rpartition("@")[2]
    return host or value


STEPS: dict[Normalise, Callable[[str], str]] = {
    Normalise.LOWER: str.lower,
    Normalise.STRIP_PORT: strip_port,
    Normalise.SHORT_NAME: short_name,
    Normalise.URL_HOST: url_host,
}


def normalise(value: str, steps: Iterable[Normalise]) -> str:
    """Apply `steps` in order; surrounding white space is always dropped."""
    out = value.strip()
    for step in steps:
        out = STEPS[step](out).strip()
    return out
