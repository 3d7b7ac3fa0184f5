"""Rehearsal: timelines, replay at a speed, the flag on every surface, zero counts, the reset."""

import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from demo import files, generator
from results import record, services, timeline
from results.models import Ballot, Event, Post, Rehearsal
from schema import schema

from . import factories as f
from .api import answers, full_queries, without_log_positions

# Whole-state documents, far beyond the public limits (schema/limits.py).
pytestmark = pytest.mark.usefixtures("unbounded_documents")

POLL = "2023-05-04"
LONDON = timeline.LONDON


def night_at(hour: int, minute: int = 0, day: int = 5) -> str:
    return (dt.datetime(2023, 5, day, hour, tzinfo=LONDON) + dt.timedelta(minutes=minute)).isoformat()


def eve():
    """Two councils at the eve of the poll, and a post published before the night."""
    ballots = []
    for slug in ("northshire", "southshire"):
        e = f.election(slug, seats_total=6, before={"PP52": (4, 0), "PP53": (2, 0)})
        for i in range(4):
            ballots.append(
                f.ballot(
                    e,
                    f"{slug.title()} Ward {i}",
                    [("Ann Able", "PP53"), ("Bob Baker", "PP52"), ("Cal Cole", "PP90")],
                    previous={"PP52": 1},
                )
            )
        ballots.append(
            f.ballot(e, f"{slug.title()} Pair", [("Dee Dunn", "PP53"), ("Eve Ely", "PP52")], seats=2)
        )
    post = services.save_post(Post(), changes={"headline": "Polls are open", "author_name": "Desk"})
    services.publish_post(post)
    return ballots


def snapshot(ballots) -> dict:
    docs = full_queries(POLL, [b.ballot_paper_id for b in ballots], ["northshire", "southshire"])
    return answers(docs)


def last_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first()


def write_night(tmp_path: Path, text: str) -> str:
    path = tmp_path / "night.jsonl"
    path.write_text(text)
    return str(path)


# ---------------------------------------------------------------- the reset


def test_after_the_reset_every_answer_equals_one_of_a_database_that_never_rehearsed(tmp_path):
    ballots = eve()
    before = snapshot(ballots)
    cursor = last_event_id()
    path = write_night(tmp_path, timeline.generate(dt.date(2023, 5, 4), seed=3))
    call_command("replay_night", path, "--speed", "max", "--label", "Tuesday run", stdout=io.StringIO())

    during = snapshot(ballots)
    assert during != before
    assert all(a["extensions"]["rehearsal"]["active"] is True for a in during.values())
    assert {a["extensions"]["rehearsal"]["label"] for a in during.values()} == {"Tuesday run"}
    assert Ballot.objects.published().count() == 9  # 10 ballots, one postponed
    rehearsed = list(Event.objects.filter(id__gt=cursor).values_list("kind", "rehearsal"))
    assert all(flagged for _, flagged in rehearsed)

    out = io.StringIO()
    call_command("rehearsal", "reset", stdout=out)
    reset = Event.objects.order_by("-id").first()
    assert out.getvalue() == (
        f"Reset the poll of 2023-05-04 to its eve (event {reset.pk}): 10 ballots, 3 posts withdrawn. "
        "Clients were told to reload.\n"
    )
    assert snapshot(ballots) == before  # data and extensions: nothing left to flag
    # The log kept everything (cursors stay valid), flagged, and ends with the reset.
    feed = schema.execute_sync(
        "query($after: String) { events(after: $after, first: 500) { id kind rehearsal } }",
        variable_values={"after": str(cursor)},
    ).data["events"]
    assert [int(e["id"]) for e in feed] == list(
        Event.objects.filter(id__gt=cursor).values_list("id", flat=True)
    )
    assert feed[0]["kind"] == "REHEARSAL_STARTED"
    assert [e["kind"] for e in feed[-4:]] == ["POST_WITHDRAWN"] * 3 + ["RESET"]
    assert {e["rehearsal"] for e in feed} == {True}
    assert reset.payload["ended_rehearsal"] is True
    # What follows the reset is real again.
    services.declare_ballot(ballots[0], votes=f.votes(ballots[0], Able=30, Baker=20, Cole=10))
    assert Event.objects.order_by("-id").first().rehearsal is False


