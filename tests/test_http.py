"""GraphQL over HTTP: media types, status codes and clear errors, never a 500."""

import json

import pytest
from django.test import Client

from . import factories as f

GRJ = "application/graphql-response+json"


def post(body, *, accept=None, content_type="application/json"):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return Client().post("/graphql", data=data, content_type=content_type, **headers)


def test_json_is_the_default_media_type():
    f.council("derby", "Derby")
    response = post({"query": "{ councils { slug name } }"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"data": {"councils": [{"slug": "derby", "name": "Derby"}]}}


def test_graphql_response_json_is_served_when_accepted():
    response = post({"query": "{ councils { slug } }"}, accept=f"{GRJ}, application/json;q=0.9")
    assert response.status_code == 200
    assert response["Content-Type"] == f"{GRJ}; charset=utf-8"
    assert response.json() == {"data": {"councils": []}}


@pytest.mark.parametrize(
    ("query", "variables", "message"),
    [
        ("{ councils { slug ", None, "Syntax Error: Expected Name, found <EOF>."),
        ("{ councils { nonsense } }", None, "Cannot query field 'nonsense' on type 'Council'."),
        (
            "query($d: Date!) { nationalSummary(pollDate: $d) { councilsTotal } }",
            {"d": 5},
            "Variable '$d' has invalid value: Value cannot represent a Date: \"5\". Expected a string.",
        ),
    ],
)
def test_request_errors_are_400_without_data_for_graphql_response_json(query, variables, message):
    response = post({"query": query, "variables": variables}, accept=GRJ)
    assert response.status_code == 400
    body = response.json()
    assert "data" not in body
    assert [e["message"] for e in body["errors"]] == [message]


def test_request_errors_keep_200_for_application_json():
    response = post({"query": "{ councils { nonsense } }"}, accept="application/json")
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Cannot query field 'nonsense' on type 'Council'."


def test_malformed_json_is_a_400_with_a_json_error():
    response = post("{not json", accept=GRJ)
    assert response.status_code == 400
    assert response["Content-Type"] == f"{GRJ}; charset=utf-8"
    assert response.json() == {"errors": [{"message": "Unable to parse request body as JSON"}]}


def test_unsupported_content_type_is_a_415():
    response = post("query { councils { slug } }", content_type="text/plain")
    assert response.status_code == 415
    assert response.json() == {"errors": [{"message": "Unsupported content type"}]}


def test_get_queries_are_allowed_and_cacheable_requests():
    response = Client().get("/graphql", {"query": "{ parties { id } }"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert {"id": "PP53"} in response.json()["data"]["parties"]


def test_mutation_over_get_is_refused():
    response = Client().get("/graphql", {"query": "mutation { x }"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert response.json() == {"errors": [{"message": "mutations are not allowed when using GET"}]}


def test_put_is_refused_with_405():
    response = Client().put("/graphql", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json() == {"errors": [{"message": "GraphQL only supports GET and POST requests."}]}


def test_unexpected_exceptions_are_masked(monkeypatch):
    f.election("derby", seats_total=3)

    def broken(election):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("schema.elections.standing_of", broken)
    response = post({"query": '{ election(id: "local.derby.2023-05-04") { control { called } } }'})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"election": {"control": None}}
    assert [e["message"] for e in body["errors"]] == ["Unexpected server error."]
    assert "secret" not in response.content.decode()


def test_graphiql_is_served_to_browsers():
    response = Client().get("/graphql", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"graphiql" in response.content.lower()


def test_get_answers_may_be_cached_briefly_and_post_answers_not():
    response = Client().get("/graphql", {"query": "{ parties { id } }"}, HTTP_ACCEPT="application/json")
    assert (response["Cache-Control"], response["Vary"]) == (
        "public, max-age=2, stale-while-revalidate=3",
        "Accept, X-API-Key, Authorization",
    )
    assert not post({"query": "{ parties { id } }"}).has_header("Cache-Control")


def test_absurdly_deep_queries_are_refused():
    deep = "{ elections { " + "ballots { election { " * 7 + "id" + " } }" * 7 + " } }"
    response = post({"query": deep})
    assert response.json()["errors"] == [
        {
            "message": "The operation nests fields 16 deep; at most 12 levels are allowed.",
            "extensions": {"code": "TOO_DEEP"},
        }
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"null", "The request body must be a JSON object with a `query` member."),
        (b"42", "The request body must be a JSON object with a `query` member."),
        (b'"x"', "The request body must be a JSON object with a `query` member."),
        (b'\xff\xfe{"query": "{ parties { id } }"}', "The request body is not valid UTF-8."),
        (b"[" * 50_000 + b"]" * 50_000, "The JSON is nested too deeply."),
        (
            b'{"query": "{ parties { id } }", "variables": {"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}}",
            "The JSON is nested too deeply.",
        ),
    ],
)
def test_bodies_that_are_not_a_json_object_are_a_400_in_the_graphql_shape(body, message):
    response = post(body, accept=GRJ)
    assert response.status_code == 400
    assert response["Content-Type"] == f"{GRJ}; charset=utf-8"
    assert response.json() == {"errors": [{"message": message}]}


def test_a_body_over_the_size_limit_is_a_413():
    response = post({"query": "{ parties { id } }", "variables": {"pad": "x" * 140_000}}, accept=GRJ)
    assert response.status_code == 413
    assert response.json() == {
        "errors": [{"message": f"The request body is {140_000 + 57} bytes; at most 131072 are allowed."}]
    }


def test_a_query_string_over_the_size_limit_is_a_414():
    response = Client().get("/graphql", {"query": "{ parties { id } }" + " " * 17_000}, HTTP_ACCEPT=GRJ)
    assert response.status_code == 414
    assert response.json()["errors"][0]["message"].endswith("at most 16384 are allowed.")


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"])
def test_a_nul_or_a_lone_surrogate_in_a_variable_is_a_clear_request_error(bad):
    body = json.dumps({"query": "query($s: String!) { council(slug: $s) { slug } }", "variables": {"s": bad}})
    response = post(body, accept=GRJ)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Variable '$s' contains a NUL character or an unpaired surrogate, "
                "which no name, slug or id can hold.",
                "extensions": {"code": "BAD_STRING"},
            }
        ]
    }


BAD_STRING_IN_DOCUMENT = (
    "A string in the document contains a NUL character or an unpaired surrogate, "
    "which no name, slug or id can hold."
)


@pytest.mark.parametrize(
    ("string", "message"),
    [
        ("a\\\\u0000b", BAD_STRING_IN_DOCUMENT),  # GraphQL's escape of NUL
        ("a\\u0000b", BAD_STRING_IN_DOCUMENT),  # a raw NUL, escaped in the JSON
        ("a\\ud800b", "Syntax Error: Invalid character within String: U+D800."),  # raw, JSON-escaped
        ("a\\\\ud800b", "Syntax Error: Invalid Unicode escape sequence: '\\ud800'."),  # GraphQL's escape
    ],
)
def test_a_nul_or_a_lone_surrogate_in_the_document_is_a_clear_request_error(string, message):
    body = '{"query": "{ council(slug: \\"' + string + '\\") { slug } }"}'
    response = post(body, accept=GRJ)
    assert response.status_code == 400
    assert [e["message"] for e in response.json()["errors"]] == [message]


def test_a_request_running_past_the_time_limit_is_stopped_with_a_503(settings, monkeypatch):
    import time

    from schema import events

    settings.GRAPHQL_TIMEOUT = 0.2
    original = events.events_queryset

    def slow(**kwargs):
        time.sleep(1)  # the feed's resolver runs in a worker thread: the request stops waiting
        return original(**kwargs)

    monkeypatch.setattr(events, "events_queryset", slow)
    response = post({"query": "{ events { id } }"}, accept=GRJ)
    assert response.status_code == 503
    assert response.json() == {
        "errors": [
            {
                "message": "The request took more than 0.2 seconds and was stopped: "
                "ask for less (a smaller `first`, fewer nested lists)."
            }
        ]
    }
