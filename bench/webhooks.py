"""Benchmark: webhook delivery to many endpoints, from commit to the partner's receipt.

Registers E endpoints (default 100), each with its own path on local
receivers (asyncio HTTP servers in their own processes, checking every
signature), starts `manage.py deliver_webhooks`, declares D ballots (default
200, in councils of 25 wards) one after another through `results.services`, and waits until every
endpoint has every declaration. It prints the delivery lag, from the event
row's ``created_at`` (written inside the declaring transaction, a moment
before it commits, so the figures slightly overstate it) to the receiver's
arrival time, at p50, p95, p99 and max, and counts deliveries lost,
duplicated, out of order or badly signed.

    python bench/webhooks.py [--endpoints 100] [--declarations 200] [--interval 0.02] [--processes 1]

Needs PostgreSQL (it creates and drops the database ``$BENCH_DB``, default
``bench_webhooks``) and Redis (``$BENCH_REDIS``, default database 9).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import servers

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = os.environ.get("BENCH_DB", "bench_webhooks")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/9")
WARDS = 25  # wards per council: the average on 4 May 2023 (a declaration re-derives its council's standing)
SELECTION = (
    "{ id kind ballot { id status declaredAt turnout candidacies { name party { id shortName } votes share "
    "elected } election { id seatsDeclared majority control { called headline } } } }"
)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, cwd=ROOT, **kw)


def django_env() -> dict:
    return servers.django_env(
        f"{PG}/{DB_NAME}", REDIS, DEBUG="true", CONN_MAX_AGE="60", WEBHOOK_ALLOW_HTTP_HOSTS="127.0.0.1"
    )


def prepare_database(declarations: int, endpoints: int, ports: list[int]) -> dict[str, str]:
    """A fresh database: councils of WARDS wards, ``declarations`` in all, and the endpoints; returns
    path -> secret."""
    servers.fresh_database(PG, DB_NAME, django_env())
    script = f"""
import json
import datetime as dt
from results.models import Ballot, Candidacy, Council, Election, Party, Ward
from results import services
from partners import keys
from push import services as push
parties = [Party.objects.get(ec_id=p) for p in ("PP53", "PP52", "PP90", "PP63")]
remaining, c = {declarations}, 0
while remaining:
    size = min({WARDS}, remaining)
    remaining -= size
    council = Council.objects.create(slug=f"bench-{{c}}", name=f"Bench {{c}}")
    e = Election.objects.create(
        election_id=f"local.bench-{{c}}.2023-05-04", council=council, poll_date=dt.date(2023, 5, 4)
    )
    c += 1
    services.set_composition(e, seats_total=size, rows=[(parties[1], size, 0)])
    wards = Ward.objects.bulk_create(
        [Ward(council=council, slug=f"ward-{{i}}", name=f"Ward {{i}}") for i in range(size)]
    )
    ballots = Ballot.objects.bulk_create(
        [Ballot(ballot_paper_id=f"local.{{council.slug}}.{{w.slug}}.2023-05-04", election=e, ward=w) for w in wards]
    )
    Candidacy.objects.bulk_create(
        [Candidacy(ballot=b, person_name=f"Candidate {{i}}-{{j}}", party=p) for i, b in enumerate(ballots)
         for j, p in enumerate(parties)]
    )
partner = keys.create_partner("Bench Gazette")
secrets = {{}}
ports = {ports!r}
for n in range({endpoints}):
    url = f"http://127.0.0.1:{{ports[n % len(ports)]}}/hook/{{n}}"
    endpoint, secret = push.create_endpoint(partner, url, selection={SELECTION!r}, kinds=["BALLOT_DECLARED"])
    secrets[f"/hook/{{n}}"] = secret
