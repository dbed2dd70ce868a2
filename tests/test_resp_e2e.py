"""
End-to-end tests of RESP with unmodified redis-py (hiredis when installed)
against a real C{twistd -n kvstore}, in C{protocol=2} and in redis-py's
default (C{HELLO 3}, RESP3); and raw RESP for the exact error texts and
the protocol errors that close the connection.
"""

import pytest

redis = pytest.importorskip("redis")

from tests.harness import LineClient, encodeCommand, waitFor  # noqa: E402


@pytest.fixture(params=[2, None], ids=["resp2", "default-resp3"])
def r(request, sharedServer):
    """
    A redis-py client on a freshly flushed shared server, in RESP2 or
    redis-py's default protocol.
    """
    kwargs = {} if request.param is None else {"protocol": request.param}
    client = sharedServer.redis(**kwargs)
    client.flushall()
    yield client
    client.close()


def test_protocolNegotiated(r):
    """
    The connection speaks the protocol the client asked for: HELLO answers
    the server map (a RESP3 map, or a flat array in RESP2) and the
    connection reports that protocol.
    """
    expected = r.connection_pool.connection_kwargs.get("protocol") or 3
    hello = r.execute_command("HELLO", expected)
    if expected == 2:
        assert isinstance(hello, list)
        hello = dict(zip(hello[::2], hello[1::2]))
    assert hello[b"server"] == b"redis"
    assert hello[b"proto"] == expected
    assert hello[b"mode"] == b"standalone"
    info = r.execute_command("CLIENT", "INFO")
    assert b"resp=%d" % (expected,) in info


def test_strings(r):
    """
    GET/SET with their options, SETNX, GETSET, GETDEL, MSET/MGET, APPEND,
    STRLEN, EXISTS, DEL, KEYS, TYPE, RENAME, DBSIZE, ECHO, PING.
    """
    assert r.ping() is True
    assert r.echo("hi") == b"hi"
    assert r.get("k") is None
    assert r.set("k", "v") is True
    assert r.get("k") == b"v"
    assert r.set("k", "w", nx=True) is None
    assert r.set("k", "w", xx=True) is True
    assert r.set("other", "x", xx=True) is None
    assert r.set("k", "z", get=True) == b"w"
    assert r.setnx("k", "no") is False
    assert r.setnx("n", "yes") is True
    assert r.getset("k", "new") == b"z"
    assert r.getdel("k") == b"new"
    assert r.get("k") is None
    assert r.mset({"a": "1", "b": "2", "c": "3"}) is True
    assert r.mget("a", "b", "missing", "c") == [b"1", b"2", None, b"3"]
    assert r.append("a", "23") == 3
    assert r.strlen("a") == 3
    assert r.exists("a", "b", "missing") == 2
    assert r.delete("a", "missing") == 1
    assert sorted(r.keys("*")) == [b"b", b"c", b"n"]
    assert sorted(r.keys("[bc]")) == [b"b", b"c"]
    assert r.type("b") == b"string"
    assert r.type("missing") == b"none"
    assert r.rename("b", "bb") is True
    assert r.get("bb") == b"2"
    assert r.dbsize() == 3
    assert sorted(r.scan_iter(match="*")) == [b"bb", b"c", b"n"]


def test_counters(r):
    """
    INCR, DECR, INCRBY and DECRBY with Redis semantics, and the error for a
    value that is not an integer.
    """
    assert r.incr("n") == 1
    assert r.incr("n") == 2
    assert r.incrby("n", 40) == 42
    assert r.decr("n") == 41
    assert r.decrby("n", 50) == -9
    assert r.get("n") == b"-9"
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError) as e:
        r.incr("s")
    assert "value is not an integer or out of range" in str(e.value)
    r.set("big", str(2 ** 63 - 1))
    with pytest.raises(redis.ResponseError):
        r.incr("big")


def test_lists(r):
    """
    LPUSH, RPUSH, LRANGE, LLEN, LINDEX, LSET, LREM, LPOP and RPOP (with a
    count), and WRONGTYPE across types.
    """
    assert r.rpush("l", "b", "c") == 2
    assert r.lpush("l", "a") == 3
    assert r.rpush("l", "a", "d") == 5
    assert r.lrange("l", 0, -1) == [b"a", b"b", b"c", b"a", b"d"]
    assert r.llen("l") == 5
    assert r.lindex("l", -1) == b"d"
    assert r.lindex("l", 99) is None
    assert r.lset("l", 1, "B") is True
    assert r.lrem("l", 0, "a") == 2
    assert r.lrange("l", 0, -1) == [b"B", b"c", b"d"]
    assert r.lpop("l") == b"B"
    assert r.rpop("l", 2) == [b"d", b"c"]
    assert r.lpop("l") is None
    assert r.exists("l") == 0
    assert r.type("l") == b"none"
    r.rpush("l2", "x")
    assert r.type("l2") == b"list"
    with pytest.raises(redis.ResponseError) as e:
        r.get("l2")
    assert "WRONGTYPE Operation against a key holding the wrong kind of " \
        "value" in str(e.value)
    r.set("s", "v")
    with pytest.raises(redis.ResponseError) as e:
        r.lpush("s", "x")
    assert "WRONGTYPE" in str(e.value)
    with pytest.raises(redis.ResponseError):
        r.lset("l2", 5, "x")


