"""Benchmark: live delivery to many subscribers across two server processes.

Opens N subscribers (default 1,000) spread over two uvicorn processes that
share PostgreSQL and Redis, declares B ballots (default 100) one after
another, and prints the delivery latency from the event's commit to its
receipt (p50, p95, p99, max) and the number of events lost or duplicated.

    .venv/bin/python bench/subscribers.py [--subscribers 1000] [--ballots 100] [--interval 0.1]

Needs PostgreSQL (it creates and drops the database ``$BENCH_DB``, default ``bench_subscribers``) and
Redis (``$BENCH_REDIS``, default database 9, flushed). The clients run in separate processes
(``--client-processes``, default 2) so their own work does not queue behind
the declarations. Latency is measured from the event row's ``created_at``
(written inside the declaring transaction, a moment before it commits), so
the figures slightly overstate it. All processes share this machine's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import servers
import uvloop

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB", "bench_subscribers")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")

EVENT_ID = re.compile(r'"events":\{"id":"(\d+)"')

SUBSCRIPTION = """subscription {
  events(kinds: [BALLOT_DECLARED]) {
    id kind
    ballot {
      id status declaredAt turnout
      candidacies { name party { id shortName } votes share elected }
      changes { kind party { id } previousParty { id } }
      election { id seatsDeclared majority control { called headline } composition { party { id } seats change } }
    }
  }
}"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def prepare_database(ballots: int) -> None:
    """A fresh database with one council of `ballots` single-member wards, four candidates each."""
    servers.fresh_database(PG, DB_NAME, django_env())
    script = f"""
from results.models import Ballot, Candidacy, Council, Election, Party, Ward
from results import services
import datetime as dt
council = Council.objects.create(slug="benchshire", name="Benchshire")
e = Election.objects.create(election_id="local.benchshire.2023-05-04", council=council, poll_date=dt.date(2023, 5, 4))
parties = [Party.objects.get(ec_id=p) for p in ("PP53", "PP52", "PP90", "PP63")]
services.set_composition(e, seats_total={ballots}, rows=[(parties[1], {ballots}, 0)])
for i in range({ballots}):
    w = Ward.objects.create(council=council, slug=f"ward-{{i}}", name=f"Ward {{i}}")
    b = Ballot.objects.create(ballot_paper_id=f"local.benchshire.ward-{{i}}.2023-05-04", election=e, ward=w)
    for j, p in enumerate(parties):
        Candidacy.objects.create(ballot=b, person_name=f"Candidate {{i}}-{{j}}", party=p)
    services.set_previous_winners(b, [(parties[1], 1)])
"""
    run([sys.executable, "manage.py", "shell", "-c", script], env=django_env())


def django_env() -> dict:
    return servers.django_env(
        f"{PG}/{DB_NAME}",
        REDIS,
        DEBUG=os.environ.get("DEBUG", "true"),
        # Keep database connections open between reads, as a production server would.
        CONN_MAX_AGE="60",
        # Every bench subscriber connects from 127.0.0.1, anonymously: lift the per-address
        # cap on concurrent subscriptions and the per-minute quota (PUBLIC_API=open).
        ANONYMOUS_MAX_SUBSCRIPTIONS="100000",
        ANONYMOUS_PER_MINUTE="1000000",
    )


# ---------------------------------------------------------------- clients


