"""
End-to-end tests of Lua scripting against a real C{twistd -n kvstore},
with redis-py in RESP2 and RESP3: C{register_script}, redis-py's C{Lock}
(acquire, extend, release: Lua scripts), the exact bytes of Redis's
replies beside a real redis-server, a runaway script stopped.

Where lupa is not installed (PyPy), the server answers scripting commands
with an error saying so, and the C{Lock} test checks that error instead.
"""

import hashlib
import time

import pytest

redis = pytest.importorskip("redis")

from kvtwist.scripting import available  # noqa: E402
from tests import test_redis_parity_e2e as parity  # noqa: E402
from tests.test_redis_parity_e2e import RawClient  # noqa: E402

#: The parity module's redis-server fixture (one for the modules that use
#: it).
redisSocket = parity.redisSocket

#: The server runs the tests' interpreter: it has lupa when they do.
LUA = available()
needsLua = pytest.mark.skipif(not LUA, reason="lupa is not installed")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, sharedServer):
    """
    A redis-py client on a freshly flushed shared server, in RESP2 or
    RESP3.
    """
    client = sharedServer.redis(protocol=request.param)
    client.flushall()
    client.script_flush()
    yield client
    client.close()


@needsLua
def test_registerScript(r):
    """
    A script registered with redis-py runs by EVALSHA, and again after
    SCRIPT FLUSH (redis-py loads it again on NOSCRIPT).
    """
    incrBy = r.register_script(
        "local n = redis.call('INCRBY', KEYS[1], ARGV[1])"
        " redis.call('RPUSH', KEYS[2], n) return {n, redis.call('LLEN',"
        " KEYS[2])}")
    assert incrBy(keys=["n", "log"], args=[5]) == [5, 1]
    assert r.script_exists(incrBy.sha) == [True]
    r.script_flush()
    assert r.script_exists(incrBy.sha) == [False]
    assert incrBy(keys=["n", "log"], args=[2]) == [7, 2]
    assert r.lrange("log", 0, -1) == [b"5", b"7"]


@needsLua
def test_evalReplies(r):
    """
    Lua values come back as Redis sends them: integers, bulks, nulls,
    arrays, statuses, errors (with where the script failed).
    """
    assert r.eval("return {1, 'two', {3}, false}", 0) == [1, b"two", [3],
                                                          None]
    assert r.eval("return redis.call('SET', KEYS[1], ARGV[1])", 1, "k",
                  "v") in (b"OK", "OK")
    assert r.eval("return redis.call('GET', KEYS[1])", 1, "k") == b"v"
    with pytest.raises(redis.ResponseError) as e:
        r.eval("return redis.call('INCR', KEYS[1])", 1, "k")
    assert "not an integer" in str(e.value)
    assert "@user_script:1" in str(e.value)
    with pytest.raises(redis.exceptions.NoScriptError):
        r.evalsha("0" * 40, 0)


def test_lock(r):
    """
    redis-py's Lock: acquire, extend, release (Lua scripts on the
    server); a second acquirer waits its turn.  Without lupa, the first
    script says scripting needs it.
    """
    lock = r.lock("resource", timeout=10)
    if not LUA:
        with pytest.raises(redis.ResponseError) as e:
            lock.acquire(blocking=False)
            lock.release()
        assert "pip install lupa" in str(e.value)
        return
    assert lock.acquire(blocking=False) is True
    assert r.get("resource") == lock.local.token
    other = r.lock("resource", timeout=10)
    assert other.acquire(blocking=False) is False
    assert lock.extend(20) is True
    assert 10 < r.pttl("resource") / 1000 <= 30
    assert lock.reacquire() is True
    assert r.pttl("resource") <= 10000
    lock.release()
    assert r.get("resource") is None
    with pytest.raises(redis.exceptions.LockError):
        lock.release()
    r.set("resource", "someone else")
    lock.local.token = b"mine"
    with pytest.raises(redis.exceptions.LockNotOwnedError):
        lock.release()
    r.delete("resource")
    with other:
        assert r.get("resource") == other.local.token
        with pytest.raises(redis.exceptions.LockNotOwnedError):
            r.set("resource", "stolen")
            other.extend(5)
        r.delete("resource")
        assert other.acquire(blocking=False) is True


def test_missingLua(sharedServer):
    """
    Without lupa, EVAL answers an error naming the package; with it,
    EVAL runs.
    """
    client = RawClient.tcp(sharedServer.port)
    try:
        reply = client.call("EVAL", "return 1", "0")
    finally:
        client.close()
    if LUA:
        assert reply == b":1\r\n"
    else:
        assert reply.startswith(b"-ERR Lua scripting needs the 'lupa' "
                                b"package")


