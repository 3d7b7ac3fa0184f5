"""Emptying the results tables after a module that committed data (the demo, loaded once per module).

Test infrastructure only: the application never deletes an event (a reset is
itself an event, see ``results.services.reset_to_eve``).
"""

from results.models import (
    Ballot,
    Council,
    Election,
    Event,
    Party,
    PendingCheck,
    Post,
    Rehearsal,
    Ward,
)

# Parties created by the data migrations; everything else is a test's own.
MIGRATION_PARTIES = (
    "PP119",
    "PP52",
    "PP53",
    "PP63",
    "PP7931",
    "PP804",
    "PP90",
    "joint-party:53-119",
    "ynmp-party:2",
)


def wipe_results() -> None:
    """Delete every results row a test committed, events first (they protect what they refer to).

    The migration parties' ``baseline`` events (migration 0007) stay, as the parties do: the log
    accounts for every row the API shows (``results.record``)."""
    Event.objects.exclude(
        kind=Event.Kind.REFERENCE_CHANGED, payload__object="party", payload__change="baseline"
    ).delete()
    for model in (PendingCheck, Post, Ballot, Election, Ward, Council, Rehearsal):
        model.objects.all().delete()
    Party.objects.exclude(ec_id__in=MIGRATION_PARTIES).filter(lead_party__isnull=False).delete()
    Party.objects.exclude(ec_id__in=MIGRATION_PARTIES).delete()