def test_expiry(r):
    """
    EX/PX, EXPIRE, PEXPIRE, TTL, PTTL and PERSIST; an expired key is never
    returned.
    """
    assert r.set("k", "v", ex=100) is True
    assert 99 <= r.ttl("k") <= 100
    assert 0 < r.pttl("k") <= 100000
    assert r.persist("k") is True
    assert r.ttl("k") == -1
    assert r.ttl("missing") == -2
    assert r.expire("k", 50) is True
    assert 49 <= r.ttl("k") <= 50
    assert r.expire("missing", 50) is False
    r.set("short", "v", px=150)
    r.rpush("shortlist", "a")
    assert r.pexpire("shortlist", 150) is True
    waitFor(lambda: r.get("short") is None, timeout=5,
            what="the key to expire")
    waitFor(lambda: r.exists("shortlist") == 0, timeout=5,
            what="the list to expire")
    assert r.get("short") is None
    assert r.lrange("shortlist", 0, -1) == []
    assert r.ttl("short") == -2
    assert r.get("k") == b"v"


BINARY = bytes(range(256)) + b"\r\n\x00\r\n*1\r\n$3\r\n"


def test_binaryKeysAndValues(r):
    """
    Keys and values holding CR, LF, NUL and every other byte round-trip
    exactly (RESP bulk strings are binary safe).
    """
    key = b"key\r\nwith\x00nul"
    assert r.set(key, BINARY) is True
    assert r.get(key) == BINARY
    assert r.strlen(key) == len(BINARY)
    assert r.keys(b"key*") == [key]
    r.rpush(b"list\r\n", b"\x00", b"\r\n", BINARY)
    assert r.lrange(b"list\r\n", 0, -1) == [b"\x00", b"\r\n", BINARY]
    assert r.mget(key, b"list\r\n" + b"x") == [BINARY, None]


def test_oneMebibyteValue(r):
    """
    A 1 MiB value is stored and returned whole.
    """
    value = bytes(range(256)) * 4096
    assert len(value) == 1024 * 1024
    assert r.set("big", value) is True
    assert r.get("big") == value
    assert r.strlen("big") == len(value)
    assert r.append("big", b"!") == len(value) + 1


def test_pipelineOfThousands(r):
    """
    Pipelines of 10,000 and 5,000 commands get every reply, in request
    order.
    """
    n = 5000
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.set("k%d" % (i,), "v%d" % (i,))
    for i in range(n):
        pipe.get("k%d" % (i,))
    results = pipe.execute()
    assert results[:n] == [True] * n
    assert results[n:] == [b"v%d" % (i,) for i in range(n)]
    pipe = r.pipeline(transaction=False)
    for i in range(n):
        pipe.incr("counter")
    assert pipe.execute() == list(range(1, n + 1))


def test_errorsKeepConnection(r):
    """
    Command errors are replied and the connection goes on.
    """
    cid = r.client_id()
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("FROBNICATE", "a", "b")
    assert "unknown command 'FROBNICATE', with args beginning with: " \
        "'a' 'b'" in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("GET")
    assert "wrong number of arguments for 'get' command" in str(e.value)
    with pytest.raises(redis.ResponseError) as e:
        r.execute_command("SET", "k", "v", "BOGUS")
    assert "syntax error" in str(e.value)
    assert r.client_id() == cid


def test_infoAndConfig(r):
    """
    INFO parses as Redis's (redis-py turns it into a dict) and CONFIG GET
    shows the options.
    """
    info = r.info()
    assert info["connected_clients"] >= 1
    assert "dropped_clients" in info
    assert info["redis_mode"] == "standalone"
    clients = r.info("clients")
    assert "connected_clients" in clients
    assert "uptime_in_seconds" not in clients
    config = r.config_get("maxclients")
    assert config == {b"maxclients": b"10000"} or \
        config == {"maxclients": "10000"}


def test_decodeResponses(sharedServer):
    """
    redis-py with C{decode_responses=True} (the most common setting) gets
    text back.
    """
    client = sharedServer.redis(decode_responses=True)
    try:
        client.flushall()
        client.set("ключ", "значение")
        assert client.get("ключ") == "значение"
        assert client.mget(["ключ", "nope"]) == ["значение", None]
    finally:
        client.close()


# -- raw RESP: exact error texts and protocol errors ----------------------


