"""Benchmark: the council page's query over HTTP, uncached, cached and 304, with 1 and 2 workers.

Serves one council of 60 declared single-member wards (five candidates each)
from uvicorn on PostgreSQL and Redis, production settings (DEBUG off; this
checkout with ``DATABASE_POOL=8``, ``--before`` with a connection per request,
as ``CONN_MAX_AGE`` leaks connections under ASGI), and sends the CouncilPage query of
docs/queries.md as a GET from 32 concurrent keep-alive clients (aiohttp, one
connection each) for a fixed time, printing requests/s, p50 and p99:

- ``uncached``: every answer computed (servers started with
  ``GRAPHQL_RESPONSE_CACHE=false``: what a cache miss costs);
- ``cached``: the same request again and again, nothing published since the
  last event: the response cache answers;
- ``304``: the same, sending the ``ETag`` of the first answer in
  ``If-None-Match`` (what a CDN or browser revalidating does);
- ``miss`` (with ``--miss``): the cached servers, every request with a variable
  no other request sent (unused by the query, so the same answer): each one a
  miss of the response cache, computed, stored and single-flighted (what the
  first request after each event costs).

Each measure runs with one and with two uvicorn worker processes, the measures
interleaved (``--rounds`` times each), the figures of a measure being its
best round's. Clients and servers share this machine's cores (2 on the
development machine): the client process takes a large part of them, so
the figures are a floor.

    /work/venv/bin/python bench/http_serving.py [--seconds 8] [--rounds 2] [--workers 1,2] [--before DIR] [--tuning]

``--before`` also serves another checkout of the project (e.g. main before
this change, from ``git archive``) with the same data and client, its
measures interleaved with this checkout's; ``--tuning`` adds this checkout
with ``PROCESS_TUNING=false`` (garbage-collection tuning off) for the uncached
measure. Needs PostgreSQL
(it creates and drops the database ``$BENCH_DB``, default
``issue_13_cache_bench_http``) and Redis (``$BENCH_REDIS``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import servers

ROOT = Path(__file__).resolve().parent.parent

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "issue_13_cache_bench_http")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/5")
WARDS, CANDIDATES = 60, 5
ELECTION = "local.benchshire.2023-05-04"
CONCURRENCY = 32


def council_page_query() -> str:
    import re

    text = (ROOT / "docs" / "queries.md").read_text()
    return re.search(r"<!-- query: council-page .*? -->\n```graphql\n(.*?)```", text, re.S).group(1)


# Production mode over plain HTTP on the loopback.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + "k3y-" * 20,
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "SECURE_HSTS_SECONDS": "0",
    # Every bench client is anonymous at 127.0.0.1: lift the per-address quota (it is still counted).
    "ANONYMOUS_PER_MINUTE": "100000000",
    "QUOTA_NAMESPACE": f"bench-http-{os.getpid()}",
    "LOG_LEVEL": "WARNING",
}


def django_env(root: Path, **extra) -> dict:
    return servers.django_env(f"{PG}/{DB_NAME}", REDIS, root=root, **(PRODUCTION | extra))


def prepare_database(root: Path) -> None:
    """A fresh database: one council of 60 single-member wards, five candidates each, all declared."""
    servers.fresh_database(PG, DB_NAME, django_env(root, DEBUG="true"), root=root)
    script = f"""