def test_the_reset_restores_each_ballots_status_from_before_the_rehearsal():
    ballots = eve()
    services.set_ballot_status(ballots[1], "postponed")
    state, cursor = record.public_state(), last_event_id()
    services.start_rehearsal(dt.date(2023, 5, 4), label="statuses")
    services.set_ballot_status(ballots[1], "counting")
    services.set_ballot_status(ballots[2], "recount")
    services.declare_ballot(ballots[3], votes=f.votes(ballots[3], Able=30, Baker=20, Cole=10))
    reset = services.reset_to_eve(dt.date(2023, 5, 4))
    assert Counter(Ballot.objects.values_list("status", flat=True)) == {"awaiting": 9, "postponed": 1}
    assert reset.payload["statuses"] == {ballots[1].ballot_paper_id: "postponed"}
    # A partner folding the feed from the eve (results.record) reaches the same state.
    for kind, payload in Event.objects.filter(id__gt=cursor).values_list("kind", "payload"):
        record.apply(state, kind, payload)
    assert record.differences(state, record.public_state()) == []


def test_a_rehearsal_starts_only_from_the_eve_and_only_once():
    ballots = eve()
    day = dt.date(2023, 5, 4)
    with pytest.raises(ValidationError, match="No ballots are polled on 05 May 2023"):
        services.start_rehearsal(dt.date(2023, 5, 5))
    services.declare_ballot(ballots[0], votes=f.votes(ballots[0], Able=30, Baker=20, Cole=10))
    with pytest.raises(ValidationError, match="1 ballots of 04 May 2023 are declared"):
        services.start_rehearsal(day)
    services.reset_to_eve(day)
    services.start_rehearsal(day, label="first")
    with pytest.raises(ValidationError, match=r"Already rehearsing 04 May 2023 \(first\)"):
        services.start_rehearsal(day, label="second")


def test_posts_of_the_rehearsal_are_withdrawn_and_earlier_posts_stay():
    eve()
    services.start_rehearsal(dt.date(2023, 5, 4))
    rehearsal_post = services.save_post(Post(), changes={"headline": "First result in"})
    services.publish_post(rehearsal_post)
    services.reset_to_eve(dt.date(2023, 5, 4))
    assert dict(Post.objects.values_list("headline", "status")) == {
        "Polls are open": "published",
        "First result in": "withdrawn",
    }


# ---------------------------------------------------------------- flagged everywhere


