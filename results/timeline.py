"""Timelines of an election night: read, check and play them through the services.

A timeline is a JSON Lines file (UTF-8, one JSON object per line; blank
lines and lines starting with ``#`` are skipped). The first object is the
header, every other one an action at a moment of the night, in order::

    {"timeline": 1, "poll_date": "2023-05-04", "title": "East Midlands, 4 May 2023"}
    {"at": "2023-05-05T01:10:00+01:00", "do": "status", "ballot": "local.x.y.2023-05-04", "status": "counting"}
    {"at": "2023-05-05T02:30:00+01:00", "do": "declare", "ballot": "local.x.y.2023-05-04",
     "votes": {"Ann Able": 812, "Bob Baker": 640}, "electorate": 5012, "counted": 1470, "rejected": 18}
    {"at": "2023-05-05T02:50:00+01:00", "do": "correct", "ballot": "...", "votes": {...}, "reason": "..."}
    {"at": "...", "do": "retract", "ballot": "...", "reason": "..."}
    {"at": "...", "do": "post", "post": "<uuid>", "headline": "...", "body": "...", "author_name": "...",
     "author_role": "...", "author_outlet": "...", "breaking": false, "key_point": false,
     "image_url": "", "image_caption": "", "image_credit": "", "councils": ["derby"], "ballots": []}
    {"at": "...", "do": "withdraw_post", "post": "<uuid>", "reason": "..."}

(each action is one line in the file). ``at`` is an ISO 8601 time with its
UTC offset: the moment of the night the action happens, and the
declaration time (``declared_at``) or publication time it records.
``status`` is one of counting, recount, awaiting, postponed. A
``declare`` or ``correct`` names candidates as on the ballot paper; it may
add ``winners`` (names, checked against the votes), ``lot`` (the names who
won a tie at the cut-off by drawing lots), and give no ``votes`` for an
uncontested ballot. A ``post`` publishes the post with that uid (creating it,
or updating it if it is already published).

Everything is checked before anything is written: a bad line is refused
with its line number, and a ballot or council the database does not hold is
named, so a replay never stops half way for a typo in its file.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError

from . import services
from .models import Ballot, Council, Election, Post

FORMAT_VERSION = 1
LONDON = ZoneInfo("Europe/London")
ACTIONS = ("status", "declare", "correct", "retract", "post", "withdraw_post")
STATUSES = tuple(s.value for s in Ballot.SETTABLE_STATUSES)  # what services.set_ballot_status accepts
POST_TEXT_FIELDS = (
    "headline",
    "body",
    "author_name",
    "author_role",
    "author_outlet",
    "image_url",
    "image_caption",
    "image_credit",
)


class TimelineError(ValueError):
    """A timeline that cannot be played; the message names the line."""


@dataclass(frozen=True)
class Action:
    """One line of a timeline after the header."""

    line: int
    at: dt.datetime
    do: str
    data: dict = field(hash=False, compare=False)

    @property
    def target(self) -> str:
        return self.data.get("ballot") or self.data.get("post") or ""


@dataclass(frozen=True)
class Timeline:
    poll_date: dt.date
    title: str
    actions: tuple[Action, ...]


# ---------------------------------------------------------------- reading


def _fail(line: int, message: str) -> TimelineError:
    return TimelineError(f"line {line}: {message}")


def _int(line: int, data: dict, name: str) -> None:
    value = data.get(name)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise _fail(line, f"{name} must be a whole number, zero or more (got {value!r}).")


def _check_action(line: int, data: dict) -> Action:
    do = data.get("do")
    if do not in ACTIONS:
        raise _fail(line, f"unknown action {do!r}: use one of {', '.join(ACTIONS)}.")
    try:
        at = dt.datetime.fromisoformat(data["at"])
    except (KeyError, TypeError, ValueError):
        raise _fail(
            line, f"`at` must be an ISO 8601 time, e.g. 2023-05-05T01:10:00+01:00 (got {data.get('at')!r})."
        ) from None
    if at.tzinfo is None:
        raise _fail(line, "`at` needs its UTC offset, e.g. +01:00.")
    if do in ("status", "declare", "correct", "retract") and not isinstance(data.get("ballot"), str):
        raise _fail(line, f"a {do} needs the ballot paper id in `ballot`.")
    if do == "status" and data.get("status") not in STATUSES:
        raise _fail(line, f"status must be one of {', '.join(STATUSES)} (got {data.get('status')!r}).")
    if do in ("declare", "correct"):
        votes = data.get("votes")
        if votes is not None:
            if not isinstance(votes, dict) or not all(isinstance(k, str) for k in votes):
                raise _fail(line, "`votes` maps candidates' names to votes.")
            for name, value in votes.items():
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise _fail(line, f"{name}: votes must be a whole number, zero or more (got {value!r}).")
        for name in ("winners", "lot"):
            names = data.get(name)
            if names is not None and (
                not isinstance(names, list) or not all(isinstance(n, str) for n in names)
            ):
                raise _fail(line, f"`{name}` is a list of candidates' names.")
        for name in ("electorate", "counted", "rejected"):
            _int(line, data, name)
    if do in ("correct", "retract") and not str(data.get("reason", "")).strip():
        raise _fail(line, f"a {do} needs a `reason` (it is kept in the history).")
    if do in ("post", "withdraw_post"):
        try:
            uuid.UUID(str(data.get("post")))
        except ValueError:
            raise _fail(line, f"`post` must be the post's uuid (got {data.get('post')!r}).") from None
    if do == "post":
        if not str(data.get("headline", "")).strip():
            raise _fail(line, "a post needs a headline.")
        for name in POST_TEXT_FIELDS:
            if not isinstance(data.get(name, ""), str):
                raise _fail(line, f"`{name}` must be text.")
        for name in ("councils", "ballots"):
            if not isinstance(data.get(name, []), list):
                raise _fail(line, f"`{name}` is a list of ids.")
    return Action(line=line, at=at, do=do, data=data)


def parse(lines: Iterable[str]) -> Timeline:
    """Read a timeline's lines; raise ``TimelineError`` naming the first bad line."""
    header = None
    actions: list[Action] = []
    for number, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(number, f"not JSON ({exc.msg}).") from exc
        if not isinstance(data, dict):
            raise _fail(number, "each line is one JSON object.")
        if header is None:
            if data.get("timeline") != FORMAT_VERSION:
                raise _fail(
                    number,
                    f'the first line is the header: {{"timeline": {FORMAT_VERSION}, "poll_date": ...}}.',
                )
            try:
                poll_date = dt.date.fromisoformat(data["poll_date"])
            except (KeyError, TypeError, ValueError):
                raise _fail(
                    number, 'the header needs the poll date, e.g. "poll_date": "2023-05-04".'
                ) from None
            header = (poll_date, str(data.get("title", "")))
            continue
        action = _check_action(number, data)
        if actions and action.at < actions[-1].at:
            raise _fail(
                number, f"{action.at.isoformat()} is earlier than the line before: a timeline is in order."
            )
        actions.append(action)
    if header is None:
        raise TimelineError("the timeline is empty: no header line.")
    return Timeline(poll_date=header[0], title=header[1], actions=tuple(actions))


