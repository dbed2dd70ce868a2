"""
Applications built for Redis, unchanged, on a real C{twistd -n kvstore}:

    - RQ: jobs enqueued with C{rq} are run by a real C{rq worker} process
      (burst mode, and with its scheduler); their outcome is fetched.
    - django-redis: Django's cache framework (values, counters, expiry,
      key patterns, locks).

Scripts (django-redis's counters and lock) need lupa; where it is not
installed (PyPy), kvtwist answers a clear error, and the tests check that
error instead.  RQ records each job's outcome in a Redis stream (XADD,
XREVRANGE, XLEN), which the RQ tests check.
"""

import os
import subprocess
import time
from datetime import timedelta
from typing import List

import pytest

redis = pytest.importorskip("redis")

from kvtwist.scripting import available  # noqa: E402
from tests.harness import HOST, _scriptCommand, waitFor  # noqa: E402

#: The server runs the tests' interpreter: it has lupa when they do.
LUA = available()

#: How long an C{rq worker --burst} may take, start to exit, in seconds.
WORKER_TIMEOUT = 30.0

#: The directory that holds the C{tests} package: the worker imports
#: L{tests.rqjobs} from there.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- RQ ----------------------------------------------------------------------

rq = pytest.importorskip("rq")
from tests import rqjobs  # noqa: E402


@pytest.fixture
def conn(sharedServer):
    """
    A RESP2 redis-py client (RQ's own choice: bytes, no RESP3) on the
    freshly flushed shared server.
    """
    client = sharedServer.redis(protocol=2)
    client.flushall()
    yield client
    client.close()


