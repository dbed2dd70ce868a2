"""
End-to-end tests of the blocking pops (BLPOP BRPOP BLMOVE BRPOPLPUSH
BLMPOP) with unmodified redis-py and redis-cli against a real C{twistd -n
kvstore}: a client blocks, another pushes, in RESP2 and RESP3.
"""

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from kvtwist.dialects.resp import encodeCommand
from tests.harness import IO_TIMEOUT, LineClient, waitFor

redis = pytest.importorskip("redis")


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request):
    return request.param


@pytest.fixture
def clients(sharedServer, protocol):
    """
    A factory of redis-py clients of the flushed shared server, each on a
    connection of its own, closed at the end.
    """
    made = []

    def make():
        client = sharedServer.redis(protocol=protocol,
                                    single_connection_client=True)
        made.append(client)
        return client

    make().flushall()
    yield make
    for client in made:
        client.close()


@pytest.fixture
def pool():
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def blocked(sharedServer, count: int):
    """
    Wait until C{count} clients are blocked (INFO's C{blocked_clients}).
    """
    waitFor(lambda: sharedServer.info()["blocked_clients"] == str(count),
            what="%d blocked clients" % (count,))


def test_timeout(clients):
    """
    With nothing to pop, BLPOP and BLMOVE wait their timeout, then answer
    None; a bad timeout is Redis's error.
    """
    r = clients()
    started = time.monotonic()
    assert r.blpop(["k1", "k2"], timeout=0.3) is None
    assert time.monotonic() - started >= 0.3
    assert r.blmove("k1", "k2", 0.1, "LEFT", "RIGHT") is None
    assert r.blmpop(0.1, 2, "k1", "k2", direction="LEFT") is None
    with pytest.raises(redis.ResponseError, match="timeout is negative"):
        r.blpop("k", timeout=-1)
    with pytest.raises(redis.ResponseError, match="not a float"):
        r.execute_command("BLPOP", "k", "soon")


def test_wakeUp(sharedServer, clients, pool):
    """
    A BLPOP waiting for ever gets the element another client pushes, and
    the later commands of its connection run after it.
    """
    waiter, pusher = clients(), clients()
    popped = pool.submit(waiter.blpop, ["jobs", "other"], 0)
    blocked(sharedServer, 1)
    assert not popped.done()
    assert pusher.rpush("jobs", "job1", "job2") == 2
    assert popped.result(IO_TIMEOUT) == (
        [b"jobs", b"job1"] if waiter.connection.protocol == 3 else
        (b"jobs", b"job1"))
    assert waiter.lrange("jobs", 0, -1) == [b"job2"]
    blocked(sharedServer, 0)


def test_fairOrder(sharedServer, clients, pool):
    """
    Clients blocked on one key are served in the order they blocked.
    """
    waiters = [clients() for _ in range(3)]
    futures = []
    for i, w in enumerate(waiters):
        futures.append(pool.submit(w.brpop, "q", 0))
        blocked(sharedServer, i + 1)
    clients().lpush("q", "c", "b", "a")  # q: a b c; BRPOP takes c first
    assert [tuple(f.result(IO_TIMEOUT))[1] for f in futures] == [
        b"c", b"b", b"a"]


def test_moves(sharedServer, clients, pool):
    """
    BLMOVE, BRPOPLPUSH and BLMPOP served by pushes; a BLMOVE's
    destination serves a client blocked there.
    """
    a, b, c = clients(), clients(), clients()
    moved = pool.submit(a.blmove, "src", "mid", 0, "LEFT", "RIGHT")
    blocked(sharedServer, 1)
    popped = pool.submit(b.blmpop, 0, 2, "x", "mid", direction="RIGHT",
                         count=5)
    blocked(sharedServer, 2)
    c.rpush("src", "v")
    assert moved.result(IO_TIMEOUT) == b"v"
    assert popped.result(IO_TIMEOUT) == [b"mid", [b"v"]]
    pushed = pool.submit(a.brpoplpush, "src", "dst", 0)
    blocked(sharedServer, 1)
    c.rpush("src", "w")
    assert pushed.result(IO_TIMEOUT) == b"w"
    assert c.lrange("dst", 0, -1) == [b"w"]


