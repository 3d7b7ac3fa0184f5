"""When to try a failed delivery again: exponential back-off with jitter, capped, for hours.

The n-th retry waits a random time between half and all of
``min(cap, base * 2 ** (n - 1))`` seconds ("equal jitter"): the waits grow
1, 2, 4, 8 ... seconds up to the cap (10 minutes by default) and then stay
there, so a partner's endpoint that is down for hours is still tried every
few minutes, and a thousand endpoints failing at once do not retry in step.
An endpoint failing for longer than ``WEBHOOK_PAUSE_AFTER`` is paused.
"""

from __future__ import annotations

import random

from django.conf import settings


def delay(failures: int, *, base: float | None = None, cap: float | None = None, rng=random) -> float:
    """Seconds to wait after the ``failures``-th failed attempt (1 for the first) of a delivery."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    base = settings.WEBHOOK_RETRY_BASE if base is None else base
    cap = settings.WEBHOOK_RETRY_CAP if cap is None else cap
    ceiling = min(cap, base * 2 ** min(failures - 1, 62))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


def is_retryable(status_code: int | None) -> bool:
    """Every answer but a 2xx is a failure to retry; None is no answer (timeout, refused, reset).

    A 4xx too: skipping an event would break the guarantee, and a partner's
    misconfiguration is theirs to fix while we retry (and then pause).
    """
    return status_code is None or not 200 <= status_code < 300