def read(path: str | Path) -> Timeline:
    """Read and check a timeline file."""
    with open(path, encoding="utf-8") as handle:
        return parse(handle)


def dumps(poll_date: dt.date, title: str, actions: Iterable[dict]) -> str:
    """A timeline's text: the header, then one action per line (keys in a stable order)."""
    lines = [json.dumps({"timeline": FORMAT_VERSION, "poll_date": poll_date.isoformat(), "title": title})]
    lines += [json.dumps(a, ensure_ascii=False) for a in actions]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- checking against the database


@dataclass
class _Targets:
    ballots: dict[str, Ballot]
    candidacies: dict[str, dict[str, int]]  # ballot id -> name -> candidacy id
    councils: dict[str, Council]


def resolve(timeline: Timeline) -> _Targets:
    """Check that every ballot, candidate and council the timeline names exists; raise ``TimelineError``."""
    ballot_ids = {a.data["ballot"] for a in timeline.actions if "ballot" in a.data}
    ballot_ids |= {b for a in timeline.actions if a.do == "post" for b in a.data.get("ballots", [])}
    ballots = {b.ballot_paper_id: b for b in Ballot.objects.filter(ballot_paper_id__in=ballot_ids)}
    missing = sorted(ballot_ids - set(ballots))
    if missing:
        raise TimelineError(
            f"{len(missing)} ballots are not in the database (import them first): {', '.join(missing[:5])}"
        )
    candidacies: dict[str, dict[str, int]] = {b: {} for b in ballots}
    for ballot_id, name, pk in Ballot.objects.filter(pk__in=[b.pk for b in ballots.values()]).values_list(
        "ballot_paper_id", "candidacies__person_name", "candidacies__pk"
    ):
        if pk is not None:
            candidacies[ballot_id][name] = pk
    slugs = {c for a in timeline.actions if a.do == "post" for c in a.data.get("councils", [])}
    councils = {c.slug: c for c in Council.objects.filter(slug__in=slugs)}
    if slugs - set(councils):
        raise TimelineError(f"councils not in the database: {', '.join(sorted(slugs - set(councils)))}")
    for action in timeline.actions:
        if action.do in ("declare", "correct"):
            known = candidacies[action.data["ballot"]]
            named = (
                set(action.data.get("votes") or {})
                | set(action.data.get("winners") or [])
                | set(action.data.get("lot") or [])
            )
            unknown = sorted(named - set(known))
            if unknown:
                raise _fail(action.line, f"{', '.join(unknown)} does not stand on {action.data['ballot']}.")
    return _Targets(ballots, candidacies, councils)


