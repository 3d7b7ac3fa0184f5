"""The documented queries (docs/queries.md) the live pages run, and nothing else.

The pages are the example partners read, so they use only what partners can:
the queries printed in docs/queries.md, run here in-process against the schema
object (no HTTP round trip to ourselves), and sent as the very same text to
the browser, which re-runs them over HTTP and subscribes over WebSocket.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

from django.conf import settings
from django.core.cache import cache

from results import cursor as event_cursor
from schema import response_cache, schema

DOC = settings.BASE_DIR / "docs" / "queries.md"
CACHE_SECONDS = 600  # an entry is exact until the next event; this only bounds the memory it holds
_BLOCK = re.compile(r"<!-- (?:query|subscription): (\S+) variables: .*? -->\n```graphql\n(.*?)```", re.S)


@functools.cache
def documented() -> dict[str, str]:
    """Every documented query and subscription, by its name in docs/queries.md."""
    return dict(_BLOCK.findall(DOC.read_text()))


class QueryFailed(RuntimeError):
    """A documented query answered with errors: a bug, since they are tested against the demo."""


def run(name: str, **variables) -> dict:
    """Execute one documented query in-process and return its ``data``."""
    result = schema.execute_sync(documented()[name], variable_values=variables)
    if result.errors:
        raise QueryFailed(f"{name}: {[str(e) for e in result.errors]}")
    return result.data  # scalars already serialised: the same values a browser receives


def run_cached(name: str, *, seen: int | None = None, **variables) -> dict:
    """``run``, answered from the cache until the next event is published.

    Public data changes only with an event, so an answer stored under the
    latest event id stays exact until the next one: a page then costs one
    read of the cursor (``results.cursor``: one small query, or none with
    Redis) instead of a whole page's. The cursor is read
    first, so an answer is never older than the id it is stored under; the
    live pages resume from the answer's own ``lastEventId`` anyway.
    ``seen``: an event the reader has already seen (the page reloads because
    of it): the answer is not older than it, even while the shared cursor lags.
    Keys are in the API answers' namespace (``schema.response_cache``): one per
    database, so deployments or test runs sharing a Redis never read each
    other's pages, and ``response_cache.clear()`` drops them with the answers.
    """
    cursor = event_cursor.latest() if seen is None else event_cursor.at_least(seen)
    digest = hashlib.sha256(json.dumps([name, variables, cursor], sort_keys=True).encode()).hexdigest()
    key = f"{response_cache.namespace()}:live:{digest}"
    data = cache.get(key)
    if data is None:
        data = run(name, **variables)
        cache.set(key, data, CACHE_SECONDS)
    return data
