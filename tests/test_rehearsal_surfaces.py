"""One walk over every public surface while rehearsing, and the same walk after the reset.

GraphQL answers (extensions and the banner field), the events feed and
subscription messages, every export (its URL, its file and the command),
the live pages and every console page: while the deployment rehearses,
each says so; after ``reset_to_eve`` none does. A transactional test: the
subscription's hub reads committed events from its own connection.
"""

import csv
import datetime as dt
import io
import json
import re
from xml.etree import ElementTree

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client as HttpClient

from results import services
from results.models import Event

from . import factories as f
from .test_subscriptions import Client, fast_hub  # noqa: F401 (fast_hub is a fixture)

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

DAY = dt.date(2023, 5, 4)
SUBSCRIPTION = "subscription($after: String) { events(after: $after) { id kind rehearsal } }"
EXPORTS = ("results.csv", "compositions.csv", "previous-winners.csv", "day.json", "declarations.atom")
BANNER = "REHEARSAL: everything published since"  # the console's
ATOM = {"a": "http://www.w3.org/2005/Atom"}


def eve():
    e = f.election("northshire", seats_total=3, before={"PP52": (2, 0), "PP53": (1, 0)})
    wards = [
        f.ballot(e, name, [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for name in ("North", "South", "West")
    ]
    mayor = f.election("northshire", kind="mayor")
    f.ballot(mayor, None, [("Eve Evans", "PP53"), ("Fay Ford", "PP52")])
    get_user_model().objects.create_superuser("chief", password=None)
    return wards


def declare(ballot, able=30, baker=20):
    return services.declare_ballot(ballot, votes=f.votes(ballot, Able=able, Baker=baker))


def crawl_console(client) -> dict[str, str]:
    """Every console page reachable from the index within two clicks (and each model's add and
    first change page), by path: its HTML."""
    pages, queue = {}, ["/admin/"]
    while queue and len(pages) < 120:
        path = queue.pop(0)
        if path in pages:
            continue
        response = client.get(path)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        html = response.content.decode()
        pages[path] = html
        if path.count("/") > 5:
            continue  # deep enough: a model's change page links only to its own parts
        for link in re.findall(r'href="(/admin/[^"?#]*)', html):
            if "logout" not in link and "delete" not in link and link not in pages:
                queue.append(link)
    return pages


def walk(rehearsing: bool, cursor: int) -> dict:
    """Every surface's flag, read as a client reads it. Returns what each said, for the asserts."""
    http = HttpClient()
    seen = {}
    # GraphQL over HTTP: any answer's extensions, and the banner field.
    answer = http.get("/graphql", {"query": "{ rehearsal { active label } parties { id } }"}).json()
    seen["graphql"] = (
        answer["data"]["rehearsal"],
        answer.get("extensions", {}).get("rehearsal", {}).get("active"),
    )
    failing = http.get("/graphql", {"query": "{ nope }"}).json()
    seen["graphql error"] = failing.get("extensions", {}).get("rehearsal", {}).get("active")
    # The events feed since the cursor.
    feed = http.get(
        "/graphql", {"query": f'{{ events(after: "{cursor}", first: 500) {{ kind rehearsal }} }}'}
    ).json()
    seen["feed"] = {e["rehearsal"] for e in feed["data"]["events"]}
    # Every export: the URL's header and file name, and the file itself.
    for name in EXPORTS:
        response = http.get(f"/exports/{DAY}/{name}")
        assert response.status_code == 200, name
        text = response.content.decode()
        if name.endswith(".csv"):
            inside = {row["rehearsal"] for row in csv.DictReader(io.StringIO(text))}
        elif name.endswith(".json"):
            flag = json.loads(text)["rehearsal"]
            inside = flag and flag["active"]
        else:
            feed_xml = ElementTree.fromstring(text)
            inside = (
                feed_xml.findtext("a:title", namespaces=ATOM).startswith("REHEARSAL"),
                [
                    e.findtext("a:title", namespaces=ATOM).startswith("REHEARSAL: ")
                    for e in feed_xml.findall("a:entry", ATOM)
                ],
            )
        seen[f"export {name}"] = (
            response.get("X-Rehearsal"),
            "rehearsal-" in response["Content-Disposition"],
            inside,
        )
    err = io.StringIO()
    out = io.StringIO()
    call_command("export_results", DAY.isoformat(), stdout=out, stderr=err)
    seen["export_results"] = (
        "REHEARSAL" in err.getvalue(),
        {r["rehearsal"] for r in csv.DictReader(io.StringIO(out.getvalue()))},
    )
    # The live pages: the banner, the title, and what their script is told.
    for path in (f"/live/{DAY}/", f"/live/{DAY}/northshire/", f"/live/{DAY}/northshire/mayor/", "/"):
        html = http.get(path).content.decode()
        config = json.loads(
            re.search(r'<script id="live-config" type="application/json">(.*?)</script>', html, re.S)[1]
        )
        seen[f"live {path}"] = (
            'id="rehearsal"' in html and "Rehearsal: test data, not real results." in html,
            re.search(r"<title>(.*?)</title>", html, re.S)[1].startswith("REHEARSAL"),
            config["rehearsal"],
        )
    # Every console page.
    desk = HttpClient()
    desk.force_login(get_user_model().objects.get(username="chief"))
    pages = crawl_console(desk)
    seen["console pages"] = len(pages)
    seen["console"] = {path for path, html in pages.items() if (BANNER in html) != rehearsing}
    return seen


async def test_every_public_surface_says_rehearsal_while_rehearsing_and_none_after_the_reset():
    wards = await sync_to_async(eve)()
    cursor = await sync_to_async(lambda: Event.objects.latest("id").pk)()
    client = await Client().connect()
    await client.send(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIPTION, "variables": {"after": str(cursor)}},
        }
    )
    await client.nothing_more(0.3)

    def rehearse():
        services.start_rehearsal(DAY, label="Dress rehearsal")
        declare(wards[0])
        declare(wards[1])  # Labour's second seat of three: control called

    await sync_to_async(rehearse)()
    messages = [m["payload"]["data"]["events"] for m in await client.events(4)]
    assert [(m["kind"], m["rehearsal"]) for m in messages] == [
        ("REHEARSAL_STARTED", True),
        ("BALLOT_DECLARED", True),
        ("BALLOT_DECLARED", True),
        ("CONTROL_CALLED", True),
    ]
    during = await sync_to_async(walk)(True, cursor)
    assert during.pop("console pages") > 30
    assert during == {
        "graphql": ({"active": True, "label": "Dress rehearsal"}, True),
        "graphql error": True,
        "feed": {True},
        "export results.csv": ("true; label='Dress rehearsal'", True, {"true"}),
        "export compositions.csv": ("true; label='Dress rehearsal'", True, {"true"}),
        "export previous-winners.csv": ("true; label='Dress rehearsal'", True, {"true"}),
        "export day.json": ("true; label='Dress rehearsal'", True, True),
        "export declarations.atom": ("true; label='Dress rehearsal'", True, (True, [True, True])),
        "export_results": (True, {"true"}),
        f"live /live/{DAY}/": (True, True, True),
        f"live /live/{DAY}/northshire/": (True, True, True),
        f"live /live/{DAY}/northshire/mayor/": (True, True, True),
        "live /": (True, True, True),
        "console": set(),  # no console page without the banner
    }

    await sync_to_async(services.reset_to_eve)(DAY)
    [reset] = [m["payload"]["data"]["events"] for m in await client.events(1)]
    assert (reset["kind"], reset["rehearsal"]) == ("RESET", True)  # part of the rehearsal it ends
    after_reset = await sync_to_async(lambda: Event.objects.latest("id").pk)()
    await sync_to_async(declare)(wards[2], 10, 40)  # real again
    [real] = [m["payload"]["data"]["events"] for m in await client.events(1)]
    assert (real["kind"], real["rehearsal"]) == ("BALLOT_DECLARED", False)
    after = await sync_to_async(walk)(False, after_reset)
    assert after.pop("console pages") > 30
    assert after == {
        "graphql": ({"active": False, "label": ""}, None),
        "graphql error": None,
        "feed": {False},
        "export results.csv": (None, False, {"false"}),
        "export compositions.csv": (None, False, {"false"}),
        "export previous-winners.csv": (None, False, {"false"}),
        "export day.json": (None, False, None),
        # The rehearsal's declarations were undone; the real one is not flagged.
        "export declarations.atom": (None, False, (False, [False])),
        "export_results": (False, {"false"}),
        f"live /live/{DAY}/": (False, False, False),
        f"live /live/{DAY}/northshire/": (False, False, False),
        f"live /live/{DAY}/northshire/mayor/": (False, False, False),
        "live /": (False, False, False),
        "console": set(),  # no console page with the banner
    }
    await client.close()
