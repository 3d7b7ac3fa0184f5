"""The election domain: parties, councils, elections, ballots, results, posts.

Names follow Democracy Club's EveryElection and YourNextRepresentative. Every
public object has a natural id (an Electoral Commission party id, a council
slug, an election id, a ballot paper id, a post uid); database ids are never
published.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from .querysets import BallotQuerySet, ElectionQuerySet, EventQuerySet, PostQuerySet

INDEPENDENT_PARTY_ID = "ynmp-party:2"


class Party(models.Model):
    """A registered party, the Independent row, or a joint description.

    A joint description ("Labour and Co-operative Party",
    ``joint-party:53-119``) is shown on the candidacy as such but counts for
    its ``lead_party`` in seats, composition and control.
    """

    ec_id = models.CharField(
        "party id",
        max_length=64,
        unique=True,
        help_text="Electoral Commission id such as PP53 (Labour); "
        "ynmp-party:2 for Independent; joint-party:53-119 for a joint description.",
    )
    name = models.CharField(max_length=255, help_text="Registered name.")
    short_name = models.CharField(
        max_length=64,
        help_text='Name used in headlines and tables, e.g. "Conservatives", "Lib Dems".',
    )
    abbreviation = models.CharField(max_length=16, blank=True, help_text='e.g. "Con", "LD".')
    colour = models.CharField(max_length=7, blank=True, help_text="Hex colour for charts, e.g. #E4003B.")
    lead_party = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="joint_descriptions",
        help_text="For a joint description only: the party its seats count for.",
    )
    is_independent = models.BooleanField(
        default=False,
        help_text="Independents share one row but are not a group: they never control a council.",
    )
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bumped by every write, for optimistic locking."
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "parties"
        constraints = [
            models.CheckConstraint(
                condition=~Q(lead_party=models.F("id")),
                name="party_lead_party_not_self",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.ec_id})"


class Council(models.Model):
    """A local authority."""

    slug = models.SlugField(
        max_length=100, unique=True, help_text='Democracy Club organisation slug, e.g. "derby".'
    )
    name = models.CharField(
        max_length=255, help_text='Name used in headlines, e.g. "Derby", "Hinckley and Bosworth".'
    )
    official_name = models.CharField(max_length=255, blank=True, help_text='e.g. "Derby City Council".')
    official_identifier = models.CharField(
        max_length=32, blank=True, help_text="ONS/GSS code, e.g. E06000015."
    )
    seats_total = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Seats on the council today."
    )
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bumped by every write, for optimistic locking."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Ward(models.Model):
    """An electoral ward (division) of a council."""

    council = models.ForeignKey(Council, on_delete=models.CASCADE, related_name="wards")
    slug = models.SlugField(max_length=100, help_text='e.g. "allestree".')
    name = models.CharField(max_length=255)
    seats = models.PositiveSmallIntegerField(default=1, help_text="Councillors it elects.")
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bumped by every write, for optimistic locking."
    )

    class Meta:
        ordering = ["council__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["council", "slug"], name="ward_unique_slug_per_council"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.council})"


class Election(models.Model):
    """One council's election on one day (or one mayoralty's)."""

    class Kind(models.TextChoices):
        """Which office the election fills."""

        LOCAL = "local", "Council"
        MAYOR = "mayor", "Mayor"

    class Cycle(models.TextChoices):
        """How much of the council is up: all seats, half, or a third (the rest are "not up")."""

        ALL_OUT = "all_out", "All out"
        HALVES = "halves", "By halves"
        THIRDS = "thirds", "By thirds"

    election_id = models.CharField(
        max_length=128,
        unique=True,
        help_text='Democracy Club election id, e.g. "local.derby.2023-05-04".',
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.LOCAL)
    council = models.ForeignKey(Council, on_delete=models.PROTECT, related_name="elections")
    poll_date = models.DateField()
    cycle = models.CharField(max_length=8, choices=Cycle.choices, default=Cycle.ALL_OUT)
    seats_total = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Seats on the council after this election, seats not up included. "
        "Empty until the composition is imported.",
    )
    seats_total_before = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Council size on the eve of the poll, where vacancies or new "
        "boundaries make it differ from the seats held before.",
    )
    control_before = models.ForeignKey(
        Party,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Party in control on the eve of the poll; empty = no overall control.",
    )
    version = models.PositiveIntegerField(default=0, editable=False)

    objects = ElectionQuerySet.as_manager()

    class Meta:
        ordering = ["-poll_date", "council__name", "kind"]
        constraints = [
            models.CheckConstraint(
                condition=Q(seats_total__isnull=True) | Q(seats_total__gte=1),
                name="election_seats_total_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.election_id

    @property
    def is_mayoral(self) -> bool:
        return self.kind == self.Kind.MAYOR


class ElectionStanding(models.Model):
    """An election's derived figures, as the services last computed them (compute on write).

    Every service that changes what they derive from (a declaration,
    correction or retraction, the composition before the poll, previous
    winners, nominations, a reset, a council's or party's name in a headline)
    recomputes them with ``results.rules`` inside its transaction and stores
    them here; reads (the API, the live pages, the exports, the admin
    overview) read them and never run the rules. See ``results.standings``.
    """

    election = models.OneToOneField(
        Election, on_delete=models.CASCADE, primary_key=True, related_name="standing"
    )
    seats_total = models.PositiveIntegerField(help_text="Seats on the council, seats not up included.")
    seats_up = models.PositiveIntegerField(help_text="Seats up at this election.")
    majority = models.PositiveIntegerField(
        null=True, blank=True, help_text="The magic number; empty for a mayoralty."
    )
    seats_declared = models.PositiveIntegerField(default=0)
    seats_to_declare = models.PositiveIntegerField(default=0)
    ballots_declared = models.PositiveIntegerField(default=0)
    ballots_total = models.PositiveIntegerField(default=0)
    last_declared_at = models.DateTimeField(null=True, blank=True)
    turnout = models.FloatField(null=True, blank=True)
    control_called = models.BooleanField(default=False)
    control_party = models.CharField(
        max_length=64, blank=True, help_text="Party id in control once called; empty = NOC or not called."
    )
    control_party_before = models.CharField(
        max_length=64, blank=True, help_text="Party id on the eve; empty = NOC."
    )
    control_outcome = models.CharField(max_length=16, blank=True)
    headline = models.CharField(max_length=255, blank=True)
    composition = models.JSONField(
        null=True,
        blank=True,
        help_text="Rows by party (party id, seats, before, change, won, not up, needed), largest first; "
        "empty for a mayoralty.",
    )
    vote_share = models.JSONField(default=list, help_text="Votes and share by party, most votes first.")
    ballot_figures = models.JSONField(
        default=dict,
        help_text="Per published ballot (by database id): vote shares by candidacy and seat changes.",
    )
    computed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Standing of {self.election}: {self.seats_declared} of {self.seats_up} seats declared"


class CompositionBefore(models.Model):
    """One party's seats on the eve of the poll, and how many of them are not up."""

    election = models.ForeignKey(Election, on_delete=models.CASCADE, related_name="composition_before")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="+")
    seats_held = models.PositiveSmallIntegerField(help_text="Seats held before the poll.")
    seats_not_up = models.PositiveSmallIntegerField(
        default=0, help_text="Of those, seats not up at this election (thirds, halves)."
    )

    class Meta:
        ordering = ["-seats_held"]
        verbose_name = "composition before the poll"
        verbose_name_plural = "composition before the poll"
        constraints = [
            models.UniqueConstraint(fields=["election", "party"], name="composition_one_row_per_party"),
            models.CheckConstraint(
                condition=Q(seats_not_up__lte=models.F("seats_held")),
                name="composition_not_up_within_held",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.election}: {self.party.name} {self.seats_held}"


class Ballot(models.Model):
    """One contest: a ward's election, or a mayoralty (no ward)."""

    class Status(models.TextChoices):
        """Where the count stands. Only declared and uncontested ballots have published results."""

        AWAITING = "awaiting", "Awaiting count"
        COUNTING = "counting", "Counting"
        RECOUNT = "recount", "Recount"
        DECLARED = "declared", "Declared"
        UNCONTESTED = "uncontested", "Uncontested (elected unopposed)"
        POSTPONED = "postponed", "Postponed (e.g. a candidate died)"

    # A published result: the API shows its figures and winners.
    PUBLISHED_STATUSES = (Status.DECLARED, Status.UNCONTESTED)
    # What the desk may set a ballot to by hand (declare, correct and retract publish or withdraw).
    SETTABLE_STATUSES = (Status.AWAITING, Status.COUNTING, Status.RECOUNT, Status.POSTPONED)

    class Certification(models.TextChoices):
        """How final a published result is (the civics-data results-status vocabulary, the AP's
        certified flag). Empty until a result is published."""

        PROVISIONAL = "provisional", "Provisional (figures from the count, before the formal declaration)"
        DECLARED = "declared", "Declared by the returning officer"
        CERTIFIED = "certified", "Certified (checked against the formal declaration of the result)"
        CORRECTED = "corrected", "Corrected after publication"

    class Source(models.TextChoices):
        """Where the published figures came from."""

        RETURNING_OFFICER = "returning_officer", "Returning officer's declaration"
        COUNCIL_WEBSITE = "council_website", "Council web page"
        PHONE_FROM_COUNT = "phone_from_count", "Phone call from the count"
        IMPORT = "import", "Imported file"
        OTHER = "other", "Other"

    ballot_paper_id = models.CharField(
        max_length=160,
        unique=True,
        help_text='Democracy Club ballot paper id, e.g. "local.derby.allestree.2023-05-04".',
    )
    election = models.ForeignKey(Election, on_delete=models.PROTECT, related_name="ballots")
    ward = models.ForeignKey(
        Ward,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ballots",
        help_text="Empty for a mayoralty.",
    )
    winner_count = models.PositiveSmallIntegerField(
        "seats", default=1, help_text="Seats filled by this ballot."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.AWAITING)
    declared_at = models.DateTimeField(null=True, blank=True)
    electorate = models.PositiveIntegerField(null=True, blank=True)
    ballot_papers_counted = models.PositiveIntegerField(
        null=True, blank=True, help_text="All ballot papers counted, rejected ones included."
    )
    rejected_ballots = models.PositiveIntegerField(null=True, blank=True)
    illustrative = models.BooleanField(default=False, help_text="Generated demo data, not a real result.")
    certification = models.CharField(
        max_length=12,
        choices=Certification.choices,
        blank=True,
        help_text="How final the published result is; empty until published.",
    )
    source = models.CharField(
        max_length=20,
        choices=Source.choices,
        blank=True,
        help_text="Where the published figures came from.",
    )
    source_url = models.URLField(
        max_length=500, blank=True, help_text="The council's results page, where there is one."
    )
    version = models.PositiveIntegerField(
        default=0, editable=False, help_text="Bumped by every write, for optimistic locking."
    )

    objects = BallotQuerySet.as_manager()

    class Meta:
        ordering = ["election", "ward__name"]
        permissions = [("import_data", "Can import candidates, compositions and previous winners (CSV)")]
        constraints = [
            models.CheckConstraint(condition=Q(winner_count__gte=1), name="ballot_winner_count_positive"),
            models.CheckConstraint(
                condition=Q(rejected_ballots__isnull=True)
                | Q(ballot_papers_counted__isnull=True)
                | Q(rejected_ballots__lte=models.F("ballot_papers_counted")),
                name="ballot_rejected_within_counted",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["declared", "uncontested"]) | Q(declared_at__isnull=False),
                name="ballot_declared_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.ballot_paper_id

    @property
    def is_published(self) -> bool:
        """Whether its result (votes, winners) may be shown."""
        return self.status in self.PUBLISHED_STATUSES

    @property
    def label(self) -> str:
        """Human name: the ward, or "Mayor of X"."""
        if self.ward_id:
            return self.ward.name
        return f"Mayor of {self.election.council.name}"


class PreviousWinner(models.Model):
    """The party of a seat's previous winner, notional where boundaries changed."""

    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="previous_winners")
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="+")
    seats = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ballot", "party"], name="previous_winner_one_row_per_party"),
            models.CheckConstraint(condition=Q(seats__gte=1), name="previous_winner_seats_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.ballot}: {self.party.name} ×{self.seats}"


class PendingCheck(models.Model):
    """A declaration typed by one editor, waiting for a second to type the same figures.

    Only with the two-person check on (``TWO_PERSON_CHECK``). Not public, and
    not shown to the second editor either (they type blind): the figures are
    published only when a different editor's match them.
    """

    ballot = models.OneToOneField(Ballot, on_delete=models.CASCADE, related_name="pending_check")
    typed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", help_text="Who typed them."
    )
    typed_at = models.DateTimeField(auto_now=True)
    figures = models.JSONField(
        help_text="votes (candidacy id → votes), lot_winners, electorate, ballot_papers_counted, rejected_ballots."
    )

    def __str__(self) -> str:
        return f"{self.ballot}: typed by {self.typed_by}, waiting for a check"


