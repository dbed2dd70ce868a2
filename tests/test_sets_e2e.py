"""
End-to-end tests of the set commands with unmodified redis-py against a
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


def test_members(r):
    """
    SADD, SREM, SMEMBERS (a Python set either way), SISMEMBER, SMISMEMBER,
    SCARD; an emptied set is gone.
    """
    assert r.sadd("s", "a", "b", "c") == 3
    assert r.sadd("s", "a") == 0
    assert r.smembers("s") == {b"a", b"b", b"c"}
    assert r.smembers("missing") == set()
    assert r.sismember("s", "a") in (True, 1)
    assert r.sismember("s", "z") in (False, 0)
    assert [bool(x) for x in r.smismember("s", ["a", "z"])] == [True, False]
    assert r.scard("s") == 3
    assert r.type("s") == b"set"
    assert r.srem("s", "a", "b", "c", "z") == 3
    assert r.exists("s") == 0


def test_random(r):
    """
    SPOP (one, or a count), SRANDMEMBER (distinct, or repeated for a
    negative count).
    """
    r.sadd("s", *["m%d" % i for i in range(10)])
    one = r.spop("s")
    assert one.startswith(b"m")
    assert r.sismember("s", one) in (False, 0)
    popped = r.spop("s", 3)
    assert len(set(popped)) == 3
    assert r.scard("s") == 6
    assert len(set(r.srandmember("s", 4))) == 4
    assert len(r.srandmember("s", -20)) == 20
    assert r.srandmember("s").startswith(b"m")
    assert r.scard("s") == 6
    assert r.spop("missing") is None


def test_algebra(r):
    """
    SINTER, SUNION, SDIFF, their STORE forms, SINTERCARD, SMOVE.
    """
    r.sadd("a", "1", "2", "3")
    r.sadd("b", "2", "3", "4")
    assert r.sinter("a", "b") == {b"2", b"3"}
    assert r.sunion("a", "b") == {b"1", b"2", b"3", b"4"}
    assert r.sdiff("a", "b") == {b"1"}
    assert r.sinterstore("d", ["a", "b"]) == 2
    assert r.smembers("d") == {b"2", b"3"}
    assert r.sunionstore("d", ["a", "b"]) == 4
    assert r.sdiffstore("d", ["a", "b"]) == 1
    assert r.sintercard(2, ["a", "b"]) == 2
    assert r.sintercard(2, ["a", "b"], limit=1) == 1
    assert r.smove("a", "b", "1") is True
    assert r.smove("a", "b", "1") is False
    assert r.smembers("b") == {b"1", b"2", b"3", b"4"}
    r.set("str", "x")
    with pytest.raises(redis.ResponseError, match="^WRONGTYPE"):
        r.sinter("a", "str")


def test_scan(r):
    """
    SSCAN through redis-py's iterator visits a big set's every member once.
    """
    members = {("m%d" % i).encode() for i in range(2000)}
    r.sadd("big", *members)
    seen = list(r.sscan_iter("big", count=100))
    assert len(seen) == len(members) and set(seen) == members
    assert set(r.sscan_iter("big", match="m199*")) == {
        b"m199", b"m1990", b"m1991", b"m1992", b"m1993", b"m1994",
        b"m1995", b"m1996", b"m1997", b"m1998", b"m1999"}
