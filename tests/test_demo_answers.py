"""The API's answers on the loaded demo, pinned: a change of layout or of how a figure is computed changes none.

Every root query selects every field reachable (to a depth, tests/api.py), for every council and every ballot of
the demo, plus the documented queries (docs/queries.md) and the events feed. The committed file is what main
answered before the layout of issue 11; after a change that means to alter an answer, regenerate it with

    UPDATE_DEMO_ANSWERS=1 bin/test tests/test_demo_answers.py

and review the difference (`xzcat` both versions, then diff) as the change it is.

Left out, as they are positions in a log rather than data: database ids of events and posts (and the cursors made
of them) are replaced by their order of appearance, and the times rows were written (when the demo was loaded or
the test database migrated, rather than a time of the demo's night) by a placeholder.
"""

import datetime as dt
import io
import json
import lzma
import os
from pathlib import Path

import pytest
from django.core.management import call_command

from schema import schema

from .api import _selection, full_queries, without_log_positions
from .cleanup import wipe_results
from .test_docs_queries import QUERIES

pytestmark = pytest.mark.usefixtures("unbounded_documents")

# xz-compressed (17 MB of JSON, 0.25 MB on disk); `xzcat` it to read or diff two versions.
SNAPSHOT = Path(__file__).parent / "snapshots" / "demo-answers.json.xz"
POLL = "2023-05-04"
# Keys whose values are database ids or cursors built from them: equal between two loads only in their order.
ID_KEYS = {"id", "eventId", "postId", "after", "endCursor", "startCursor", "cursor", "lastEventId"}
NATURAL_ID = ("local.", "mayor.", "PP", "ynmp-", "joint-party:")


@pytest.fixture(scope="module")
def loaded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        wipe_results()
        call_command("load_demo", stdout=io.StringIO())
    yield
    with django_db_blocker.unblock():
        wipe_results()


def _execute(doc: str, variables: dict | None = None) -> dict:
    result = schema.execute_sync(doc, variable_values=variables)
    assert not result.errors, (doc[:200], result.errors)
    return {"data": result.data, "extensions": result.extensions or {}}


# The demo's night is in May 2023; a later time is when a row was written (the demo loaded, the test database's
# migrations run).
WRITTEN_AFTER = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _written(value: str) -> bool:
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return False
    return when.tzinfo is not None and when >= WRITTEN_AFTER


def _ordinals(value, seen: dict):
    """``value`` with each database id replaced by the order in which it first appears, and each time
    a row was written (not a time of the demo's night) by a placeholder."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ID_KEYS and isinstance(item, (str, int)) and not str(item).startswith(NATURAL_ID):
                out[key] = f"#{seen.setdefault((key, str(item)), len(seen))}"
            else:
                out[key] = _ordinals(item, seen)
        return out
    if isinstance(value, list):
        return [_ordinals(v, seen) for v in value]
    if isinstance(value, str) and value[:2] == "20" and _written(value):
        return "(when written)"
    return value


def every_answer() -> dict:
    councils = [c["slug"] for c in _execute("{ councils { slug } }")["data"]["councils"]]
    day = _execute(f'{{ elections(pollDate: "{POLL}") {{ ballots {{ id }} }} }}')["data"]["elections"]
    ballots = sorted(b["id"] for e in day for b in e["ballots"])
    docs = full_queries(POLL, ballots, councils)
    out = {name: _execute(doc) for name, doc in sorted(docs.items())}
    for name, (variables, text) in sorted(QUERIES.items()):
        out[f"docs:{name}"] = _execute(text, variables)
    version = _selection(schema._schema.get_type("BallotVersion"), ("BallotVersion",))
    events, after = [], None
    while True:
        page = _execute(
            "query($after: String) { events(after: $after, first: 500) { id kind rehearsal occurredAt"
            f" council {{ slug }} election {{ id }} ballot {{ id status }} ballotVersion {{ {version} }}"
            " data postId headline } }",
            {"after": after},
        )["data"]["events"]
        if not page:
            break
        events += page
        after = page[-1]["id"]
    out["events"] = events
    return _ordinals(without_log_positions(out), {})


def first_difference(got, want, path="") -> str | None:
    """Where two answers first differ, as a path with both values, or None."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if key not in got or key not in want:
                return f"{path}.{key}: {'missing' if key not in got else 'unexpected'}"
            found = first_difference(got[key], want[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(got, list) and isinstance(want, list):
        for i, (a, b) in enumerate(zip(got, want, strict=False)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None if len(got) == len(want) else f"{path}: {len(got)} items, pinned {len(want)}"
    return None if got == want else f"{path}: {got!r}, pinned {want!r}"


def test_the_api_answers_on_the_demo_as_pinned(loaded):
    answers = json.loads(json.dumps(every_answer(), sort_keys=True, default=str))
    if os.environ.get("UPDATE_DEMO_ANSWERS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_bytes(lzma.compress(json.dumps(answers, indent=0, sort_keys=True).encode() + b"\n"))
    pinned = json.loads(lzma.decompress(SNAPSHOT.read_bytes()))
    assert sorted(answers) == sorted(pinned)
    differences = [d for name in sorted(pinned) if (d := first_difference(answers[name], pinned[name], name))]
    assert differences == []
