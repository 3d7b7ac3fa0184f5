"""Serving from several processes: the response cache's freshness across them, and bin/serve.

Real uvicorn processes on PostgreSQL and Redis, as production runs them:
a declaration committed here must be visible to the very next request,
whichever process answers it, although each process answers repeated
requests from its cache.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from results import cursor, services

from . import factories as f
from .test_live_servers import _missing, database_url, free_port
from .test_settings import production_env

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.usefixtures("close_thread_connections"),
    pytest.mark.skipif(_missing is not None, reason=_missing or ""),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

PAGE = """query CouncilPage($id: ID!) {
  lastEventId
  election(id: $id) { id seatsDeclared control { called headline } ballots { id status candidacies { name votes } } }
}"""
ELECTION = "local.derby.2023-05-04"


@pytest.fixture(autouse=True)
def shared_cursor(monkeypatch):
    """This process commits for real here: its on_commit hooks raise the cursor in Redis, as
    the admin's would."""
    monkeypatch.setattr(cursor, "use_shared", True)


def page_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/graphql?" + urllib.parse.urlencode(
        {"query": PAGE, "variables": json.dumps({"id": ELECTION})}
    )


def get(url: str, **headers) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def a_council(wards: int):
    e = f.election("derby", seats_total=wards, before={"PP52": (wards, 0)})
    return [
        f.ballot(e, f"Ward {n}", [("Ann Able", "PP53"), ("Bob Baker", "PP52")], previous={"PP52": 1})
        for n in range(wards)
    ]


def declared(body: bytes) -> int:
    return json.loads(body)["data"]["election"]["seatsDeclared"]


def test_a_declaration_is_visible_to_the_very_next_request_in_every_process(servers):
    ballots = a_council(4)
    first, second = servers(), servers()
    urls = [page_url(first.port), page_url(second.port)]
    tags = set()
    for url in urls:
        for _ in range(3):  # computed once, then from the cache
            status, headers, body = get(url)
            assert (status, declared(body)) == (200, 0)
            tags.add(headers["ETag"])
    assert len(tags) == 1  # the same entity in both processes
    [old_tag] = tags
    for n, ballot in enumerate(ballots, start=1):
        services.declare_ballot(ballot, votes=f.votes(ballot, Able=300 + n, Baker=200))
        # The service has returned: its commit is done. The very next request, in either process:
        for url in urls if n % 2 else reversed(urls):
            status, headers, body = get(url, **{"If-None-Match": old_tag})
            assert (status, declared(body)) == (200, n)
            assert json.loads(body)["data"]["lastEventId"] == str(cursor.table())
            assert headers["ETag"] != old_tag
        old_tag = headers["ETag"]
        assert get(urls[0], **{"If-None-Match": old_tag})[0] == 304
        assert get(urls[1], **{"If-None-Match": old_tag})[0] == 304


def test_bin_serve_runs_two_workers_that_share_the_cache_and_its_freshness(tmp_path):
    ballots = a_council(2)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env |= production_env() | {
        "DATABASE_URL": database_url(),
        "REDIS_URL": os.environ["REDIS_URL"],
        "STATIC_ROOT": str(tmp_path / "static"),
        "VENV": str(Path(sys.executable).parent.parent),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": "2",
    }
    server = subprocess.Popen(
        [str(ROOT / "bin" / "serve")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(log := (tmp_path / "serve.log").open("wb")),
        start_new_session=True,
    )
    host = env["ALLOWED_HOSTS"].split(",")[0]
    headers = {"Host": host, env["SECURE_PROXY_SSL_HEADER"]: "https"}
    url = page_url(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, answer, body = get(url, **headers)
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.3)
        assert (status, declared(body)) == (200, 0)
        assert answer["Cache-Control"] == "public, max-age=2, stale-while-revalidate=3"
        assert answer["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        workers = subprocess.run(
            ["pgrep", "-f", "-s", str(server.pid), "multiprocessing.spawn"], capture_output=True, text=True
        ).stdout.split()
        assert len(workers) == 2, workers
        for n, ballot in enumerate(ballots, start=1):
            services.declare_ballot(ballot, votes=f.votes(ballot, Able=300 + n, Baker=200))
            # Each of many connections may land on either worker: all see the declaration.
            for _ in range(8):
                status, _, body = get(url, **headers, Connection="close")
                assert (status, declared(body)) == (200, n)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
