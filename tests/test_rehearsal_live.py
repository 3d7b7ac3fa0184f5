"""A replay at 60x seen by real subscribers: a uvicorn process, PostgreSQL, Redis, replay_night in
its own process (see test_live_servers.py for the machinery; skipped without PostgreSQL and Redis)."""

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from results import timeline

from . import factories as f
from .test_live_servers import (
    ROOT,
    GraphQLWS,
    database_url,
    event_ids_after,
    last_event_id,
    pytestmark,  # noqa: F401 (the live-server marks: PostgreSQL and Redis, a transactional database)
)

SUBSCRIPTION = """subscription($after: String, $kinds: [EventKind!]) {
  events(after: $after, kinds: $kinds) { id kind rehearsal ballot { id status } }
}"""
NIGHT_MINUTES = 6  # of night, between the first and the last action: 6 s at 60x


def night_file(tmp_path, ballots) -> str:
    def at(minute: int) -> str:
        return (
            dt.datetime(2023, 5, 5, 1, 0, tzinfo=timeline.LONDON) + dt.timedelta(minutes=minute)
        ).isoformat()

    votes = {"Ann Able": 30, "Bob Baker": 20}
    ids = [b.ballot_paper_id for b in ballots]
    actions = [
        {"at": at(0), "do": "status", "ballot": ids[0], "status": "counting"},
        {"at": at(1), "do": "declare", "ballot": ids[0], "votes": votes},
        {"at": at(2), "do": "status", "ballot": ids[1], "status": "recount"},
        {"at": at(3), "do": "declare", "ballot": ids[1], "votes": votes},
        {
            "at": at(4),
            "do": "correct",
            "ballot": ids[0],
            "votes": {"Ann Able": 31, "Bob Baker": 20},
            "reason": "typo",
        },
        {"at": at(5), "do": "declare", "ballot": ids[2], "votes": votes},
        {
            "at": at(NIGHT_MINUTES),
            "do": "declare",
            "ballot": ids[3],
            "votes": {"Ann Able": 5, "Bob Baker": 40},
        },
    ]
    path = tmp_path / "night.jsonl"
    path.write_text(timeline.dumps(dt.date(2023, 5, 4), "live test", actions))
    return str(path)


def manage(*args: str) -> tuple[float, str]:
    env = {**os.environ, "DATABASE_URL": database_url(), "REDIS_URL": settings.REDIS_URL, "DEBUG": "true"}
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return time.monotonic() - began, done.stdout


def make_wards():
    e = f.election("rehearsalshire", seats_total=4, before={"PP52": (4, 0)})
    return [f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")]) for i in range(4)]


async def subscribe(client: GraphQLWS, after: str, kinds=None, op_id: str = "1") -> None:
    await client.ws.send(
        json.dumps(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": SUBSCRIPTION, "variables": {"after": after, "kinds": kinds}},
            }
        )
    )


async def test_a_subscriber_during_a_60x_replay_receives_every_event_once_in_order_flagged(servers, tmp_path):
    ballots = await sync_to_async(make_wards)()
    path = night_file(tmp_path, ballots)
    server = servers()
    cursor = await sync_to_async(last_event_id)()
    async with GraphQLWS(server.ws_url) as everything, GraphQLWS(server.ws_url) as declarations:
        await subscribe(everything, str(cursor))
        await subscribe(declarations, str(cursor), kinds=["BALLOT_DECLARED"])
        await asyncio.sleep(0.5)
        elapsed, out = await asyncio.to_thread(manage, "replay_night", path, "--speed", "60")
        assert "Replayed 7 actions of live test" in out
        # Six minutes of night take six seconds at 60x (never less; more on a loaded machine).
        assert elapsed >= NIGHT_MINUTES * 60 / 60 * 0.95
        expected = await sync_to_async(event_ids_after)(cursor)
        received = await everything.events(len(expected), timeout=60)
        assert [(int(e["id"]), e["kind"]) for e in received] == expected
        assert [e["kind"] for e in received] == [
            "REHEARSAL_STARTED",
            "BALLOT_STATUS",
            "BALLOT_DECLARED",
            "BALLOT_STATUS",
            "BALLOT_DECLARED",
            "BALLOT_CORRECTED",
            "BALLOT_DECLARED",
            "CONTROL_CALLED",  # Labour's third seat of four: a majority
            "BALLOT_DECLARED",
        ]
        assert {e["rehearsal"] for e in received} == {True}
        await everything.nothing_more(1.0)
        # The start and the reset reach every subscription, whatever it filters on: clients reload.
        await asyncio.to_thread(manage, "rehearsal", "reset")
        got = await declarations.events(6, timeout=30)
        assert [e["kind"] for e in got] == ["REHEARSAL_STARTED"] + ["BALLOT_DECLARED"] * 4 + ["RESET"]
        assert {e["rehearsal"] for e in got} == {True}
        after_reset = await everything.events(1, timeout=30)
        assert after_reset[0]["kind"] == "RESET"
    status = await sync_to_async(lambda: sorted(b.status for b in type(ballots[0]).objects.all()))()
    assert status == ["awaiting"] * 4
