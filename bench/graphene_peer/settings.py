"""Django settings for the graphene-django peer: this project's models only, on the benchmark's database."""

import os

SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes", "graphene_django", "results"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["BENCH_DB"]}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
GRAPHENE = {"SCHEMA": "bench.graphene_peer.schema.schema"}