#: Scripts whose replies are the same bytes from kvtwist and Redis.
SAME_SCRIPTS = [
    "return 1", "return 1.9", "return -1.9", "return 'x'", "return true",
    "return false", "return nil", "return {1,2,{3,'x'},nil,5}",
    "return {ok='fine'}", "return {err='My Error'}",
    "return redis.status_reply('S')", "return redis.error_reply('E')",
    "return redis.error_reply('-X y')", "return redis.sha1hex('')",
    "return redis.call('set', KEYS[1], 'v')",
    "return redis.call('get', KEYS[1])", "return redis.call('get', 'nokey')",
    "return type(redis.call('get', 'nokey'))",
    "return redis.call('incr', KEYS[1])", "return redis.pcall('incr', 'k')",
    "return redis.call('nosuch')", "return redis.call()",
    "return redis.call('get')", "return redis.call('multi')",
    "return x", "x = 1", "return +", "error('boom')",
    "error({err='CUSTOM boom'})", "redis.call = nil",
    "return redis.call('set', 'k', {})", "return {double=3.5}",
    "return {map={a=1}}", "return {set={a=true}}",
    "return redis.call('smembers', 'noset')",
    "redis.call('sadd', 's', 'x') redis.setresp(3)"
    " return redis.call('smembers', 's')",
    "redis.call('hset', 'h', 'f', 'v') redis.setresp(3)"
    " return redis.call('hgetall', 'h')",
    "redis.call('zadd', 'z', 1.5, 'm') redis.setresp(3)"
    " return redis.call('zscore', 'z', 'm')",
    "redis.call('zadd', 'z', 1.5, 'm') return redis.call('zscore', 'z', 'm')",
    "return redis.call('lpop', 'nolist', 2)",
    "redis.call('set','n',0.1) return redis.call('get','n')",
    "return math.huge", "return os", "return type(loadstring)",
    "return redis.setresp(4)",
    "redis.setresp(3) return redis.call('exists', 'x')",
    "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
]


@needsLua
@pytest.mark.parametrize("protocol", [2, 3])
def test_sameAsRedis(redisSocket, sharedServer, protocol):
    """
    EVAL answers the same bytes as Redis 7 for conversions, errors and the
    sandbox, in RESP2 and RESP3; so do EVALSHA, SCRIPT LOAD|EXISTS|FLUSH,
    NOSCRIPT and the numkeys errors.
    """
    theirs = RawClient.unix(redisSocket)
    ours = RawClient.tcp(sharedServer.port)
    try:
        for client in (theirs, ours):
            client.call("FLUSHALL")
            client.call("SCRIPT", "FLUSH")
            client.call("HELLO", protocol)
        for body in SAME_SCRIPTS:
            words = ["EVAL", body, "1", "k", "a", "b"]
            assert ours.call(*words) == theirs.call(*words), body
        digest = hashlib.sha1(b"return ARGV[1]").hexdigest()
        for words in [["SCRIPT", "LOAD", "return ARGV[1]"],
                      ["EVALSHA", digest, "0", "hi"],
                      ["SCRIPT", "EXISTS", digest, "nope"],
                      ["EVALSHA", "nope", "0"], ["SCRIPT", "KILL"],
                      ["SCRIPT", "FLUSH"], ["SCRIPT", "EXISTS", digest],
                      ["SCRIPT", "FLUSH", "x"], ["SCRIPT", "nope"],
                      ["EVAL", "return 1", "-1"], ["EVAL", "return 1", "2"],
                      ["EVAL", "return 1", "x"],
                      ["EVAL_RO", "return redis.call('set','k','1')", "0"],
                      ["EVAL_RO", "return redis.call('get','k')", "0"]]:
            assert ours.call(*words) == theirs.call(*words), words
    finally:
        theirs.close()
        ours.close()


@needsLua
def test_runawayStopped(sharedServer):
    """
    A script that never ends is stopped after lua-time-limit (5 s) with an
    error; the server then serves everyone as before.
    """
    client = sharedServer.redis(protocol=2, socket_timeout=30)
    started = time.monotonic()
    with pytest.raises(redis.ResponseError) as e:
        client.eval("while true do end", 0)
    took = time.monotonic() - started
    assert "lua-time-limit" in str(e.value)
    assert "written nothing" in str(e.value)
    assert 4.5 < took < 20
    assert client.ping() is True
    client.close()
