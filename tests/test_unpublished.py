"""Nothing unpublished, anywhere: plant every kind of unpublished data, then look everywhere.

Planted: a draft post; a post published, updated and withdrawn; an undeclared
ballot with figures saved while counting (votes, electorate, papers counted,
rejected); a declared ballot that was then retracted (its votes kept for the
desk). Each carries strings and numbers found nowhere else. Searched: every
field of every type the GraphQL schema can reach from each root field (over
HTTP, GET and POST), the events feed, the subscription's replay, and every
admin page each role can reach by following links from the admin's home page.
A declared ballot and a published post are planted too, and must be found:
proof that the search reaches what it should.
"""

from __future__ import annotations

import json
import re
import urllib.parse

import pytest
from django.contrib.auth import get_user_model
from graphql import GraphQLNonNull, GraphQLObjectType, Undefined, get_named_type

from results import drafts, services
from results.models import Post
from schema import schema

from . import factories as f
from .desk import client_for, staff

POST_SECRETS = [
    "SECRET-DRAFT-HEADLINE",
    "SECRET-DRAFT-BODY",
    "SECRET-DRAFT-CAPTION",
    "SECRET-WITHDRAWN-FIRST",
    "SECRET-WITHDRAWN-SECOND",
    "SECRET-WITHDRAWN-BODY",
]
# Figures of the ballot counted but not declared, and of the retracted one.
FIGURE_SECRETS = [731946, 180417, 912375, 983117, 640213, 250119, 890345, 971204]
PUBLIC = ["PUBLIC-POST-HEADLINE", "555123", "444321"]


@pytest.fixture(autouse=True)
def _unbounded(unbounded_documents):
    """The crawl asks for every field of every type in one document (see conftest)."""


def spellings(number: int) -> list[str]:
    return [str(number), f"{number:,}"]


@pytest.fixture
def planted():
    return plant()


def plant() -> dict:
    e = f.election("plantshire", seats_total=3, before={"PP52": (3, 0)})
    counting, retracted, declared = (
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")])
        for name in ("North", "South", "East")
    )
    drafts.save_count_in_progress(
        counting,
        votes=f.votes(counting, Able=731946, Baker=180417),
        electorate=983117,
        ballot_papers_counted=912375,
        rejected_ballots=12,
    )
    services.declare_ballot(
        retracted,
        votes=f.votes(retracted, Able=640213, Baker=250119),
        electorate=971204,
        ballot_papers_counted=890345,
        rejected_ballots=13,
    )
    services.retract_declaration(retracted)
    services.declare_ballot(declared, votes=f.votes(declared, Able=555123, Baker=444321))

    draft = services.save_post(
        Post(),
        changes={
            "headline": "SECRET-DRAFT-HEADLINE",
            "body": "SECRET-DRAFT-BODY",
            "image_caption": "SECRET-DRAFT-CAPTION",
        },
    )
    draft.councils.set([e.council])
    withdrawn = services.save_post(
        Post(), changes={"headline": "SECRET-WITHDRAWN-FIRST", "body": "SECRET-WITHDRAWN-BODY"}
    )
    services.publish_post(withdrawn)
    services.save_post(withdrawn, changes={"headline": "SECRET-WITHDRAWN-SECOND"})
    services.withdraw_post(withdrawn, reason="wrong")
    public = services.save_post(Post(), changes={"headline": "PUBLIC-POST-HEADLINE"})
    services.publish_post(public)
    return {"election": e, "ballots": (counting, retracted, declared)}


def forbidden(*, posts: bool = True, figures: bool = True) -> list[str]:
    found = list(POST_SECRETS) if posts else []
    if figures:
        found += [s for n in FIGURE_SECRETS for s in spellings(n)]
    return found


def leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in text]


# ---------------------------------------------------------------- GraphQL


def required(arg) -> bool:
    return isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined


def selection(type_, path: frozenset = frozenset(), depth: int = 0) -> str:
    """Every field of ``type_`` without required arguments, recursively; each type once per path."""
    fields = []
    for name, field in type_.fields.items():
        if any(
            isinstance(arg.type, GraphQLNonNull) and arg.default_value is None for arg in field.args.values()
        ):
            continue
        target = get_named_type(field.type)
        if isinstance(target, GraphQLObjectType):
            if target.name in path or depth >= 8:
                continue
            inner = selection(target, path | {type_.name}, depth + 1)
            if inner:
                fields.append(f"{name} {{ {inner} }}")
        else:
            fields.append(name)
    return " ".join(fields)


def root_queries(planted) -> list[str]:
    """One document per root field, every reachable field selected; ids of each planted object."""
    graphql_schema = schema._schema
    query_type = graphql_schema.query_type
    documents = []
    arguments = {
        "ballot": [{"id": b.ballot_paper_id} for b in planted["ballots"]],
        "election": [{"id": planted["election"].election_id}],
        "council": [{"slug": "plantshire"}],
        "nationalSummary": [{"pollDate": str(f.POLL_DATE)}],
    }
    for name, field in query_type.fields.items():
        target = get_named_type(field.type)
        inner = selection(target, frozenset({"Query"})) if isinstance(target, GraphQLObjectType) else ""
        body = f"{{ {inner} }}" if inner else ""
        if not any(required(arg) for arg in field.args.values()):
            documents.append(f"{{ {name} {body} }}")
            continue
        assert name in arguments, f"the leak test does not know how to call {name}: add its arguments"
        for args in arguments[name]:
            rendered = ", ".join(f"{k}: {json.dumps(v)}" for k, v in args.items())
            documents.append(f"{{ {name}({rendered}) {body} }}")
    return documents


