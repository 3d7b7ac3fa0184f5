"""The only write path for published data.

Each function runs in one transaction, validates before it writes (bad input
raises ``ValidationError`` naming the field and changes nothing), records its
``Event`` in that same transaction, and schedules the broadcast with
``transaction.on_commit``. The admin, the importers and the tests all call
these; nothing else writes results, control calls or posts.

Lock order
----------
Every write takes its locks in this order, and never in any other, so that
no two writers can each hold a lock the other waits for (no deadlock):

1. ballot rows (``lock_ballot``; several at once in ascending id order,
   ``lock_ballots``);
2. the election row (``_lock_election``), when the write can change the
   council's standing (a declaration, correction or retraction, a
   composition);
3. a post row (posts never take ballot or election locks);
4. last, the event-log lock (``record_events``), taken just before the
   event rows are inserted and held only until the commit that follows.
   The rehearsal switch (``Rehearsal``, one row) is read and written only
   under it, so every event is flagged exactly when it commits during a
   rehearsal (``start_rehearsal``, ``set_zero_counts``, ``reset_to_eve``).

Row locks are ``SELECT … FOR NO KEY UPDATE OF <that table>`` with no join:
they lock the one row the write needs, and they never block the
``FOR KEY SHARE`` lock PostgreSQL takes on the rows an inserted event (or
candidacy) refers to. (A ``FOR UPDATE`` that joined the council, through
``Election.Meta.ordering``, used to lock the council row too, and a writer
holding the event-log lock then waited for it: a deadlock.) Everything a
write computes (winners, the council's standing, the control call, the
payloads) is computed before step 4, so the event-log lock, which every
publishing transaction of every council shares, is held for the time of one
INSERT and the commit: see ``record_events`` for why it is needed at all.

Modules
-------
One module a section, each importing only the ones before it:
``events`` (the event log, its lock and the version check), ``ballots``
(results, the ballot and election locks, snapshots), ``nominations``,
``reference`` (parties, councils, wards, elections, ballots created),
``composition`` (before the night), ``posts`` and ``rehearsal``. Callers use
the names this package re-exports (``services.declare_ballot``); a call
between two functions of the package goes to the module's own name, so
replacing a name here (a test's ``monkeypatch``) changes what callers outside
the package reach, not what the package calls within itself.
"""

from .ballots import (
    Outcome,
    ResultEntry,
    _lock_election,
    _standing,
    ballot_snapshot,
    candidacy_snapshot,
    certify_ballot,
    check_result,
    correct_ballot,
    count_errors,
    declare_ballot,
    lock_ballot,
    lock_ballots,
    lot_refusal,
    nomination_snapshot,
    publish_results,
    retract_declaration,
    set_ballot_status,
)
from .composition import (
    CompositionRefusal,
    CompositionRow,
    composition_refusals,
    previous_winners_refusal,
    set_composition,
    set_previous_winners,
)
from .events import (
    EVENT_LOG_LOCK,
    RESULT_FIELDS,
    StaleEdit,
    check_version,
    deferred_events,
    new_event,
    record_event,
    record_events,
)
from .nominations import (
    add_candidacy,
    change_candidacy,
    withdraw_candidacy,
)
from .posts import (
    POST_FIELDS,
    post_snapshot,
    publish_post,
    save_post,
    withdraw_post,
)
from .reference import (
    COUNCIL_FIELDS,
    PARTY_FIELDS,
    WARD_FIELDS,
    Nominee,
    council_snapshot,
    create_ballot,
    create_election,
    election_snapshot,
    import_nominations,
    party_snapshot,
    save_council,
    save_party,
    save_ward,
    ward_snapshot,
)
from .rehearsal import (
    reset_to_eve,
    set_replay_paused,
    set_zero_counts,
    start_rehearsal,
)

__all__ = [
    "COUNCIL_FIELDS",
    "CompositionRefusal",
    "CompositionRow",
    "EVENT_LOG_LOCK",
    "Nominee",
    "Outcome",
    "PARTY_FIELDS",
    "POST_FIELDS",
    "RESULT_FIELDS",
    "ResultEntry",
    "StaleEdit",
    "WARD_FIELDS",
    "_lock_election",
    "_standing",
    "add_candidacy",
    "ballot_snapshot",
    "candidacy_snapshot",
    "certify_ballot",
    "change_candidacy",
    "check_result",
    "check_version",
    "composition_refusals",
    "correct_ballot",
    "council_snapshot",
    "count_errors",
    "create_ballot",
    "create_election",
    "declare_ballot",
    "deferred_events",
    "election_snapshot",
    "import_nominations",
    "lock_ballot",
    "lock_ballots",
    "lot_refusal",
    "new_event",
    "nomination_snapshot",
    "party_snapshot",
    "post_snapshot",
    "previous_winners_refusal",
    "publish_post",
    "publish_results",
    "record_event",
    "record_events",
    "reset_to_eve",
    "retract_declaration",
    "save_council",
    "save_party",
    "save_post",
    "save_ward",
    "set_ballot_status",
    "set_composition",
    "set_previous_winners",
    "set_replay_paused",
    "set_zero_counts",
    "start_rehearsal",
    "ward_snapshot",
    "withdraw_candidacy",
    "withdraw_post",
]
