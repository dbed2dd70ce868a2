"""
End-to-end tests of a cluster front end while the cluster is disturbed:
slots moved under traffic, a primary killed under writes, every node down.
Each test has a cluster of its own (L{tests.clusterharness}), since it
breaks it.
"""

import threading
import time

import pytest
import redis

from tests.clusterharness import FrontEnd, RedisCluster
from tests.harness import waitFor


@pytest.fixture
def makeCluster(tmp_path, request):
    """
    A factory of started clusters, stopped at teardown.
    """
    made = []

    def make(**kwargs):
        cluster = RedisCluster(tmp_path / ("cluster%d" % (len(made),)),
                               **kwargs)
        made.append(cluster)
        return cluster.start()
    yield make
    for cluster in made:
        cluster.stop()


@pytest.fixture
def makeFrontEnd(tmp_path, request):
    """
    A factory of started front ends, killed at teardown (their logs
    printed if the test failed).
    """
    made = []

    def make(cluster, *args):
        server = FrontEnd(tmp_path / ("fe%d" % (len(made),)),
                          cluster.seeds(3))
        made.append(server)
        return server.start(list(args))
    yield make
    report = getattr(request.node, "_report_call", None)
    for server in made:
        if report is not None and report.failed:
            print(server.diagnostics())
        server.cleanup()


class Writer(threading.Thread):
    """
    Writes C{SET prefix:N N} through a front end, one after another,
    until stopped; remembers what was acknowledged, what failed (and how
    long each call took).
    """

    def __init__(self, port: int, prefix: str, timeout: float = 20.0):
        threading.Thread.__init__(self, daemon=True)
        self.client = redis.Redis(host="127.0.0.1", port=port,
                                  socket_timeout=timeout)
        self.prefix = prefix
        self.acknowledged = []
        self.errors = []
        self.slowest = 0.0
        self.stopping = threading.Event()

    def run(self):
        n = 0
        while not self.stopping.is_set():
            key = "%s:%d" % (self.prefix, n)
            started = time.monotonic()
            try:
                self.client.set(key, n)
            except redis.ResponseError as e:
                self.errors.append((time.monotonic(), str(e)))
            except redis.RedisError as e:  # the front end itself failing
                self.errors.append((time.monotonic(), "client: %s" % (e,)))
            else:
                self.acknowledged.append((time.monotonic(), key))
            self.slowest = max(self.slowest, time.monotonic() - started)
            n += 1

    def stop(self):
        self.stopping.set()
        self.join(30)


def acknowledgedBy(writers, count: int, since: float = 0.0):
    """
    A predicate for L{waitFor}: every writer has had C{count} writes
    acknowledged after C{since} (a C{time.monotonic()}).
    """
    def enough():
        return all(sum(1 for when, _ in w.acknowledged if when > since)
                   >= count for w in writers)
    return enough


def test_reshardUnderTraffic(makeCluster, makeFrontEnd):
    """
    Slots migrate (redis-cli --cluster reshard: keys moved by MIGRATE,
    clients answered ASK and MOVED meanwhile) while writers write through
    the front end: no write fails, and every one is there afterwards.
    """
    cluster = makeCluster()
    front = makeFrontEnd(cluster)
    primaries = cluster.primaries()
    writers = [Writer(front.port, "w%d" % (i,)) for i in range(3)]
    for w in writers:
        w.start()
    waitFor(acknowledgedBy(writers, 20), what="writes before the reshard")
    result = cluster.reshard(primaries[0], primaries[1], 600)
    waitFor(acknowledgedBy(writers, 20, time.monotonic()),
            what="writes after the reshard")
    for w in writers:
        w.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    cluster.waitHealthy()
    slots = cluster.slotMap()
    assert sum(1 for n in slots.values() if n is primaries[1]) > 5461
    check = front.redis()
    for w in writers:
        assert w.errors == []
        keys = [k for _, k in w.acknowledged]
        assert len(keys) > 50
        assert check.mget(keys) == [k.split(":")[1].encode() for k in keys]
    info = front.info()
    assert int(info["backend_moved"]) + int(info["backend_ask"]) > 0, info
    assert info["backend_state"] == "ok"


def test_killPrimaryUnderWrites(makeCluster, makeFrontEnd, tmp_path):
    """
    kill -9 of a primary while writers write with --backend-wait 1 (and a
    password on the nodes): the writes on its slots get errors, each
    within the timeout (or go through once the failover is done, if that
    comes first); a replica takes over and service resumes in
    under 15 s; every write confirmed is there afterwards.  (Two replicas
    per primary: the one not promoted follows the new primary and
    confirms its writes, as the killed node no longer can.)
    """
    cluster = makeCluster(password="hunter2", replicasPerPrimary=2)
    secret = tmp_path / "password"
    secret.write_text("hunter2\n")
    timeout = 3.0
    front = makeFrontEnd(cluster, "--backend-password-file", str(secret),
                         "--backend-wait", "1:500",
                         "--backend-timeout", str(timeout))
    writers = [Writer(front.port, "k%d" % (i,)) for i in range(4)]
    for w in writers:
        w.start()
    waitFor(acknowledgedBy(writers, 20), what="writes before the kill")
    victim = cluster.primaries()[0]
    killed = time.monotonic()
    victim.kill9()
    cluster.waitFailover(victim)
    # Service on every slot again: a write to each primary goes through.
    check = front.redis()

    def served():
        try:
            for key in cluster.keysOnEveryPrimary(b"after:", 1):
                check.set(key, b"1")
        except redis.ResponseError:
            return False
        return True
    waitFor(served, timeout=max(0.1, killed + 15 - time.monotonic()),
            interval=0.1, what="service on every slot")
    resumed = time.monotonic() - killed
    waitFor(acknowledgedBy(writers, 1, killed + resumed),
            what="writes after the failover")
    for w in writers:
        w.stop()
    assert resumed < 15
    # Writes that waited for the failover may all have gone through once
    # it was done (they wait up to the timeout); those that got an error
    # got one that says what happened.
    errors = [e for w in writers for e in w.errors]
    for when, text in errors:
        assert not text.startswith("client:"), text
        assert "backend" in text or "not confirmed" in text, text
    assert max(w.slowest for w in writers) < timeout + 1.0
    for w in writers:
        keys = [k for _, k in w.acknowledged]
        assert check.mget(keys) == [k.split(":")[1].encode() for k in keys]
    # Written after the failover too.
    assert all(any(when > killed + resumed for when, _ in w.acknowledged)
               for w in writers)


def test_allNodesDown(makeCluster, makeFrontEnd):
    """
    Every node down: a command gets a clear error within the timeout,
    PING still answers, INFO says down; once the nodes are back, service
    is too.
    """
    cluster = makeCluster()
    front = makeFrontEnd(cluster, "--backend-timeout", "2")
    client = front.redis()
    client.set("before", "1")
    for node in cluster.nodes:
        node.kill9()
    started = time.monotonic()
    with pytest.raises(redis.ResponseError) as caught:
        client.get("before")
    took = time.monotonic() - started
    assert took < 2.5
    assert "backend" in str(caught.value)
    assert client.ping() is True
    assert front.info()["backend_state"] == "down"
    for node in cluster.nodes:
        node.start()
    cluster.waitHealthy()

    def served():
        try:
            return client.set("after", "2")
        except redis.ResponseError:
            return False
    waitFor(served, timeout=15, interval=0.1, what="service after restart")
    assert client.get("after") == b"2"
    waitFor(lambda: front.info()["backend_state"] == "ok", timeout=5,
            interval=0.1, what="backend_state:ok")
