"""Admin login throttling: lock the attacker's attempts, not the account.

Failed logins are counted in the database, so every server process shares the
counts and staff can see and clear them in the admin (``LoginThrottle``,
"login lockouts"). Three counts, each in a fixed window that starts at its
first failure and lasts ``LOGIN_FAILURE_WINDOW`` seconds:

- a username from an address, for a browser that has not logged in as that
  username before: ``LOGIN_FAILURE_LIMIT`` failures pause that username from
  that address (someone guessing one user's password);
- an address, whatever the usernames: ``LOGIN_ADDRESS_FAILURE_LIMIT``
  failures pause every such login from it (someone trying many usernames);
- a browser that has logged in as that username before (it holds a signed
  cookie, set at each successful login): its own count, with the first limit.
  So nobody else at the same address (a colleague behind the newsroom's NAT,
  or an attacker) can lock a user's own browser out, however often they fail.

A successful login clears its username-and-address (or browser) count. The
address is the client's as ``electionsite.net`` reads it behind a trusted proxy.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from electionsite import net
from results.models import LoginThrottle

DEVICE_COOKIE = "election_login_device"
DEVICE_COOKIE_AGE = 365 * 24 * 3600
_SALT = "results.login_throttle.device"  # as when the module lived in results: issued cookies stay valid

Scope = LoginThrottle.Scope


def client_address(request) -> str:
    """The client's address: behind a proxy, from the trusted header only (electionsite/net.py)."""
    return net.client_address(request)


def limit() -> int:
    return settings.LOGIN_FAILURE_LIMIT


def address_limit() -> int:
    return settings.LOGIN_ADDRESS_FAILURE_LIMIT


def window() -> int:
    return settings.LOGIN_FAILURE_WINDOW


def _normal(username: str) -> str:
    return username.strip().lower()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# ---------------------------------------------------------------- browsers that logged in before


def device_cookie_value(username: str) -> str:
    """A new signed cookie value naming this browser as one that logged in as ``username``."""
    return signing.dumps({"u": _normal(username), "d": secrets.token_hex(16)}, salt=_SALT)


def device_of(request, username: str) -> str | None:
    """The id of the requesting browser if it has logged in as ``username`` before, else None."""
    value = request.COOKIES.get(DEVICE_COOKIE)
    if not value:
        return None
    try:
        data = signing.loads(value, salt=_SALT, max_age=DEVICE_COOKIE_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != _normal(username):
        return None
    return str(data.get("d", "")) or None


def set_device_cookie(response, username: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device_cookie_value(username),
        max_age=DEVICE_COOKIE_AGE,
        path="/admin/",
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


# ---------------------------------------------------------------- counts


@dataclass(frozen=True)
class _Count:
    scope: str
    key: str
    username: str = ""
    address: str = ""


def _counts(username: str, address: str, device: str | None) -> list[_Count]:
    """What a failure of this login counts against."""
    name = _normal(username)
    if device:
        return [_Count(Scope.DEVICE, _digest("device", device), name, address)]
    return [
        _Count(Scope.USERNAME_ADDRESS, _digest(name, address), name, address),
        _Count(Scope.ADDRESS, _digest("address", address), "", address),
    ]


def _limit_of(scope: str) -> int:
    return address_limit() if scope == Scope.ADDRESS else limit()


def _current(row: LoginThrottle, now) -> int:
    """The row's failures in the current window (0 once it has ended)."""
    return row.failures if now < row.window_started + timezone.timedelta(seconds=window()) else 0


def minutes_locked(username: str, address: str, device: str | None = None) -> int:
    """0 if this login may be tried; otherwise the whole minutes (at least 1) until it may."""
    now = timezone.now()
    counts = _counts(username, address, device)
    rows = LoginThrottle.objects.filter(scope__in=[c.scope for c in counts], key__in=[c.key for c in counts])
    wait = 0.0
    for row in rows:
        if _current(row, now) >= _limit_of(row.scope):
            ends = row.window_started + timezone.timedelta(seconds=window())
            wait = max(wait, (ends - now).total_seconds())
    return max(1, math.ceil(wait / 60)) if wait > 0 else 0


def record_failure(username: str, address: str, device: str | None = None) -> None:
    """Count one failed login against each of its counts."""
    now = timezone.now()
    for count in _counts(username, address, device):
        with transaction.atomic():
            row, created = LoginThrottle.objects.select_for_update().get_or_create(
                scope=count.scope,
                key=count.key,
                defaults={
                    "username": count.username,
                    "address": count.address,
                    "failures": 1,
                    "window_started": now,
                },
            )
            if created:
                continue
            if _current(row, now) == 0:
                row.failures, row.window_started = 1, now
            else:
                row.failures += 1
            row.save(update_fields=["failures", "window_started"])


def record_success(username: str, address: str, device: str | None = None) -> None:
    """Clear the username-and-address (or browser) count: the address's stays, so that logging in
    as oneself does not reset a count of attempts at other usernames."""
    for count in _counts(username, address, device):
        if count.scope != Scope.ADDRESS:
            LoginThrottle.objects.filter(scope=count.scope, key=count.key).delete()


def failures(username: str, address: str) -> int:
    """Failures of ``username`` from ``address`` (browsers that never logged in as it) in the current window."""
    (count, _) = _counts(username, address, None)
    row = LoginThrottle.objects.filter(scope=count.scope, key=count.key).first()
    return _current(row, timezone.now()) if row else 0


def reset(username: str, address: str) -> None:
    """Clear the counts of ``username`` from ``address``, and of the address."""
    counts = _counts(username, address, None)
    for count in counts:
        LoginThrottle.objects.filter(scope=count.scope, key=count.key).delete()
