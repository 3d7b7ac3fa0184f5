"""Every public answer of the API, for comparing two states of a database through it."""

from __future__ import annotations

from graphql import GraphQLNonNull, get_named_type, is_leaf_type
from graphql.pyutils import Undefined

from schema import schema

# Root fields that are not a view of the data: the append-only feed and its latest cursor (a rehearsal stays in the
# log, flagged, by design) and the rehearsal switch itself (compared separately).
NOT_COMPARED = {"events", "rehearsal", "lastEventId"}
MAX_DEPTH = 5


def _selection(type_, path: tuple[str, ...]) -> str:
    fields = []
    for name, field in type_.fields.items():
        if any(
            isinstance(a.type, GraphQLNonNull) and a.default_value is Undefined for a in field.args.values()
        ):
            continue  # needs an argument: reached through its own root query
        named = get_named_type(field.type)
        if is_leaf_type(named):
            fields.append(name)
        elif named.name not in path and len(path) < MAX_DEPTH:
            inner = _selection(named, (*path, named.name))
            if inner:
                fields.append(f"{name} {{ {inner} }}")
    return " ".join(fields)


def full_queries(poll_date: str, ballot_ids: list[str], council_slugs: list[str]) -> dict[str, str]:
    """One document per root query, selecting every field reachable (to a depth), by name."""
    gql = schema._schema
    query = gql.query_type
    docs = {}
    for name, field in query.fields.items():
        if name in NOT_COMPARED or name in ("ballot", "council", "election", "nationalSummary", "posts"):
            continue
        docs[name] = (
            f"{{ {name} {{ {_selection(get_named_type(field.type), (get_named_type(field.type).name,))} }} }}"
        )
    election = _selection(gql.get_type("Election"), ("Election",))
    docs["nationalSummary"] = (
        f'{{ nationalSummary(pollDate: "{poll_date}") '
        f"{{ {_selection(gql.get_type('NationalSummary'), ('NationalSummary',))} }} }}"
    )
    docs["posts"] = (
        f"{{ posts(first: 100) {{ {_selection(gql.get_type('PostConnection'), ('PostConnection',))} }} }}"
    )
    for slug in council_slugs:
        docs[f"council:{slug}"] = (
            f'{{ council(slug: "{slug}") {{ {_selection(gql.get_type("Council"), ("Council",))} }} }}'
        )
    for ballot_id in ballot_ids:
        docs[f"ballot:{ballot_id}"] = (
            f'{{ ballot(id: "{ballot_id}") {{ {_selection(gql.get_type("Ballot"), ("Ballot",))} }} }}'
        )
    docs["elections:day"] = f'{{ elections(pollDate: "{poll_date}") {{ {election} }} }}'
    return docs


def answers(docs: dict[str, str]) -> dict[str, dict]:
    """Each document's whole answer (data, errors, extensions), executed as a client would."""
    out = {}
    for name, doc in docs.items():
        result = schema.execute_sync(doc)
        assert not result.errors, (name, result.errors)
        out[name] = {"data": result.data, "extensions": result.extensions or {}}
    return out


# Where in the log a published version sits, and when it was recorded: a replay publishes the same versions
# later in the log (and the reset before it bumped each ballot's write counter).
LOG_POSITION = {"eventId", "recordedAt", "version"}


def without_log_positions(value):
    """``value`` (answers, or any part) with each ballot version's log position left out."""
    if isinstance(value, dict):
        return {
            k: (
                [{f: x for f, x in without_log_positions(v).items() if f not in LOG_POSITION} for v in item]
                if k == "versions" and isinstance(item, list)
                else without_log_positions(item)
            )
            for k, item in value.items()
        }
    if isinstance(value, list):
        return [without_log_positions(v) for v in value]
    return value
