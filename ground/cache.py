"""The shared cache (Flask-Caching): Redis when REDIS_URL (or CACHE_REDIS_URL) is set, so every worker and host sees
one cache; else SimpleCache, one process's memory (the embedded default). docs/OPERATIONS.md "Shared cache".

Values are JSON (text in Redis, never pickle: what comes back from Redis is data, not code). A cache that fails
(Redis down) never breaks a page: `get` answers "missing", `set`/`delete` do nothing, one warning is logged per
outage, and the cache is not asked again for CACHE_RETRY_SECONDS; the caller computes the value itself.
"""
import json
import logging
import time

from flask import current_app, has_app_context

from ground.extensions import cache

log = logging.getLogger(__name__)
_MISSING = object()


class TextSerializer:
    """cachelib's Redis serializer without pickle: text in, text out."""

    def dumps(self, value, protocol=None) -> bytes:
        return str(value).encode("utf-8")

    def loads(self, value):
        return None if value is None else value.decode("utf-8", errors="replace")


def init_app(app) -> None:
    extra = {}
    if "Redis" in str(app.config.get("CACHE_TYPE")) and not app.config.get("CACHE_OPTIONS"):
        seconds = app.config.get("CACHE_REDIS_TIMEOUT_SECONDS", 0.5)
        extra["CACHE_OPTIONS"] = {"socket_connect_timeout": seconds, "socket_timeout": seconds}
    cache.init_app(app, config=extra)
    backend = app.extensions["cache"][cache]
    if hasattr(backend, "serializer") and "Redis" in type(backend).__name__:
        backend.serializer = TextSerializer()
    app.extensions["cache_outage"] = {"until": float("-inf"), "warned": False}


def _state():
    return current_app.extensions.get("cache_outage")


def _available() -> bool:
    state = _state() if has_app_context() else None
    return state is not None and time.monotonic() >= state["until"]


def _ok():
    state = _state()
    if state["warned"]:
        state["warned"] = False
        log.info("shared cache answers again")


def _failed(exc: Exception):
    state = _state()
    state["until"] = time.monotonic() + current_app.config.get("CACHE_RETRY_SECONDS", 30)
    if not state["warned"]:
        state["warned"] = True
        log.warning("shared cache unavailable (%s); computing without it", type(exc).__name__)


def get(key: str, default=None):
    """The value stored under `key`, or `default` when there is none or the cache fails."""
    if not _available():
        return default
    try:
        raw = cache.get(key)
    except Exception as exc:  # noqa: BLE001 — any cache failure: compute instead
        _failed(exc)
        return default
    _ok()
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return default


def set(key: str, value, timeout: int | None = None) -> None:  # noqa: A001 — the cache's own word
    if not _available():
        return
    try:
        cache.set(key, json.dumps(value, separators=(",", ":"), ensure_ascii=False), timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        _failed(exc)
        return
    _ok()


def delete(key: str) -> None:
    if not _available():
        return
    try:
        cache.delete(key)
    except Exception as exc:  # noqa: BLE001
        _failed(exc)
        return
    _ok()


def cached(key: str, compute, timeout: int | None = None):
    """The cached value of `key`, or compute() stored for `timeout` seconds (JSON-able values only)."""
    found = get(key, _MISSING)
    if found is not _MISSING:
        return found
    value = compute()
    set(key, value, timeout)
    return value