def test_every_public_surface_says_rehearsal_until_the_reset(client, tmp_path):
    ballots = eve()
    # Not rehearsing: no flag at all, and the banner field says so.
    plain = client.get("/graphql", {"query": "{ parties { id } }"}).json()
    assert "extensions" not in plain
    services.start_rehearsal(dt.date(2023, 5, 4), label="Dress rehearsal")
    services.declare_ballot(ballots[0], votes=f.votes(ballots[0], Able=30, Baker=20, Cole=10))
    started = Rehearsal.objects.get().started_at.isoformat()
    flag = {
        "active": True,
        "label": "Dress rehearsal",
        "startedAt": started,
        "pollDate": "2023-05-04",
        "zeroCounts": None,
    }
    # GET and POST over HTTP, any query, errors included.
    assert client.get("/graphql", {"query": "{ parties { id } }"}).json()["extensions"] == {"rehearsal": flag}
    posted = client.post(
        "/graphql",
        {"query": "{ rehearsal { active label startedAt pollDate zeroCounts } }"},
        content_type="application/json",
    ).json()
    assert posted == {
        "data": {
            "rehearsal": {
                "active": True,
                "label": "Dress rehearsal",
                "startedAt": started,
                "pollDate": "2023-05-04",
                "zeroCounts": None,
            }
        },
        "extensions": {"rehearsal": flag},
    }
    failing = client.get("/graphql", {"query": '{ ballot(id: "x") { nope } }'}).json()
    assert failing["extensions"] == {"rehearsal": flag}
    # Every event since the start, in the feed.
    feed = client.get("/graphql", {"query": "{ events(first: 500) { kind rehearsal } }"}).json()["data"][
        "events"
    ]
    assert [e for e in feed if e["rehearsal"]] == [
        {"kind": "REHEARSAL_STARTED", "rehearsal": True},
        {"kind": "BALLOT_DECLARED", "rehearsal": True},
    ]
    # Every console page.
    admin = get_user_model().objects.create_superuser("desk", password="pw-rehearsal-2023")
    client.force_login(admin)
    for page in ("/admin/", "/admin/results/ballot/", f"/admin/results/ballot/{ballots[1].pk}/change/"):
        html = client.get(page, follow=True).content.decode()
        assert "REHEARSAL: everything published since" in html, page
    services.reset_to_eve(dt.date(2023, 5, 4))
    assert "REHEARSAL" not in client.get("/admin/").content.decode()
    # The ballot's history still says which of its versions were rehearsal data.
    page = client.get(f"/admin/results/ballot/{ballots[0].pk}/change/").content.decode()
    assert "Ballot declared (rehearsal)" in page
    assert "extensions" not in client.get("/graphql", {"query": "{ parties { id } }"}).json()


# ---------------------------------------------------------------- zero counts


def test_zero_counts_show_undeclared_ballots_at_zero_and_declared_ones_as_declared():
    ballots = eve()
    services.declare_ballot(ballots[0], votes=f.votes(ballots[0], Able=30, Baker=20, Cole=10))
    services.set_zero_counts(dt.date(2023, 5, 4))
    query = """query($id: ID!) { ballot(id: $id) { status zeroCounts
        candidacies { name votes share elected electedByLot } } }"""
    declared = schema.execute_sync(query, variable_values={"id": ballots[0].ballot_paper_id})
    awaiting = schema.execute_sync(query, variable_values={"id": ballots[1].ballot_paper_id})
    assert declared.data["ballot"]["zeroCounts"] is False
    assert [c["votes"] for c in declared.data["ballot"]["candidacies"]] == [30, 20, 10]
    assert awaiting.data == {
        "ballot": {
            "status": "AWAITING",
            "zeroCounts": True,
            "candidacies": [
                {"name": "Ann Able", "votes": 0, "share": 0.0, "elected": False, "electedByLot": False},
                {"name": "Bob Baker", "votes": 0, "share": 0.0, "elected": False, "electedByLot": False},
                {"name": "Cal Cole", "votes": 0, "share": 0.0, "elected": False, "electedByLot": False},
            ],
        }
    }
    assert awaiting.extensions["rehearsal"]["zeroCounts"] == "2023-05-04"
    services.set_zero_counts(None)
    off = schema.execute_sync(query, variable_values={"id": ballots[1].ballot_paper_id})
    assert off.data["ballot"]["zeroCounts"] is False
    assert off.data["ballot"]["candidacies"][0]["votes"] is None
    assert not off.extensions
    assert list(Event.objects.filter(kind="zero_counts").values_list("payload", flat=True)) == [
        {"poll_date": "2023-05-04", "on": True},
        {"poll_date": "2023-05-04", "on": False},
    ]


# ---------------------------------------------------------------- timelines


@pytest.mark.pure
def test_the_committed_demo_timeline_is_what_the_generator_writes():
    assert settings.DEMO_TIMELINE.read_text() == files.timeline_text(generator.build_demo())


