"""Posts: entries of the live coverage, saved, published and withdrawn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from django.db import transaction
from django.utils import timezone

from ..errors import ErrorCode, refuse
from ..models import Event, Post
from .events import check_version, record_event

POST_FIELDS = (
    "headline",
    "body",
    "author_name",
    "author_role",
    "author_outlet",
    "breaking",
    "key_point",
    "image_url",
    "image_caption",
    "image_credit",
    "published_at",
)


def post_snapshot(post: Post) -> dict:
    return {
        "uid": str(post.uid),
        "headline": post.headline,
        "body": post.body,
        "author_name": post.author_name,
        "author_role": post.author_role,
        "author_outlet": post.author_outlet,
        "published_at": post.published_at.isoformat() if post.published_at else None,
        "breaking": post.breaking,
        "key_point": post.key_point,
        "image_url": post.image_url,
        "image_caption": post.image_caption,
        "image_credit": post.image_credit,
        "councils": sorted(post.councils.values_list("slug", flat=True)),
        "ballots": sorted(post.ballots.values_list("ballot_paper_id", flat=True)),
        "version": post.version,
    }


def save_post(
    post: Post,
    *,
    changes: Mapping[str, object] | None = None,
    councils: Iterable | None = None,
    ballots: Iterable | None = None,
    user=None,
    expected_version: int | None = None,
) -> Post:
    """Create or edit a post. Editing a published post publishes the update (``post_updated``)."""
    changes = dict(changes or {})
    unknown = set(changes) - set(POST_FIELDS)
    if unknown:
        raise refuse(
            "__all__",
            ErrorCode.UNKNOWN_FIELDS,
            f"Unknown post fields: {sorted(unknown)}",
            fields=sorted(unknown),
        )
    with transaction.atomic():
        if post.pk:
            # Edit the row as stored, not the caller's possibly stale copy.
            post = Post.objects.select_for_update(no_key=True).order_by().get(pk=post.pk)
            check_version(post, expected_version)
        for name, value in changes.items():
            setattr(post, name, value)
        post.full_clean(exclude=["councils", "ballots"])
        post.version += 1
        post.save()
        if councils is not None:
            post.councils.set(councils)
        if ballots is not None:
            post.ballots.set(ballots)
        if post.status == Post.Status.PUBLISHED:
            record_event(Event.Kind.POST_UPDATED, user=user, payload=post_snapshot(post), post=post)
        return post


def publish_post(
    post: Post, *, published_at: dt.datetime | None = None, user=None, expected_version: int | None = None
) -> Event:
    """Publish a draft (or re-publish a withdrawn post). It becomes public at once."""
    with transaction.atomic():
        post = Post.objects.select_for_update(no_key=True).order_by().get(pk=post.pk)
        check_version(post, expected_version)
        if post.status == Post.Status.PUBLISHED:
            raise refuse(
                "status",
                ErrorCode.POST_PUBLISHED,
                f"“{post.headline}” is already published: update it instead.",
            )
        post.status = Post.Status.PUBLISHED
        post.published_at = published_at or post.published_at or timezone.now()
        post.full_clean(exclude=["councils", "ballots"])
        post.version += 1
        post.save()
        return record_event(Event.Kind.POST_PUBLISHED, user=user, payload=post_snapshot(post), post=post)


def withdraw_post(post: Post, *, reason: str = "", user=None, expected_version: int | None = None) -> Event:
    """Take a published post down: it no longer exists publicly."""
    with transaction.atomic():
        post = Post.objects.select_for_update(no_key=True).order_by().get(pk=post.pk)
        check_version(post, expected_version)
        if post.status != Post.Status.PUBLISHED:
            raise refuse(
                "status",
                ErrorCode.POST_NOT_PUBLISHED,
                f"“{post.headline}” is not published: nothing to withdraw.",
            )
        post.status = Post.Status.WITHDRAWN
        post.version += 1
        post.save(update_fields=["status", "version", "updated_at"])
        return record_event(
            Event.Kind.POST_WITHDRAWN,
            user=user,
            payload={"uid": str(post.uid), "reason": reason, "version": post.version},
            post=post,
        )
