"""The live results pages: the night's page, a council's page and a mayor's page.

Each view runs one documented query in-process and renders it, so the page is
complete and readable without JavaScript. The same query text, its variables
and the cursor it was read at go to the browser (``live/live.js``), which
subscribes to the events after that cursor and updates the page in place.
While the deployment rehearses, each page says so in a banner above
everything else (from the documented queries' ``rehearsal`` field) and in its
title; the script reloads the page when a rehearsal starts or is reset,
naming the event it saw (``?at=``): the page is then rendered at that event
or later, never from a cache (the server's, the browser's or a CDN's) of
the page before it.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Max
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import cache_control

from results.models import Election

from . import queries


def _live_config(page: str, data: dict, **extra) -> dict:
    """What live.js needs: which page, the cursor to subscribe from, the documents it may send, and
    whether the page was rendered during a rehearsal (its banner)."""
    docs = queries.documented()
    return {
        "page": page,
        "after": data["lastEventId"],
        "subscription": docs["live-events"],
        "rehearsal": data["rehearsal"]["active"],
        **extra,
    }


def _seen(request) -> int | None:
    """The event the reloading script saw (``?at=``), if the request names one."""
    at = request.GET.get("at", "")
    return int(at) if at.isdigit() and len(at) < 19 else None


# A page a few seconds old is still right once live: its script replays every event
# after the cursor the page was rendered at. So caches and CDNs may keep it briefly,
# as they may keep the API's GET answers.
PUBLIC = cache_control(public=True, max_age=5)


@PUBLIC
def night(request, poll_date: dt.date | None = None):
    """The night's page: key points, scoreboard, counting banner, council grid and live posts."""
    if poll_date is None:
        # Which night the front page shows is the site's choice, not published data.
        poll_date = Election.objects.aggregate(last=Max("poll_date"))["last"]
        if poll_date is None:
            return render(request, "live/empty.html")
    data = queries.run_cached("night-page", seen=_seen(request), date=poll_date.isoformat())
    summary = data["nationalSummary"]
    if not summary["elections"] and not summary["mayoralties"]:
        raise Http404("No elections on that day.")
    return render(
        request,
        "live/night.html",
        {
            "summary": summary,
            "posts": [edge["node"] for edge in data["posts"]["edges"]],
            "poll_date": poll_date,
            "rehearsal": data["rehearsal"],
            "live": _live_config(
                "night",
                data,
                refetch=queries.documented()["night-page"],
                variables={"date": poll_date.isoformat()},
            ),
        },
    )


@PUBLIC
def council(request, poll_date: dt.date, slug: str):
    """A council's page: the call, magic number, composition chart and every ward."""
    data = queries.run_cached("council-page", seen=_seen(request), id=f"local.{slug}.{poll_date.isoformat()}")
    election = data["election"]
    if election is None:
        raise Http404("No such council election.")
    return render(
        request,
        "live/council.html",
        {
            "election": election,
            "poll_date": poll_date,
            "rehearsal": data["rehearsal"],
            "live": _live_config("council", data, councils=[slug]),
        },
    )


@PUBLIC
def mayor(request, poll_date: dt.date, slug: str):
    """A mayoralty's page: every candidate's votes and share, the winner, turnout."""
    data = queries.run_cached("ballot-page", seen=_seen(request), id=f"mayor.{slug}.{poll_date.isoformat()}")
    ballot = data["ballot"]
    if ballot is None:
        raise Http404("No such mayoral election.")
    return render(
        request,
        "live/mayor.html",
        {
            "ballot": ballot,
            "poll_date": poll_date,
            "slug": slug,
            "rehearsal": data["rehearsal"],
            "live": _live_config("mayor", data, councils=[slug]),
        },
    )