def test_sortedSets(sharedServer, clients, pool):
    """
    BZPOPMIN waits for a ZADD; BZPOPMAX answers at once when it can.
    """
    a, b = clients(), clients()
    popped = pool.submit(a.bzpopmin, ["scores", "other"], 0)
    blocked(sharedServer, 1)
    b.zadd("scores", {"alice": 3, "bob": 1.5})
    assert tuple(popped.result(IO_TIMEOUT)) == (b"scores", b"bob", 1.5)
    assert tuple(a.bzpopmax("scores", 0)) == (b"scores", b"alice", 3.0)
    assert a.bzpopmax("scores", 0.1) is None


def test_laterRequestsWait(sharedServer, clients):
    """
    A client's requests after its BLPOP don't run while it waits: another
    client doesn't see them; they run once it is served.
    """
    with LineClient(sharedServer.port) as raw:
        raw.send(encodeCommand("BLPOP", "k", "0") +
                 encodeCommand("SET", "after", "1") +
                 encodeCommand("GET", "after"))
        blocked(sharedServer, 1)
        other = clients()
        assert other.get("after") is None
        other.rpush("k", "v")
        assert raw.readLineBytes() == b"*2"
        assert [raw.readLineBytes() for _ in range(4)] == [
            b"$1", b"k", b"$1", b"v"]
        assert raw.readLineBytes() == b"+OK"
        assert [raw.readLineBytes() for _ in range(2)] == [b"$1", b"1"]


def test_wrongType(clients):
    """
    A key of another kind is WRONGTYPE, at once.
    """
    r = clients()
    r.set("s", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.blpop("s", 0)


def test_clientUnblock(sharedServer, clients, pool):
    """
    CLIENT UNBLOCK ends another client's wait.
    """
    a, b = clients(), clients()
    myId = a.client_id()
    popped = pool.submit(a.blpop, "k", 0)
    blocked(sharedServer, 1)
    assert b.client_unblock(myId) is True
    assert popped.result(IO_TIMEOUT) is None
    assert b.client_unblock(myId) is False


REDIS_CLI = shutil.which("redis-cli")


@pytest.mark.skipif(REDIS_CLI is None, reason="redis-cli is not installed")
def test_redisCli(sharedServer):
    """
    C{redis-cli BLPOP} waits until another client pushes, then prints
    the key and the element as it does with Redis.
    """
    sharedServer.rawCommand(b"FLUSHALL")
    proc = subprocess.Popen(
        [REDIS_CLI, "-p", str(sharedServer.port), "BLPOP", "tasks", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        blocked(sharedServer, 1)
        assert proc.poll() is None
        sharedServer.rawCommand(b"RPUSH", b"tasks", b"t1")
        out, err = proc.communicate(timeout=IO_TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out == b"tasks\nt1\n"


def test_durable(makeServer, pool):
    """
    With C{--fsync always}, a pop served to a blocked client is on disk
    when its reply comes: after a kill -9 and a restart, the element is
    gone from the list (and the other one, pushed after, is there).
    """
    server = makeServer(["--fsync", "always"])
    waiter = server.redis(protocol=2)
    pusher = server.redis(protocol=2)
    popped = pool.submit(waiter.blpop, "jobs", 0)
    waitFor(lambda: server.info()["blocked_clients"] == "1",
            what="a blocked client")
    pusher.rpush("jobs", "first", "second")
    assert popped.result(IO_TIMEOUT) == (b"jobs", b"first")
    waiter.close()
    pusher.close()
    server.kill9()
    server.restart()
    after = server.redis(protocol=2)
    assert after.lrange("jobs", 0, -1) == [b"second"]
    after.close()
