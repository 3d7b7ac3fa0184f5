"""Benchmark: 100 sockets replaying the whole log while a normal client queries and subscribes.

Fills a database with one council of 130 wards and 110 declarations, then,
per setting (interleaved, ``--rounds`` times each), starts one uvicorn process
(deflate off, as ``bin/serve``) and opens 100 graphql-transport-ws sockets
(from a separate client process) that each replay the log with the payload of
a council page: all from ``after: "0"`` (cursors same), or socket i from
``after: "i"`` (cursors spread: no two share a read). Meanwhile it sends a
normal HTTP query every 50 ms and keeps one normal subscriber; it declares
one ballot before the replays (the live subscriber's latency alone) and one
half a second into them. It prints, per round: the normal query's latency
alone and during the replays (p50, max), the live subscriber's latency alone
and during (or MISSED), the time the 100 replays took, and the server's peak
RSS.

    /work/venv/bin/python bench/replays.py [--sockets 100] [--rounds 2] [--before DIR]
        [--cursors same|spread|both] [--deflate]

``--before DIR`` adds rounds of a server run from another checkout (e.g. an
export of main), interleaved; ``--deflate`` adds rounds with per-message
deflate on.

Needs PostgreSQL and Redis: ``BENCH_DB`` (default ``bench_replays``, created
and dropped) on ``BENCH_PG``, and ``BENCH_REDIS`` (default
``redis://127.0.0.1:6379/9``).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Keep this folder off the import path: bench/http.py would shadow the standard library's
# `http` package, which urllib imports.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB", "bench_replays")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
WARDS, DECLARED = 130, 110
DECLARED_LATER = (WARDS - DECLARED) // 2  # two a round: one alone, one while the sockets replay

REPLAY = """subscription ($after: String!) { events(after: $after) {
  id kind election { id seatsDeclared ballots { id status candidacies { name votes elected } } } } }"""
NORMAL = '{ election(id: "local.replayshire.2023-05-04") { id seatsTotal control { called } } }'


def env(**extra) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "REDIS_URL": REDIS,
        "DJANGO_SETTINGS_MODULE": "electionsite.settings",
        "DEBUG": "true",
        "PYTHONPATH": str(ROOT),
        "CONN_MAX_AGE": "60",
        "ANONYMOUS_MAX_SUBSCRIPTIONS": "100000",
        "ANONYMOUS_PER_MINUTE": "1000000",
        **extra,
    }


def prepare() -> None:
    for sql in (f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)", f"CREATE DATABASE {DB_NAME}"):
        subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env())
    os.environ.update(env())
    import django

    django.setup()
    from results import services
    from tests import factories as f

    e = f.election("replayshire", seats_total=WARDS, before={"PP52": (WARDS, 0)})
    ballots = [f.ballot(e, f"Ward {i}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")]) for i in range(WARDS)]
    for b in ballots[:DECLARED]:
        services.declare_ballot(b, votes=f.votes(b, Able=10, Baker=5))


def declare_next():
    from results import services
    from results.models import Ballot
    from tests import factories as f

    ballot = Ballot.objects.filter(status="awaiting").order_by("pk").first()
    return services.declare_ballot(ballot, votes=f.votes(ballot, Able=10, Baker=5))


def start_server(port: int, deflate: bool, root: Path = ROOT) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "electionsite.asgi:application", "--host", "127.0.0.1"]
        + ["--port", str(port), "--log-level", "warning", "--ws-per-message-deflate", str(deflate).lower()],
        cwd=root,
        env=env(PYTHONPATH=str(root)),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/graphql?query=%7B__typename%7D", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def query(port: int) -> float:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": NORMAL}).encode(),
        headers={"Content-Type": "application/json"},
    )
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as response:
        body = json.loads(response.read())
    assert body["data"]["election"]["seatsTotal"] == WARDS, body
    return time.perf_counter() - started


def replayers(url: str, sockets: int, until: int, conn, spread: bool = False) -> None:
    """A client process: `sockets` replays of the log up to event `until`; sends the seconds taken.

    Each replays from ``after: "0"``, or with ``spread`` socket i from ``after: "i"`` (so no two
    share a cursor, as partners resuming from wherever they stopped)."""

    async def one(after: int) -> None:
        from websockets.asyncio.client import connect

        async with connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            await ws.recv()
            payload = {"query": REPLAY, "variables": {"after": str(after)}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] == "next", message
                if int(message["payload"]["data"]["events"]["id"]) >= until:
                    return

    async def main() -> None:
        conn.recv()  # go
        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(i if spread else 0) for i in range(sockets))), 600)
        conn.send(time.perf_counter() - started)

    asyncio.run(main())


async def round_(port: int, deflate: bool, sockets: int, root: Path = ROOT, spread: bool = False) -> dict:
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect

    from results.models import Event

    server = start_server(port, deflate, root)
    try:
        for _ in range(3):
            await asyncio.to_thread(query, port)
        alone = [await asyncio.to_thread(query, port) for _ in range(20)]
        before = rss_mib(server.pid)
        live = await connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])
        await live.send(json.dumps({"type": "connection_init"}))
        await live.recv()
        await live.send(
            json.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": "subscription { events { id } }"}}
            )
        )

        async def live_latency(event) -> float | None:
            """Seconds from the declaration's event row to its arrival at the live subscriber."""
            declared_at = event.created_at.timestamp()
            try:
                async with asyncio.timeout(120):
                    while True:
                        message = json.loads(await live.recv())
                        if message["payload"]["data"]["events"]["id"] == str(event.pk):
                            return time.time() - declared_at
            except TimeoutError:
                return None

        live_alone = await live_latency(await sync_to_async(declare_next)())
        until = await sync_to_async(
            lambda: Event.objects.order_by("-id").values_list("id", flat=True).first()
        )()
        parent, child = multiprocessing.Pipe()
        clients = multiprocessing.Process(
            target=replayers, args=(f"ws://127.0.0.1:{port}/graphql", sockets, until, child, spread)
        )
        clients.start()
        await asyncio.sleep(1)  # the client process has started
        parent.send("go")
        await asyncio.sleep(0.5)
        event = await sync_to_async(declare_next)()
        delivery = asyncio.create_task(live_latency(event))
        during, peak = [], before
        while not parent.poll():
            during.append(await asyncio.to_thread(query, port))
            peak = max(peak, rss_mib(server.pid))
            await asyncio.sleep(0.05)
        replay_seconds = parent.recv()
        clients.join(30)
        latency = await delivery
        await live.close()
        return {
            "setting": ("before" if root != ROOT else "after")
            + (", deflate on" if deflate else "")
            + (", cursors spread" if spread else ", cursors 0"),
            "alone": statistics.median(alone),
            "p50": statistics.median(during),
            "max": max(during),
            "queries": len(during),
            "live": latency,
            "live_alone": live_alone,
            "replays": replay_seconds,
            "rss": (before, peak),
        }
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--port", type=int, default=8841)
    parser.add_argument("--before", type=Path, help="another checkout to run the server from too")
    parser.add_argument(
        "--cursors",
        choices=("same", "spread", "both"),
        default="both",
        help='every socket from after: "0" (same), socket i from after: "i" (spread), or rounds of each',
    )
    parser.add_argument("--deflate", action="store_true", help="add rounds with per-message deflate on")
    args = parser.parse_args()
    if args.rounds * (2 if args.before else 1) * (2 if args.cursors == "both" else 1) > DECLARED_LATER:
        parser.error(f"each round declares a ballot: at most {DECLARED_LATER} rounds")
    print(f"preparing {WARDS} wards, {DECLARED} declared ...", flush=True)
    prepare()
    roots = [ROOT] + ([args.before.resolve()] if args.before else [])
    spreads = {"same": [False], "spread": [True], "both": [False, True]}[args.cursors]
    deflates = [False, True] if args.deflate else [False]
    settings = [(root, deflate, spread) for spread in spreads for deflate in deflates for root in roots]
    results = []
    for _ in range(args.rounds):
        for root, deflate, spread in settings:
            result = asyncio.run(round_(args.port, deflate, args.sockets, root, spread))
            results.append(result)
            live, live_alone = (
                "MISSED" if seconds is None else f"{seconds * 1000:.0f} ms"
                for seconds in (result["live"], result["live_alone"])
            )
            print(
                f"{result['setting']}: normal query alone {result['alone'] * 1000:.0f} ms; during "
                f"{args.sockets} replays p50 {result['p50'] * 1000:.0f} ms, max {result['max'] * 1000:.0f} ms "
                f"({result['queries']} queries); live subscriber alone {live_alone}, during {live}; replays took {result['replays']:.1f} s; "
                f"RSS {result['rss'][0]:.0f} -> {result['rss'][1]:.0f} MiB",
                flush=True,
            )
    print()
    for setting in dict.fromkeys(r["setting"] for r in results):
        mine = [r for r in results if r["setting"] == setting]
        p50 = statistics.median(r["p50"] for r in mine)
        alone = statistics.median(r["alone"] for r in mine)
        took = statistics.median(r["replays"] for r in mine)
        print(
            f"{setting}: normal query p50 {p50 * 1000:.0f} ms during replays ({p50 / alone:.1f}x alone), "
            f"replays {took:.1f} s (medians of {len(mine)})"
        )


if __name__ == "__main__":
    main()