def rawReply(c: LineClient) -> bytes:
    """
    Read one whole RESP reply (simple types and bulks only) as raw bytes.
    """
    head = c.readLineBytes()
    if head[:1] in (b"$", b"="):
        n = int(head[1:])
        if n < 0:
            return head + b"\r\n"
        return head + b"\r\n" + c.readExactly(n + 2)
    return head + b"\r\n"


ERROR_CASES = [
    ((b"NOSUCH", b"x", b"y"),
     b"-ERR unknown command 'NOSUCH', with args beginning with: 'x' 'y'"),
    ((b"GET",), b"-ERR wrong number of arguments for 'get' command"),
    ((b"INCR", b"s"), b"-ERR value is not an integer or out of range"),
    ((b"LPUSH", b"s", b"x"),
     b"-WRONGTYPE Operation against a key holding the wrong kind of value"),
    ((b"SET", b"k", b"v", b"EX"), b"-ERR syntax error"),
]


@pytest.mark.parametrize("resp3", [False, True], ids=["resp2", "resp3"])
def test_errorTexts(sharedServer, resp3):
    """
    The exact error lines Redis sends, in RESP2 and RESP3.
    """
    with LineClient(sharedServer.port) as c:
        if resp3:
            c.send(encodeCommand(b"HELLO", b"3"))
            assert c.readLineBytes().startswith(b"%")
            # Skip the map: read until the next command's reply arrives.
            c.send(encodeCommand(b"PING"))
            while c.readLineBytes() != b"+PONG":
                pass
        c.send(encodeCommand(b"SET", b"s", b"abc"))
        assert c.readLineBytes() == b"+OK"
        for args, expected in ERROR_CASES:
            c.send(encodeCommand(*args))
            assert rawReply(c) == expected + b"\r\n", args
        c.send(encodeCommand(b"GET", b"missing"))
        assert rawReply(c) == (b"_\r\n" if resp3 else b"$-1\r\n")


@pytest.mark.parametrize("payload, error", [
    (b"*x\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    (b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    (b"*1\r\nx3\r\nfoo\r\n",
     b"-ERR Protocol error: expected '$', got 'x'\r\n"),
], ids=["multibulk-length", "bulk-length", "negative-bulk", "expected-$"])
def test_protocolErrorCloses(sharedServer, payload, error):
    """
    A RESP framing error is replied with Redis's text and the connection is
    closed; replies to the requests before it come first, and the server
    goes on serving other clients.
    """
    with LineClient(sharedServer.port) as c:
        c.send(encodeCommand(b"PING") + payload + encodeCommand(b"PING"))
        assert c.readUntilClosed() == b"+PONG\r\n" + error
    with LineClient(sharedServer.port) as c:
        c.send(encodeCommand(b"PING"))
        assert c.readLineBytes() == b"+PONG"


def test_requestSplitAtEveryByte(sharedServer):
    """
    A request that arrives one byte per packet is framed correctly.
    """
    import socket
    request = encodeCommand(b"SET", b"split\r\nkey", b"v\x00\r\nal") + \
        encodeCommand(b"GET", b"split\r\nkey")
    with LineClient(sharedServer.port) as c:
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(request)):
            c.send(request[i:i + 1])
        assert c.readLineBytes() == b"+OK"
        assert rawReply(c) == b"$6\r\nv\x00\r\nal\r\n"


def test_inlineCommandsStayResp(sharedServer):
    """
    Once a connection has sent a RESP request, its inline commands are
    split as Redis splits them and answered in RESP (a client reading RESP
    stays in step); an unbalanced quote is a protocol error starting with
    C{-}, and the connection closes.
    """
    with LineClient(sharedServer.port) as c:
        c.send(encodeCommand(b"PING") + b'SET inline "a b\\n"\r\n'
               b"GET inline\r\nPING\r\n" + encodeCommand(b"DEL", b"inline"))
        expected = b"+PONG\r\n+OK\r\n$4\r\na b\n\r\n+PONG\r\n:1\r\n"
        assert c.readExactly(len(expected)) == expected
        c.send(b'SET inline "unbalanced\r\n')
        assert c.readUntilClosed() == (b"-ERR Protocol error: unbalanced "
                                       b"quotes in request\r\n")


def test_quit(sharedServer):
    """
    QUIT is answered +OK and the connection is closed.
    """
    with LineClient(sharedServer.port) as c:
        c.send(encodeCommand(b"QUIT"))
        assert c.readUntilClosed() == b"+OK\r\n"


def test_hiredisParser(sharedServer):
    """
    When hiredis is installed (CI installs it on CPython), redis-py parses
    kvtwist's replies with it.
    """
    pytest.importorskip("hiredis")
    from redis.utils import HIREDIS_AVAILABLE
    assert HIREDIS_AVAILABLE
    client = sharedServer.redis(protocol=2)
    try:
        client.ping()
        connection = client.connection_pool.get_connection()
        try:
            assert "Hiredis" in type(connection._parser).__name__
        finally:
            client.connection_pool.release(connection)
    finally:
        client.close()
