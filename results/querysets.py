"""Reusable filters and the prefetches that derived figures need.

``with_results()`` loads everything ``results.standings`` reads in a fixed
number of queries, however many ballots and candidacies there are.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Prefetch


def _party_related(prefix: str) -> list[str]:
    return [f"{prefix}party", f"{prefix}party__lead_party"]


class ElectionQuerySet(models.QuerySet):
    def with_results(self):
        """Prefetch composition, ballots, candidacies and previous winners with their parties."""
        from .models import Ballot, Candidacy, CompositionBefore, PreviousWinner

        return self.select_related("council", "control_before").prefetch_related(
            Prefetch(
                "composition_before",
                queryset=CompositionBefore.objects.select_related(*_party_related("")),
            ),
            Prefetch(
                "ballots",
                queryset=Ballot.objects.select_related("ward").prefetch_related(
                    Prefetch(
                        "candidacies",
                        queryset=Candidacy.objects.select_related(*_party_related("")),
                    ),
                    Prefetch(
                        "previous_winners",
                        queryset=PreviousWinner.objects.select_related(*_party_related("")),
                    ),
                ),
            ),
        )


class BallotQuerySet(models.QuerySet):
    def published(self):
        """Ballots whose results may be shown: declared or uncontested (``Ballot.PUBLISHED_STATUSES``)."""
        return self.filter(status__in=self.model.PUBLISHED_STATUSES)

    def to_declare(self):
        """The work list: ballots whose result is still to come."""
        return self.exclude(status__in=self.model.PUBLISHED_STATUSES)

    def with_results(self):
        from .models import Candidacy, PreviousWinner

        return self.select_related("election__council", "ward").prefetch_related(
            Prefetch("candidacies", queryset=Candidacy.objects.select_related(*_party_related(""))),
            Prefetch(
                "previous_winners",
                queryset=PreviousWinner.objects.select_related(*_party_related("")),
            ),
        )


class PostQuerySet(models.QuerySet):
    def published(self):
        """Posts the public may see: published, never drafts or withdrawn ones."""
        return self.filter(status="published")


class EventQuerySet(models.QuerySet):
    def after(self, cursor: int | None):
        """Events after a cursor, oldest first."""
        qs = self.order_by("id")
        return qs if cursor is None else qs.filter(id__gt=cursor)