@pytest.mark.pure
@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "the timeline is empty"),
        (['{"poll_date": "2023-05-04"}'], "line 1: the first line is the header"),
        (['{"timeline": 1}'], "line 1: the header needs the poll date"),
        (['{"timeline": 1, "poll_date": "2023-05-04"}', "{nope"], "line 2: not JSON"),
        (
            ['{"timeline": 1, "poll_date": "2023-05-04"}', '{"at": "x", "do": "status"}'],
            "line 2: `at` must be",
        ),
        (
            ['{"timeline": 1, "poll_date": "2023-05-04"}', '{"at": "2023-05-05T01:00:00", "do": "status"}'],
            "line 2: `at` needs its UTC offset",
        ),
        (
            [
                '{"timeline": 1, "poll_date": "2023-05-04"}',
                '{"at": "2023-05-05T01:00:00+01:00", "do": "dance"}',
            ],
            "line 2: unknown action 'dance'",
        ),
        (
            [
                '{"timeline": 1, "poll_date": "2023-05-04"}',
                '{"at": "2023-05-05T01:00:00+01:00", "do": "declare", "ballot": "b", "votes": {"A": -1}}',
            ],
            "line 2: A: votes must be a whole number",
        ),
        (
            [
                '{"timeline": 1, "poll_date": "2023-05-04"}',
                '{"at": "2023-05-05T01:00:00+01:00", "do": "correct", "ballot": "b", "votes": {"A": 1}}',
            ],
            "line 2: a correct needs a `reason`",
        ),
        (
            [
                '{"timeline": 1, "poll_date": "2023-05-04"}',
                '{"at": "2023-05-05T02:00:00+01:00", "do": "status", "ballot": "b", "status": "counting"}',
                "",
                '{"at": "2023-05-05T01:00:00+01:00", "do": "status", "ballot": "b", "status": "counting"}',
            ],
            "line 4: 2023-05-05T01:00:00+01:00 is earlier than the line before",
        ),
    ],
)
def test_a_bad_timeline_is_refused_with_its_line(lines, message):
    with pytest.raises(timeline.TimelineError, match=message.replace("(", r"\(").replace("+", r"\+")):
        timeline.parse(lines)


def test_a_timeline_naming_an_unknown_ballot_or_candidate_changes_nothing(tmp_path):
    ballots = eve()
    events = Event.objects.count()
    unknown = timeline.dumps(
        dt.date(2023, 5, 4),
        "",
        [
            {"at": night_at(1), "do": "status", "ballot": ballots[0].ballot_paper_id, "status": "counting"},
            {
                "at": night_at(2),
                "do": "declare",
                "ballot": ballots[1].ballot_paper_id,
                "votes": {"Zed Zero": 4},
            },
        ],
    )
    with pytest.raises(
        CommandError, match="line 3: Zed Zero does not stand on local.northshire.northshire-ward-1"
    ):
        call_command("replay_night", write_night(tmp_path, unknown), "--speed", "max", stdout=io.StringIO())
    assert Event.objects.count() == events
    assert not Ballot.objects.exclude(status="awaiting").exists()


def test_the_generated_night_counts_every_council_with_recounts_a_tie_a_postponement_corrections_and_posts():
    eve()
    night = timeline.parse(timeline.generate(dt.date(2023, 5, 4), seed=3).splitlines())
    kinds = Counter(a.do for a in night.actions)
    assert kinds["declare"] == 9 and kinds["correct"] == 2 and kinds["post"] == 3
    statuses = Counter(a.data["status"] for a in night.actions if a.do == "status")
    assert statuses["counting"] == 10 and statuses["postponed"] == 1
    assert sum(1 for a in night.actions if a.data.get("lot")) == 1
    # Councils count overnight or next morning: every action between 22:00 and the next evening.
    times = [a.at.astimezone(LONDON) for a in night.actions]
    assert times == sorted(times)
    assert times[0] == dt.datetime(2023, 5, 4, 22, 0, tzinfo=LONDON)
    assert times[-1] < dt.datetime(2023, 5, 5, 20, 0, tzinfo=LONDON)
    # Deterministic for a seed.
    assert timeline.generate(dt.date(2023, 5, 4), seed=3) == timeline.generate(dt.date(2023, 5, 4), seed=3)


