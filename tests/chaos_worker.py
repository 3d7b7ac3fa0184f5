"""One process of the chaos test (test_chaos.py): a desk, the admin over HTTP, posts, an import, a timer.

Run as ``python -m tests.chaos_worker ROLE OUT.json SEED SECONDS [ARGS...]`` against the
database in DATABASE_URL. It writes what it did to OUT.json: every change it
made with the id of its event, every refusal (a ``ValidationError``: someone
else changed the ballot first, which is allowed), and every failure (any other
exception, or an HTTP answer of 500 or more: never allowed).
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.core.exceptions import ValidationError  # noqa: E402

from results import services  # noqa: E402
from results.importers import import_candidates  # noqa: E402
from results.models import Ballot, Post  # noqa: E402

STATUSES = ["awaiting", "counting", "recount", "postponed"]


class Log:
    def __init__(self):
        self.changes: list[dict] = []
        self.refused: list[str] = []
        self.failures: list[str] = []
        self.extra: dict = {}

    def run(self, op: str, fn, **info):
        try:
            result = fn()
        except ValidationError as exc:
            self.refused.append(f"{op}: {exc.messages[0] if exc.messages else exc}")
            return None
        except Exception:  # noqa: BLE001 - every other exception is what the test looks for
            self.failures.append(f"{op} {info}: {traceback.format_exc()}")
            return None
        events = result if isinstance(result, list) else [result]
        for event in events:
            if event is not None and hasattr(event, "kind"):
                self.changes.append({"op": op, "event": event.pk, "kind": event.kind, **info})
        return result

    def dump(self, path: str) -> None:
        with open(path, "w") as out:
            json.dump(
                {"changes": self.changes, "refused": self.refused, "failures": self.failures, **self.extra},
                out,
            )


def random_votes(ballot: Ballot, rng: random.Random) -> dict[int, int]:
    # Distinct numbers: no tie at the cut-off, so every declaration is valid.
    numbers = rng.sample(range(10, 5000), ballot.candidacies.count())
    return dict(zip(ballot.candidacies.order_by("pk").values_list("pk", flat=True), numbers, strict=True))


def desk(log: Log, rng: random.Random, until: float, pks: list[int]) -> None:
    """Declare, correct, retract and change statuses of these ballots, racing the other desks."""
    while time.monotonic() < until:
        pk = rng.choice(pks)
        ballot = Ballot.objects.get(pk=pk)
        version = ballot.version
        if ballot.is_published:
            if rng.random() < 0.6:
                log.run(
                    "correct",
                    lambda b=ballot, v=version: services.correct_ballot(
                        b.pk, votes=random_votes(b, rng), expected_version=v, reason="re-read at the count"
                    ),
                    ballot=pk,
                )
            else:
                log.run(
                    "retract",
                    lambda v=version, pk=pk: services.retract_declaration(pk, expected_version=v),
                    ballot=pk,
                )
        elif ballot.status == "postponed" or rng.random() < 0.3:
            status = rng.choice([s for s in STATUSES if s != ballot.status])
            log.run(
                "status",
                lambda v=version, s=status, pk=pk: services.set_ballot_status(pk, s, expected_version=v),
                ballot=pk,
            )
        else:
            log.run(
                "declare",
                lambda b=ballot, v=version: services.declare_ballot(
                    b.pk, votes=random_votes(b, rng), expected_version=v
                ),
                ballot=pk,
            )
        time.sleep(rng.uniform(0, 0.03))


def admin(
    log: Log, rng: random.Random, until: float, base: str, username: str, password: str, pks: list[int]
):
    """Change ballots' statuses through the admin of a real server process, as an editor would."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def fetch(path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(base + path, data=body, headers={"Referer": base + path})
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")

    def token(html: str) -> str:
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)

    status, page = fetch("/admin/login/")
    status, page = fetch(
        "/admin/login/?next=/admin/",
        {"csrfmiddlewaretoken": token(page), "username": username, "password": password, "next": "/admin/"},
    )
    if status != 200 or "log out" not in page.lower():
        log.failures.append(f"admin login failed: {status}")
        return
    http_ok = 0
    while time.monotonic() < until:
        pk = rng.choice(pks)
        path = f"/admin/results/ballot/{pk}/change/"
        status, page = fetch(path)
        if status >= 500:
            log.failures.append(f"GET {path}: HTTP {status}")
            continue
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        current = Ballot.objects.values_list("status", flat=True).get(pk=pk)
        wanted = rng.choice([s for s in STATUSES if s != current])
        # urllib follows the redirect after a successful POST: 200 on the ballot's page.
        status, page = fetch(
            path, {"csrfmiddlewaretoken": token(page), "version": version, "_status": wanted}
        )
        if status >= 500:
            log.failures.append(f"POST {path} {wanted}: HTTP {status}")
        elif "was changed by" in page or 'class="errornote' in page:
            log.refused.append(f"admin status {wanted}: refused")
        else:
            http_ok += 1
        time.sleep(rng.uniform(0, 0.05))
    log.extra["http_changes"] = http_ok


