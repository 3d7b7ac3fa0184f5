"""Read speed: this project's API against its peers and against itself before a change.

    .venv/bin/python bench/reads.py --before /tmp/base          # a checkout of the commit to compare with
    .venv/bin/python bench/reads.py --graphene /tmp/venv-graphene/bin/python

Measures, interleaved round by round in one run (each worker process stays up,
so imports and caches are warm; the median of each round's iterations, then
the median over rounds), SQLite, DEBUG off, in-process (no HTTP):

- ``small``: ``election(id){ id ballots { label candidacies { name votes party { name } } } }``,
  60 wards x 5 candidates, all declared;
- ``page``: the CouncilPage query of docs/queries.md, same council;
- ``view``: a hand-written Django view returning the small page's JSON (``small_page_view``);
- ``graphene``: graphene-django 3.2 with hand-written prefetching, the small query, over the
  same models and data (``bench/graphene_peer``; its own virtualenv, as graphene 3 and
  Strawberry cannot share graphql-core: ``--graphene`` names its python, or
  ``--make-graphene DIR`` creates it from the pinned versions below);
- ``national``: docs/queries.md's National query for a full English polling day
  (``bench/fullday.py``, imported through the importers);
- ``elections-*``: ``elections(pollDate:)`` with each ``controlCalled`` (true, false, omitted).

Each tree (``--before`` and this one) gets its own SQLite databases in ``--work``
(built once through that tree's migrations and importers; ``--rebuild`` to redo).
It prints each measure's milliseconds and SQL queries per tree, and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GRAPHENE_PINS = ["Django==5.2.19", "graphene-django==3.2.3", "graphene==3.4.3", "graphql-core==3.2.6"]
POLL_DATE = "2023-05-04"
COUNCIL_ID = "local.benchshire.2023-05-04"

SMALL = "query Small($id: ID!) { election(id: $id) { id ballots { label candidacies { name votes party { name } } } } }"
ELECTIONS = """query Elections($date: Date!, $called: Boolean) {
  elections(pollDate: $date, controlCalled: $called) {
    id council { name } majority seatsDeclared seatsToDeclare
    control { called party { id shortName } outcome headline }
    composition { party { id shortName } seats change seatsNeeded }
  }
}"""


def doc_query(name: str) -> str:
    import re

    text = (ROOT / "docs" / "queries.md").read_text()
    for found, _variables, query in re.findall(
        r"<!-- query: (\S+) variables: (.*?) -->\n```graphql\n(.*?)```", text, re.S
    ):
        if found == name:
            return query
    raise SystemExit(f"no query {name} in docs/queries.md")


# ---------------------------------------------------------------- data


def council_csvs(out: Path, wards: int = 60, candidates: int = 5) -> None:
    """One council of ``wards`` single-member wards with ``candidates`` each, all declared."""
    parties = [("PP53", "Labour Party"), ("PP52", "Conservative and Unionist Party"), ("PP90", "Liberal Democrats"),
               ("PP63", "Green Party"), ("ynmp-party:2", "Independent")]  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "person_id,person_name,party_id,party_name,election_id,ballot_paper_id,post_label,seats_contested,"
        "votes_cast,organisation_name,electorate,ballot_papers_counted,rejected_ballots"
    ]
    for w in range(wards):
        votes = [1000 + 97 * ((w * 7 + c * 13) % 23) + c for c in range(candidates)]
        papers = sum(votes) + 12
        for c in range(candidates):
            party, name = parties[(w + c) % len(parties)]
            lines.append(
                f"bench-{w}-{c},Candidate {c} Ward {w},{party},{name},{COUNCIL_ID},"
                f"local.benchshire.ward-{w:02d}.{POLL_DATE},Ward {w:02d},1,{votes[c]},"
                f"Benchshire,{papers * 3},{papers},12"
            )
    (out / "council-candidates.csv").write_text("\n".join(lines) + "\n")
    (out / "council-composition.csv").write_text(
        "election_id,organisation_name,seats_total,party_id,seats_before,seats_not_up\n"
        f"{COUNCIL_ID},Benchshire,{wards},PP52,{wards // 2 + 1},0\n"
        f"{COUNCIL_ID},Benchshire,{wards},PP53,{wards - wards // 2 - 1},0\n"
    )


def build(tree: Path, db: Path, dataset: str, work: Path, councils: int) -> None:
    """Migrate a fresh database with ``tree``'s code and import ``dataset`` through its importers."""
    final, db = db, db.with_suffix(".building")
    if db.exists():
        db.unlink()
    env = _env(tree, db)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=tree, env=env, check=True)
    code = (
        f"import django, sys; django.setup(); sys.path.insert(0, {str(HERE)!r});"
        "from pathlib import Path; from results import importers; import fullday\n"
        f"d = Path({str(work)!r})\n"
        f"if {dataset!r} == 'council':\n"
        "    importers.import_composition(open(d / 'council-composition.csv'))\n"
        "    importers.import_candidates(open(d / 'council-candidates.csv'))\n"
        "else:\n"
        f"    fullday.import_day(d / 'day{councils}')\n"
    )
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=tree, env=env, check=True)
    db.rename(final)  # only a complete import is ever used
    print(f"  built {final.name} in {time.perf_counter() - started:.0f} s", flush=True)


