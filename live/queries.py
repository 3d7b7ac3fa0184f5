"""The documented queries (docs/queries.md) the live pages run, and nothing else.

The pages are the example partners read, so they use only what partners can:
the queries printed in docs/queries.md, run here in-process against the schema
object (no HTTP round trip to ourselves), and sent as the very same text to
the browser, which re-runs them over HTTP and subscribes over WebSocket.
"""

from __future__ import annotations

import functools
import re

from django.conf import settings

from schema import schema

DOC = settings.BASE_DIR / "docs" / "queries.md"
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