def posts(log: Log, rng: random.Random, until: float) -> None:
    """Draft, publish, update and withdraw live posts."""
    mine: list[int] = []
    n = 0
    while time.monotonic() < until:
        if not mine or rng.random() < 0.2:
            n += 1
            post = services.save_post(Post(), changes={"headline": f"Chaos post {os.getpid()}-{n}"})
            mine.append(post.pk)
            continue
        post = Post.objects.get(pk=rng.choice(mine))
        if post.status == Post.Status.PUBLISHED:
            if rng.random() < 0.6:
                n += 1
                log.run(
                    "post_update",
                    lambda p=post, n=n: (
                        services.save_post(
                            p,
                            changes={"headline": f"Chaos post {os.getpid()}-{n}"},
                            expected_version=p.version,
                        )
                        .events.order_by("-id")
                        .first()
                    ),
                    post=post.pk,
                )
            else:
                log.run(
                    "post_withdraw",
                    lambda p=post: services.withdraw_post(p, expected_version=p.version),
                    post=post.pk,
                )
        else:
            log.run(
                "post_publish",
                lambda p=post: services.publish_post(p, expected_version=p.version),
                post=post.pk,
            )
        time.sleep(rng.uniform(0, 0.03))


def importer(log: Log, rng: random.Random, until: float, *files: str) -> None:
    """Import candidate files one after another, timing each."""
    runs = []
    for name in files:
        with open(name, "rb") as source:
            content = source.read()
        started = time.time()
        report = log.run("import", lambda c=content: import_candidates(c))
        runs.append(
            {"file": name, "started": started, "ended": time.time(), "events": report.events if report else 0}
        )
    log.extra["imports"] = runs


def timer(log: Log, rng: random.Random, until: float, pks: list[int]) -> None:
    """Declare another council's ballots one by one, timing each declaration, and the part of it
    spent waiting for locks (the statements that take them: the rows, then the event log)."""
    from django.db import connection

    timings = []
    waited = [0.0]

    def time_locks(execute, sql, params, many, context):
        if "FOR NO KEY UPDATE" not in sql and "pg_advisory_xact_lock" not in sql:
            return execute(sql, params, many, context)
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            waited[0] += time.perf_counter() - t0

    with connection.execute_wrapper(time_locks):
        for pk in pks:
            if time.monotonic() >= until:
                break
            ballot = Ballot.objects.get(pk=pk)
            votes = random_votes(ballot, rng)
            started, waited[0] = time.time(), 0.0
            t0 = time.perf_counter()
            log.run("timed_declare", lambda b=pk, v=votes: services.declare_ballot(b, votes=v), ballot=pk)
            timings.append({"started": started, "seconds": time.perf_counter() - t0, "locks": waited[0]})
            time.sleep(0.1)
    log.extra["timings"] = timings


def main(argv: list[str]) -> None:
    role, out, seed, seconds, *args = argv
    rng = random.Random(int(seed))
    until = time.monotonic() + float(seconds)
    log = Log()
    try:
        if role == "desk":
            desk(log, rng, until, [int(pk) for pk in args[0].split(",")])
        elif role == "admin":
            admin(log, rng, until, args[0], args[1], args[2], [int(pk) for pk in args[3].split(",")])
        elif role == "posts":
            posts(log, rng, until)
        elif role == "importer":
            importer(log, rng, until, *args)
        elif role == "timer":
            timer(log, rng, until, [int(pk) for pk in args[0].split(",")])
        else:
            raise SystemExit(f"unknown role {role}")
    except Exception:  # noqa: BLE001
        log.failures.append(f"{role} crashed: {traceback.format_exc()}")
    log.dump(out)


if __name__ == "__main__":
    main(sys.argv[1:])
