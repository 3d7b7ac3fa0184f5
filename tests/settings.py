"""The tests' settings: the project's, in development mode (DEBUG on) unless the environment says otherwise.

Django's test runner turns DEBUG off while the tests run anyway; development
mode spares the tests a production SECRET_KEY. The production defaults are
tested in test_settings.py, in processes of their own.

Under pytest-xdist (``-n 2``) each worker has its own test database (pytest-django names it
``test_<name>_gw<N>``) and, here, its own Redis database: the number in REDIS_URL plus the worker's,
so one worker's cache, cursor and channel-layer groups never meet another's. The server processes
the tests start inherit it through the environment.
"""

import os
import re

os.environ.setdefault("DEBUG", "true")

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
# Once: the server processes the tests start inherit the worker's variables and may load these settings too.
if _worker.startswith("gw") and os.environ.get("REDIS_URL") and not os.environ.get("TESTS_REDIS_WORKER"):
    os.environ["TESTS_REDIS_WORKER"] = _worker
    _url = os.environ["REDIS_URL"]
    _match = re.fullmatch(r"(redis://[^/]+)(?:/(\d+))?", _url)
    if not _match:
        raise RuntimeError(f"REDIS_URL {_url!r}: tests under xdist need redis://host:port[/db]")
    os.environ["REDIS_URL"] = f"{_match[1]}/{int(_match[2] or 0) + int(_worker[2:])}"

from electionsite.settings import *  # noqa: E402, F403