async def subscriber(url: str, ready: asyncio.Event, receipts: list, stats: dict) -> None:
    from websockets.asyncio.client import connect

    # A client whose connect fails (refused, or not answered within the open timeout while
    # thousands connect at once) tries again after a pause, as a real one would; until it has
    # subscribed. Once subscribed, any failure ends it (and its missing events count as lost).
    started = time.monotonic()
    for attempt in range(CONNECT_ATTEMPTS):
        ws = None
        try:
            ws = await connect(
                url, subprotocols=["graphql-transport-ws"], max_size=None, ping_interval=None, open_timeout=20
            )
            await ws.send(json.dumps({"type": "connection_init"}))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 20))
            assert ack["type"] == "connection_ack", ack
        except (OSError, TimeoutError, ConnectionError, AssertionError) as error:
            name = type(error).__name__
            stats["failures"][name] = stats["failures"].get(name, 0) + 1
            if ws is not None:
                await ws.close()
            if attempt == CONNECT_ATTEMPTS - 1:
                raise
            await asyncio.sleep(0.5 * 2**attempt)
            continue
        break
    async with ws:
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
        stats["connect"].append(time.monotonic() - started)
        ready.set()
        async for raw in ws:  # until the connection ends, or the task is cancelled at the stop
            now = time.time()
            # This machine runs the servers and the clients on two cores: the clients read
            # the event id from the text and parse one message in 50 in full, to check it,
            # so that their own work weighs less on the figures.
            found = EVENT_ID.search(raw) if raw.startswith('{"id":"1","type":"next"') else None
            if found and len(receipts) % 50:
                receipts.append((int(found.group(1)), now))
                continue
            message = json.loads(raw)
            if message["type"] == "next":
                event = message["payload"]["data"]["events"]
                assert event["kind"] == "BALLOT_DECLARED" and event["ballot"]["status"] == "DECLARED", event
                receipts.append((int(event["id"]), now))
            elif message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            else:
                receipts.append((-1, now))


CONNECT_ATTEMPTS = 5
CONNECT_BATCH = 50  # connects started at once by a client process, then ...
CONNECT_PAUSE = 0.05  # ... a pause (seconds): 1,000 connects a second per client process


def client_process(urls: list[str], count: int, conn, expected: int) -> None:
    """Open `count` subscribers round-robin over `urls`; report receipts when told to stop."""

    async def main():
        receipts: list[list] = [[] for _ in range(count)]
        readies = [asyncio.Event() for _ in range(count)]
        stats = {"failures": {}, "connect": []}
        tasks = []
        started = time.monotonic()
        for i in range(count):
            tasks.append(asyncio.create_task(subscriber(urls[i % len(urls)], readies[i], receipts[i], stats)))
            if i % CONNECT_BATCH == CONNECT_BATCH - 1:
                await asyncio.sleep(CONNECT_PAUSE)  # do not stampede the accept queue
        all_ready = asyncio.gather(*(r.wait() for r in readies))
        while not all_ready.done():
            await asyncio.wait([all_ready, *(t for t in tasks if not t.done())], timeout=1)
            failed = [t for t in tasks if t.done() and (t.cancelled() or t.exception())]
            if failed or time.monotonic() - started > 120:
                error = failed[0].exception() if failed and not failed[0].cancelled() else None
                conn.send(
                    f"not ready: {sum(r.is_set() for r in readies)} of {count} subscribed in "
                    f"{time.monotonic() - started:.0f} s; connect failures {stats['failures']}; "
                    f"{len(failed)} gave up ({error!r})"
                )
                all_ready.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                return
        connects = sorted(stats["connect"])
        conn.send(
            (
                "ready",
                time.monotonic() - started,
                connects[len(connects) // 2],
                connects[-1],
                dict(stats["failures"]),
            )
        )
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, conn.recv) == "count":
            conn.send(sum(len(r) for r in receipts))
        for task in tasks:  # "stop"
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        conn.send(receipts)

    # uvloop, as the servers run: the clients' own work weighs less on the shared cores.
    uvloop.run(main())


# ---------------------------------------------------------------- the run


