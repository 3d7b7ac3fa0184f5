"""Settings, read from the environment.

Defaults are safe for production: DEBUG is off unless ``DEBUG=true`` asks for
it (``bin/demo`` and the tests do), and with DEBUG off the process refuses to
start without a real SECRET_KEY; HTTPS is required (redirect, HSTS, secure
cookies). Everything else defaults to what the demo needs on a laptop: SQLite
in the project folder, the in-memory channel layer. The README's "Production"
section lists the settings of a deployment behind a TLS-terminating proxy,
under which ``manage.py check --deploy`` is clean (a test runs it).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in _TRUE


DEBUG = env_bool("DEBUG", False)

_INSECURE_KEY = "django-insecure-demo-key-do-not-use-in-production"
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (production mode).")
    SECRET_KEY = _INSECURE_KEY
elif not DEBUG and (
    SECRET_KEY == _INSECURE_KEY
    or SECRET_KEY.startswith("django-insecure")
    or len(SECRET_KEY) < 50
    or len(set(SECRET_KEY)) < 5
):
    # Django's own bar (check --deploy, security.W009): 50 characters, 5 different ones.
    raise ImproperlyConfigured("SECRET_KEY is too weak for production: use at least 50 random characters.")

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "").split(",")
    if h.strip()
]
if DEBUG:
    # The test client uses "testserver".
    ALLOWED_HOSTS.append("testserver")

INSTALLED_APPS = [
    # Django's admin with the data desk's site as its default (console/site.py).
    "console.apps.ElectionAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "strawberry_django",
    "results",
    # The data desk's console: the model admins, the site's pages, templates and static files.
    "console",
    # The reference live results pages, on the public API only (/ and /live/...).
    "live",
    "partners",
    "push",
    # The demo (load_demo, demo_admin, generate_demo): its data in files, loaded through results.
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "electionsite.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Ahead of the apps' templates: admin/base_site.html adds the rehearsal banner to every console page.
        "DIRS": [BASE_DIR / "electionsite" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.rehearsal_state",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "electionsite.asgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}

# A pool of PostgreSQL connections per server process (Django's own, on psycopg_pool):
# DATABASE_POOL=N keeps up to N open and lends them to each request in turn. Under ASGI each
# request runs its database work in a thread of its own, so CONN_MAX_AGE's persistent
# connections (one per thread) are never reused: they only pile up until collected. With a
# pool, CONN_MAX_AGE is 0 (Django refuses both).
DATABASE_POOL = int(os.environ.get("DATABASE_POOL", "0"))
if DATABASE_POOL and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL,
        "timeout": 10,  # seconds a request waits for a connection before failing
    }

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py reads time out after 5 s by default, exactly the blocking-pop
            # timeout channels-redis uses, which would drop every WebSocket idle for 5 s.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Subscriptions hear of new events from the channel layer at once, and also
# read the event table this often, in case a notice was lost.
EVENTS_POLL_INTERVAL = float(os.environ.get("EVENTS_POLL_INTERVAL", "2"))

# Webhooks (push/, run by `manage.py deliver_webhooks`). Failed deliveries are retried after
# exponential back-off with jitter from WEBHOOK_RETRY_BASE up to WEBHOOK_RETRY_CAP seconds; an
# endpoint still failing WEBHOOK_PAUSE_AFTER seconds after its first failure is paused. Each POST
# may take WEBHOOK_TIMEOUT seconds. Endpoints must be https://, except hosts in
# WEBHOOK_ALLOW_HTTP_HOSTS (comma-separated; for local receivers in tests) and anything in DEBUG.
WEBHOOK_RETRY_BASE = float(os.environ.get("WEBHOOK_RETRY_BASE", "1"))
WEBHOOK_RETRY_CAP = float(os.environ.get("WEBHOOK_RETRY_CAP", "600"))
WEBHOOK_PAUSE_AFTER = float(os.environ.get("WEBHOOK_PAUSE_AFTER", str(6 * 3600)))
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "10"))
WEBHOOK_ALLOW_HTTP_HOSTS = [
    h.strip() for h in os.environ.get("WEBHOOK_ALLOW_HTTP_HOSTS", "").split(",") if h.strip()
]

# The cache: shared between processes (Redis) when there is more than one, per process otherwise.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "electionsite.cache.RedisCache",  # one pool per process (electionsite/cache.py)
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "electionsite",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The client's address behind the newsroom's reverse proxy (electionsite/net.py):
# the header the proxies set (e.g. X-Forwarded-For; unset: the socket's address,
# as any client can forge the header) and how many trusted proxies append to it.
TRUSTED_PROXY_HEADER = os.environ.get("TRUSTED_PROXY_HEADER", "").strip()
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "1"))

# The public API: "open" lets anonymous clients read under a per-address quota (the
# demo, a newsroom's own pages); "keys" refuses every request without a partner's key.
PUBLIC_API = os.environ.get("PUBLIC_API", "open").strip().lower()
if PUBLIC_API not in ("open", "keys"):
    raise ImproperlyConfigured('PUBLIC_API must be "open" or "keys".')
# Anonymous clients (open mode), per address: requests a minute, concurrent subscriptions.
ANONYMOUS_PER_MINUTE = int(os.environ.get("ANONYMOUS_PER_MINUTE", "300"))
ANONYMOUS_MAX_SUBSCRIPTIONS = int(os.environ.get("ANONYMOUS_MAX_SUBSCRIPTIONS", "100"))

# Seconds of a quota window: partners' quotas are "per minute" (tests shorten it).
QUOTA_WINDOW = int(os.environ.get("QUOTA_WINDOW", "60"))
# Prefix of the quota counters' keys in Redis (processes sharing quotas share it).
QUOTA_NAMESPACE = os.environ.get("QUOTA_NAMESPACE", "electionsite")

# The GraphQL response cache (schema/response_cache.py): a repeated query is answered from the
# answer stored at the latest committed event, until the next one. Off: every answer is computed.
GRAPHQL_RESPONSE_CACHE = env_bool("GRAPHQL_RESPONSE_CACHE", True)

# Seconds a GraphQL request may execute before it is stopped (503).
GRAPHQL_TIMEOUT = float(os.environ.get("GRAPHQL_TIMEOUT", "10"))

# Seconds a WebSocket client may leave more than schema.ws.OUTBOX_HIGH bytes unread before
# its connection is closed with 4008 ("too slow: resume from your last cursor").
WS_STALL_TIMEOUT = float(os.environ.get("WS_STALL_TIMEOUT", "30"))

# The night `replay_night` plays when given no timeline file: the demo's, and the function (a dotted
# path) that first loads the demo's eve of the poll into a database without it. Settings rather than
# imports: results never imports the demo app. Set DEMO_TIMELINE to None to require a file.
DEMO_TIMELINE = BASE_DIR / "demo" / "data" / "night-2023-05-04.jsonl"
DEMO_EVE_LOADER = "demo.loader.load_eve_if_missing"

# Admin login throttling (console/login_throttle.py): this many failures within the window
# per username and address (and per browser that logged in before), and per address.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("LOGIN_ADDRESS_FAILURE_LIMIT", "30"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", str(15 * 60)))

# The data desk's console (results/plausibility.py): figures a slip of the keyboard is the
# likelier cause of are warned about, and need a deliberate second action to publish.
PLAUSIBILITY_DOMINANCE = float(os.environ.get("PLAUSIBILITY_DOMINANCE", "10"))
PLAUSIBILITY_TURNOUT_LOW = float(os.environ.get("PLAUSIBILITY_TURNOUT_LOW", "0.05"))
PLAUSIBILITY_TURNOUT_HIGH = float(os.environ.get("PLAUSIBILITY_TURNOUT_HIGH", "0.90"))
PLAUSIBILITY_CHANGE_FACTOR = float(os.environ.get("PLAUSIBILITY_CHANGE_FACTOR", "2"))
PLAUSIBILITY_REPEAT_DIGITS = int(os.environ.get("PLAUSIBILITY_REPEAT_DIGITS", "3"))
# Two-person check: a declaration typed by one editor is published only once a second
# editor has typed the same figures. Off by default.
TWO_PERSON_CHECK = env_bool("TWO_PERSON_CHECK", False)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `manage.py collectstatic` gathers the static files, which whitenoise serves with DEBUG off.
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# In DEBUG, serve the admin's static files straight from the apps (no collectstatic needed).
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if not DEBUG:
    # HTTPS only. Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER names the
    # header it sets to "https" (e.g. X-Forwarded-Proto); the proxy must overwrite any
    # value a client sent, as it does for TRUSTED_PROXY_HEADER.
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    if _ssl_header := os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip():
        SECURE_PROXY_SSL_HEADER = ("HTTP_" + _ssl_header.upper().replace("-", "_"), "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
