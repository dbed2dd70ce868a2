"""
End-to-end tests of transactions against a real C{twistd -n kvstore}:
redis-py's transactional pipelines and WATCH retry loops in RESP2 and
RESP3; the exact bytes of Redis's replies, beside a real redis-server; and
C{kill -9} during a stream of C{EXEC}s, after which each C{EXEC} is there
whole or not at all.
"""

import random
import socket
import threading

import pytest

redis = pytest.importorskip("redis")

from tests.harness import HOST, encodeCommand, waitFor  # noqa: E402
from tests import test_redis_parity_e2e as parity  # noqa: E402
from tests.test_redis_parity_e2e import RawClient  # noqa: E402

#: The parity module's redis-server fixture (one for the modules that use
#: it).
redisSocket = parity.redisSocket


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, sharedServer):
    """
    A redis-py client on a freshly flushed shared server, in RESP2 or
    RESP3.
    """
    client = sharedServer.redis(protocol=request.param)
    client.flushall()
    yield client
    client.close()


def test_pipeline(r):
    """
    A transactional pipeline runs its commands as one and gives each
    reply; a command that fails when run raises after the others ran.
    """
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1").incr("a").rpush("l", "x", "y").get("a")
        assert pipe.execute() == [True, 2, 2, b"2"]
    with r.pipeline(transaction=True) as pipe:
        pipe.set("s", "text").incr("s").set("after", "1")
        with pytest.raises(redis.ResponseError) as e:
            pipe.execute()
        assert "not an integer" in str(e.value)
    assert r.get("after") == b"1"
    with r.pipeline(transaction=True) as pipe:
        pipe.set("s", "x").incr("s").set("t", "1")
        replies = pipe.execute(raise_on_error=False)
        assert replies[0] is True and replies[2] is True
        assert isinstance(replies[1], redis.ResponseError)


def test_execAbort(r):
    """
    A command that can't be queued makes the transaction fail whole.
    """
    with r.pipeline(transaction=True) as pipe:
        pipe.set("k", "v")
        pipe.execute_command("NOSUCHCOMMAND")
        with pytest.raises(redis.ResponseError) as e:
            pipe.execute()
        assert "EXECABORT" in str(e.value) or "unknown command" in str(e.value)
    assert r.get("k") is None


def test_watchRetryLoop(r, sharedServer):
    """
    The WATCH retry loop of redis-py's documentation: while another client
    changes the watched key between WATCH and EXEC, EXEC fails with
    WatchError and the loop tries again; each increment lands once.
    """
    other = sharedServer.redis(protocol=2)
    r.set("counter", 0)
    meddle = [3]
    retries = 0
    for _ in range(10):
        with r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch("counter")
                    value = int(pipe.get("counter"))
                    if meddle[0]:
                        meddle[0] -= 1
                        other.incr("counter", 100)
                    pipe.multi()
                    pipe.set("counter", value + 1)
                    pipe.execute()
                    break
                except redis.WatchError:
                    retries += 1
    other.close()
    assert retries == 3
    assert int(r.get("counter")) == 310


def test_transactionHelper(r, sharedServer):
    """
    redis-py's C{transaction()} helper (WATCH, the function, MULTI/EXEC,
    retried on WatchError).
    """
    other = sharedServer.redis(protocol=2)
    r.rpush("queue", "a", "b")
    calls = []

    def move(pipe):
        calls.append(1)
        item = pipe.lindex("queue", 0)
        if len(calls) == 1:
            other.rpush("queue", "c")
        pipe.multi()
        pipe.lpop("queue")
        pipe.rpush("done", item)

    assert r.transaction(move, "queue") == [b"a", 1]
    other.close()
    assert len(calls) == 2
    assert r.lrange("queue", 0, -1) == [b"b", b"c"]
    assert r.lrange("done", 0, -1) == [b"a"]


def test_watchExpiry(r):
    """
    A watched key that expires before EXEC makes it fail, though no one
    touched it.
    """
    r.set("k", "v", px=50)
    with r.pipeline() as pipe:
        pipe.watch("k")
        waitFor(lambda: r.pttl("k") == -2, timeout=5)
        pipe.multi()
        pipe.set("other", "1")
        with pytest.raises(redis.WatchError):
            pipe.execute()


#: Requests whose replies are the same bytes from kvtwist and Redis (one
#: connection each, in order).
SAME = [
    ["EXEC"], ["DISCARD"], ["MULTI"], ["MULTI"], ["WATCH", "x"],
    ["SET", "a", "1"], ["INCR", "a"], ["LPOP", "a"], ["NOSUCH"],
    ["GET"], ["EXEC"],
    ["MULTI"], ["SET", "a", "1"], ["INCR", "a"], ["LPOP", "a"],
    ["GET", "nokey"], ["LPOP", "nolist", "2"], ["UNWATCH"], ["EXEC"],
    ["MULTI"], ["SAVE"], ["EXEC"],
    ["MULTI"], ["EXEC"],
    ["WATCH", "a"], ["SET", "a", "2"], ["MULTI"], ["GET", "a"], ["EXEC"],
    ["WATCH", "nokey"], ["FLUSHALL"], ["MULTI"], ["PING"], ["EXEC"],
    ["SET", "wk", "1"], ["WATCH", "wk"], ["FLUSHDB"], ["MULTI"], ["EXEC"],
    ["SET", "wk", "1"], ["WATCH", "wk"], ["SET", "other", "1"], ["MULTI"],
    ["PING"], ["EXEC"],
    ["WATCH", "wk"], ["EXPIRE", "wk", "100"], ["MULTI"], ["EXEC"],
    ["WATCH", "wk"], ["DEL", "nothere"], ["MULTI"], ["PING"], ["EXEC"],
    ["WATCH", "s"], ["SWAPDB", "0", "1"], ["MULTI"], ["PING"], ["EXEC"],
    ["SELECT", "1"], ["SET", "s", "x"], ["SELECT", "0"], ["WATCH", "s"],
    ["SWAPDB", "0", "1"], ["MULTI"], ["PING"], ["EXEC"],
    ["FLUSHALL"], ["SET", "a", "1"], ["WATCH", "b"], ["RENAME", "a", "b"],
    ["MULTI"], ["PING"], ["EXEC"],
    ["MULTI"], ["SELECT", "1"], ["SET", "z", "1"], ["EXEC"], ["GET", "z"],
    ["SELECT", "0"],
    ["MULTI"], ["DISCARD"], ["EXEC"],
]


