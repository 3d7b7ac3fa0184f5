"""Settings come from the environment; production mode refuses a missing secret."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "k3y-" + "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ" * 2


def load_settings(**env) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL"}
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import electionsite.settings as s; print(s.DATABASES['default']['ENGINE'], "
            "s.CHANNEL_LAYERS['default']['BACKEND'])",
        ],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_mode_refuses_to_start_without_a_secret_key():
    run = load_settings(DEBUG="false")
    assert run.returncode == 1
    assert "SECRET_KEY must be set when DEBUG is off" in run.stderr


def test_production_mode_refuses_a_short_secret_key():
    for weak in ("short", "x" * 60, "django-insecure-" + "abcdefghij" * 5):
        run = load_settings(DEBUG="false", SECRET_KEY=weak)
        assert run.returncode == 1
        assert "SECRET_KEY is too weak for production: use at least 50 random characters." in run.stderr


def test_defaults_are_sqlite_and_the_in_memory_channel_layer():
    run = load_settings(DEBUG="true")
    assert run.stdout.split() == ["django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer"]


def test_database_and_redis_come_from_the_environment():
    run = load_settings(
        DATABASE_URL="postgres://u@db:5432/results",
        REDIS_URL="redis://cache:6379/0",
        DEBUG="false",
        SECRET_KEY=SECRET,
    )
    assert run.stdout.split() == ["django.db.backends.postgresql", "channels_redis.core.RedisChannelLayer"]


# ---------------------------------------------------------------- production defaults


def production_env() -> dict[str, str]:
    """The production settings README.md documents (its "Production" block), with a real-looking secret."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- production-env -->", 2)[1]
    env = {}
    for line in block.splitlines():
        line = line.strip()
        if "=" in line and not line.startswith(("#", "`")):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    env["SECRET_KEY"] = SECRET
    return env


def manage(*args, tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={
            **clean,
            **env,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "REDIS_URL": "",
            "STATIC_ROOT": str(tmp_path / "static"),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_debug_is_off_unless_asked_for():
    run = subprocess.run(
        [sys.executable, "-c", "import electionsite.settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT)"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
        | {"SECRET_KEY": SECRET},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.stdout.split() == ["False", "True"], run.stderr


def test_the_documented_production_settings_pass_every_deployment_check(tmp_path):
    env = production_env()
    assert manage("collectstatic", "--no-input", "-v", "0", tmp_path=tmp_path, **env).returncode == 0
    run = manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path, **env)
    assert (run.returncode, run.stdout.strip()) == (0, "System check identified no issues (0 silenced)."), (
        run.stderr
    )


def test_the_deployment_check_fails_until_static_files_are_collected(tmp_path):
    run = manage("check", "--deploy", tmp_path=tmp_path, **production_env())
    assert run.returncode == 1
    assert "electionsite.E001" in run.stderr
    assert "collectstatic" in run.stderr


def test_a_production_server_serves_the_admin_and_its_static_files_over_https_only(tmp_path):
    import re
    import socket
    import time
    import urllib.error
    import urllib.request

    env = production_env()
    assert manage("migrate", "--no-input", "-v", "0", tmp_path=tmp_path, **env).returncode == 0
    assert manage("collectstatic", "--no-input", "-v", "0", tmp_path=tmp_path, **env).returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "electionsite.asgi:application",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--ws-per-message-deflate",  # off, as bin/serve and bin/demo
            "false",
        ],
        cwd=ROOT,
        env={
            **clean,
            **env,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "STATIC_ROOT": str(tmp_path / "static"),
            "REDIS_URL": "",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    host = env["ALLOWED_HOSTS"].split(",")[0]
    proto = env["SECURE_PROXY_SSL_HEADER"]

    def get(path, **headers):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host, **headers})
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode(errors="replace")

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, headers, body = get("/admin/login/", **{proto: "https"})
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()
                time.sleep(0.2)
        assert status == 200
        assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
        assert "Secure" in headers["Set-Cookie"]
        css = re.search(r'href="(/static/admin/css/base\.[0-9a-f]{12}\.css)"', body)
        assert css, body[:2000]
        assert get(css.group(1), **{proto: "https"})[0] == 200
        # Plain HTTP is sent to HTTPS; an unknown page is a plain 404, no debug page.
        status, headers, _ = get("/admin/login/")
        assert (status, headers["Location"]) == (301, f"https://{host}/admin/login/")
        status, _, body = get("/no-such-page/", **{proto: "https"})
        assert status == 404 and "Traceback" not in body and "DEBUG" not in body
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.pure
def test_every_server_start_turns_websocket_compression_off():
    """Per-message deflate costs the server CPU per message per socket (BENCHMARKS.md):
    production, the demo, the tests and the benchmarks all serve without it."""
    for path in [
        "bin/serve",
        "bin/demo",
        "bench/servers.py",  # the servers of tests/test_live_servers.py and of the benchmarks
        "tests/test_chaos.py",
        "tests/test_settings.py",
    ]:
        text = (ROOT / path).read_text()
        assert re.search(r'--ws-per-message-deflate"?,?(\s*#[^\n]*)?\s*\\?\s*"?false', text), path
