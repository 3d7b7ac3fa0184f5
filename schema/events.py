"""The ordered feed of published events, for partners who poll.

An event's id is its cursor: ask for ``events(after: <last id seen>)`` and
you get every event published since, in order, exactly once.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
import strawberry_django
from django.db.models import Prefetch
from graphql import GraphQLError
from strawberry.scalars import JSON

from results import models

from .elections import Ballot, Council, Election, elections_with_results, prefetched
from .enums import EventKind
from .posts import Post, post_prefetches
from .versions import FIGURE_KINDS, VERSION_KINDS, BallotVersion, ballot_version

MAX_EVENTS = 500


@strawberry_django.type(models.Event, description="One published event of the ordered log.")
class Event:
    @strawberry_django.field(description="The cursor: a number, increasing; resume with `after` set to it.")
    @prefetched
    def id(self, root: strawberry.Parent[models.Event]) -> strawberry.ID:
        return strawberry.ID(str(root.pk))

    @strawberry_django.field(description="What was published.")
    @prefetched
    def kind(self, root: strawberry.Parent[models.Event]) -> EventKind:
        return EventKind(root.kind)

    @strawberry_django.field(
        description="True when it was published while the deployment was rehearsing: test data, never a "
        "real result (a `RESET` ends the rehearsal and is flagged too)."
    )
    @prefetched
    def rehearsal(self, root: strawberry.Parent[models.Event]) -> bool:
        return root.rehearsal

    @strawberry_django.field(description="When it was published.")
    @prefetched
    def occurred_at(self, root: strawberry.Parent[models.Event]) -> dt.datetime:
        return root.created_at

    @strawberry_django.field(description="The council concerned; null for a post.")
    @prefetched
    def council(self, root: strawberry.Parent[models.Event]) -> Council | None:
        return root.council

    @strawberry_django.field(description="The election concerned (its current state); null for a post.")
    @prefetched
    def election(self, root: strawberry.Parent[models.Event]) -> Election | None:
        return root.election

    @strawberry_django.field(
        description="The ballot concerned, as it stands now (a retracted ballot shows no result)."
    )
    @prefetched
    def ballot(self, root: strawberry.Parent[models.Event]) -> Ballot | None:
        if root.ballot_id is None:
            return None
        # The ballot as loaded with its election's results (see events_queryset).
        return next(b for b in root.election.ballots.all() if b.pk == root.ballot_id)

    @strawberry_django.field(
        description="For a declaration, correction, certification or retraction: the ballot as this event "
        "published it (its figures, winners, who, when, why, what changed), not as it stands now. A retracted "
        "ballot's figures are withheld until it is declared again."
    )
    @prefetched
    def ballot_version(self, root: strawberry.Parent[models.Event]) -> BallotVersion | None:
        if root.kind not in VERSION_KINDS or root.ballot_id is None:
            return None
        ballot = next(b for b in root.election.ballots.all() if b.pk == root.ballot_id)
        return ballot_version(root, figures=ballot.is_published)

    @strawberry_django.field(
        description="What the event recorded, as a JSON object: the snapshot of what it published (a ballot's "
        "figures, its candidates, a party's, council's or ward's values with what changed, an election's "
        "composition, a control call, a post). Replaying `data` in order rebuilds everything the API shows "
        "(see docs/queries.md). Withheld (null) for a post no longer published, and a retracted ballot's "
        "figures are left out, as everywhere else."
    )
    @prefetched
    def data(self, root: strawberry.Parent[models.Event]) -> JSON | None:
        payload = dict(root.payload or {})
        if root.post_id is not None:
            post = root.post
            if post is None or post.status != models.Post.Status.PUBLISHED:
                return None
            return payload
        if root.kind in FIGURE_KINDS and root.ballot_id is not None:
            ballot = next(b for b in root.election.ballots.all() if b.pk == root.ballot_id)
            if not ballot.is_published:
                for key in ("electorate", "ballot_papers_counted", "rejected_ballots", "changes"):
                    payload.pop(key, None)
                payload["candidacies"] = [
                    {k: v for k, v in c.items() if k not in ("votes", "elected", "elected_by_lot")}
                    for c in payload.get("candidacies", [])
                ]
        payload.pop("typed_by", None)  # the console's two-person check: staff only
        return payload

    @strawberry_django.field(description="The post concerned, if it is still published; null once withdrawn.")
    @prefetched
    def post(self, root: strawberry.Parent[models.Event]) -> Post | None:
        post = root.post
        return post if post is not None and post.status == models.Post.Status.PUBLISHED else None

    @strawberry_django.field(description="For a post event: the post's id, even once withdrawn.")
    @prefetched
    def post_id(self, root: strawberry.Parent[models.Event]) -> strawberry.ID | None:
        return strawberry.ID(str(root.post.uid)) if root.post_id else None

    @strawberry_django.field(
        description='For a control call: its headline, e.g. "Labour gain Broxtowe". For a post\'s '
        "event: the headline it published, while the post is still published (null once withdrawn)."
    )
    @prefetched
    def headline(self, root: strawberry.Parent[models.Event]) -> str | None:
        if root.kind == models.Event.Kind.CONTROL_CALLED:
            return root.payload.get("headline")
        if root.kind in (models.Event.Kind.POST_PUBLISHED, models.Event.Kind.POST_UPDATED):
            # The log is never rewritten, so a withdrawn post's words are filtered out here, as read.
            post = root.post
            if post is None or post.status != models.Post.Status.PUBLISHED:
                return None
            return root.payload.get("headline")
        return None


def events_queryset(*, council_elections: bool = False):
    """Events with what their fields read, in a fixed number of queries.

    A ballot's event always names its election too (the services set both),
    so the election is loaded once, with its results, and the ballot is read
    from the election's loaded ballots. A post's councils and ballots are
    loaded with it. With ``council_elections`` each council's elections are
    loaded too, once per council however many events name it.
    """
    events = models.Event.objects.select_related("council", "post").prefetch_related(
        Prefetch("election", queryset=elections_with_results()),
        *[f"post__{p}" if isinstance(p, str) else _under("post", p) for p in post_prefetches()],
    )
    if council_elections:
        events = events.prefetch_related(
            Prefetch(
                "council__elections",
                queryset=elections_with_results().order_by("-poll_date", "kind"),
                to_attr="_elections",
            )
        )
    return events


def _under(prefix: str, prefetch: Prefetch) -> Prefetch:
    return Prefetch(f"{prefix}__{prefetch.prefetch_through}", queryset=prefetch.queryset)


def _selected(selections, *path: str) -> bool:
    """Whether the field path (e.g. "council", "elections") is selected, fragments included."""
    for selection in selections:
        if getattr(selection, "type_condition", None) is not None or not hasattr(selection, "arguments"):
            if _selected(getattr(selection, "selections", ()), *path):
                return True
        elif selection.name == path[0] and (
            len(path) == 1 or _selected(getattr(selection, "selections", ()), *path[1:])
        ):
            return True
    return False


def parse_cursor(after: str | None) -> int | None:
    if after is None or after == "":
        return None
    try:
        cursor = int(after)
    except ValueError as exc:
        raise GraphQLError("Invalid cursor: pass the id of the last event you received.") from exc
    if cursor < 0:
        raise GraphQLError("Invalid cursor: pass the id of the last event you received.")
    return cursor


@strawberry.type
class EventQuery:
    @strawberry_django.field(
        description="Published events after the cursor `after` (an event id; omit it to start from the "
        "beginning), oldest first. `first` is at most 500 (default 100). Poll with the last id you received "
        "to get every event exactly once, in order. The log is append-only: every change to anything this "
        "API shows has its event, and no event is ever deleted or rewritten.",
        disable_optimization=True,
    )
    def events(
        self,
        info: strawberry.Info,
        after: str | None = None,
        first: int = 100,
        kinds: Annotated[
            list[EventKind] | None,
            strawberry.argument(
                description="Only events of these kinds (e.g. results only: BALLOT_DECLARED, BALLOT_CORRECTED, "
                "BALLOT_RETRACTED, CONTROL_CALLED); omit for every event. The cursor is the same either way.",
            ),
        ] = None,
    ) -> list[Event]:
        if first < 1 or first > MAX_EVENTS:
            raise GraphQLError(f"`first` must be between 1 and {MAX_EVENTS}.")
        council_elections = any(_selected(f.selections, "council", "elections") for f in info.selected_fields)
        events = events_queryset(council_elections=council_elections).after(parse_cursor(after))
        if kinds is not None:
            events = events.filter(kind__in=[k.value for k in kinds])
        return list(events[:first])

    @strawberry_django.field(
        description="The id of the latest published event; null before the first. Select it first in the "
        "request that loads a page's data, then subscribe to `events` with `after` set to it: everything "
        "published after that data is replayed, so nothing is missed.",
        disable_optimization=True,
    )
    def last_event_id(self) -> strawberry.ID | None:
        last = models.Event.objects.order_by("-id").values_list("id", flat=True).first()
        return None if last is None else strawberry.ID(str(last))