def _env(tree: Path, db: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(
        DATABASE_URL=f"sqlite:///{db}",
        DJANGO_SETTINGS_MODULE="electionsite.settings",
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 60,
        PYTHONPATH=str(tree),
    )
    return env


# ---------------------------------------------------------------- worker side


def small_page_view(request, election_id: str):
    """The small page by hand: three queries of plain values, JSON built in Python."""
    from django.http import JsonResponse

    from results.models import Ballot, Candidacy, Election, Party

    election = Election.objects.filter(election_id=election_id).values("pk", "election_id").first()
    ballots = list(
        Ballot.objects.filter(election_id=election["pk"])
        .order_by()
        .values("pk", "status", "ward__name", "ballot_paper_id")
    )
    names = dict(Party.objects.values_list("pk", "name"))
    by_ballot: dict[int, list] = {b["pk"]: [] for b in ballots}
    for row in (
        Candidacy.objects.filter(ballot__election_id=election["pk"])
        .order_by()
        .values_list("ballot_id", "person_name", "votes", "party_id", "elected")
    ):
        by_ballot[row[0]].append(row)
    out = []
    for b in sorted(ballots, key=lambda b: (b["ward__name"] or "", b["ballot_paper_id"])):
        published = b["status"] in ("declared", "uncontested")
        rows = sorted(by_ballot[b["pk"]], key=lambda r: (not r[4], -(r[2] or 0), r[1]))
        out.append(
            {
                "label": b["ward__name"],
                "candidacies": [
                    {"name": r[1], "votes": r[2] if published else None, "party": {"name": names[r[3]]}}
                    for r in rows
                ],
            }
        )
    return JsonResponse({"data": {"election": {"id": election["election_id"], "ballots": out}}})


def worker(kind: str) -> None:
    """Answer ``<measure> <iterations>`` lines with the timings, as JSON lines."""
    import django

    django.setup()
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    if kind == "graphene":
        from bench.graphene_peer.schema import schema as peer

        def small():
            result = peer.execute(SMALL, variables={"id": COUNCIL_ID})
            assert not result.errors, result.errors
            return result.data

        measures = {"graphene": small}
    else:
        from schema import schema

        def run(query, db, **variables):
            def call():
                result = schema.execute_sync(query, variable_values=variables)
                assert not result.errors, result.errors
                return result.data

            return db, call

        page = doc_query("council-page")
        national = doc_query("national")
        request = RequestFactory().get("/")
        measures = {
            "small": run(SMALL, "council", id=COUNCIL_ID),
            "page": run(page, "council", id=COUNCIL_ID),
            "view": ("council", lambda: small_page_view(request, COUNCIL_ID).content),
            "national": run(national, "day", date=POLL_DATE),
            "elections-called": run(ELECTIONS, "day", date=POLL_DATE, called=True),
            "elections-not-called": run(ELECTIONS, "day", date=POLL_DATE, called=False),
            "elections-all": run(ELECTIONS, "day", date=POLL_DATE, called=None),
        }
    databases = json.loads(os.environ["BENCH_DATABASES"])
    from django.conf import settings

    current = None
    for line in sys.stdin:
        name, iterations = line.split()
        entry = measures[name]
        db, call = entry if isinstance(entry, tuple) else ("council", entry)
        if current != db:
            connection.close()
            settings.DATABASES["default"]["NAME"] = databases[db]
            current = db
            try:  # the process's shared parties belong to the other database
                from results import parties

                parties._loaded = None
            except ImportError:  # the code before they were shared
                pass
        call()  # warm
        with CaptureQueriesContext(connection) as ctx:
            call()
        times = []
        for _ in range(int(iterations)):
            started = time.perf_counter()
            call()
            times.append((time.perf_counter() - started) * 1000)
        print(json.dumps({"ms": statistics.median(times), "queries": len(ctx.captured_queries)}), flush=True)


# ---------------------------------------------------------------- driver


class Worker:
    def __init__(self, label: str, python: str, tree: Path, databases: dict, kind: str, settings: str):
        self.label = label
        env = _env(tree, Path(databases["council"]))
        env.update(
            BENCH_DATABASES=json.dumps(databases),
            BENCH_DB=databases["council"],
            DJANGO_SETTINGS_MODULE=settings,
            PYTHONPATH=os.pathsep.join([str(tree), str(ROOT)]),
        )
        self.process = subprocess.Popen(
            [python, str(HERE / "reads.py"), "--worker", kind],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def measure(self, name: str, iterations: int) -> dict:
        self.process.stdin.write(f"{name} {iterations}\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"worker {self.label} ended")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--before", type=Path, help="a checkout of the code to compare with")
    parser.add_argument("--graphene", help="python of a virtualenv with " + " ".join(GRAPHENE_PINS))
    parser.add_argument("--make-graphene", type=Path, help="create that virtualenv here first")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-reads"))
    parser.add_argument("--councils", type=int, default=230, help="councils of the polling day")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--day-iterations", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--measures", default="small,graphene,page,view,national,elections-called,"
                        "elections-not-called,elections-all")  # fmt: skip
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    sys.path.insert(0, str(HERE))
    import fullday

    args.work.mkdir(parents=True, exist_ok=True)
    council_csvs(args.work)
    if not (args.work / f"day{args.councils}" / "candidates.csv").exists():
        print("day:", fullday.write_day(args.work / f"day{args.councils}", args.councils), flush=True)
    if args.make_graphene:
        subprocess.run([sys.executable, "-m", "venv", str(args.make_graphene)], check=True)
        subprocess.run([str(args.make_graphene / "bin" / "pip"), "install", "-q", *GRAPHENE_PINS], check=True)
        args.graphene = str(args.make_graphene / "bin" / "python")
    measures = args.measures.split(",")
    trees = [("now", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    workers = []
    for label, tree in trees:
        databases = {}
        for dataset in ("council", "day"):
            db = args.work / f"{label}-{dataset}{args.councils if dataset == 'day' else ''}.sqlite3"
            if args.rebuild or not db.exists():
                build(tree, db, dataset, args.work, args.councils)
            databases[dataset] = str(db)
        workers.append(
            (Worker(label, sys.executable, tree, databases, "project", "electionsite.settings"), databases)
        )
    graphene = None
    if args.graphene and "graphene" in measures:
        graphene = Worker(
            "graphene", args.graphene, ROOT, workers[0][1], "graphene", "bench.graphene_peer.settings"
        )
    results: dict[tuple[str, str], list] = {}
    for round_ in range(args.rounds):
        for name in measures:
            iterations = (
                args.day_iterations if name.startswith(("national", "elections")) else args.iterations
            )
            runners = [w for w, _ in workers] if name != "graphene" else ([graphene] if graphene else [])
            if round_ % 2:
                runners = runners[::-1]
            for w in runners:
                results.setdefault((name, w.label), []).append(w.measure(name, iterations))
        print(f"round {round_ + 1} of {args.rounds} done", flush=True)
    for w, _ in workers:
        w.close()
    if graphene:
        graphene.close()

    def figure(name, label):
        runs = results.get((name, label))
        if not runs:
            return None
        return statistics.median(r["ms"] for r in runs), runs[-1]["queries"]

    print(f"\n{'measure':22} {'tree':8} {'ms':>9} {'queries':>8}")
    for name in measures:
        for label in ["now", "before", "graphene"]:
            if (f := figure(name, label)) is not None:
                print(f"{name:22} {label:8} {f[0]:9.2f} {f[1]:8d}")
    print()
    now = {name: figure(name, "now") for name in measures}
    before = {name: figure(name, "before") for name in measures}
    if now.get("small") and (g := figure("graphene", "graphene")):
        print(f"small, now / graphene-django:         {now['small'][0] / g[0]:.2f}x   (goal <= 1.0x)")
        if before.get("small"):
            print(f"small, before / graphene-django:      {before['small'][0] / g[0]:.2f}x")
    if now.get("page") and now.get("view"):
        print(
            f"CouncilPage, now / hand-written view: {now['page'][0] / now['view'][0]:.2f}x   (goal <= 2.5x, <= 15 ms)"
        )
        if before.get("page"):
            print(f"CouncilPage, before / hand-written:   {before['page'][0] / now['view'][0]:.2f}x")
    for name in measures:
        if now.get(name) and before.get(name):
            print(f"{name:22} now / before: {now[name][0] / before[name][0]:.3f}")


if __name__ == "__main__":
    main()
