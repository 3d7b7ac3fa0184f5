"""Settings come from the environment; production mode refuses a missing secret."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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
    run = load_settings(DEBUG="false", SECRET_KEY="short")
    assert run.returncode == 1
    assert "SECRET_KEY is too weak" in run.stderr


def test_defaults_are_sqlite_and_the_in_memory_channel_layer():
    run = load_settings()
    assert run.stdout.split() == ["django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer"]


def test_database_and_redis_come_from_the_environment():
    run = load_settings(
        DATABASE_URL="postgres://u@db:5432/results",
        REDIS_URL="redis://cache:6379/0",
        DEBUG="false",
        SECRET_KEY="x" * 40,
    )
    assert run.stdout.split() == ["django.db.backends.postgresql", "channels_redis.core.RedisChannelLayer"]
