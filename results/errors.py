"""Why the domain refuses an input: one stable code per reason.

Every refusal of ``results.services`` (and of ``results.drafts``) is a
Django ``ValidationError`` keyed by the field it concerns, each of its
errors carrying a ``code`` from ``ErrorCode`` and ``params`` that name what
it concerns: ``candidacy`` (the candidacy's key: its id, or the key an
importer gives a row) for an error on one candidate's row, ``candidacies``
for one about several, and the figures it compares. Callers place an error
by its field, code and params, never by reading its text: the text is for
people, in the data desk's words, and may change; the codes do not.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

from django.core.exceptions import ValidationError


class ErrorCode(enum.StrEnum):
    """The reasons a write is refused, by the field they are reported on."""

    # A ballot's count (electorate, ballot_papers_counted, rejected_ballots)
    NOT_A_COUNT = "not_a_count"  # not a whole number of zero or more
    PAPERS_ABOVE_ELECTORATE = "papers_above_electorate"  # params: counted, electorate
    REJECTED_ABOVE_PAPERS = "rejected_above_papers"  # params: rejected, counted

    # Votes, each on its candidate's row (params: candidacy, name, votes)
    VOTES_NOT_WHOLE = "votes_not_whole"
    VOTES_NEGATIVE = "votes_negative"
    VOTES_ABOVE_VALID = "votes_above_valid"  # also: valid, counted, rejected
    VOTES_ABOVE_ELECTORATE = "votes_above_electorate"  # also: electorate
    # Votes of the ballot as a whole
    TOTAL_ABOVE_ELECTORATE = "total_above_electorate"  # params: total, electorate, seats
    TOTAL_ABOVE_PAPERS = "total_above_papers"  # params: total, valid, seats
    VOTES_MISSING = "votes_missing"  # params: candidacies
    VOTES_REQUIRED = "votes_required"  # neither votes nor winners given
    UNCONTESTED_HAS_VOTES = "uncontested_has_votes"  # params: candidates, seats

    # Candidacies
    NOT_ON_BALLOT = "not_on_ballot"  # params: candidacies
    NO_CANDIDATES = "no_candidates"

    # Winners and the drawing of lots
    TIE_UNRESOLVED = "tie_unresolved"  # params: candidacies (the tied), places
    LOT_NOT_TIED = "lot_not_tied"  # params: candidacies (lot winners not level at the cut-off)
    LOT_NOT_NEEDED = "lot_not_needed"  # no tie at the cut-off
    LOT_WRONG_COUNT = "lot_wrong_count"  # params: given, places
    LOT_UNCONTESTED = "lot_uncontested"
    LOT_WITHOUT_VOTES = "lot_without_votes"
    WINNERS_DIFFER = "winners_differ"  # params: candidacies (whom the votes elect, not the winners given)
    WINNERS_UNCONTESTED = "winners_uncontested"  # not every candidate of an uncontested ballot
    WINNERS_WRONG_COUNT = "winners_wrong_count"  # params: given, seats

    # The ballot's state and the batch
    NO_SUCH_BALLOT = "no_such_ballot"  # params: ballots
    BALLOT_TWICE = "ballot_twice"
    ONE_ELECTION = "one_election"  # a batch spans elections
    NOT_DECLARED = "not_declared"  # nothing to correct, certify or retract
    ALREADY_DECLARED = "already_declared"  # declare again, change its candidates or status
    ALREADY_CERTIFIED = "already_certified"
    POSTPONED = "postponed"
    STATUS_NOT_SETTABLE = "status_not_settable"  # params: status
    REASON_REQUIRED = "reason_required"
    STALE = "stale"  # someone else saved the object since it was loaded

    # Provenance of a result
    UNKNOWN_SOURCE = "unknown_source"  # params: source
    INVALID_CERTIFICATION = "invalid_certification"
    INVALID_URL = "invalid_url"

    # The two-person check
    NOTHING_TO_CHECK = "nothing_to_check"  # no figures wait for a check
    SAME_EDITOR = "same_editor"  # the editor who typed them cannot check them

    # Seats: a ballot's, a council's composition, previous winners
    NO_SEATS = "no_seats"  # a ballot, or a council, has at least one seat
    MAYORALTY = "mayoralty"  # a mayoralty has no council composition
    PARTY_TWICE = "party_twice"  # params: party (its EC id)
    SEATS_NEGATIVE = "seats_negative"  # params: party
    NOT_UP_ABOVE_HELD = "not_up_above_held"  # params: party, not_up, held
    NOT_UP_ABOVE_SEATS = "not_up_above_seats"  # params: not_up, seats_total
    HELD_ABOVE_SEATS = "held_above_seats"  # params: held, seats_total_before
    UNKNOWN_CYCLE = "unknown_cycle"  # params: cycle
    PREVIOUS_SEATS_BELOW_ONE = "previous_seats_below_one"
    PREVIOUS_ABOVE_SEATS = "previous_above_seats"  # params: seats, winner_count

    # Nominations
    NOMINEE_UNNAMED = "nominee_unnamed"
    NOMINEE_TWICE = "nominee_twice"  # params: person_id, or name (no person id)
    NAME_REQUIRED = "name_required"
    NAME_TOO_LONG = "name_too_long"
    ALREADY_STANDS = "already_stands"  # params: name or person_id

    # Reference data and posts
    UNKNOWN_FIELDS = "unknown_fields"  # params: fields
    POST_PUBLISHED = "post_published"  # publish again: update it instead
    POST_NOT_PUBLISHED = "post_not_published"  # nothing to withdraw

    # Rehearsals and resets (params: poll_date)
    LABEL_TOO_LONG = "label_too_long"
    NO_BALLOTS_POLLED = "no_ballots_polled"
    BALLOTS_DECLARED = "ballots_declared"  # params: also ballots
    ALREADY_REHEARSING = "already_rehearsing"


def refusal(code: ErrorCode, message: str, **params) -> ValidationError:
    """One refusal: its text (final, as people read it), its code, and what it concerns."""
    if params:
        message = message.replace("%", "%%")  # Django interpolates params into the text
    return ValidationError(message, code=code, params=params or None)


def refuse(field: str, code: ErrorCode, message: str, **params) -> ValidationError:
    """A ``ValidationError`` of one refusal on ``field``, to raise."""
    return ValidationError({field: [refusal(code, message, **params)]})


class Refusals:
    """Refusals gathered by field, to raise together."""

    def __init__(self) -> None:
        self.by_field: dict[str, list[ValidationError]] = {}

    def add(self, field: str, code: ErrorCode, message: str, **params) -> None:
        self.include(field, refusal(code, message, **params))

    def include(self, field: str, error: ValidationError) -> None:
        """Add a refusal made elsewhere (``refusal``) on ``field``."""
        self.by_field.setdefault(field, []).append(error)

    def __contains__(self, field: str) -> bool:
        return field in self.by_field

    def __bool__(self) -> bool:
        return bool(self.by_field)

    def __iter__(self) -> Iterator[tuple[str, ValidationError]]:
        """Each refusal with its field, in the order added (by field)."""
        for field, errors in self.by_field.items():
            for error in errors:
                yield field, error

    def error(self) -> ValidationError:
        return ValidationError(self.by_field)

    def check(self) -> None:
        """Raise them all, if any."""
        if self:
            raise self.error()


def refusals_of(exc: ValidationError) -> Iterator[tuple[str | None, ValidationError]]:
    """Each error of a refusal with its field (``None`` when it names none), as raised."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            for error in errors:
                yield field, error
    else:
        for error in exc.error_list:
            yield None, error


def text(error: ValidationError) -> str:
    """One error's text as people read it (its params put in)."""
    return next(iter(error))
