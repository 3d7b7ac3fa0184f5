"""The live coverage: published posts only, newest first, with keyset cursors."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid

import strawberry
import strawberry_django
from django.db.models import Prefetch, Q
from graphql import GraphQLError

from results import models, parties

from .elections import Ballot, Council, elections_with_results, prefetched

MAX_PAGE = 100


@strawberry.type(description="Who wrote a post.")
class Author:
    name: str = strawberry.field(description='e.g. "Kevin Stanley".')
    role: str | None = strawberry.field(description='e.g. "Reporter"; null when not given.')
    outlet: str | None = strawberry.field(description='e.g. "BBC Radio Nottingham"; null when not given.')


@strawberry.type(description="An image with its caption and credit.")
class Image:
    url: str = strawberry.field(description="Image address.")
    caption: str | None = strawberry.field(description="Caption; null when none.")
    credit: str | None = strawberry.field(description='Credit, e.g. "LDRS"; null when none.')


@strawberry_django.type(
    models.Post, description="An entry of the live coverage. Drafts and withdrawn posts do not exist here."
)
class Post:
    headline: str = strawberry_django.field(description="Headline.")
    body: str = strawberry_django.field(description="Text; paragraphs separated by blank lines.")
    published_at: dt.datetime = strawberry_django.field(description="When it was published.")
    breaking: bool = strawberry_django.field(description="Breaking news.")
    key_point: bool = strawberry_django.field(description="Also one of the summary's key points.")

    @strawberry_django.field(description="Stable id of the post.")
    @prefetched
    def id(self, root: strawberry.Parent[models.Post]) -> strawberry.ID:
        return strawberry.ID(str(root.uid))

    @strawberry_django.field(description="The author, with role and outlet; null when unsigned.")
    @prefetched
    def author(self, root: strawberry.Parent[models.Post]) -> Author | None:
        if not root.author_name:
            return None
        return Author(name=root.author_name, role=root.author_role or None, outlet=root.author_outlet or None)

    @strawberry_django.field(description="The post's image; null when none.")
    @prefetched
    def image(self, root: strawberry.Parent[models.Post]) -> Image | None:
        if not root.image_url:
            return None
        return Image(url=root.image_url, caption=root.image_caption or None, credit=root.image_credit or None)

    @strawberry_django.field(description="Councils the post is about.")
    def councils(self, root: strawberry.Parent[models.Post]) -> list[Council]:
        return list(root.councils.all())

    @strawberry_django.field(description="Ballots the post is about.")
    def ballots(self, root: strawberry.Parent[models.Post]) -> list[Ballot]:
        # The same ballot rows as its election's prefetch, so their results are loaded.
        return [
            next((b for b in ballot.election.ballots.all() if b.pk == ballot.pk), ballot)
            for ballot in root.ballots.all()
        ]


@strawberry.type(description="One post and its cursor.")
class PostEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this post.")
    node: Post = strawberry.field(description="The post.")


@strawberry.type(description="Where a page of posts ends.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when older posts follow.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last post on this page.")


@strawberry.type(description="A page of published posts, newest first.")
class PostConnection:
    edges: list[PostEdge] = strawberry.field(description="The posts of this page.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and the cursor to ask for them.")


def encode_cursor(post: models.Post) -> str:
    raw = f"{post.published_at.isoformat()}|{post.uid}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        when, uid = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return dt.datetime.fromisoformat(when), uuid.UUID(uid)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise GraphQLError("Invalid cursor: pass the endCursor of a previous page.") from exc


def published_posts():
    """Published posts with their councils and ballots, each ballot with its election's results."""
    return models.Post.objects.published().prefetch_related(*post_prefetches())


def post_prefetches() -> list:
    """What a post's fields read: its councils, and its ballots with their election's results."""
    from results.models import Ballot as BallotModel

    return [
        "councils",
        Prefetch(
            "ballots",
            queryset=BallotModel.objects.select_related("ward").prefetch_related(
                Prefetch("election", queryset=elections_with_results())
            ),
        ),
    ]


@strawberry.type
class PostQuery:
    @strawberry_django.field(
        description="Published posts, newest first. `first` is at most 100 (default 20); `after` is a "
        "previous page's endCursor. Filter by council slug and by key points.",
        disable_optimization=True,
    )
    def posts(
        self,
        first: int = 20,
        after: str | None = None,
        council: str | None = None,
        key_point: bool | None = None,
    ) -> PostConnection:
        if first < 1 or first > MAX_PAGE:
            raise GraphQLError(f"`first` must be between 1 and {MAX_PAGE}.")
        qs = published_posts().order_by("-published_at", "-uid")
        if council is not None:
            qs = qs.filter(councils__slug=council)
        if key_point is not None:
            qs = qs.filter(key_point=key_point)
        if after is not None:
            when, uid = decode_cursor(after)
            qs = qs.filter(Q(published_at__lt=when) | Q(published_at=when, uid__lt=uid))
        rows = list(qs[: first + 1])
        parties.refresh()  # after reading the rows: their resolvers look parties up without a query
        page = rows[:first]
        return PostConnection(
            edges=[PostEdge(cursor=encode_cursor(p), node=p) for p in page],
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=encode_cursor(page[-1]) if page else None
            ),
        )