import datetime as dt
from results import services
from results.models import Ballot, Candidacy, Council, Election, Party, Ward
council = Council.objects.create(slug="benchshire", name="Benchshire")
e = Election.objects.create(election_id="{ELECTION}", council=council, poll_date=dt.date(2023, 5, 4))
parties = [Party.objects.get(ec_id=p) for p in ("PP53", "PP52", "PP90", "PP63", "ynmp-party:2")]
services.set_composition(e, seats_total={WARDS}, rows=[(parties[1], {WARDS // 2 + 1}, 0), (parties[0], {WARDS // 2 - 1}, 0)])
for i in range({WARDS}):
    w = Ward.objects.create(council=council, slug=f"ward-{{i}}", name=f"Ward {{i}}")
    b = Ballot.objects.create(ballot_paper_id=f"local.benchshire.ward-{{i}}.2023-05-04", election=e, ward=w)
    cs = [Candidacy.objects.create(ballot=b, person_name=f"Candidate {{i}}-{{j}}", party=p) for j, p in enumerate(parties)]
    services.set_previous_winners(b, [(parties[i % 2], 1)])
    votes = {{c.pk: 300 + ((i * 7 + j * 131) % 900) for j, c in enumerate(cs)}}
    services.declare_ballot(b, votes=votes, electorate=9000, ballot_papers_counted=sum(votes.values()) + 20,
                            rejected_ballots=20)
"""
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        check=True,
        cwd=root,
        env=django_env(root, DEBUG="true"),
    )


class Server(servers.Server):
    """``uvicorn --workers N`` (as bin/serve runs it) on a free port, serving ``root``."""

    def __init__(self, root: Path, workers: int, **env) -> None:
        super().__init__(
            django_env(root, **env),
            workers=workers,
            options=("--no-access-log", "--no-server-header"),
            root=root,
        )

    def start(self, url_path: str) -> Server:
        return super().start(url_path, timeout=60)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's processes (the uvicorn master and its workers)."""
        pids = [self.process.pid]
        children = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True)
        pids += [int(p) for p in children.stdout.split()]
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        super().stop(timeout=15)


async def load(
    url: str, seconds: float, headers: dict[str, str], server: Server, *, unique: bool = False
) -> dict:
    """32 clients, each on its own keep-alive connection, sending GETs back to back for ``seconds``
    (``unique``: each with a variable of its own appended to the URL's)."""
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, force_close=False)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        sent = itertools.count()
        run = uuid.uuid4().hex[:12]  # no key of another run, round or server's (they share Redis)

        def next_url() -> str:
            if not unique:
                return url
            variables = json.dumps({"id": ELECTION, "request": f"{run}-{next(sent)}"})
            return url.split("&variables=")[0] + "&" + urllib.parse.urlencode({"variables": variables})

        async def client(deadline: float) -> None:
            while True:
                started = time.perf_counter()
                if started >= deadline:
                    return
                async with session.get(next_url()) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        # Warm up (connections opened, caches filled), then measure.
        await asyncio.gather(*(client(time.perf_counter() + 1.0) for _ in range(CONCURRENCY)))
        latencies.clear()
        statuses.clear()
        server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(client(start + seconds) for _ in range(CONCURRENCY)))
        elapsed = time.perf_counter() - start
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "statuses": statuses,
        # CPU per request: what the figures would be without the other processes on the machine.
        "server_ms": server_cpu * 1000 / max(1, len(latencies)),
        "client_ms": client_cpu * 1000 / max(1, len(latencies)),
    }


