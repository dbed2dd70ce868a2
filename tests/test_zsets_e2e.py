"""
End-to-end tests of the sorted set commands with unmodified redis-py
against a real C{twistd -n kvstore}, in RESP2 and RESP3 (C{protocol=3}).
"""

import pytest

redis = pytest.importorskip("redis")

INF = float("inf")


def P(reply):
    """
    Member-score pairs as tuples (redis-py gives lists in RESP3, with real
    Redis too).
    """
    return [tuple(p) for p in reply]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, sharedServer):
    """
    A redis-py client of the given protocol on a flushed shared server.
    """
    client = sharedServer.redis(protocol=request.param)
    client.flushall()
    yield client
    client.close()


def test_addAndScores(r):
    """
    ZADD with its options, ZSCORE, ZMSCORE, ZINCRBY, ZCARD, ZREM; scores
    come back as floats in either protocol, infinities included.
    """
    assert r.zadd("z", {"a": 1, "b": 2.5, "c": INF}) == 3
    assert r.zadd("z", {"a": 5}, nx=True) == 0
    assert r.zadd("z", {"a": 0.5}, xx=True, ch=True) == 1
    assert r.zadd("z", {"a": 0.1}, gt=True, ch=True) == 0
    assert r.zadd("z", {"a": 2}, incr=True) == 2.5
    assert r.zscore("z", "a") == 2.5
    assert r.zscore("z", "c") == INF
    assert r.zscore("z", "nope") is None
    assert r.zmscore("z", ["a", "nope"]) == [2.5, None]
    assert r.zincrby("z", 0.1, "b") == 2.6
    assert r.zcard("z") == 3
    assert r.type("z") == b"zset"
    assert r.zrem("z", "a", "b", "c", "nope") == 3
    assert r.exists("z") == 0
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.execute_command("ZADD", "z", "abc", "m")
    r.zadd("z", {"m": INF})
    with pytest.raises(redis.ResponseError, match="resulting score is not "
                       "a number"):
        r.zincrby("z", -INF, "m")


def test_ranges(r):
    """
    ZRANGE by rank, score and lex, REV, LIMIT, WITHSCORES (pairs of member
    and float either way through redis-py), the legacy forms, ZCOUNT,
    ZLEXCOUNT, ZRANK and ZREVRANK.
    """
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4})
    assert r.zrange("z", 0, -1) == [b"a", b"b", b"c", b"d"]
    assert P(r.zrange("z", 0, 1, withscores=True)) == [(b"a", 1.0),
                                                       (b"b", 2.0)]
    assert r.zrange("z", 0, 0, desc=True) == [b"d"]
    assert r.zrange("z", "(1", "+inf", byscore=True, offset=1, num=5) == [
        b"c", b"d"]
    assert P(r.zrangebyscore("z", "-inf", "(3", withscores=True)) == [
        (b"a", 1.0), (b"b", 2.0)]
    assert r.zrevrangebyscore("z", 4, 2, start=0, num=2) == [b"d", b"c"]
    assert P(r.zrevrange("z", 0, 1, withscores=True)) == [(b"d", 4.0),
                                                      (b"c", 3.0)]
    assert r.zcount("z", "(1", 3) == 2
    assert r.zrank("z", "c") == 2
    assert r.zrevrank("z", "c") == 1
    assert r.zrank("z", "nope") is None
    r.zadd("lex", {"a": 0, "b": 0, "c": 0})
    assert r.zrangebylex("lex", "[b", "+") == [b"b", b"c"]
    assert r.zrevrangebylex("lex", "+", "(a") == [b"c", b"b"]
    assert r.zlexcount("lex", "-", "(c") == 2
    assert r.zrangestore("dst", "z", 1, 2) == 2
    assert r.zrange("dst", 0, -1) == [b"b", b"c"]


def test_popAndRemove(r):
    """
    ZPOPMIN, ZPOPMAX (with and without a count), the ZREMRANGEBY* trio.
    """
    r.zadd("z", {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
    # Without a count, Redis answers one flat pair (in RESP3 too).
    if r.connection_pool.connection_kwargs["protocol"] == 3:
        assert r.zpopmin("z") == [b"a", 1.0]
    else:
        assert r.zpopmin("z") == [(b"a", 1.0)]
    assert P(r.zpopmax("z", 2)) == [(b"e", 5.0), (b"d", 4.0)]
    assert P(r.zpopmin("missing")) == []
    r.zadd("z", {"x": 10, "y": 11, "w": 0})
    assert r.zremrangebyrank("z", 0, 0) == 1
    assert r.zremrangebyscore("z", "(10", "+inf") == 1
    assert r.zrange("z", 0, -1) == [b"b", b"c", b"x"]
    r.zadd("lex", {"a": 0, "b": 0, "c": 0})
    assert r.zremrangebylex("lex", "-", "[b") == 2
    assert r.zrange("lex", 0, -1) == [b"c"]


def test_unionInter(r):
    """
    ZUNIONSTORE and ZINTERSTORE with weights and aggregates, a set among
    the inputs.
    """
    r.zadd("a", {"x": 1, "y": 2})
    r.zadd("b", {"y": 10, "z": 20})
    r.sadd("s", "y")
    assert r.zunionstore("u", ["a", "b"]) == 3
    assert P(r.zrange("u", 0, -1, withscores=True)) == [
        (b"x", 1.0), (b"y", 12.0), (b"z", 20.0)]
    assert r.zinterstore("i", {"a": 1, "b": 2, "s": 3}, aggregate="MAX") == 1
    assert r.zscore("i", "y") == 20.0
    assert r.zunionstore("u", ["a", "b"], aggregate="MIN") == 3
    assert r.zscore("u", "y") == 2.0


def test_scan(r):
    """
    ZSCAN through redis-py's iterator visits a big sorted set's every
    member once, with its score.
    """
    r.zadd("big", {"m%d" % i: i / 4 for i in range(1000)})
    seen = dict(r.zscan_iter("big", count=50))
    assert len(seen) == 1000
    assert seen[b"m7"] == 1.75
    assert dict(r.zscan_iter("big", match="m99?")) == {
        ("m99%d" % i).encode(): (990 + i) / 4 for i in range(10)}
