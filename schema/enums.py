"""GraphQL enums, mirroring the domain's choices and rule outcomes."""

import enum

import strawberry

from results import rules
from results.models import Ballot, Election, Event


@strawberry.enum(description="Which office an election fills.")
class ElectionKind(enum.Enum):
    LOCAL = Election.Kind.LOCAL.value
    MAYOR = Election.Kind.MAYOR.value


@strawberry.enum(description="How much of the council is up: all seats, half, or a third.")
class ElectionCycle(enum.Enum):
    ALL_OUT = Election.Cycle.ALL_OUT.value
    HALVES = Election.Cycle.HALVES.value
    THIRDS = Election.Cycle.THIRDS.value


@strawberry.enum(
    description="Where a ballot's count stands. Only DECLARED and UNCONTESTED ballots have published "
    "results (votes, winners, changes)."
)
class BallotStatus(enum.Enum):
    AWAITING = strawberry.enum_value(Ballot.Status.AWAITING.value, description="Count not started.")
    COUNTING = strawberry.enum_value(Ballot.Status.COUNTING.value, description="Count under way.")
    RECOUNT = strawberry.enum_value(Ballot.Status.RECOUNT.value, description="A recount is under way.")
    DECLARED = strawberry.enum_value(Ballot.Status.DECLARED.value, description="Result declared.")
    UNCONTESTED = strawberry.enum_value(
        Ballot.Status.UNCONTESTED.value,
        description="No more candidates than seats: all elected unopposed, no poll, no votes.",
    )
    POSTPONED = strawberry.enum_value(
        Ballot.Status.POSTPONED.value, description="Poll postponed (e.g. a candidate died)."
    )


@strawberry.enum(description="How control after the election compares with the eve of the poll.")
class ControlOutcome(enum.Enum):
    HOLD = strawberry.enum_value(
        rules.ControlOutcome.HOLD.value, description="The same party keeps its majority."
    )
    GAIN = strawberry.enum_value(
        rules.ControlOutcome.GAIN.value,
        description="A party wins a majority it did not have (from a party or NOC).",
    )
    LOSS_TO_NOC = strawberry.enum_value(
        rules.ControlOutcome.LOSS_TO_NOC.value,
        description="The controlling party loses its majority and no party has one.",
    )
    NOC_REMAINS = strawberry.enum_value(
        rules.ControlOutcome.NOC_REMAINS.value, description="No overall control before and after."
    )


@strawberry.enum(description="What happened to one seat against its previous winner.")
class SeatChangeKind(enum.Enum):
    HOLD = rules.SeatChangeKind.HOLD.value
    GAIN = rules.SeatChangeKind.GAIN.value


@strawberry.enum(description="What an event published.")
class EventKind(enum.Enum):
    BALLOT_DECLARED = strawberry.enum_value(
        Event.Kind.BALLOT_DECLARED.value, description="A ballot was declared."
    )
    BALLOT_CORRECTED = strawberry.enum_value(
        Event.Kind.BALLOT_CORRECTED.value, description="A declared ballot's result was corrected."
    )
    BALLOT_RETRACTED = strawberry.enum_value(
        Event.Kind.BALLOT_RETRACTED.value,
        description="A declaration was withdrawn: the ballot is counting again.",
    )
    BALLOT_CERTIFIED = strawberry.enum_value(
        Event.Kind.BALLOT_CERTIFIED.value,
        description="A declared ballot's result was certified against the formal declaration (figures "
        "unchanged).",
    )
    BALLOT_STATUS = strawberry.enum_value(
        Event.Kind.BALLOT_STATUS.value,
        description="An undeclared ballot's status changed (counting, recount...).",
    )
    NOMINATIONS = strawberry.enum_value(
        Event.Kind.NOMINATIONS_CHANGED.value,
        description="An undeclared ballot's candidates changed: one added, withdrawn (the poll is "
        "then postponed) or renamed.",
    )
    REFERENCE = strawberry.enum_value(
        Event.Kind.REFERENCE_CHANGED.value,
        description="A party, council or ward was created, or its name, colour, size... changed.",
    )
    ELECTION = strawberry.enum_value(
        Event.Kind.ELECTION_CHANGED.value,
        description="An election was created, or its composition before the poll (seats held, seats "
        "not up, control on the eve of the poll) was set.",
    )
    PREVIOUS_WINNERS = strawberry.enum_value(
        Event.Kind.PREVIOUS_WINNERS.value,
        description="An undeclared ballot's previous winners were set (a declared ballot's change is a "
        "BALLOT_CORRECTED, since its seat changes change).",
    )
    CONTROL_CALLED = strawberry.enum_value(
        Event.Kind.CONTROL_CALLED.value, description="A council's control call was made or changed."
    )
    POST_PUBLISHED = strawberry.enum_value(
        Event.Kind.POST_PUBLISHED.value, description="A live post was published."
    )
    POST_UPDATED = strawberry.enum_value(
        Event.Kind.POST_UPDATED.value, description="A published post was edited."
    )
    POST_WITHDRAWN = strawberry.enum_value(
        Event.Kind.POST_WITHDRAWN.value, description="A post was withdrawn; it no longer exists."
    )
    REHEARSAL_STARTED = strawberry.enum_value(
        Event.Kind.REHEARSAL_STARTED.value,
        description="A rehearsal started: what follows is test data (each event says `rehearsal: true`) "
        "until a RESET. Delivered to every subscription, whatever its filters.",
    )
    RESET = strawberry.enum_value(
        Event.Kind.RESET.value,
        description="The poll was reset to its eve (every ballot awaiting, no results, rehearsal posts "
        "withdrawn): reload everything you show. Delivered to every subscription, whatever its filters.",
    )
    ZERO_COUNTS = strawberry.enum_value(
        Event.Kind.ZERO_COUNTS.value,
        description="Zero counts were switched on or off for a poll date: reload its ballots.",
    )


@strawberry.enum(
    description="How final a published result is (the civics-data results-status vocabulary; the AP's "
    "certified flag)."
)
class Certification(enum.Enum):
    PROVISIONAL = strawberry.enum_value(
        Ballot.Certification.PROVISIONAL.value,
        description="Figures from the count, before the returning officer's formal declaration.",
    )
    DECLARED = strawberry.enum_value(
        Ballot.Certification.DECLARED.value, description="Declared by the returning officer."
    )
    CERTIFIED = strawberry.enum_value(
        Ballot.Certification.CERTIFIED.value,
        description="Checked against the formal declaration of the result.",
    )
    CORRECTED = strawberry.enum_value(
        Ballot.Certification.CORRECTED.value, description="Corrected after it was first published."
    )


@strawberry.enum(description="Where a published result's figures came from.")
class ResultSource(enum.Enum):
    RETURNING_OFFICER = strawberry.enum_value(
        Ballot.Source.RETURNING_OFFICER.value, description="The returning officer's declaration."
    )
    COUNCIL_WEBSITE = strawberry.enum_value(
        Ballot.Source.COUNCIL_WEBSITE.value, description="The council's results web page (see sourceUrl)."
    )
    PHONE_FROM_COUNT = strawberry.enum_value(
        Ballot.Source.PHONE_FROM_COUNT.value, description="A phone call from a reporter at the count."
    )
    IMPORT = strawberry.enum_value(Ballot.Source.IMPORT.value, description="An imported results file.")
    OTHER = strawberry.enum_value(Ballot.Source.OTHER.value, description="Another source.")
