"""How long a large import takes, and how long it makes another council's declarations wait.

Imports one election of N declared wards (default 600) from a candidates CSV
while another process declares another council's wards one after another,
timing each declaration. Run it against PostgreSQL (the database named by
DATABASE_URL gets two new councils, named after the time, so runs never
collide):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench .venv/bin/python bench/import_stall.py --ballots 600

It prints the import's time and the declarations' waits (median and longest).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "electionsite.settings")
os.environ.setdefault("DEBUG", "true")  # a benchmark, not a deployment: no production secret needed

HEADER = (
    "person_id,person_name,party_id,party_name,party_description_text,election_id,"
    "ballot_paper_id,post_label,seats_contested,votes_cast,elected\n"
)


def candidates_csv(slug: str, wards: int, *, with_votes: bool) -> str:
    eid = f"local.{slug}.2023-05-04"
    lines = [HEADER]
    for w in range(wards):
        bid = f"local.{slug}.ward-{w}.2023-05-04"
        a, b = (f"{500 + w % 7}", "400") if with_votes else ("", "")
        lines.append(f"{slug}-{w}-1,Ann Able {w},PP53,Labour Party,,{eid},{bid},Ward {w},1,{a},\n")
        lines.append(
            f"{slug}-{w}-2,Bob Baker {w},PP52,Conservative and Unionist Party,,{eid},{bid},Ward {w},1,{b},\n"
        )
        lines.append(
            f"{slug}-{w}-3,Cy Cole {w},PP90,Liberal Democrats,,{eid},{bid},Ward {w},1,{'30' if a else ''},\n"
        )
    return "".join(lines)


def declare_loop(slug: str, started, stop, results, baseline) -> None:
    """Declare the other council's wards one by one until told to stop; record each one's time.

    The first ten are declared before the import starts, for a baseline."""
    import django

    django.setup()
    from results import services
    from results.models import Ballot

    ballots = list(
        Ballot.objects.filter(election__election_id=f"local.{slug}.2023-05-04")
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    from django.db import connection

    locked = [0.0]

    def time_locks(execute, sql, params, many, context):
        # The statements that take locks: the time they take is time spent waiting for others.
        if "FOR NO KEY UPDATE" not in sql and "pg_advisory_xact_lock" not in sql:
            return execute(sql, params, many, context)
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            locked[0] += time.perf_counter() - t0

    waits = []
    with connection.execute_wrapper(time_locks):
        for i, pk in enumerate(ballots):
            if i == 10:
                baseline.extend(waits)
                waits = []
                started.set()
            if stop.is_set():
                break
            ballot = Ballot.objects.get(pk=pk)
            votes = {c.pk: 100 + i for i, c in enumerate(ballot.candidacies.order_by("pk"))}
            locked[0] = 0.0
            t0 = time.perf_counter()
            services.declare_ballot(pk, votes=votes)
            waits.append((time.perf_counter() - t0, locked[0]))
            time.sleep(0.05)
    results.extend(waits)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ballots", type=int, default=600)
    parser.add_argument(
        "--other-wards", type=int, default=400, help="wards of the council declaring meanwhile"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connections

    from results.importers import import_candidates

    stamp = time.strftime("%H%M%S")
    big, other = f"bench-import-{stamp}", f"bench-other-{stamp}"
    import_candidates(candidates_csv(other, args.other_wards, with_votes=False))
    connections.close_all()

    manager = multiprocessing.Manager()
    started, stop, results, baseline = manager.Event(), manager.Event(), manager.list(), manager.list()
    desk = multiprocessing.Process(target=declare_loop, args=(other, started, stop, results, baseline))
    desk.start()
    started.wait(60)
    source = candidates_csv(big, args.ballots, with_votes=True)
    t0 = time.perf_counter()
    report = import_candidates(source)
    elapsed = time.perf_counter() - t0
    stop.set()
    desk.join(120)
    waits, before = list(results), list(baseline)
    print(f"import of {args.ballots} declared ballots: {elapsed:.1f} s ({report.events} events)")
    for label, timings in (("before it", before), ("during it", waits)):
        if not timings:
            continue
        total = [t for t, _ in timings]
        locks = [w for _, w in timings]
        print(
            f"another council's declarations {label}: {len(timings)}, median {statistics.median(total) * 1000:.0f} ms, "
            f"longest {max(total) * 1000:.0f} ms; longest wait for locks {max(locks) * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