@pytest.mark.parametrize("protocol", [2, 3])
def test_sameAsRedis(redisSocket, sharedServer, protocol):
    """
    The transaction commands answer the same bytes as Redis 7, in RESP2
    and RESP3: queueing, errors, EXECABORT, null arrays for watched keys
    changed, flushed or swapped.
    """
    theirs = RawClient.unix(redisSocket)
    ours = RawClient.tcp(sharedServer.port)
    try:
        for client in (theirs, ours):
            client.call("FLUSHALL")
            client.call("HELLO", protocol)
        for words in SAME:
            assert ours.call(*words) == theirs.call(*words), words
    finally:
        theirs.close()
        ours.close()


class ExecWriter(threading.Thread):
    """
    A client that sends EXEC after EXEC, one at a time, each of which
    writes three keys and a list together, with a large value: C{MULTI},
    C{SET a<id> <v>}, C{SET b<id> <v>}, C{RPUSH log<id> <n>},
    C{INCR n<id>}, C{EXEC}.

    @ivar acked: the number of the last EXEC acknowledged.
    """

    def __init__(self, port: int, ident: int, stop: threading.Event,
                 start: int = 0):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.ident_ = ident
        self.stop = stop
        self.seq = start
        self.acked = start
        self.errors = []

    def run(self):
        i = self.ident_
        try:
            sock = socket.create_connection((HOST, self.port), timeout=10)
        except OSError as e:
            self.errors.append(repr(e))
            return
        buf = b""
        pad = b"x" * random.randrange(20000, 60000)
        try:
            while not self.stop.is_set():
                self.seq += 1
                value = b"%d:" % (self.seq,) + pad
                sock.sendall(
                    encodeCommand(b"MULTI") +
                    encodeCommand(b"SET", b"a%d" % (i,), value) +
                    encodeCommand(b"SET", b"b%d" % (i,), value) +
                    encodeCommand(b"RPUSH", b"log%d" % (i,),
                                  b"%d" % (self.seq,)) +
                    encodeCommand(b"INCR", b"n%d" % (i,)) +
                    encodeCommand(b"EXEC"))
                # +OK, 4 x +QUEUED, then *4 +OK +OK :n :n
                needed = 5 + 5
                while buf.count(b"\r\n") < needed:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                lines = buf.split(b"\r\n")
                buf = b"\r\n".join(lines[needed:])
                if lines[5] != b"*4":
                    self.errors.append(repr(lines[:needed]))
                    return
                self.acked = self.seq
        except OSError:
            pass
        finally:
            sock.close()


def checkWhole(r, writers):
    """
    Every writer's keys agree: the EXECs recovered are each there whole,
    and the last acknowledged one is there (with C{--fsync always}) or
    maybe not (otherwise); returns the number of the last EXEC recovered
    of each writer.
    """
    last = []
    for w in writers:
        i = w.ident_
        a, b = r.get("a%d" % (i,)), r.get("b%d" % (i,))
        log = r.lrange("log%d" % (i,), 0, -1)
        n = int(r.get("n%d" % (i,)) or 0)
        assert a == b
        assert len(log) == n
        assert [int(x) for x in log] == list(range(1, n + 1))
        if n:
            assert a.split(b":")[0] == log[-1]
        else:
            assert a is None
        last.append(n)
    return last


@pytest.mark.parametrize("fsync", ["interval", "always"])
def test_killDuringExecs(makeServer, fsync):
    """
    C{kill -9} while clients send EXEC after EXEC of large writes, round
    after round: after each restart, each EXEC is there whole or not at
    all, in order; with C{--fsync always}, every acknowledged one is there.
    """
    server = makeServer(["--fsync", fsync, "--flush-interval", "0.05"])
    writers = []
    for round_ in range(4):
        stop = threading.Event()
        writers = [ExecWriter(server.port, i, stop,
                              start=writers[i].acked if writers else 0)
                   for i in range(3)]
        for w in writers:
            w.start()
        started = [w.acked for w in writers]
        waitFor(lambda: all(w.acked >= n + 3
                            for w, n in zip(writers, started)), timeout=30)
        # Let the load run on a little: an Event wait (nothing sets it).
        threading.Event().wait(random.uniform(0.05, 0.3))
        server.kill9()
        stop.set()
        for w in writers:
            w.join(10)
            assert not w.errors, w.errors
        server.start(["--fsync", fsync, "--flush-interval", "0.05"])
        client = server.redis(protocol=2)
        try:
            recovered = checkWhole(client, writers)
        finally:
            client.close()
        for w, n in zip(writers, recovered):
            assert n <= w.seq
            if fsync == "always":
                assert n >= w.acked
            # The next round goes on from what is there.
            w.acked = n