# ---------------------------------------------------------------- playing


def apply(action: Action, targets: _Targets, *, user=None) -> None:
    """Play one action through the services (a ``ValidationError`` says why it was refused)."""
    data = action.data
    if action.do == "post":
        _publish_post(action, targets, user)
        return
    if action.do == "withdraw_post":
        post = Post.objects.get(uid=data["post"])
        services.withdraw_post(post, reason=data.get("reason", ""), user=user)
        return
    ballot = targets.ballots[data["ballot"]]
    if action.do == "status":
        services.set_ballot_status(ballot.pk, data["status"], user=user)
    elif action.do == "retract":
        services.retract_declaration(ballot.pk, reason=data["reason"], user=user)
    else:
        ids = targets.candidacies[data["ballot"]]
        inputs = {
            "votes": {ids[n]: v for n, v in data["votes"].items()} if data.get("votes") is not None else None,
            "winners": [ids[n] for n in data["winners"]] if data.get("winners") is not None else None,
            "lot_winners": [ids[n] for n in data.get("lot") or ()],
            "electorate": data.get("electorate"),
            "ballot_papers_counted": data.get("counted"),
            "rejected_ballots": data.get("rejected"),
            "user": user,
        }
        if action.do == "declare":
            services.declare_ballot(ballot.pk, declared_at=action.at, **inputs)
        else:
            services.correct_ballot(ballot.pk, reason=data["reason"], **inputs)


def _publish_post(action: Action, targets: _Targets, user) -> None:
    data = action.data
    changes = {name: data.get(name, "") for name in POST_TEXT_FIELDS}
    changes["breaking"] = bool(data.get("breaking"))
    changes["key_point"] = bool(data.get("key_point"))
    councils = [targets.councils[s] for s in data.get("councils", [])]
    ballots = [targets.ballots[b] for b in data.get("ballots", [])]
    post = Post.objects.filter(uid=data["post"]).first()
    if post is not None and post.status == Post.Status.PUBLISHED:
        services.save_post(post, changes=changes, councils=councils, ballots=ballots, user=user)
        return
    post = services.save_post(
        post or Post(uid=uuid.UUID(data["post"])),
        changes=changes,
        councils=councils,
        ballots=ballots,
        user=user,
    )
    services.publish_post(post, published_at=action.at, user=user)


def apply_all(timeline: Timeline, *, user=None) -> int:
    """Play every action at once (the caller's transaction, if any, holds them all). Returns the count."""
    targets = resolve(timeline)
    for action in timeline.actions:
        apply(action, targets, user=user)
    return len(timeline.actions)


