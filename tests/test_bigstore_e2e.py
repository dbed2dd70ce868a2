"""
End-to-end tests of what a big store changes, against a real
C{twistd -n kvstore}: C{KEYS}, C{PRINT} and C{FLUSHALL} past the size at
which they do their work in the thread pool (20,000 keys), with redis-py
and the text protocol, and the memory released once the server goes
quiet after a burst of traffic.
"""

import pytest

redis = pytest.importorskip("redis")

from tests.harness import encodeCommand, waitFor  # noqa: E402

#: More keys than L{kvtwist.backends.memory.MemoryBackend.OFFLOAD_KEYS}, and
#: more than L{kvtwist.protocol.replyqueue.LARGE_REPLY} in a reply.
KEYS = 30000


def fill(client, count: int = KEYS, prefix: str = "key:"):
    """
    Set C{count} keys C{prefix}N to C{vN} with pipelined MSETs.
    """
    pipe = client.pipeline(transaction=False)
    for start in range(0, count, 1000):
        pipe.mset({"%s%d" % (prefix, i): "v%d" % (i,)
                   for i in range(start, min(start + 1000, count))})
    pipe.execute()


def test_keysOnBigStore(server):
    """
    KEYS on a big store returns every matching key; on one connection a
    pipeline of KEYS, SET and KEYS is answered in order, each KEYS seeing
    the store as it was when it ran.
    """
    r = server.redis()
    fill(r)
    keys = r.keys("*")
    assert len(keys) == KEYS
    assert set(keys) == {b"key:%d" % (i,) for i in range(KEYS)}
    assert sorted(r.keys("key:2999?")) == [
        b"key:2999%d" % (i,) for i in range(10)]
    assert r.keys("nomatch*") == []
    pipe = r.pipeline(transaction=False)
    pipe.keys("*")
    pipe.set("late", "x")
    pipe.keys("*")
    pipe.ping()
    before, ok, after, pong = pipe.execute()
    assert (len(before), ok, len(after), pong) == (KEYS, True, KEYS + 1,
                                                   True)
    assert b"late" not in before and b"late" in after
    r.close()


def test_otherClientsServedMeanwhile(server):
    """
    While one client runs KEYS * on a big store, another client's PING is
    answered; both get correct replies.
    """
    r = server.redis()
    fill(r)
    with server.connect() as big, server.textClient() as small:
        big.sendall(encodeCommand("KEYS", "*") * 3)
        assert small.command("PING") == "+PONG"
        # Three whole replies: their length doesn't depend on key order.
        one = len(b"*%d\r\n" % (KEYS,)) + sum(
            len(b"$%d\r\n%s\r\n" % (len(k), k))
            for k in (b"key:%d" % (i,) for i in range(KEYS)))
        got = b""
        big.settimeout(30)
        while len(got) < 3 * one:
            chunk = big.recv(1 << 20)
            assert chunk
            got += chunk
        assert len(got) == 3 * one
        assert got.count(b"$") == 3 * KEYS
    r.close()


def test_printAndFlushOnBigStore(server):
    """
    The text protocol's PRINT lists every pair of a big store in its
    block; FLUSHALL empties it and the server goes on.
    """
    r = server.redis()
    fill(r)
    r.rpush("list", "a", "b")
    with server.textClient() as c:
        lines = c.blockCommand("PRINT")
        assert len(lines) == KEYS + 1
        assert "key:123: v123" in lines
        assert "list: ['a', 'b']" in lines
        assert c.command("FLUSHALL") == "OK"
        assert c.blockCommand("PRINT") == ["Store is empty."]
        assert c.command("SET k v").startswith("Added")
    assert r.dbsize() == 1
    r.close()


def test_memoryReleasedWhenQuiet(server):
    """
    After a burst of more than 8 MB of traffic, the server counts a memory
    release in INFO once it has been quiet for a moment (polling INFO
    meanwhile doesn't count as traffic enough to keep it busy).
    """
    r = server.redis()
    value = b"x" * (1 << 20)
    for i in range(10):
        r.set("big%d" % (i,), value)
    r.close()
    # Poll like a monitor would, a few times a second: INFO is about 1.4 KB,
    # so polling it every 20 ms is 70 KB/s, which is traffic enough to keep
    # the server busy (over the collector's 64 KB a second of quiet).
    waitFor(lambda: int(server.info().get("idle_memory_releases", "0")) >= 1,
            timeout=10, interval=0.2, what="an idle memory release")


@pytest.mark.parametrize("request_", ["PRINT\r\nquit\r\n",
                                      "GET big\r\nQUIT\r\n"])
def test_bigReplyThenQuit(server, request_):
    """
    A big reply followed by quit in the same packet (C{printf ... | nc}):
    the whole reply, the goodbye, then the server closes the connection,
    even though the reply filled the transport's buffer on the way.
    """
    r = server.redis()
    fill(r)
    r.set("big", b"x" * (32 << 20))
    r.close()
    with server.connect() as s:
        s.settimeout(30)
        s.sendall(request_.encode())
        got = b""
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += chunk
    assert got.endswith(b"\r\nGoodbye!\r\n")
    if request_.startswith("PRINT"):
        assert got.count(b"\r\n") == KEYS + 3  # pairs, big, ".", bye
    else:
        assert len(got) == (32 << 20) + len(b"\r\nGoodbye!\r\n")