class Candidacy(models.Model):
    """A person standing on a ballot. Rank is derived from votes."""

    ballot = models.ForeignKey(Ballot, on_delete=models.CASCADE, related_name="candidacies")
    person_name = models.CharField(max_length=255)
    person_id = models.CharField(
        max_length=32, blank=True, help_text="Democracy Club person id, where known."
    )
    party = models.ForeignKey(Party, on_delete=models.PROTECT, related_name="candidacies")
    description = models.CharField(
        max_length=255, blank=True, help_text='Ballot paper description, e.g. "Local Conservatives".'
    )
    votes = models.IntegerField(
        null=True, blank=True, help_text="Empty until counted, and for an uncontested ballot."
    )
    elected = models.BooleanField(null=True, blank=True, help_text="Empty until declared.")
    elected_by_lot = models.BooleanField(default=False, help_text="Won a tie at the cut-off by drawing lots.")

    class Meta:
        ordering = ["ballot", "person_name"]
        verbose_name_plural = "candidacies"
        constraints = [
            models.CheckConstraint(
                condition=Q(votes__isnull=True) | Q(votes__gte=0), name="candidacy_votes_non_negative"
            ),
            # Two people may share a name, even on one ballot: their person ids tell them
            # apart. Without an id, the name is all there is, so it must be unique.
            models.UniqueConstraint(
                fields=["ballot", "person_name"],
                condition=Q(person_id=""),
                name="candidacy_one_per_person_name_per_ballot",
            ),
            models.UniqueConstraint(
                fields=["ballot", "person_id"],
                condition=~Q(person_id=""),
                name="candidacy_one_per_person_per_ballot",
            ),
            models.CheckConstraint(
                condition=Q(elected_by_lot=False) | Q(elected=True),
                name="candidacy_lot_winner_is_elected",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_name} ({self.party.short_name}), {self.ballot}"


class Post(models.Model):
    """An entry of the live coverage."""

    class Status(models.TextChoices):
        """Only published posts are public; a withdrawn post no longer exists publicly."""

        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        WITHDRAWN = "withdrawn", "Withdrawn"

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    headline = models.CharField(max_length=255)
    body = models.TextField(blank=True)
    author_name = models.CharField(max_length=255, blank=True)
    author_role = models.CharField(max_length=255, blank=True, help_text='e.g. "Reporter".')
    author_outlet = models.CharField(max_length=255, blank=True, help_text='e.g. "BBC Radio Nottingham".')
    published_at = models.DateTimeField(null=True, blank=True)
    breaking = models.BooleanField(default=False)
    key_point = models.BooleanField(default=False, help_text="Also listed in the summary.")
    image_url = models.URLField(blank=True)
    image_caption = models.CharField(max_length=500, blank=True)
    image_credit = models.CharField(max_length=255, blank=True, help_text='e.g. "LDRS".')
    councils = models.ManyToManyField(Council, blank=True, related_name="posts")
    ballots = models.ManyToManyField(Ballot, blank=True, related_name="posts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False),
                name="post_published_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.headline


class Event(models.Model):
    """The durable, ordered log of everything published.

    Its id is the cursor clients resume from. ``payload`` keeps a snapshot of
    what was published, so the log is also the history of every version.
    """

    class Kind(models.TextChoices):
        """What was published."""

        BALLOT_DECLARED = "ballot_declared", "Ballot declared"
        BALLOT_CORRECTED = "ballot_corrected", "Declared ballot corrected"
        BALLOT_RETRACTED = "ballot_retracted", "Declaration retracted"
        BALLOT_CERTIFIED = "ballot_certified", "Result certified"
        BALLOT_STATUS = "ballot_status", "Ballot status changed"
        NOMINATIONS_CHANGED = "nominations", "Candidates changed"
        REFERENCE_CHANGED = "reference", "Party, council or ward created or changed"
        ELECTION_CHANGED = "election", "Election created or its composition changed"
        PREVIOUS_WINNERS = "previous_winners", "Previous winners changed"
        CONTROL_CALLED = "control_called", "Control called or changed"
        POST_PUBLISHED = "post_published", "Post published"
        POST_UPDATED = "post_updated", "Post updated"
        POST_WITHDRAWN = "post_withdrawn", "Post withdrawn"
        REHEARSAL_STARTED = "rehearsal_started", "Rehearsal started"
        RESET = "reset", "Reset to the eve of the poll: reload"
        ZERO_COUNTS = "zero_counts", "Zero counts switched on or off"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    council = models.ForeignKey(
        Council, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    election = models.ForeignKey(
        Election, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    ballot = models.ForeignKey(Ballot, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    post = models.ForeignKey(Post, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    payload = models.JSONField(default=dict)
    rehearsal = models.BooleanField(
        default=False,
        help_text="Published while the deployment was rehearsing: test data, never a real result.",
    )

    objects = EventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["council", "id"], name="event_council_cursor")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()}"


class LoginThrottle(models.Model):
    """Failed admin logins counted for one scope (see ``console.login_throttle``).

    A username from one address, one address whatever the username, or one
    browser that has logged in as that username before. Staff with the
    permission see them in the admin and unlock by deleting them.
    """

    class Scope(models.TextChoices):
        """What the failures are counted for."""

        USERNAME_ADDRESS = "username_address", "A username, from an address"
        ADDRESS = "address", "An address, any username"
        DEVICE = "device", "A browser that logged in as the username before"

    scope = models.CharField(max_length=16, choices=Scope.choices)
    key = models.CharField(
        max_length=64, help_text="A digest of what is counted (username, address, browser)."
    )
    username = models.CharField(
        max_length=150, blank=True, help_text="As typed, lower case; empty for an address."
    )
    address = models.CharField(max_length=64, blank=True)
    failures = models.PositiveIntegerField(default=0)
    window_started = models.DateTimeField(help_text="The first failure of the current window.")

    class Meta:
        ordering = ["-window_started"]
        verbose_name = "login lockout"
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="login_throttle_one_row_per_key"),
        ]

    def __str__(self) -> str:
        who = " from ".join(part for part in (self.username, self.address) if part) or "a browser"
        return f"{who}: {self.failures} failed login(s)"


class Rehearsal(models.Model):
    """The deployment's rehearsal switches: one row (``pk=1``), absent until first used.

    While ``active``, every event recorded is flagged as a rehearsal, and so
    is every GraphQL answer, until ``services.reset_to_eve`` returns the poll
    to its eve. ``zero_counts`` shows every undeclared ballot of that poll
    date with its candidates at 0 votes (pages can be laid out before any
    result exists). Written only by ``results.services``, under the
    event-log lock, so that an event is flagged exactly when it was
    committed during a rehearsal.
    """

    active = models.BooleanField(default=False)
    label = models.CharField(max_length=200, blank=True, help_text='e.g. "Dress rehearsal, Tuesday".')
    started_at = models.DateTimeField(null=True, blank=True)
    poll_date = models.DateField(null=True, blank=True, help_text="The poll being rehearsed.")
    eve = models.JSONField(
        default=dict,
        blank=True,
        help_text="Each ballot's status when the rehearsal started (ballot id → status).",
    )
    zero_counts = models.DateField(
        null=True, blank=True, help_text="Poll date whose undeclared ballots show zero counts; empty = off."
    )
    paused = models.BooleanField(default=False, help_text="A running replay waits while this is set.")

    def __str__(self) -> str:
        return f"Rehearsal: {self.label or 'untitled'}" if self.active else "Not rehearsing"