def night_time(timeline: Timeline, hhmm: str, option: str = "--from") -> dt.datetime:
    """The first moment at or after the timeline's first action whose London clock reads ``HH:MM``."""
    try:
        hour, minute = (int(p) for p in hhmm.split(":"))
        wanted = dt.time(hour, minute)
    except ValueError as exc:
        raise TimelineError(f"{option} takes a time of night as HH:MM, e.g. 01:30 (got {hhmm!r}).") from exc
    if not timeline.actions:
        raise TimelineError("the timeline has no actions.")
    first = timeline.actions[0].at.astimezone(LONDON)
    moment = dt.datetime.combine(first.date(), wanted, tzinfo=LONDON)
    if moment < first:
        moment += dt.timedelta(days=1)
    return moment


class Player:
    """Plays a timeline at ``speed`` times real time (``None``: as fast as possible).

    Actions before ``start`` (a moment of the night) are played at once, as
    fast as possible, then the clock runs from ``start``; it stops before the
    first action after ``until`` (a slice of the night). While the
    rehearsal row says ``paused`` the player waits, and the rest of the
    night is shifted by the pause. ``sleep``, ``clock`` and ``is_paused`` are
    injectable for tests.
    """

    def __init__(
        self,
        timeline: Timeline,
        *,
        speed: float | None,
        start: dt.datetime | None = None,
        until: dt.datetime | None = None,
        user=None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        is_paused: Callable[[], bool] | None = None,
        report: Callable[[str], None] = lambda message: None,
        poll_every: float = 0.5,
    ):
        if speed is not None and speed <= 0:
            raise TimelineError("the speed must be more than 0 (or max).")
        self.timeline = timeline
        self.speed = speed
        self.start = start
        self.until = until
        self.user = user
        self.sleep = sleep
        self.clock = clock
        self.is_paused = is_paused or _paused_in_database
        self.report = report
        self.poll_every = poll_every
        self.refused: list[str] = []

    def play(self) -> Iterator[Action]:
        """Play the night; yields each action once it has been written.

        An action the services refuse (a ward the desk has declared by hand meanwhile) is
        reported, kept in ``refused``, and skipped; the night carries on.
        """
        targets = resolve(self.timeline)
        actions = list(self.timeline.actions)
        origin = self.start or (actions[0].at if actions else None)
        began = self.clock()
        paused_for = 0.0
        for action in actions:
            if self.until is not None and action.at > self.until:
                return  # the slice ends here; the rest of the night is not played
            if self.speed is not None and action.at > origin:
                due = (action.at - origin).total_seconds() / self.speed
                while True:
                    if self.is_paused():
                        self.report("paused")
                        pause_began = self.clock()
                        while self.is_paused():
                            self.sleep(self.poll_every)
                        paused_for += self.clock() - pause_began
                        self.report("resumed")
                    wait = began + paused_for + due - self.clock()
                    if wait <= 0:
                        break
                    self.sleep(min(wait, self.poll_every))
            try:
                apply(action, targets, user=self.user)
            except ValidationError as exc:
                # The desk may type in the console while the replay runs (a ward declared by hand is
                # then refused here): say so and carry on with the night.
                refusal = f"line {action.line} ({action.do} {action.target}) refused: {_message(exc)}"
                self.refused.append(refusal)
                self.report(refusal)
                continue
            yield action


def _message(exc: ValidationError) -> str:
    if hasattr(exc, "message_dict"):
        return "; ".join(m for messages in exc.message_dict.values() for m in messages)
    return "; ".join(exc.messages)


def _paused_in_database() -> bool:
    from . import rehearsal

    return rehearsal.read_state().paused


# ---------------------------------------------------------------- generating a plausible night

POST_NAMESPACE = uuid.UUID("0b3c9a52-7d5e-4f0e-9a61-6e1d2c3b4a59")


