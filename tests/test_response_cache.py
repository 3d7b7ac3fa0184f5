"""The GraphQL response cache: keyed to the event log, ETag/304, persisted queries, single flight.

Writes here commit their ``on_commit`` hooks (``committed`` below), as a
real request's transaction would, so the cursor moves exactly as in
production; the real server processes at the end share PostgreSQL and Redis.
"""

import asyncio
import hashlib
import json
import urllib.parse
import uuid

import pytest
from django.test import AsyncClient, Client

from partners import keys
from results import cursor, services
from schema import response_cache
from schema.root import ElectionSchema

from . import factories as f

COUNCIL = """query CouncilPage($id: ID!) {
  lastEventId
  election(id: $id) { id seatsDeclared ballots { id status candidacies { name votes elected } } }
}"""
DERBY = "local.derby.2023-05-04"
LEICESTER = "local.leicester.2023-05-04"


@pytest.fixture
def executions(monkeypatch):
    """How many times the schema executed a document (parse, validate, execute)."""
    calls = []
    original = ElectionSchema.execute

    async def counted(self, query, *args, **kwargs):
        calls.append(query)
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(ElectionSchema, "execute", counted)
    return calls


def get(variables=None, *, query=COUNCIL, client=None, extensions=None, **headers):
    params = {"query": query} if query is not None else {}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    if extensions is not None:
        params["extensions"] = json.dumps(extensions)
    return (client or Client()).get("/graphql", params, HTTP_ACCEPT="application/json", **headers)


def post(body, **headers):
    return Client().post("/graphql", json.dumps(body), content_type="application/json", **headers)