print(json.dumps(secrets))
"""
    out = run(
        [sys.executable, "manage.py", "shell", "-c", script], env=django_env(), capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- receivers


def receiver_process(port: int, secrets: dict[str, str], conn) -> None:
    """A minimal HTTP/1.1 server (keep-alive) answering 200 to every POST and recording it."""
    receipts: list[tuple[str, int, str, float, bool]] = []

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                arrived = time.time()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                timestamp = headers.get("webhook-timestamp", "")
                expected = hmac.new(
                    secrets[path].encode(), timestamp.encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                signed = hmac.compare_digest("v1=" + expected, headers.get("webhook-signature", ""))
                payload = json.loads(body)
                receipts.append((path, int(payload["cursor"]), payload["deliveryId"], arrived, signed))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        conn.send("ready")
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # "stop"
        server.close()
        conn.send(receipts)

    asyncio.run(main())


# ---------------------------------------------------------------- declaring


def declare_all(interval: float) -> dict[int, float]:
    """Declare every ballot; returns event id -> created_at (Unix seconds)."""
    import django

    os.environ.update(django_env())
    django.setup()
    from results import services
    from results.models import Ballot, Event

    ids = []
    for i, ballot in enumerate(Ballot.objects.order_by("pk")):
        candidacies = list(ballot.candidacies.order_by("pk"))
        votes = {c.pk: 1000 + (i * 37 + j * 101) % 500 + j for j, c in enumerate(candidacies)}
        ids.append(services.declare_ballot(ballot, votes=votes).pk)
        if interval:
            time.sleep(interval)
    return {pk: at.timestamp() for pk, at in Event.objects.filter(pk__in=ids).values_list("pk", "created_at")}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--declarations", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between declarations")
    parser.add_argument("--processes", type=int, default=1, help="deliver_webhooks processes")
    parser.add_argument("--receivers", type=int, default=2, help="receiver processes")
    parser.add_argument("--timeout", type=float, default=1800)
    args = parser.parse_args()

    ports = [servers.free_port() for _ in range(args.receivers)]
    secrets = prepare_database(args.declarations, args.endpoints, ports)
    receivers = []
    for port in ports:
        parent, child = multiprocessing.Pipe()
        process = multiprocessing.Process(target=receiver_process, args=(port, secrets, child), daemon=True)
        process.start()
        assert parent.recv() == "ready"
        receivers.append((process, parent))
    deliverers = [
        subprocess.Popen([sys.executable, "manage.py", "deliver_webhooks", "-v0"], cwd=ROOT, env=django_env())
        for _ in range(args.processes)
    ]
    try:
        time.sleep(3)  # the endpoints' tasks subscribe
        started = time.time()
        with multiprocessing.Pool(1) as pool:
            created = pool.apply(declare_all, (args.interval,))
        declared_in = time.time() - started
        expected = args.endpoints * len(created)
        # Wait for every delivery: ask the receivers for their counts from the database's cursors.
        import psycopg

        deadline = time.time() + args.timeout
        last_event = max(created)
        with psycopg.connect(f"{PG}/{DB_NAME}", autocommit=True) as db:
            while time.time() < deadline:
                (behind,) = db.execute(
                    "SELECT count(*) FROM push_webhookendpoint WHERE delivered_cursor < %s", (last_event,)
                ).fetchone()
                if behind == 0:
                    break
                time.sleep(0.5)
        finished = time.time() - started
    finally:
        for process in deliverers:
            process.terminate()
            process.wait(30)
    receipts = []
    for process, conn in receivers:
        conn.send("stop")
        receipts.extend(conn.recv())
        process.join(10)

    lags, duplicates, new_ids, out_of_order, unsigned = [], 0, 0, 0, 0
    seen: dict[tuple[str, int], str] = {}
    last: dict[str, int] = {}
    for path, cursor, delivery_id, arrived, signed in sorted(receipts, key=lambda r: r[3]):
        unsigned += not signed
        if (path, cursor) in seen:
            duplicates += 1
            new_ids += seen[(path, cursor)] != delivery_id
            continue
        seen[(path, cursor)] = delivery_id
        if cursor < last.get(path, 0):
            out_of_order += 1
        last[path] = cursor
        lags.append((arrived - created[cursor]) * 1000)
    print(
        f"endpoints {args.endpoints}, declarations {len(created)} in {declared_in:.1f} s "
        f"(interval {args.interval} s), delivery processes {args.processes}"
    )
    print(
        f"deliveries {len(seen)} of {expected} expected in {finished:.1f} s "
        f"({len(seen) / finished:.0f} a second)"
    )
    if lags:
        print(
            f"lag commit->receipt: p50 {percentile(lags, 0.5):.0f} ms, p95 {percentile(lags, 0.95):.0f} ms, "
            f"p99 {percentile(lags, 0.99):.0f} ms, max {max(lags):.0f} ms"
        )
    print(
        f"lost {expected - len(seen)}, duplicated {duplicates} ({new_ids} with a new delivery id), "
        f"out of order {out_of_order}, "
        f"bad signatures {unsigned}"
    )
    run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"], stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