def _votes(rng, names: list[str], seats: int, valid: int) -> dict[str, int]:
    """Votes for ``names``, distinct, the total within what ``valid`` papers of ``seats`` votes allow."""
    weights = [rng.gammavariate(2.0, 1.0) + 0.15 for _ in names]
    # Voters in a multi-member ward use most but not all of their votes.
    total = int(valid * (seats if seats == 1 else seats * rng.uniform(0.8, 0.95)))
    scale = total / sum(weights)
    votes = [max(1, min(valid, int(w * scale))) for w in weights]  # rounded down: never above the papers
    seen: set[int] = set()
    for i, v in enumerate(votes):
        while v in seen:  # ties only where one is planned
            v -= 1
        votes[i] = max(v, 0)
        seen.add(votes[i])
    return dict(zip(names, votes, strict=True))


def generate(poll_date: dt.date, *, seed: int = 1) -> str:
    """A plausible night for the ballots of ``poll_date`` already imported, as timeline text.

    Deterministic for a seed. Each council counts overnight (verification
    from 23:00, declarations from about 00:30) or the next day (from about
    10:00); a mayoralty the next afternoon. Every ward goes to counting, a
    few to a recount before declaring; one ward is postponed; one declares
    a tie decided by lot; two declarations are corrected half an hour
    later (a typing slip); posts open the night and report each council
    once its last ward has declared.
    """
    import random

    rng = random.Random(f"{seed}:{poll_date.isoformat()}")
    elections = list(
        Election.objects.filter(poll_date=poll_date)
        .select_related("council")
        .prefetch_related("ballots__candidacies")
        .order_by("election_id")
    )
    if not any(e.ballots.all() for e in elections):
        raise TimelineError(f"no ballots are polled on {poll_date:%d %B %Y}: import the candidates first.")
    night = dt.datetime.combine(poll_date, dt.time(22, 0), tzinfo=LONDON)
    actions: list[dict] = [
        _post_action(
            poll_date,
            "polls-closed",
            night,
            "Polls have closed",
            "Counting starts tonight in some councils and tomorrow morning in others.",
            breaking=True,
        )
    ]
    contested = []
    for election in elections:
        contested += _count(rng, election, night, actions)
    rng.shuffle(contested)
    postponed = contested[0][0].ballot_paper_id if len(contested) > 3 else None
    tie = contested[1][0].ballot_paper_id if len(contested) > 3 else None
    corrected = {b.ballot_paper_id for b, _, _ in contested[2:4]}
    for ballot, names, declared in contested:
        if ballot.ballot_paper_id == postponed:
            actions.append(_status(declared - dt.timedelta(minutes=20), ballot, "postponed"))
        else:
            actions += _result(
                rng,
                ballot,
                names,
                declared,
                tie=ballot.ballot_paper_id == tie,
                corrected=ballot.ballot_paper_id in corrected,
            )
    actions.sort(key=lambda a: dt.datetime.fromisoformat(a["at"]))
    return dumps(poll_date, f"Generated night for {poll_date:%d %B %Y} (seed {seed})", actions)


def _count(rng, election: Election, night: dt.datetime, actions: list[dict]) -> list[tuple]:
    """An election's count: when it starts, each ballot to counting, an uncontested one declared, the
    post once the last is in (into ``actions``); returns its contested ballots, each with its
    candidates' names and when it declares."""
    ballots = [b for b in election.ballots.all() if b.candidacies.all()]
    if not ballots:
        return []
    if election.kind == Election.Kind.MAYOR:
        start = night + dt.timedelta(hours=rng.uniform(13.0, 15.0))
    elif rng.random() < 0.6:
        start = night + dt.timedelta(hours=rng.uniform(1.0, 1.75))
    else:
        start = night + dt.timedelta(hours=rng.uniform(11.5, 12.5))
    start = start.replace(second=0, microsecond=0)
    span = dt.timedelta(minutes=rng.randint(90, 300))
    last = start
    contested = []
    for ballot in sorted(ballots, key=lambda b: b.ballot_paper_id):
        at_counting = start + dt.timedelta(minutes=rng.randint(0, 20))
        actions.append(_status(at_counting, ballot, "counting"))
        declared = at_counting + dt.timedelta(minutes=30) + span * rng.random()
        declared = declared.replace(second=0, microsecond=0)
        names = sorted(c.person_name for c in ballot.candidacies.all())
        if len(names) <= ballot.winner_count:
            actions.append({"at": declared.isoformat(), "do": "declare", "ballot": ballot.ballot_paper_id})
        else:
            contested.append((ballot, names, declared))
        last = max(last, declared)
    headline = f"{election.council.name}: every result is in"
    if election.kind == Election.Kind.MAYOR:
        headline = f"Mayor of {election.council.name} declared"
    actions.append(
        _post_action(
            election.poll_date,
            election.election_id,
            last + dt.timedelta(minutes=5),
            headline,
            f"The count in {election.council.name} has finished.",
            councils=[election.council.slug],
            key_point=True,
        )
    )
    return contested