def runWorker(port: int, tmp_path, *options: str) -> str:
    """
    Run C{rq worker --burst} against kvtwist on C{port} until it exits, and
    return its output.  It imports L{tests.rqjobs} from L{ROOT}.

    @raise AssertionError: if it does not exit in L{WORKER_TIMEOUT}
        seconds (it is killed) or exits with an error.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    argv: List[str] = _scriptCommand(
        "rq", "import sys; from rq.cli import main; sys.argv[0] = 'rq'; "
              "sys.exit(main())")
    argv += ["worker", "--burst", "--url", "redis://%s:%d" % (HOST, port)]
    argv += list(options)
    logPath = str(tmp_path / "worker.log")
    with open(logPath, "wb") as log:
        worker = subprocess.Popen(argv, cwd=str(tmp_path), env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            code = worker.wait(WORKER_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            code = None
    with open(logPath, encoding="utf-8", errors="replace") as log:
        output = log.read()
    assert code == 0, "rq worker exited with %r:\n%s" % (code, output)
    return output


def test_rqJob(conn, sharedServer, tmp_path):
    """
    A job enqueued with RQ is taken by a real C{rq worker --burst} and run;
    its result is fetched from the job.
    """
    queue = rq.Queue("default", connection=conn)
    marker = tmp_path / "ran"
    job = queue.enqueue(rqjobs.add, 2, 3, marker=str(marker))
    assert job.get_status() == "queued"
    assert queue.count == 1
    runWorker(sharedServer.port, tmp_path)
    assert marker.read_text() == "5"
    assert queue.count == 0
    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() == 5


def test_rqFailedJob(conn, sharedServer, tmp_path):
    """
    A job that raises lands in the queue's failed job registry, with the
    exception.
    """
    queue = rq.Queue("default", connection=conn)
    job = queue.enqueue(rqjobs.fail, "this job fails")
    runWorker(sharedServer.port, tmp_path)
    assert queue.count == 0
    job.refresh()
    assert job.get_status() == "failed"
    assert job.id in rq.registry.FailedJobRegistry(queue=queue).get_job_ids()
    assert "this job fails" in job.latest_result().exc_string


def test_rqScheduledJob(conn, sharedServer, tmp_path):
    """
    A job enqueued to run in a second waits in the scheduled job registry;
    once due, C{rq worker --with-scheduler} enqueues it and runs it.
    """
    queue = rq.Queue("default", connection=conn)
    marker = tmp_path / "ran"
    job = queue.enqueue_in(timedelta(seconds=1), rqjobs.add, 1, 1,
                           marker=str(marker))
    scheduled = rq.registry.ScheduledJobRegistry(queue=queue)
    assert job.get_status() == "scheduled"
    assert scheduled.get_job_ids() == [job.id]
    assert queue.count == 0
    due = scheduled.get_scheduled_time(job)
    waitFor(lambda: time.time() > due.timestamp(), timeout=5,
            what="the job to be due")
    runWorker(sharedServer.port, tmp_path, "--with-scheduler")
    assert marker.read_text() == "2"
    assert scheduled.get_job_ids() == []
    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() == 2


# -- django-redis ------------------------------------------------------------

django = pytest.importorskip("django")
pytest.importorskip("django_redis")


@pytest.fixture(scope="module")
def djangoCaches(sharedServer):
    """
    Django configured in this process with django-redis's cache on the
    shared server, database 1 (C{redis://HOST:PORT/1}).
    """
    from django.conf import settings
    settings.configure(
        CACHES={"default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://%s:%d/1" % (HOST, sharedServer.port),
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient",
                        "SOCKET_TIMEOUT": 10},
        }},
        USE_TZ=True,
    )
    django.setup()
    from django.core.cache import caches
    return caches


@pytest.fixture
def cache(djangoCaches, sharedServer):
    """
    Django's default cache on an emptied server (every database).
    """
    client = sharedServer.redis(protocol=2)
    client.flushall()
    client.close()
    cache = djangoCaches["default"]
    yield cache
    cache.close()


def test_djangoValues(cache, sharedServer):
    """
    set/get/add/delete and the many-key forms, with pickled values, in
    the database the URL names.
    """
    cache.set("greeting", {"hello": ["world", 1]}, timeout=None)
    assert cache.get("greeting") == {"hello": ["world", 1]}
    assert cache.get("missing", "default") == "default"
    assert cache.add("greeting", "other") is False
    assert cache.add("fresh", 42) is True
    assert cache.get("fresh") == 42
    assert cache.has_key("fresh")
    cache.set_many({"a": 1, "b": "two", "c": 3.5})
    assert cache.get_many(["a", "b", "c", "nope"]) == {
        "a": 1, "b": "two", "c": 3.5}
    assert cache.delete_many(["a", "b", "nope"]) == 2
    assert cache.get_many(["a", "b", "c"]) == {"c": 3.5}
    assert cache.delete("c") is True
    assert cache.delete("c") is False
    other = sharedServer.redis(protocol=2, db=1)
    try:
        assert other.dbsize() == 2
        assert other.exists(cache.make_key("greeting")) == 1
    finally:
        other.close()
    zero = sharedServer.redis(protocol=2)
    try:
        assert zero.dbsize() == 0
    finally:
        zero.close()


def test_djangoCounters(cache):
    """
    incr/decr; a missing key is an error.  django-redis runs a script for
    them; without lupa the script fails, and django-redis falls back to
    GET and SET, which count right but raise L{TypeError} for a missing
    key (its fallback's own flaw) where the script raises L{ValueError}.
    """
    cache.set("n", 10)
    assert cache.incr("n") == 11
    assert cache.incr("n", 5) == 16
    assert cache.decr("n", 20) == -4
    assert cache.get("n") == -4
    with pytest.raises(ValueError if LUA else TypeError):
        cache.incr("absent")
    assert cache.get("absent") is None


def test_djangoExpiry(cache):
    """
    ttl, expire, persist and touch, and a key that expires.
    """
    cache.set("k", "v", timeout=100)
    assert 98 <= cache.ttl("k") <= 100
    assert cache.expire("k", 500) is True
    assert 498 <= cache.ttl("k") <= 500
    assert cache.persist("k") is True
    assert cache.ttl("k") is None
    assert cache.touch("k", 50) is True
    assert 48 <= cache.ttl("k") <= 50
    assert cache.touch("absent", 50) is False
    assert cache.ttl("absent") == 0
    cache.set("short", "v", timeout=1)
    assert cache.pttl("short") <= 1000
    waitFor(lambda: cache.get("short") is None, timeout=5,
            what="the key to expire")


def test_djangoPatterns(cache):
    """
    keys("pattern*") and delete_pattern, through SCAN with MATCH, see only
    the cache's own keys.
    """
    cache.set_many({"user:1": "a", "user:2": "b", "user:10": "c",
                    "item:1": "d"})
    assert sorted(cache.keys("user:*")) == ["user:1", "user:10", "user:2"]
    assert sorted(cache.iter_keys("user:1*")) == ["user:1", "user:10"]
    assert cache.delete_pattern("user:*") == 3
    assert cache.keys("*") == ["item:1"]


def test_djangoLock(cache):
    """
    cache.lock (redis-py's Lock): acquire, a second holder refused,
    release, and the context manager.  Without lupa, its first script
    answers the error naming the package.
    """
    lock = cache.lock("resource", timeout=10)
    if not LUA:
        with pytest.raises(redis.ResponseError) as e:
            lock.acquire(blocking=False)
            lock.release()
        assert "pip install lupa" in str(e.value)
        return
    assert lock.acquire(blocking=False) is True
    other = cache.lock("resource", timeout=10)
    assert other.acquire(blocking=False) is False
    lock.release()
    assert other.acquire(blocking=False) is True
    other.release()
    with cache.lock("resource", timeout=10, blocking_timeout=5):
        assert cache.lock("resource").acquire(blocking=False) is False
    assert cache.lock("resource").acquire(blocking=False) is True
