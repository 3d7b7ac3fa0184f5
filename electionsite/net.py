"""The address a request came from, for quotas and login throttling.

Behind the newsroom's reverse proxy every request arrives from the proxy's
address, so the client's own address has to be read from a header the proxy
sets. Any client can send that header too, so it is read only when the
deployment says which header its proxies set (``TRUSTED_PROXY_HEADER``, e.g.
``X-Forwarded-For``) and how many proxies append to it (``TRUSTED_PROXY_COUNT``):
the client's address is that many entries from the right, the ones the trusted
proxies wrote; anything a client put further left is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from django.conf import settings


def _valid(address: str) -> str | None:
    address = address.strip()
    if address.startswith("[") and "]" in address:  # "[::1]:443"
        address = address[1 : address.index("]")]
    elif address.count(":") == 1:  # "1.2.3.4:5678"
        address = address.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def resolve(remote: str | None, forwarded: str | None) -> str:
    """The client's address from the socket's address and the trusted header's value (pure)."""
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "")
    count = max(1, getattr(settings, "TRUSTED_PROXY_COUNT", 1))
    if header and forwarded:
        hops = [hop for hop in forwarded.split(",") if hop.strip()]
        if hops:
            chosen = _valid(hops[-min(count, len(hops))])
            if chosen:
                return chosen
    return _valid(remote or "") or (remote or "unknown")


def _meta_name(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


def client_address(request) -> str:
    """The client's address for a Django request."""
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "")
    forwarded = request.META.get(_meta_name(header)) if header else None
    return resolve(request.META.get("REMOTE_ADDR"), forwarded)


def scope_client_address(scope: dict) -> str:
    """The client's address for an ASGI scope (HTTP or WebSocket)."""
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "").lower().encode()
    forwarded = None
    if header:
        headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
        values = [value.decode("latin-1") for name, value in headers if name.lower() == header]
        forwarded = ",".join(values) if values else None
    client = scope.get("client")
    return resolve(client[0] if client else None, forwarded)
