"""
End-to-end tests of the string, bitmap, list and key commands with
unmodified redis-py against a real C{twistd -n kvstore}, in RESP2 and
RESP3: each family as an application calls it, through redis-py's own
methods and reply parsing.  (Byte-for-byte comparisons with a real
redis-server are in L{tests.test_redis_parity_e2e}.)
"""

import time

import pytest

redis = pytest.importorskip("redis")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, sharedServer):
    """
    A redis-py client of a flushed shared server, in RESP2 or RESP3.
    """
    client = sharedServer.redis(protocol=request.param)
    client.flushall()
    yield client
    client.close()


def test_strings(r):
    """
    INCRBYFLOAT, GETEX, GETDEL, GETRANGE, SETRANGE, APPEND, PSETEX.
    """
    r.set("f", "10.5")
    assert r.incrbyfloat("f", 0.1) == 10.6
    assert r.get("f") == b"10.6"
    assert r.incrbyfloat("counter", 2.5) == 2.5
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.incrbyfloat("f", "abc")
    r.set("k", "v")
    assert r.getex("k", px=60000) == b"v"
    assert 0 < r.pttl("k") <= 60000
    assert r.getex("k", persist=True) == b"v"
    assert r.ttl("k") == -1
    assert r.getex("missing", ex=10) is None
    assert r.getdel("k") == b"v"
    assert r.exists("k") == 0
    r.set("s", "Hello World")
    assert r.getrange("s", 0, 4) == b"Hello"
    assert r.getrange("s", -5, -1) == b"World"
    assert r.setrange("s", 6, "Redis") == 11
    assert r.get("s") == b"Hello Redis"
    assert r.setrange("pad", 3, "x") == 4
    assert r.get("pad") == b"\x00\x00\x00x"
    assert r.append("s", "!") == 12
    assert r.psetex("p", 30000, "v") is True
    assert 0 < r.pttl("p") <= 30000
    with pytest.raises(redis.ResponseError, match="proto-max-bulk-len"):
        r.setrange("s", 536870911, "xx")


def test_bitmaps(r):
    """
    SETBIT, GETBIT, BITCOUNT with byte and bit ranges.
    """
    assert r.setbit("b", 7, 1) == 0
    assert r.setbit("b", 7, 1) == 1
    assert r.getbit("b", 7) == 1
    assert r.getbit("b", 100) == 0
    r.set("f", "foobar")
    assert r.bitcount("f") == 26
    assert r.bitcount("f", 1, 1) == 6
    assert r.bitcount("f", 5, 30, mode="BIT") == 17
    with pytest.raises(redis.ResponseError, match="bit offset"):
        r.setbit("b", 2 ** 32, 1)


def test_lcs(r):
    """
    LCS: the subsequence, its length, its ranges.
    """
    r.mset({"a": "ohmytext", "b": "mynewtext"})
    assert r.lcs("a", "b") == b"mytext"
    assert r.lcs("a", "b", len=True) == 6
    reply = r.lcs("a", "b", idx=True, withmatchlen=True)
    if isinstance(reply, list):  # RESP2: a flat array
        reply = dict(zip(reply[::2], reply[1::2]))
    assert reply[b"len"] == 6
    assert reply[b"matches"] == [[[4, 7], [5, 8], 4], [[2, 3], [0, 1], 2]]


def test_lists(r):
    """
    LMOVE, RPOPLPUSH, LMPOP, LPOS, LINSERT, LTRIM, LREM, LSET, LINDEX.
    """
    r.rpush("l", "a", "b", "c", "a")
    assert r.lmove("l", "m", "LEFT", "RIGHT") == b"a"
    assert r.rpoplpush("l", "m") == b"a"
    assert r.lrange("m", 0, -1) == [b"a", b"a"]
    assert r.lmpop(2, "nothing", "m", direction="RIGHT", count=5) == [
        b"m", [b"a", b"a"]]
    assert r.lmpop(1, "nothing", direction="LEFT") is None
    r.rpush("p", "a", "b", "c", "1", "2", "3", "c", "c")
    assert r.lpos("p", "c") == 2
    assert r.lpos("p", "c", rank=-1) == 7
    assert r.lpos("p", "c", count=0) == [2, 6, 7]
    assert r.lpos("p", "z") is None
    assert r.linsert("p", "BEFORE", "1", "X") == 9
    assert r.lindex("p", 3) == b"X"
    assert r.lset("p", 0, "A") is True
    assert r.lrem("p", 0, "c") == 3
    assert r.ltrim("p", 0, 2) is True
    assert r.lrange("p", 0, -1) == [b"A", b"b", b"X"]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.set("s", "v")
        r.lmove("p", "s", "LEFT", "LEFT")


def test_keys(r):
    """
    RENAMENX, COPY (DB, REPLACE), TOUCH, RANDOMKEY, UNLINK, EXPIRE's
    options, EXPIRETIME, PEXPIRETIME, SCAN's TYPE, OBJECT, TYPE.
    """
    r.set("a", "1")
    r.set("b", "2")
    assert r.renamenx("a", "b") is False
    assert r.renamenx("a", "c") is True
    assert r.copy("c", "b") is False
    assert r.copy("c", "b", replace=True) is True
    assert r.copy("c", "c", destination_db=4) is True
    r.execute_command("SELECT", 4)
    assert r.get("c") == b"1"
    r.execute_command("SELECT", 0)
    assert r.touch("b", "c", "nothing") == 2
    assert r.randomkey() in (b"b", b"c")
    assert r.expire("c", 100, nx=True) is True
    assert r.expire("c", 50, gt=True) is False
    assert r.expire("c", 200, xx=True) is True
    at = r.expiretime("c")
    assert abs(at - (time.time() + 200)) < 10
    assert abs(r.pexpiretime("c") - at * 1000) <= 1000
    assert r.expiretime("b") == -1
    assert r.expiretime("nothing") == -2
    r.rpush("l", "x")
    assert list(r.scan_iter(_type="list")) == [b"l"]
    assert sorted(r.scan_iter(_type="string")) == [b"b", b"c"]
    assert r.type("l") == b"list"
    assert r.object("encoding", "l") == b"listpack"
    assert r.object("encoding", "b") == b"int"
    assert r.object("refcount", "b") == 2147483647
    assert r.object("idletime", "b") == 0
    assert r.unlink("b", "c", "nothing") == 2
