"""The GraphQL schema: the committed SDL, and a first query over HTTP."""

import json
from pathlib import Path

from django.test import Client

from results import services
from schema import schema

from . import factories as f

SDL = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_sdl_matches_the_schema():
    assert SDL.read_text() == schema.as_str() + "\n", (
        "schema changed: run bin/export-schema and commit schema.graphql"
    )


def test_election_query_returns_the_control_headline_over_http():
    e = f.election("chesterfield", seats_total=1, before={"PP53": (1, 0)})
    b = f.ballot(e, "Brimington", [("Ann Able", "PP53"), ("Bob Baker", "PP90")])
    services.declare_ballot(b, votes=f.votes(b, Able=10, Baker=5))
    response = Client().post(
        "/graphql",
        data=json.dumps(
            {
                "query": '{ election(id: "local.chesterfield.2023-05-04") { id council { name } control { called party { id shortName } headline } } }'
            }
        ),
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "data": {
            "election": {
                "id": "local.chesterfield.2023-05-04",
                "council": {"name": "Chesterfield"},
                "control": {
                    "called": True,
                    "party": {"id": "PP53", "shortName": "Labour"},
                    "headline": "Labour hold Chesterfield",
                },
            }
        }
    }


def test_every_type_field_and_argument_is_documented():
    from graphql import GraphQLObjectType

    gql = schema._schema
    missing = []
    for name, type_ in gql.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if name not in {"Query", "Subscription"} and not type_.description:
            missing.append(name)
        if isinstance(type_, GraphQLObjectType):
            for field_name, field in type_.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
    assert missing == []