def declare_all(ballots: int, interval: float) -> list[int]:
    import django

    os.environ.update(django_env())
    django.setup()
    from results import services
    from results.models import Ballot

    event_ids = []
    for i, ballot in enumerate(Ballot.objects.order_by("pk")):
        candidacies = list(ballot.candidacies.order_by("pk"))
        votes = {c.pk: 1000 + (i * 37 + j * 101) % 500 + j for j, c in enumerate(candidacies)}
        event_ids.append(services.declare_ballot(ballot, votes=votes).pk)
        time.sleep(interval)
    return event_ids


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--ballots", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between declarations")
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--ports", default="8811,8812")
    args = parser.parse_args()

    ports = [int(p) for p in args.ports.split(",")]
    print(f"preparing {args.ballots} ballots ...", flush=True)
    prepare_database(args.ballots)
    run(["redis-cli", "-u", REDIS, "flushdb"], stdout=subprocess.DEVNULL)
    # What the servers say goes to files, summed up at the end (errors, warnings).
    running = [servers.Server(django_env(), port=p, capture=True).start() for p in ports]
    urls = [f"ws://127.0.0.1:{p}/graphql" for p in ports]
    clients = []
    try:
        per_process = [args.subscribers // args.client_processes] * args.client_processes
        per_process[0] += args.subscribers - sum(per_process)
        for n in per_process:
            parent, child = multiprocessing.Pipe()
            proc = multiprocessing.Process(target=client_process, args=(urls, n, child, args.ballots))
            proc.start()
            clients.append((proc, parent))
        answers = [conn.recv() for _, conn in clients]
        if not all(isinstance(a, tuple) for a in answers):
            raise SystemExit("\n".join(str(a) for a in answers))
        failures = {}
        for *_, failed in answers:
            for name, n in failed.items():
                failures[name] = failures.get(name, 0) + n
        print(
            f"{args.subscribers} subscribers connected over {len(ports)} server processes in "
            f"{max(a[1] for a in answers):.1f} s (per subscriber: p50 {max(a[2] for a in answers):.1f} s, "
            f"max {max(a[3] for a in answers):.1f} s; connects retried {failures or 0}); declaring ...",
            flush=True,
        )
        started = time.time()
        event_ids = declare_all(args.ballots, args.interval)
        declared_in = time.time() - started
        # Wait for the tail: until every subscriber has every event, or 60 s (then the
        # missing ones count as lost).
        expected = args.subscribers * len(event_ids)
        deadline = time.time() + 60
        while time.time() < deadline:
            for _, conn in clients:
                conn.send("count")
            if sum(conn.recv() for _, conn in clients) >= expected:
                break
            time.sleep(0.5)
        for _, conn in clients:
            conn.send("stop")
        receipts = [r for _, conn in clients for r in conn.recv()]
        for proc, _ in clients:
            proc.join(30)
    finally:
        for server in running:
            server.stop()
        said = "".join(server.output() for server in running)
        print(
            f"servers logged: {said.count('Exception in ASGI application')} ASGI exceptions, "
            f"{said.count('ERROR')} ERROR lines, {said.count('WARNING')} WARNING lines"
            + (
                f"; counting in Redis failed {said.count('counting in Redis failed')} times"
                if "counting in Redis failed" in said
                else ""
            )
        )
        if said.strip():
            Path(os.environ.get("BENCH_SERVER_LOG", "/tmp/bench_subscribers_servers.log")).write_text(said)

    import django

    django.setup()
    from results.models import Event

    created = {e.pk: e.created_at.timestamp() for e in Event.objects.filter(pk__in=event_ids)}
    wanted = set(event_ids)
    latencies, lost, duplicated, errors = [], 0, 0, 0
    for per_subscriber in receipts:
        ids = [i for i, _ in per_subscriber]
        errors += ids.count(-1)
        seen = [i for i in ids if i in wanted]
        duplicated += len(seen) - len(set(seen))
        lost += len(wanted - set(seen))
        out_of_order = any(a >= b for a, b in zip(seen, seen[1:], strict=False))
        if out_of_order:
            errors += 1
        firsts = {}
        for i, at in per_subscriber:
            if i in wanted and i not in firsts:
                firsts[i] = at
        latencies += [at - created[i] for i, at in firsts.items()]
    print()
    print(
        f"subscribers {args.subscribers}, server processes {len(ports)}, ballots declared {len(event_ids)} "
        f"in {declared_in:.1f} s (one every {args.interval:.2f} s)"
    )
    print(f"deliveries {len(latencies)} of {args.subscribers * len(event_ids)} expected")
    if latencies:
        print(
            "latency commit->receipt: "
            f"p50 {percentile(latencies, 0.50) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
            f"mean {statistics.mean(latencies) * 1000:.0f} ms"
        )
    print(f"lost {lost}, duplicated {duplicated}, out of order or error messages {errors}")


if __name__ == "__main__":
    main()
