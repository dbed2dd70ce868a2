"""
End-to-end tests of the hash commands with unmodified redis-py against a
real C{twistd -n kvstore}, in RESP2 and RESP3 (C{protocol=3}).
"""

import pytest

redis = pytest.importorskip("redis")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, sharedServer):
    """
    A redis-py client of the given protocol on a flushed shared server.
    """
    client = sharedServer.redis(protocol=request.param)
    client.flushall()
    yield client
    client.close()


def test_fieldsAndValues(r):
    """
    HSET (with a mapping), HGET, HMGET, HGETALL (a dict either way), HKEYS,
    HVALS, HLEN, HEXISTS, HSTRLEN, HSETNX, HMSET, HDEL; an emptied hash is
    gone.
    """
    assert r.hset("h", mapping={"a": "1", "b": "2"}) == 2
    assert r.hset("h", "a", "3") == 0
    assert r.hget("h", "a") == b"3"
    assert r.hget("h", "nope") is None
    assert r.hmget("h", ["a", "nope", "b"]) == [b"3", None, b"2"]
    assert r.hgetall("h") == {b"a": b"3", b"b": b"2"}
    assert r.hgetall("missing") == {}
    assert sorted(r.hkeys("h")) == [b"a", b"b"]
    assert sorted(r.hvals("h")) == [b"2", b"3"]
    assert r.hlen("h") == 2
    assert r.hexists("h", "a") is True
    assert r.hexists("h", "nope") is False
    assert r.hstrlen("h", "a") == 1
    assert r.hsetnx("h", "a", "x") == 0
    assert r.hsetnx("h", "c", "x") == 1
    assert r.execute_command("HMSET", "h", "d", "4") in (True, b"OK")
    assert r.type("h") == b"hash"
    assert r.hdel("h", "a", "b", "c", "d", "nope") == 4
    assert r.exists("h") == 0


def test_counters(r):
    """
    HINCRBY and HINCRBYFLOAT (long double results as Redis gives them),
    and their errors.
    """
    assert r.hincrby("h", "n", 5) == 5
    assert r.hincrby("h", "n", -7) == -2
    assert r.hincrbyfloat("h", "f", "10.5") == 10.5
    assert r.hincrbyfloat("h", "f", "0.1") == 10.6
    assert r.hget("h", "f") == b"10.6"
    with pytest.raises(redis.ResponseError, match="hash value is not an "
                       "integer"):
        r.hincrby("h", "f", 1)
    with pytest.raises(redis.ResponseError, match="value is not a valid "
                       "float"):
        r.hincrbyfloat("h", "f", "abc")


def test_wrongType(r):
    """
    A hash command on a string is a WRONGTYPE error, and the reverse.
    """
    r.set("s", "x")
    r.hset("h", "a", "1")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.hget("s", "a")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.get("h")


def test_random(r):
    """
    HRANDFIELD: one field, a count of distinct ones, repeats for a
    negative count, with values (pairs in RESP3, flat in RESP2).
    """
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    assert r.hrandfield("h") in (b"a", b"b", b"c")
    assert sorted(r.hrandfield("h", 10)) == [b"a", b"b", b"c"]
    assert len(r.hrandfield("h", -10)) == 10
    picked = r.hrandfield("h", 2, withvalues=True)
    if r.connection_pool.connection_kwargs["protocol"] == 3:
        assert len(picked) == 2 and all(len(p) == 2 for p in picked)
        pairs = [tuple(p) for p in picked]
    else:
        assert len(picked) == 4
        pairs = list(zip(picked[::2], picked[1::2]))
    assert set(pairs) <= {(b"a", b"1"), (b"b", b"2"), (b"c", b"3")}
    assert r.hrandfield("missing") is None


def test_scan(r):
    """
    HSCAN through redis-py's iterator visits a big hash's every field once,
    with MATCH; a small hash in one step.
    """
    fields = {"f%d" % i: str(i) for i in range(1000)}
    r.hset("big", mapping=fields)
    seen = dict(r.hscan_iter("big", count=50))
    assert seen == {k.encode(): v.encode() for k, v in fields.items()}
    matched = dict(r.hscan_iter("big", match="f99*"))
    assert set(matched) == {b"f99", b"f990", b"f991", b"f992", b"f993",
                            b"f994", b"f995", b"f996", b"f997", b"f998",
                            b"f999"}
    r.hset("small", "a", "1")
    assert r.hscan("small", 0) == (0, {b"a": b"1"})


def test_expiry(r):
    """
    A hash takes an expiry, and goes with it.
    """
    r.hset("h", "a", "1")
    assert r.pexpire("h", 1) is True
    r.hset("other", "a", "1")
    for _ in range(1000):
        if not r.exists("h"):
            break
    assert r.hgetall("h") == {}
