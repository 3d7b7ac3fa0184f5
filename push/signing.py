"""Signing deliveries, as Stripe and GitHub sign theirs.

Each POST carries ``Webhook-Timestamp`` (Unix seconds) and
``Webhook-Signature: v1=<hex>``, the HMAC-SHA256, keyed with the endpoint's
secret, of ``<timestamp>.<body>`` (the raw body bytes). A receiver recomputes
it over the bytes it received, compares in constant time, and refuses a
timestamp more than a few minutes old (a replayed capture).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
TOLERANCE = 300  # seconds a receiver should accept a timestamp (the guide's example)


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: ``v1=`` and the hex HMAC-SHA256 of ``timestamp.body``."""
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str, *, now: float | None = None) -> bool:
    """What a receiver does (the guide's example, tested): a valid signature over a recent timestamp."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > TOLERANCE:
        return False
    expected = signature(secret, ts, body)
    # A header may list several signatures (during a secret rotation): any one will do.
    return any(hmac.compare_digest(expected, part.strip()) for part in header.split(","))


def headers(secret: str, delivery_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": "electionsite-webhooks/1",
        ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