def test_no_query_path_shows_unpublished_data(planted, client):
    seen = []
    for document in root_queries(planted):
        for response in (
            client.post("/graphql", {"query": document}, content_type="application/json"),
            client.get(
                "/graphql?" + urllib.parse.urlencode({"query": document}), HTTP_ACCEPT="application/json"
            ),
        ):
            assert response.status_code == 200, (document, response.content[:500])
            body = response.content.decode()
            assert "errors" not in response.json(), (document, body[:1000])
            assert leaks(body, forbidden()) == [], document
            seen.append(body)
    everything = "\n".join(seen)
    assert leaks(everything, PUBLIC) == PUBLIC  # the search reaches published data


def test_the_events_feed_shows_no_unpublished_data(planted, client):
    query = "{ events(first: 500) { " + selection(schema._schema.get_type("Event")) + " } }"
    response = client.post("/graphql", {"query": query}, content_type="application/json")
    body = response.content.decode()
    assert "errors" not in response.json(), body[:1000]
    assert leaks(body, forbidden()) == []
    # The withdrawn post's events are still in the feed (the log is never rewritten), without its words.
    kinds = [e["kind"] for e in response.json()["data"]["events"]]
    assert kinds.count("POST_PUBLISHED") == 2 and kinds.count("POST_WITHDRAWN") == 1
    assert "PUBLIC-POST-HEADLINE" in body


# ---------------------------------------------------------------- admin, per role


SAME_PAGE_PARAMS = {"o", "_changelist_filters", "_facets"}


def crawl(client, limit: int = 600) -> dict[str, tuple[int, str]]:
    """Every admin page reachable by links from the home page (GET only)."""
    pages: dict[str, tuple[int, str]] = {}
    queue = ["/admin/"]
    while queue and len(pages) < limit:
        url = queue.pop(0)
        if url in pages:
            continue
        response = client.get(url)
        body = response.content.decode(errors="replace") if response.status_code == 200 else ""
        pages[url] = (response.status_code, body)
        for href in re.findall(r'href="([^"#]+)"', body):
            href = urllib.parse.urljoin(url, href.replace("&amp;", "&"))
            parsed = urllib.parse.urlparse(href)
            if parsed.netloc or not parsed.path.startswith("/admin/") or "logout" in parsed.path:
                continue
            if "/delete/" in parsed.path or "_popup" in parsed.query or "/r/" in parsed.path:
                continue
            # Sort orders, facet counts and the filters a change page remembers for the way back show the
            # same rows and fields: one of each page, so the crawl's budget goes to pages that differ.
            query = [(k, v) for k, v in urllib.parse.parse_qsl(parsed.query) if k not in SAME_PAGE_PARAMS]
            href = urllib.parse.urlunparse(parsed._replace(query=urllib.parse.urlencode(query)))
            if href not in pages and href not in queue:
                queue.append(href)
    return pages


@pytest.mark.parametrize(
    ("role", "must_not_see"),
    [
        ("Live editors", forbidden(posts=False, figures=True)),
        ("Data desk", forbidden(posts=True, figures=False)),
        (None, []),  # a superuser sees everything, and no page of theirs fails either
    ],
)
def test_no_admin_page_shows_a_role_what_it_may_not_see(planted, role, must_not_see):
    if role:
        user = staff(role.lower().replace(" ", "-"), role)
    else:
        user = get_user_model().objects.create_superuser("root", password=None)
    pages = crawl(client_for(user))
    counting, retracted, declared = planted["ballots"]
    if role != "Data desk":
        assert f"/admin/results/post/{Post.objects.get(headline='PUBLIC-POST-HEADLINE').pk}/change/" in pages
    # Every role may read ballots: the crawl reaches the planted ones.
    assert f"/admin/results/ballot/{counting.pk}/change/" in pages
    assert f"/admin/results/ballot/{retracted.pk}/change/" in pages
    assert [url for url, (status, _) in pages.items() if status >= 500] == []
    assert {
        url: leaks(body, must_not_see) for url, (_, body) in pages.items() if leaks(body, must_not_see)
    } == {}
    if role == "Live editors":
        status, body = pages[f"/admin/results/ballot/{counting.pk}/change/"]
        assert "Read only: you can see North but not change it" in body
        assert "Its figures are not shown until it is declared." in body
        # A declared result is public: the live editor sees it like anyone.
        assert "555123" in pages[f"/admin/results/ballot/{declared.pk}/change/"][1]


# ---------------------------------------------------------------- subscription replay


@pytest.mark.anyio
@pytest.mark.usefixtures("close_thread_connections")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
async def test_subscription_replay_shows_no_unpublished_data():
    from asgiref.sync import sync_to_async

    from results.models import Event

    from .test_subscriptions import Client

    await sync_to_async(plant)()
    total = await sync_to_async(Event.objects.count)()
    query = 'subscription { events(after: "0") { ' + selection(schema._schema.get_type("Event")) + " } }"
    client = await Client().connect()
    await client.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
    messages = await client.events(total, timeout=10)
    await client.close()
    body = json.dumps(messages)
    assert leaks(body, forbidden()) == []
    assert leaks(body, PUBLIC) == PUBLIC