def fetch(url: str) -> tuple[int, object, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers, response.read()


def describe(root: Path) -> str:
    log = subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=root, capture_output=True, text=True)
    return log.stdout.strip()[:70] or f"{root} (not a git checkout)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument(
        "--before", type=Path, help="another checkout (e.g. main before this change), interleaved"
    )
    parser.add_argument(
        "--tuning", action="store_true", help="also this checkout with PROCESS_TUNING=false (uncached only)"
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="LABEL:NAME=VALUE,...",
        help="also this checkout with these environment variables (uncached only), e.g. 'pool:DATABASE_POOL=8'",
    )
    parser.add_argument("--skip-setup", action="store_true", help="reuse the database of the last run")
    parser.add_argument(
        "--miss", action="store_true", help="also misses of the response cache (a new variable each request)"
    )
    parser.add_argument(
        "--measures",
        default="uncached,cached,304",
        help="which measures (uncached, cached, 304; miss with --miss)",
    )
    args = parser.parse_args()

    if not args.skip_setup:
        print(f"preparing {DB_NAME}: {WARDS} wards x {CANDIDATES} candidates, all declared ...", flush=True)
        prepare_database(ROOT)
    query = council_page_query()
    path = "/graphql?" + urllib.parse.urlencode({"query": query, "variables": json.dumps({"id": ELECTION})})
    # (label, root, measures, extra environment)
    # This checkout as the README's production block runs it: a pool of database connections.
    measures = tuple(m for m in args.measures.split(",") if m) + (("miss",) if args.miss else ())
    configs = [("after", ROOT, measures, {"DATABASE_POOL": "8"})]
    if args.tuning:
        configs.append(
            ("after, no gc tuning", ROOT, ("uncached",), {"PROCESS_TUNING": "false", "DATABASE_POOL": "8"})
        )
    for spec in args.config:
        label, _, assignments = spec.partition(":")
        env = dict(a.split("=", 1) for a in assignments.split(",") if a)
        configs.append((label, ROOT, ("uncached",), env))
    if args.before:
        configs.insert(0, ("before", args.before.resolve(), measures, {}))
    for label, root, _, _ in configs:
        print(f"{label}: {describe(root)}")
    print(
        f"GET of {len(path)} bytes of URL; {CONCURRENCY} concurrent clients (one aiohttp process); "
        f"{os.cpu_count()} cores shared by the clients, the servers, PostgreSQL and Redis; "
        f"load average at start {os.getloadavg()[0]:.1f}\n"
    )

    results: dict[tuple[str, int, str], list[dict]] = {}
    for workers in [int(w) for w in args.workers.split(",")]:
        started: list[Server] = []
        try:
            plan = []
            for label, root, measures, env in configs:
                cached = Server(root, workers, **env).start(path)
                uncached = Server(root, workers, GRAPHQL_RESPONSE_CACHE="false", **env).start(path)
                started += [cached, uncached]
                status, headers, body = fetch(f"http://127.0.0.1:{cached.port}{path}")
                assert status == 200 and b'"errors"' not in body, body[:500]
                etag = headers.get("ETag") or '"none"'
                urls = {
                    "uncached": (uncached, path, {}),
                    "cached": (cached, path, {}),
                    "304": (cached, path, {"If-None-Match": etag}),
                    "miss": (cached, path, {}),
                }
                plan += [(label, name, *urls[name]) for name in measures]
            for round_ in range(args.rounds):
                for label, name, server, url_path, headers_ in plan:
                    url = f"http://127.0.0.1:{server.port}{url_path}"
                    figures = asyncio.run(load(url, args.seconds, headers_, server, unique=name == "miss"))
                    results.setdefault((label, workers, name), []).append(figures)
                    print(
                        f"{label:>20} workers {workers} {name:>8} round {round_ + 1}: {figures['rps']:8.1f} req/s  "
                        f"p50 {figures['p50']:7.1f} ms  p99 {figures['p99']:7.1f} ms  "
                        f"cpu/request server {figures['server_ms']:.2f} ms client {figures['client_ms']:.2f} ms  "
                        f"statuses {figures['statuses']}  load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        finally:
            for server in started:
                server.stop()

    print("\nbest round of each (requests/s, p50, p99):")
    for (label, workers, name), rounds in results.items():
        best = max(rounds, key=lambda r: r["rps"])
        print(
            f"  {label:>20} {workers} worker{'s' if workers > 1 else ' '} {name:>8}: {best['rps']:8.1f} req/s  "
            f"p50 {best['p50']:7.1f} ms  p99 {best['p99']:7.1f} ms  server cpu {best['server_ms']:.2f} ms/request  "
            f"(median of rounds {statistics.median(r['rps'] for r in rounds):.1f} req/s)"
        )
    print("\nratios (best rounds):")
    for label, workers, name in results:
        if name == "uncached" or (label, workers, "uncached") not in results:
            continue
        base = max(r["rps"] for r in results[(label, workers, "uncached")])
        best = max(r["rps"] for r in results[(label, workers, name)])
        print(f"  {label:>20} {workers} worker(s): {name} / uncached = {best / base:.1f}x")
    for workers in sorted({w for _, w, _ in results}):
        if ("before", workers, "uncached") in results:
            for label in [c[0] for c in configs if c[0] != "before"]:
                a = max(r["rps"] for r in results[(label, workers, "uncached")])
                b = max(r["rps"] for r in results[("before", workers, "uncached")])
                print(f"  {workers} worker(s): uncached, {label} / before = {a / b:.2f}x")


if __name__ == "__main__":
    main()
