"""
End-to-end tests of the numbered databases with unmodified redis-py
against a real C{twistd -n kvstore}, in RESP2 and RESP3: SELECT, SWAPDB,
MOVE, DBSIZE, FLUSHDB, FLUSHALL, INFO keyspace; the text protocol's
SELECT beside the JSON-lines dialect's database 0; and every database
back after a restart, a kill -9, and a snapshot.
"""

import json
import signal

import pytest

redis = pytest.importorskip("redis")

from tests.harness import waitFor  # noqa: E402
from tests.snapshot import readAll  # noqa: E402


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    """
    The RESP version of the test's clients.
    """
    return request.param


@pytest.fixture
def r(sharedServer, protocol):
    """
    A redis-py client of a flushed shared server.
    """
    client = sharedServer.redis(protocol=protocol)
    client.flushall()
    yield client
    client.close()


def test_selectAndDbsize(sharedServer, r, protocol):
    """
    Each connection has its own selected database; DBSIZE counts it;
    SELECT out of range is Redis's error.
    """
    other = sharedServer.redis(protocol=protocol, db=5)
    try:
        r.set("k", "zero")
        other.set("k", "five")
        other.set("j", "five")
        assert r.get("k") == b"zero"
        assert other.get("k") == b"five"
        assert (r.dbsize(), other.dbsize()) == (1, 2)
        with pytest.raises(redis.ResponseError,
                           match="^DB index is out of range$"):
            r.execute_command("SELECT", 16)
        with pytest.raises(redis.ResponseError,
                           match="^value is not an integer or out of range"):
            r.execute_command("SELECT", "one")
        assert b" db=5 " in other.execute_command("CLIENT", "INFO")
    finally:
        other.close()


def test_swapdbMoveFlush(sharedServer, r, protocol):
    """
    SWAPDB swaps what two databases' clients see; MOVE moves a key with
    its TTL; FLUSHDB empties one database, FLUSHALL all of them.
    """
    one = sharedServer.redis(protocol=protocol, db=1)
    try:
        r.set("a", "0")
        one.set("b", "1", px=60000)
        assert r.swapdb(0, 1) is True
        assert r.get("a") is None and r.get("b") == b"1"
        assert one.get("a") == b"0"
        assert 0 < r.pttl("b") <= 60000
        assert r.move("b", 1) is True
        assert r.move("b", 1) is False
        assert 0 < one.pttl("b") <= 60000
        with pytest.raises(redis.ResponseError,
                           match="source and destination objects are the "
                                 "same"):
            r.move("a", 0)
        r.set("c", "x")
        assert r.flushdb(asynchronous=True) is True
        assert (r.dbsize(), one.dbsize()) == (0, 2)
        assert r.flushall() is True
        assert one.dbsize() == 0
    finally:
        one.close()


def test_infoKeyspace(sharedServer, r, protocol):
    """
    INFO keyspace has Redis's line for each non-empty database, which
    redis-py parses into a dict.
    """
    r.set("a", "1")
    r.execute_command("SELECT", 3)
    r.set("x", "1", ex=100)
    r.set("y", "1")
    keyspace = r.info("keyspace")
    assert keyspace["db0"] == {"keys": 1, "expires": 0, "avg_ttl": 0}
    assert keyspace["db3"]["keys"] == 2
    assert keyspace["db3"]["expires"] == 1
    assert 0 < keyspace["db3"]["avg_ttl"] <= 100000
    assert "db1" not in keyspace


def test_textSelectsJsonUsesDatabase0(sharedServer, r):
    """
    On one connection, the text protocol SELECTs and a JSON line still
    uses database 0.
    """
    with sharedServer.textClient() as c:
        assert c.command("SELECT 2") == "OK"
        assert c.command("SET k text") == "Added key 'k' with value 'text'"
        c.sendLine(json.dumps({"type": "SET", "key": "k", "value": "json"}))
        assert json.loads(c.readLine()) == "OK"
        assert c.command("GET k") == "text"
    assert r.get("k") == b"json"
    r.execute_command("SELECT", 2)
    assert r.get("k") == b"text"


def fill(r):
    """
    Keys of both types, with and without TTLs, in several databases, and
    a swap, a move and a flush among them.
    """
    for db in (0, 1, 7, 15):
        r.execute_command("SELECT", db)
        r.set("s", "db%d" % (db,))
        r.set("t", "ttl", ex=1000)
        r.rpush("l", "a", "b", db)
    r.execute_command("SELECT", 7)
    r.move("s", 3)
    r.execute_command("SWAPDB", 1, 2)
    r.execute_command("SELECT", 15)
    r.flushdb()
    r.set("after", "flush")
    r.execute_command("SELECT", 0)


@pytest.mark.parametrize("stop", ["SIGTERM", "kill -9", "BGSAVE"])
def test_restart(makeServer, stop):
    """
    Every database comes back after a restart: stopped with SIGTERM,
    killed with kill -9 under C{--fsync always}, or killed after a
    snapshot and more writes (the snapshot holds every database and the
    log the rest).
    """
    server = makeServer(["--fsync", "always"])
    r = server.redis(protocol=3)
    fill(r)
    if stop == "BGSAVE":
        r.bgsave()
        waitFor(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0)
        r.execute_command("SELECT", 7)
        r.set("later", "write")
        r.execute_command("SELECT", 0)
    before = readAll(r)
    r.close()
    assert (2, b"s") in before and (3, b"s") in before
    assert (15, b"after") in before and (15, b"s") not in before
    if stop == "SIGTERM":
        server.stop(signal.SIGTERM)
    else:
        server.kill9()
    server.restart()
    r = server.redis(protocol=2)
    try:
        assert readAll(r) == before
        keyspace = r.info("keyspace")
        assert set(keyspace) == {"keys", "db0", "db2", "db3", "db7", "db15"}
    finally:
        r.close()