class FakeClock:
    """A clock that moves only when the player sleeps."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def three_declarations(ballots):
    return timeline.dumps(
        dt.date(2023, 5, 4),
        "",
        [
            {
                "at": night_at(1, minute),
                "do": "declare",
                "ballot": b.ballot_paper_id,
                "votes": {"Ann Able": 30, "Bob Baker": 20, "Cal Cole": 10},
            }
            for b, minute in zip(ballots[:3], (0, 30, 60), strict=True)
        ],
    )


def test_the_player_keeps_the_nights_time_divided_by_the_speed():
    ballots = eve()
    night = timeline.parse(three_declarations(ballots).splitlines())
    clock = FakeClock()
    played = []
    player = timeline.Player(night, speed=60, sleep=clock.sleep, clock=clock, is_paused=lambda: False)
    for action in player.play():
        played.append((action.target, clock.now))
    # 30 minutes of night are 30 seconds at 60x.
    assert [(t, round(s, 6)) for t, s in played] == [
        (ballots[0].ballot_paper_id, 0.0),
        (ballots[1].ballot_paper_id, 30.0),
        (ballots[2].ballot_paper_id, 60.0),
    ]
    assert max(clock.slept) <= 0.5  # wakes often enough to notice a pause


def test_a_pause_holds_the_replay_and_shifts_the_rest_of_the_night():
    ballots = eve()
    night = timeline.parse(three_declarations(ballots).splitlines())
    clock = FakeClock()
    # Paused from 10 s to 100 s of the replay.
    player = timeline.Player(
        night, speed=60, sleep=clock.sleep, clock=clock, is_paused=lambda: 10 <= clock.now < 100
    )
    times = [round(clock.now) for _ in player.play()]
    assert times == [0, 120, 150]


def test_a_slice_of_the_night_stops_after_until_and_the_rest_plays_from_there(tmp_path):
    ballots = eve()
    path = write_night(tmp_path, three_declarations(ballots))
    out = io.StringIO()
    call_command("replay_night", path, "--speed", "max", "--until", "01:30", stdout=out)
    assert (
        "Stopped at 01:30 (--until) after 2 of 3 actions; play the rest with --from 01:30." in out.getvalue()
    )
    assert sorted(Ballot.objects.published().values_list("ballot_paper_id", flat=True)) == sorted(
        b.ballot_paper_id for b in ballots[:2]
    )
    out = io.StringIO()
    call_command("replay_night", path, "--speed", "max", "--from", "01:30", stdout=out)
    # Into the running rehearsal: the two played before are refused (already declared), the third plays.
    assert "2 actions were refused" in out.getvalue()
    assert Ballot.objects.published().count() == 3
    with pytest.raises(CommandError, match="--until takes a time of night as HH:MM"):
        call_command("replay_night", path, "--speed", "max", "--until", "late", stdout=io.StringIO())


def test_starting_from_a_time_of_night_plays_what_came_before_at_once():
    ballots = eve()
    night = timeline.parse(three_declarations(ballots).splitlines())
    start = timeline.night_time(night, "01:45")
    assert start == dt.datetime(2023, 5, 5, 1, 45, tzinfo=LONDON)
    assert timeline.night_time(night, "00:30") == dt.datetime(2023, 5, 6, 0, 30, tzinfo=LONDON)
    clock = FakeClock()
    player = timeline.Player(
        night, speed=60, start=start, sleep=clock.sleep, clock=clock, is_paused=lambda: False
    )
    assert [round(clock.now) for _ in player.play()] == [0, 0, 15]
    with pytest.raises(timeline.TimelineError, match="--from takes a time of night as HH:MM"):
        timeline.night_time(night, "1am")


def test_the_pause_and_resume_commands_set_the_switch_the_replay_reads():
    eve()
    with pytest.raises(CommandError, match="Not rehearsing"):
        call_command("rehearsal", "pause", stdout=io.StringIO())
    services.start_rehearsal(dt.date(2023, 5, 4), label="pausing")
    call_command("rehearsal", "pause", stdout=io.StringIO())
    assert timeline._paused_in_database() is True
    out = io.StringIO()
    call_command("rehearsal", "status", stdout=out)
    assert "(pausing); replay paused." in out.getvalue()
    call_command("rehearsal", "resume", stdout=io.StringIO())
    assert timeline._paused_in_database() is False


def test_replay_refuses_a_bad_speed():
    with pytest.raises(CommandError, match="--speed must be more than 0"):
        call_command("replay_night", "--speed", "0", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--speed takes a number"):
        call_command("replay_night", "--speed", "fast", stdout=io.StringIO())


def test_the_generator_command_writes_a_file_replay_night_reads(tmp_path):
    eve()
    path = tmp_path / "generated.jsonl"
    err = io.StringIO()
    call_command("generate_timeline", "--poll-date", POLL, "--seed", "3", "--output", str(path), stderr=err)
    assert err.getvalue().startswith("Wrote ")
    assert json.loads(path.read_text().splitlines()[0])["poll_date"] == POLL
    assert (
        timeline.read(path).actions
        == timeline.parse(timeline.generate(dt.date(2023, 5, 4), seed=3).splitlines()).actions
    )


def test_a_ward_the_desk_declares_by_hand_during_the_replay_is_skipped_and_the_night_goes_on(tmp_path):
    ballots = eve()
    services.start_rehearsal(dt.date(2023, 5, 4), label="desk practice")
    # The desk typed the second ward in the console before the replay reached it.
    services.declare_ballot(ballots[1], votes=f.votes(ballots[1], Able=7, Baker=70, Cole=1))
    out = io.StringIO()
    call_command(
        "replay_night", write_night(tmp_path, three_declarations(ballots)), "--speed", "max", stdout=out
    )
    assert (
        "1 actions were refused (the desk got there first?):\n"
        "  line 3 (declare local.northshire.northshire-ward-1.2023-05-04) refused: "
        "Northshire Ward 1 is already declared: correct it instead.\n"
    ) in out.getvalue()
    assert out.getvalue().startswith("Rehearsing 2023-05-04 already (desk practice): replaying into it.")
    assert [c.votes for c in ballots[1].candidacies.order_by("person_name")] == [7, 70, 1]
    assert Ballot.objects.published().count() == 3


def test_a_recorded_night_replays_to_the_same_answers(tmp_path):
    ballots = eve()
    cursor = last_event_id()
    path = write_night(tmp_path, timeline.generate(dt.date(2023, 5, 4), seed=3))
    call_command("replay_night", path, "--speed", "max", stdout=io.StringIO())
    first = snapshot(ballots)
    recorded = tmp_path / "recorded.jsonl"
    call_command(
        "generate_timeline",
        "--poll-date",
        POLL,
        "--recorded",
        "--with-rehearsals",
        "--after",
        str(cursor),
        "--output",
        str(recorded),
        stderr=io.StringIO(),
    )
    night = timeline.read(recorded)
    assert Counter(a.do for a in night.actions) == {"status": 11, "declare": 9, "correct": 2, "post": 3}
    # Nothing unflagged was recorded that night: without rehearsals the recording is empty.
    assert timeline.parse(timeline.from_events(dt.date(2023, 5, 4), after=cursor).splitlines()).actions == ()
    call_command("rehearsal", "reset", stdout=io.StringIO())
    call_command("replay_night", str(recorded), "--speed", "max", stdout=io.StringIO())
    again = snapshot(ballots)
    assert without_log_positions({k: a["data"] for k, a in again.items()}) == without_log_positions(
        {k: a["data"] for k, a in first.items()}
    )