def _result(
    rng, ballot: Ballot, names: list[str], declared: dt.datetime, *, tie: bool, corrected: bool
) -> list[dict]:
    """A contested ballot's declaration (with a recount before it now and then; a ``tie`` decided by
    lot), and its correction half an hour later if it is ``corrected``."""
    actions = []
    electorate = ballot.winner_count * rng.randint(2400, 4400)
    counted = int(electorate * rng.uniform(0.22, 0.42))
    rejected = int(counted * rng.uniform(0.002, 0.008))
    votes = _votes(rng, names, ballot.winner_count, counted - rejected)
    line = {
        "at": declared.isoformat(),
        "do": "declare",
        "ballot": ballot.ballot_paper_id,
        "votes": votes,
        "electorate": electorate,
        "counted": counted,
        "rejected": rejected,
    }
    ranked = sorted(votes, key=lambda n: -votes[n])
    if tie:
        last_in, first_out = ranked[ballot.winner_count - 1], ranked[ballot.winner_count]
        votes[last_in] = votes[first_out]  # lowered: the total stays within the papers
        line["lot"] = [rng.choice([last_in, first_out])]
    elif rng.random() < 0.05:
        actions.append(_status(declared - dt.timedelta(minutes=25), ballot, "recount"))
    actions.append(line)
    if corrected:
        loser = ranked[-1]
        right = votes[loser]
        typed = dict(votes)
        # A digit mistyped, within what the papers allow (or below, when there is no room above).
        room = (counted - rejected) * ballot.winner_count - sum(votes.values())
        slip = right + min(100, room) if room > 0 else max(0, right - 10)
        while slip in votes.values() and slip != right:
            slip += 1 if slip < right else -1
        typed[loser] = slip
        line["votes"] = typed
        actions.append(
            {
                **line,
                "at": (declared + dt.timedelta(minutes=rng.randint(20, 50))).isoformat(),
                "do": "correct",
                "votes": votes,
                "reason": f"{loser}'s votes were typed as {typed[loser]}: the count sheet says {right}.",
            }
        )
    return actions


def _status(at: dt.datetime, ballot: Ballot, status: str) -> dict:
    return {"at": at.isoformat(), "do": "status", "ballot": ballot.ballot_paper_id, "status": status}


def _post_action(
    poll_date: dt.date,
    key: str,
    at: dt.datetime,
    headline: str,
    body: str,
    *,
    councils: list[str] = (),
    breaking: bool = False,
    key_point: bool = False,
) -> dict:
    return {
        "at": at.isoformat(),
        "do": "post",
        "post": str(uuid.uuid5(POST_NAMESPACE, f"{poll_date.isoformat()}:{key}")),
        "headline": headline,
        "body": body,
        "author_name": "Rehearsal desk",
        "author_role": "",
        "author_outlet": "",
        "breaking": breaking,
        "key_point": key_point,
        "image_url": "",
        "image_caption": "",
        "image_credit": "",
        "councils": list(councils),
        "ballots": [],
    }


# ---------------------------------------------------------------- recording a night from the event log


def _result_action(event, p: dict) -> dict:
    from .models import Event

    candidacies = p["candidacies"]
    corrected = event.kind == Event.Kind.BALLOT_CORRECTED
    action = {"do": "correct" if corrected else "declare", "ballot": p["ballot_paper_id"]}
    if any(c["votes"] is not None for c in candidacies):
        action["votes"] = {c["person_name"]: c["votes"] for c in candidacies}
    lot = [c["person_name"] for c in candidacies if c.get("elected_by_lot")]
    if lot:
        action["lot"] = lot
    action["electorate"] = p.get("electorate")
    action["counted"] = p.get("ballot_papers_counted")
    action["rejected"] = p.get("rejected_ballots")
    if corrected:
        action["reason"] = p.get("reason") or "corrected"
    return action


