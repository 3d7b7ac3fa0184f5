"""GraphQL enums, mirroring the domain's choices and rule outcomes.

Each mirrors every member of a domain enum, in its order and with its value (``_mirror``):
the table below gives each GraphQL enum its domain enum, its description and its members'
descriptions. A member is named as in the domain unless ``renamed`` says otherwise.
"""

import enum
from collections.abc import Mapping

import strawberry

from results import rules
from results.models import Ballot, Election, Event


def _mirror(
    name: str,
    domain: type[enum.Enum],
    description: str,
    values: Mapping[str, str] | None = None,
    *,
    renamed: Mapping[str, str] | None = None,
) -> type[enum.Enum]:
    """The GraphQL enum ``name`` of every member of ``domain``: ``values`` describes members by
    their domain name, ``renamed`` gives the GraphQL name of a member whose domain name differs."""
    values, renamed = values or {}, renamed or {}
    unknown = (set(values) | set(renamed)) - set(domain.__members__)
    if unknown:
        raise ValueError(f"{name}: {', '.join(sorted(unknown))} not in {domain.__qualname__}")
    members = {
        renamed.get(m.name, m.name): strawberry.enum_value(m.value, description=values.get(m.name))
        for m in domain
    }
    return strawberry.enum(enum.Enum(name, members, module=__name__), description=description)


ElectionKind = _mirror("ElectionKind", Election.Kind, "Which office an election fills.")

ElectionCycle = _mirror(
    "ElectionCycle", Election.Cycle, "How much of the council is up: all seats, half, or a third."
)

BallotStatus = _mirror(
    "BallotStatus",
    Ballot.Status,
    "Where a ballot's count stands. Only DECLARED and UNCONTESTED ballots have published "
    "results (votes, winners, changes).",
    {
        "AWAITING": "Count not started.",
        "COUNTING": "Count under way.",
        "RECOUNT": "A recount is under way.",
        "DECLARED": "Result declared.",
        "UNCONTESTED": "No more candidates than seats: all elected unopposed, no poll, no votes.",
        "POSTPONED": "Poll postponed (e.g. a candidate died).",
    },
)

ControlOutcome = _mirror(
    "ControlOutcome",
    rules.ControlOutcome,
    "How control after the election compares with the eve of the poll.",
    {
        "HOLD": "The same party keeps its majority.",
        "GAIN": "A party wins a majority it did not have (from a party or NOC).",
        "LOSS_TO_NOC": "The controlling party loses its majority and no party has one.",
        "NOC_REMAINS": "No overall control before and after.",
    },
)

SeatChangeKind = _mirror(
    "SeatChangeKind", rules.SeatChangeKind, "What happened to one seat against its previous winner."
)

EventKind = _mirror(
    "EventKind",
    Event.Kind,
    "What an event published.",
    {
        "BALLOT_DECLARED": "A ballot was declared.",
        "BALLOT_CORRECTED": "A declared ballot's result was corrected.",
        "BALLOT_RETRACTED": "A declaration was withdrawn: the ballot is counting again.",
        "BALLOT_CERTIFIED": "A declared ballot's result was certified against the formal declaration (figures "
        "unchanged).",
        "BALLOT_STATUS": "An undeclared ballot's status changed (counting, recount...).",
        "NOMINATIONS_CHANGED": "An undeclared ballot's candidates changed: one added, withdrawn (the poll is "
        "then postponed) or renamed.",
        "REFERENCE_CHANGED": "A party, council or ward was created, or its name, colour, size... changed.",
        "ELECTION_CHANGED": "An election was created, or its composition before the poll (seats held, seats "
        "not up, control on the eve of the poll) was set.",
        "PREVIOUS_WINNERS": "An undeclared ballot's previous winners were set (a declared ballot's change is a "
        "BALLOT_CORRECTED, since its seat changes change).",
        "CONTROL_CALLED": "A council's control call was made or changed.",
        "POST_PUBLISHED": "A live post was published.",
        "POST_UPDATED": "A published post was edited.",
        "POST_WITHDRAWN": "A post was withdrawn; it no longer exists.",
        "REHEARSAL_STARTED": "A rehearsal started: what follows is test data (each event says "
        "`rehearsal: true`) until a RESET. Delivered to every subscription, whatever its filters.",
        "RESET": "The poll was reset to its eve (every ballot awaiting, no results, rehearsal posts "
        "withdrawn): reload everything you show. Delivered to every subscription, whatever its filters.",
        "ZERO_COUNTS": "Zero counts were switched on or off for a poll date: reload its ballots.",
    },
    renamed={
        "NOMINATIONS_CHANGED": "NOMINATIONS",
        "REFERENCE_CHANGED": "REFERENCE",
        "ELECTION_CHANGED": "ELECTION",
    },
)

Certification = _mirror(
    "Certification",
    Ballot.Certification,
    "How final a published result is (the civics-data results-status vocabulary; the AP's certified flag).",
    {
        "PROVISIONAL": "Figures from the count, before the returning officer's formal declaration.",
        "DECLARED": "Declared by the returning officer.",
        "CERTIFIED": "Checked against the formal declaration of the result.",
        "CORRECTED": "Corrected after it was first published.",
    },
)

ResultSource = _mirror(
    "ResultSource",
    Ballot.Source,
    "Where a published result's figures came from.",
    {
        "RETURNING_OFFICER": "The returning officer's declaration.",
        "COUNCIL_WEBSITE": "The council's results web page (see sourceUrl).",
        "PHONE_FROM_COUNT": "A phone call from a reporter at the count.",
        "IMPORT": "An imported results file.",
        "OTHER": "Another source.",
    },
)