def council(slug="derby"):
    e = f.election(slug, seats_total=2, before={"PP52": (2, 0)})
    north = f.ballot(e, "North", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
    south = f.ballot(e, "South", [("Cat Cole", "PP53"), ("Dan Dunn", "PP52")], previous={"PP52": 1})
    return north, south


def declare(ballot, django_capture_on_commit_callbacks, **by_surname):
    with django_capture_on_commit_callbacks(execute=True):
        services.declare_ballot(ballot, votes=f.votes(ballot, **by_surname))


def test_a_repeated_query_is_answered_without_executing_until_the_next_event(
    executions, django_assert_num_queries, django_capture_on_commit_callbacks
):
    north, south = council()
    first = get({"id": DERBY})
    assert first.status_code == 200 and first.json()["data"]["election"]["seatsDeclared"] == 0
    with django_assert_num_queries(1):  # the cursor (without Redis; none with it)
        again = get({"id": DERBY})
    assert again.content == first.content
    assert len(executions) == 1
    declare(north, django_capture_on_commit_callbacks, Able=300, Baker=200)
    after = get({"id": DERBY}).json()["data"]
    assert after["election"]["seatsDeclared"] == 1
    assert after["lastEventId"] == str(cursor.table())
    assert len(executions) == 2
    # POST shares the entry of the same document and variables.
    assert post({"query": COUNCIL, "variables": {"id": DERBY}}).json()["data"] == after
    assert len(executions) == 2


def test_different_variables_operations_and_access_levels_never_share_an_answer(executions):
    council("derby")
    council("leicester")
    _, raw = keys.issue_key(keys.create_partner("Derby Telegraph", per_minute=100), "tests")
    derby = get({"id": DERBY}).json()["data"]["election"]["id"]
    leicester = get({"id": LEICESTER}).json()["data"]["election"]["id"]
    assert (derby, leicester) == (DERBY, LEICESTER)
    keyed = get({"id": DERBY}, HTTP_X_API_KEY=raw)
    assert keyed.json()["data"]["election"]["id"] == DERBY
    two_operations = "query A { councils { slug } } query B { parties { id } }"
    a = post({"query": two_operations, "operationName": "A"}).json()["data"]
    b = post({"query": two_operations, "operationName": "B"}).json()["data"]
    assert list(a) == ["councils"] and list(b) == ["parties"]
    assert len(executions) == 5
    get({"id": DERBY}, HTTP_X_API_KEY=raw)  # each of them again: all from the cache
    get({"id": DERBY})
    get({"id": LEICESTER})
    assert len(executions) == 5


def test_a_cached_answer_is_still_authenticated_and_counted_against_the_quota(settings, executions):
    council()
    settings.ANONYMOUS_PER_MINUTE = 3
    address = f"10.13.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"  # a count of its own
    remaining = [get({"id": DERBY}, REMOTE_ADDR=address)["RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = get({"id": DERBY}, REMOTE_ADDR=address)
    assert refused.status_code == 429 and refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert len(executions) == 1
    settings.PUBLIC_API = "keys"
    assert get({"id": DERBY}).status_code == 401  # the cached answer needs a key now
    assert get({"id": DERBY}, HTTP_X_API_KEY="eln_not_a_key").status_code == 401


def test_answers_with_errors_are_never_cached(executions):
    council()
    for _ in range(2):
        response = get({"id": 5})  # an ID variable given a number is fine; an Int given a string is not
        assert response.status_code == 200
    bad = "query($n: Int!) { events(first: $n) { id } }"
    for variables, message in [
        ({"n": "many"}, "Variable '$n' has invalid value: Int cannot represent non-integer value: 'many'"),
        ({"n": 0}, "`first` must be between 1 and 500."),  # a field error
    ]:
        for _ in range(2):
            response = get(variables, query=bad)
            assert [e["message"] for e in response.json()["errors"]] == [message]
            assert response["Cache-Control"] == "no-store"
            assert not response.has_header("ETag")
    assert len(executions) == 5  # the valid one once, the others each time


def test_etag_if_none_match_304_and_the_cache_headers(django_capture_on_commit_callbacks):
    north, _ = council()
    _, raw = keys.issue_key(keys.create_partner("Derby Telegraph", per_minute=100), "tests")
    first = get({"id": DERBY})
    tag = first["ETag"]
    assert tag == f'"{cursor.table()}-' + tag.split("-", 1)[1]
    assert first["Cache-Control"] == "public, max-age=2, stale-while-revalidate=3"
    assert first["Vary"] == "Accept, X-API-Key, Authorization"
    not_modified = get({"id": DERBY}, HTTP_IF_NONE_MATCH=tag)
    assert (not_modified.status_code, not_modified.content, not_modified["ETag"]) == (304, b"", tag)
    assert not_modified["Cache-Control"] == first["Cache-Control"]
    assert not_modified["RateLimit-Remaining"]  # counted like any other request
    assert get({"id": DERBY}, HTTP_IF_NONE_MATCH=f'"x", W/{tag}').status_code == 304
    keyed = get({"id": DERBY}, HTTP_X_API_KEY=raw)
    assert (keyed.status_code, keyed["Cache-Control"]) == (200, "private, max-age=2")
    assert keyed["ETag"] != tag  # keyed by access level
    graphql_json = Client().get(
        "/graphql",
        {"query": COUNCIL, "variables": json.dumps({"id": DERBY})},
        HTTP_ACCEPT="application/graphql-response+json",
    )
    assert graphql_json["Content-Type"] == "application/graphql-response+json; charset=utf-8"
    assert graphql_json["ETag"] != tag and graphql_json.content == first.content
    declare(north, django_capture_on_commit_callbacks, Able=300, Baker=200)
    changed = get({"id": DERBY}, HTTP_IF_NONE_MATCH=tag)
    assert changed.status_code == 200 and changed["ETag"] != tag
    assert changed.json()["data"]["election"]["seatsDeclared"] == 1
    assert not post({"query": COUNCIL, "variables": {"id": DERBY}}).has_header("ETag")


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_automatic_persisted_queries_follow_apollos_protocol(executions):
    council()
    digest = sha(COUNCIL)
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    missing = get({"id": DERBY}, query=None, extensions=persisted)
    assert (missing.status_code, missing["Cache-Control"]) == (200, "no-store")
    assert missing.json() == {
        "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
    }
    registered = post({"query": COUNCIL, "variables": {"id": DERBY}, "extensions": persisted})
    assert registered.json()["data"]["election"]["id"] == DERBY
    by_hash = get({"id": DERBY}, query=None, extensions=persisted)
    assert by_hash.json() == registered.json()
    assert by_hash["Cache-Control"] == "public, max-age=2, stale-while-revalidate=3" and by_hash["ETag"]
    assert len(executions) == 1  # the registering POST; the GET by hash shares its entry
    # Registering over GET works too, for a new document.
    other = "{ parties { id } }"
    other_ext = {"persistedQuery": {"version": 1, "sha256Hash": sha(other)}}
    assert "parties" in get(query=other, extensions=other_ext).json()["data"]
    assert "parties" in get(query=None, extensions=other_ext).json()["data"]


@pytest.mark.parametrize(
    ("query", "extensions", "status", "code"),
    [
        (
            "{ parties { id } }",
            {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}},
            400,
            "PERSISTED_QUERY_HASH_MISMATCH",
        ),
        (None, {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}, 400, "PERSISTED_QUERY_VERSION"),
        (None, {"persistedQuery": {"version": 1, "sha256Hash": "abc"}}, 400, "PERSISTED_QUERY_HASH_INVALID"),
    ],
)
def test_persisted_query_errors_are_clear(query, extensions, status, code):
    response = get(query=query, extensions=extensions)
    assert response.status_code == status
    assert response.json()["errors"][0]["extensions"]["code"] == code


def test_a_persisted_document_still_passes_the_document_limits():
    deep = "{ elections { " + "ballots { election { " * 7 + "id" + " } }" * 7 + " } }"
    ext = {"persistedQuery": {"version": 1, "sha256Hash": sha(deep)}}
    refused = post({"query": deep, "extensions": ext}).json()
    assert refused["errors"][0]["extensions"]["code"] == "TOO_DEEP"
    # Not registered: the hash alone is unknown.
    assert get(query=None, extensions=ext).json()["errors"][0]["message"] == "PersistedQueryNotFound"


def test_mutations_subscriptions_and_batches_are_not_cached():
    subscription = post({"query": "subscription { events { id } }"})
    assert subscription.status_code == 400
    batch = post([{"query": "{ parties { id } }"}])
    assert batch.status_code == 400
    assert response_cache.is_cacheable_query("{ parties { id } }")
    assert not response_cache.is_cacheable_query("subscription { events { id } }")
    assert not response_cache.is_cacheable_query("{ parties { id ")


@pytest.mark.anyio
async def test_single_flight_computes_once_for_many_identical_requests():
    store = response_cache.Store(None)
    computed = []

    async def compute():
        computed.append(1)
        await asyncio.sleep(0.05)
        return response_cache.Entry(7, b'{"data":{}}'), "mine"

    results = await asyncio.gather(*(store.single_flight("k", 7, compute) for _ in range(200)))
    assert len(computed) == 1
    assert [entry.body for entry, _ in results] == [b'{"data":{}}'] * 200
    assert sum(own == "mine" for _, own in results) == 1
    # An uncacheable answer is not shared: each waiter computes its own.
    assert await store.single_flight("k", 8, _uncacheable) == (None, "error")

    async def failing():
        await asyncio.sleep(0.01)
        raise TimeoutError

    outcomes = await asyncio.gather(
        *(store.single_flight("k", 9, failing) for _ in range(5)), return_exceptions=True
    )
    assert [type(o) for o in outcomes] == [TimeoutError] * 5
    assert store.inflight == {}

    # The computing request cancelled (its client went away): the waiters compute their own.
    async def slow():
        await asyncio.sleep(1)
        return response_cache.Entry(10, b"{}"), "slow"

    leader = asyncio.ensure_future(store.single_flight("k", 10, slow))
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(store.single_flight("k", 10, slow))
    await asyncio.sleep(0.01)
    leader.cancel()
    assert await waiter == (None, None)
    assert leader.cancelled()


async def _uncacheable():
    return None, "error"


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_n_concurrent_identical_requests_after_an_event_execute_once(
    executions, close_thread_connections
):
    from asgiref.sync import sync_to_async

    await sync_to_async(council)()
    client = AsyncClient()
    params = {"query": COUNCIL, "variables": json.dumps({"id": DERBY})}
    responses = await asyncio.gather(*(client.get("/graphql", params) for _ in range(30)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert len(executions) == 1


async def asgi_get(app, query_string: bytes, **headers):
    """One GET /graphql through an ASGI application: (status, headers, body)."""
    sent = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": query_string,
        "root_path": "",
        "headers": [(b"host", b"testserver")]
        + [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }

    requested = []

    async def receive():
        if requested:
            await asyncio.Event().wait()  # no disconnect: the client waits for its answer
        requested.append(1)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode().lower(): v.decode() for k, v in start["headers"]}, body


@pytest.mark.anyio
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_the_fast_path_answers_hits_with_the_headers_django_gives_them(close_thread_connections):
    from asgiref.sync import sync_to_async
    from django.core.asgi import get_asgi_application

    from schema.fast_path import CachedAnswers

    await sync_to_async(council)()
    django_app = get_asgi_application()
    through_django = []

    async def counting(scope, receive, send):
        through_django.append(scope["path"])
        await django_app(scope, receive, send)

    app = CachedAnswers(counting)
    qs = urllib.parse.urlencode({"query": COUNCIL, "variables": json.dumps({"id": DERBY})}).encode()
    computed = await asgi_get(app, qs)  # a miss: Django computes and stores it
    hit = await asgi_get(app, qs)
    assert len(through_django) == 1
    assert (hit[0], hit[2]) == (computed[0], computed[2]) == (200, computed[2])
    varying = {"ratelimit-remaining", "ratelimit-reset"}
    assert {k: v for k, v in hit[1].items() if k not in varying} == {
        k: v for k, v in computed[1].items() if k not in varying
    }
    assert int(hit[1]["ratelimit-remaining"]) == int(computed[1]["ratelimit-remaining"]) - 1  # counted once
    not_modified = await asgi_get(app, qs, if_none_match=hit[1]["etag"])
    assert (not_modified[0], not_modified[2]) == (304, b"")
    # Keyed requests, a persisted query's registration and unknown parameters go to Django.
    _, raw = await sync_to_async(keys.issue_key)(
        await sync_to_async(keys.create_partner)("Derby Telegraph", per_minute=100), "tests"
    )
    assert (await asgi_get(app, qs, x_api_key=raw))[0] == 200
    assert len(through_django) == 2
    graphql_json = await asgi_get(app, qs, accept="application/graphql-response+json")
    assert graphql_json[1]["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert graphql_json[1]["etag"] != hit[1]["etag"] and len(through_django) == 2


def test_each_process_keeps_a_bounded_number_of_answer_bytes_and_never_an_older_answer(monkeypatch):
    monkeypatch.setattr(response_cache, "LOCAL_BYTES", 250)
    local = response_cache._Local()
    for n in range(5):
        local.keep(f"k{n}", response_cache.Entry(3, b"x" * 100))
    assert list(local.entries) == ["k3", "k4"] and local.bytes == 200
    local.keep("k4", response_cache.Entry(2, b"old"))  # an older answer does not replace a newer one
    assert local.entry("k4", 3).body == b"x" * 100 and local.entry("k4", 2) is None
    local.keep("k4", response_cache.Entry(4, b"new"))
    assert (local.entry("k4", 4).body, local.bytes) == (b"new", 103)


def test_cached_answers_carry_the_rehearsal_flag_as_computed_ones_do(
    executions, django_capture_on_commit_callbacks
):
    council()
    assert "extensions" not in get({"id": DERBY}).json()
    with django_capture_on_commit_callbacks(execute=True):
        services.start_rehearsal(f.POLL_DATE, label="Dress rehearsal")
    computed = get({"id": DERBY}).json()
    hit = get({"id": DERBY})
    assert hit.json() == computed
    assert computed["extensions"]["rehearsal"]["active"] is True
    assert computed["extensions"]["rehearsal"]["label"] == "Dress rehearsal"
    assert get({"id": DERBY}, HTTP_IF_NONE_MATCH=hit["ETag"]).status_code == 304
    assert len(executions) == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.reset_to_eve(f.POLL_DATE)  # a RESET event: the flag goes with the next answer
    assert [("extensions" in get({"id": DERBY}).json()) for _ in range(2)] == [False, False]
    assert len(executions) == 3


@pytest.mark.anyio
async def test_processes_share_stored_answers_and_one_computes_while_the_others_wait(settings):
    """Across processes (two stores on one Redis, this process's copies dropped between steps):
    one Redis call finds the stored answer or takes the lock, the answer and the lock's release
    go together, and an answer stored at an older event is never served."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (REDIS_URL)")
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(settings.REDIS_URL)
    first, second = response_cache.Store(client), response_cache.Store(client)
    key, body = uuid.uuid4().hex, b'{"data":{"n":1}}'
    computed = []

    async def compute():
        computed.append(1)
        await asyncio.sleep(0.2)
        return response_cache.Entry(5, body), "mine"

    try:
        leader = asyncio.ensure_future(first.single_flight(key, 5, compute))
        await asyncio.sleep(0.05)  # the leader holds the lock, computing
        assert await client.exists(f"{response_cache.namespace()}:lock:{key}:5")
        follower = await second.single_flight(key, 5, compute)  # waits for the leader's answer
        assert await leader == (response_cache.Entry(5, body), "mine")
        assert follower == (response_cache.Entry(5, body), None)
        assert len(computed) == 1
        assert not await client.exists(f"{response_cache.namespace()}:lock:{key}:5")  # released

        response_cache.local.clear()  # another process: it has no copy of its own
        assert await second.single_flight(key, 5, compute) == (response_cache.Entry(5, body), None)
        assert len(computed) == 1  # read from Redis, not computed
        assert response_cache.local.entry(key, 5) == response_cache.Entry(5, body)  # and kept

        async def compute_later():
            computed.append(1)
            return response_cache.Entry(6, b"{}"), "later"

        response_cache.local.clear()
        assert await second.single_flight(key, 6, compute_later) == (response_cache.Entry(6, b"{}"), "later")
        assert len(computed) == 2  # the answer stored at event 5 is not the one at event 6

        async def uncacheable():
            computed.append(1)
            return None, "error"

        assert await first.single_flight(key, 7, uncacheable) == (None, "error")
        assert not await client.exists(f"{response_cache.namespace()}:lock:{key}:7")  # released too
    finally:
        await client.delete(f"{response_cache.namespace()}:entry:{key}")
        await client.aclose()
        response_cache.local.clear()
