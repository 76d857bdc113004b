"""The shared cache (ground/cache.py): two app instances on one Redis prefix see a calendar edit made through either
at once; with Redis down, pages still answer (one warning, values computed); without REDIS_URL the default is a
local SimpleCache."""
import logging
import os
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest
import redis
from sqlalchemy import update

from tests.conftest import another_app, login  # first: it sets the test environment up
from app import calendar  # noqa: E402
from app.services import dictionaries, workdays  # noqa: E402
from ground import cache as shared_cache  # noqa: E402
from ground.extensions import cache, db  # noqa: E402
from models import CalendarDay  # noqa: E402
from tests import factories as f  # noqa: E402
from tests.calendar_fixtures import UNKNOWN, fresh_calendar, unknown_year  # noqa: E402, F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused


@pytest.fixture
def redis_prefix():
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__})")
    prefix = f"registry-test-cache-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_a_calendar_edit_on_one_host_is_seen_by_the_other_at_once(database, tmp_path_factory, redis_prefix,
                                                                  fresh_calendar, unknown_year):
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": REDIS_URL, "CACHE_KEY_PREFIX": redis_prefix,
                "CALENDAR_CACHE_SECONDS": 3600}
    day = date(unknown_year, 3, 3)  # a Wednesday in a year chinese-calendar does not know: a working day
    assert day.weekday() == 2
    with another_app(database, tmp_path_factory, **settings) as host_a, \
            another_app(database, tmp_path_factory, **settings) as host_b:
        with host_b.app_context():
            assert workdays.is_workday(day)
        # The table is in Redis now: a change made behind the cache's back is not seen (the cache is in use) ...
        with host_a.app_context():
            db.session.add(CalendarDay(day=day, is_workday=False, name="测试", source="admin"))
            db.session.commit()
        with host_b.app_context():
            assert workdays.is_workday(day)
        # ... an edit through the application (a new calendar version) is seen by the other host at once.
        with host_a.app_context():
            db.session.execute(update(CalendarDay).where(CalendarDay.day == day).values(name="国庆节"))
            db.session.commit()
            calendar.changed()
        with host_b.app_context():
            assert not workdays.is_workday(day)
        keys = redis.Redis.from_url(REDIS_URL).keys(redis_prefix + "*")
        assert any(k.decode().startswith(redis_prefix + workdays.TABLE_KEY) for k in keys)
        # The values in Redis are JSON text, never pickle.
        raw = redis.Redis.from_url(REDIS_URL).get(redis_prefix + workdays.VERSION_KEY)
        assert raw and not raw.startswith(b"!")
    with another_app(database, tmp_path_factory, **settings) as host_c, host_c.app_context():
        assert not workdays.is_workday(day)


def test_redis_down_pages_answer_with_one_warning(app, database, tmp_path_factory, caplog):
    settings = {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": CLOSED_PORT_URL,
                "CACHE_KEY_PREFIX": "registry-test-down:"}
    with another_app(database, tmp_path_factory, **settings) as host:
        with host.app_context():
            ministry = f.Staff().ministry
        client = host.test_client()
        login(client, ministry)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ground.cache"):
            for _ in range(3):
                page = client.get("/dashboard/")
                assert page.status_code == 200
                assert "Beijing" in page.get_data(as_text=True)  # the province labels, computed without the cache
        warnings = [r for r in caplog.records if r.name == "ground.cache" and r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        with host.app_context():  # the wrapper answers "missing" instead of raising
            assert shared_cache.get("anything", "fallback") == "fallback"
            assert dictionaries.labels("province")
            with pytest.raises(redis.exceptions.ConnectionError):
                cache.get("anything")  # what Flask-Caching itself does with Redis down


def _config_value(name, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_URL", "CACHE_"))}
    clean.update(env)
    return subprocess.run([sys.executable, "-c", f"import config; print(config.{name})"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, check=True).stdout.strip()


def test_default_is_a_local_cache_without_redis_url_and_redis_with_it():
    assert _config_value("CACHE_TYPE") == "SimpleCache"
    assert _config_value("CACHE_TYPE", REDIS_URL="redis://cache-host:6379/2") == "RedisCache"
    assert _config_value("CACHE_REDIS_URL", REDIS_URL="redis://cache-host:6379/2") == "redis://cache-host:6379/2"
    assert _config_value("CACHE_KEY_PREFIX") == "registry:"


def test_simple_cache_keeps_values_in_the_process(app):
    with app.app_context():
        assert type(app.extensions["cache"][cache]).__name__ == "SimpleCache"
        shared_cache.set("test-simple", {"a": [1, 2]})
        assert shared_cache.get("test-simple") == {"a": [1, 2]}
        assert shared_cache.cached("test-simple", lambda: pytest.fail("computed although cached")) == {"a": [1, 2]}
        shared_cache.delete("test-simple")
        assert shared_cache.get("test-simple") is None


def test_dictionary_labels_are_cached_until_the_dictionaries_change(app):
    from models import Province
    from ops.cli import load_dictionaries

    with app.app_context():
        assert dictionaries.labels("province")["11"] == "北京市"
        db.session.get(Province, "11").name = "改名"
        db.session.commit()
        assert dictionaries.labels("province")["11"] == "北京市"  # cached
        dictionaries.changed()
        assert dictionaries.labels("province")["11"] == "改名"
        load_dictionaries()  # `flask setup` writes the names back and a new version
        assert dictionaries.labels("province")["11"] == "北京市"