def from_events(poll_date: dt.date, *, after: int | None = None, rehearsals: bool = False) -> str:
    """The night of ``poll_date`` as recorded in the event log, as timeline text.

    Declarations, corrections, retractions and count statuses of that day's
    ballots, and every post published, updated or withdrawn meanwhile, each
    from the snapshot its event keeps. Events recorded during a rehearsal
    are left out unless ``rehearsals``; ``after`` starts after that event
    id (a cursor). A declaration is placed at its declaration time, anything
    else at the time it was recorded (never before the action that precedes
    it in the log): a night recorded as it happened plays back as it
    happened.
    """
    from .models import Event

    kinds = {
        Event.Kind.BALLOT_STATUS,
        Event.Kind.BALLOT_DECLARED,
        Event.Kind.BALLOT_CORRECTED,
        Event.Kind.BALLOT_RETRACTED,
        Event.Kind.POST_PUBLISHED,
        Event.Kind.POST_UPDATED,
        Event.Kind.POST_WITHDRAWN,
    }
    events = Event.objects.filter(kind__in=kinds).select_related("election").order_by("id")
    if not rehearsals:
        events = events.filter(rehearsal=False)
    if after is not None:
        events = events.filter(id__gt=after)
    rows: list[
        tuple[Event, dict, dt.datetime | None]
    ] = []  # the action, and its own time of night if it has one
    for event in events:
        p = event.payload
        if event.election_id is not None and event.election.poll_date != poll_date:
            continue
        own = None
        if event.kind == Event.Kind.BALLOT_STATUS:
            action = {"do": "status", "ballot": p["ballot_paper_id"], "status": p["status"]}
        elif event.kind == Event.Kind.BALLOT_RETRACTED:
            action = {
                "do": "retract",
                "ballot": p["ballot_paper_id"],
                "reason": p.get("reason") or "retracted",
            }
        elif event.kind in (Event.Kind.BALLOT_DECLARED, Event.Kind.BALLOT_CORRECTED):
            if "candidacies" not in p or "previous_winners" in p:
                continue  # a change of previous winners, not of the result
            action = _result_action(event, p)
            if event.kind == Event.Kind.BALLOT_DECLARED and p.get("declared_at"):
                own = dt.datetime.fromisoformat(p["declared_at"])
        elif event.kind == Event.Kind.POST_WITHDRAWN:
            action = {"do": "withdraw_post", "post": p["uid"], "reason": p.get("reason", "")}
        else:
            action = {
                "do": "post",
                "post": p["uid"],
                **{name: p.get(name) or "" for name in POST_TEXT_FIELDS},
                "breaking": bool(p.get("breaking")),
                "key_point": bool(p.get("key_point")),
                "councils": p.get("councils", []),
                "ballots": p.get("ballots", []),
            }
            if event.kind == Event.Kind.POST_PUBLISHED and p.get("published_at"):
                own = dt.datetime.fromisoformat(p["published_at"])
        rows.append((event, action, own))
    # Declarations and publications carry their time of night; anything else is placed by the time
    # it was recorded relative to the nearest of those (a night replayed fast keeps its shape).
    anchors = [(i, own, event.created_at) for i, (event, _, own) in enumerate(rows) if own is not None]
    actions: list[dict] = []
    latest: dt.datetime | None = None
    for i, (event, action, own) in enumerate(rows):
        at = own
        if at is None:
            before = [a for a in anchors if a[0] < i]
            anchor = before[-1] if before else (anchors[0] if anchors else None)
            at = event.created_at if anchor is None else anchor[1] + (event.created_at - anchor[2])
        at = at if latest is None or at >= latest else latest
        latest = at
        actions.append({"at": at.isoformat(), **action})
    return dumps(poll_date, f"Recorded night of {poll_date:%d %B %Y}", actions)
