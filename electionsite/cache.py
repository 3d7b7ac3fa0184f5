"""Django's Redis cache, with one client (and so one pool of connections) per process.

Django keeps a cache backend per async context (``django.core.cache.caches`` is
an asgiref ``Local``), and under ASGI every request is a context of its own:
each request built a new ``RedisCacheClient`` with a new connection pool, and
its first cache read (the rehearsal state, the parties' generation) opened a new
TCP connection to Redis and introduced itself (``CLIENT SETINFO``, which looks
redis-py's version up in the installed packages' metadata): about a tenth of an
uncached page's server time (BENCHMARKS.md, "HTTP serving"). Here every backend
of the same location and options shares one client, whose pool is thread-safe
and keeps its connections between requests.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    """``django.core.cache.backends.redis.RedisCache`` whose client is the process's, not the context's."""

    @property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.get(key)
                if client is None:
                    client = _clients[key] = self._class(self._servers, **self._options)
        return client
