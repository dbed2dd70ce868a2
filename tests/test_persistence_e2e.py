"""
End-to-end durability tests against a real C{twistd -n kvstore}: every
write survives SIGTERM and SIGINT; with C{--fsync always} nothing
acknowledged is lost to C{kill -9}; with C{--fsync interval}, a write
acknowledged more than two flush intervals before C{kill -9} survives; a
torn log tail is dropped and the server starts; snapshots; starting fresh.
"""

import glob
import os
import signal
import threading
import time

import pytest

from tests.harness import STOP_TIMEOUT, ServerError, logErrors, waitFor

redis = pytest.importorskip("redis")


def writeMixed(r, prefix="k"):
    """
    Write strings, a counter, a list, a key with a far expiry, a deleted
    key and a renamed key; return the model of what must be there.
    """
    model = {}
    for i in range(200):
        key = "%s:str:%d" % (prefix, i)
        r.set(key, "value %d \r\n\x00 end" % (i,))
        model[key] = ("string", b"value %d \r\n\x00 end" % (i,))
    for _ in range(37):
        r.incr(prefix + ":counter")
    model[prefix + ":counter"] = ("string", b"37")
    r.rpush(prefix + ":list", "a", "b", "c")
    r.lpush(prefix + ":list", "z")
    r.lpop(prefix + ":list")
    r.rpush(prefix + ":list", "d")
    model[prefix + ":list"] = ("list", [b"a", b"b", b"c", b"d"])
    r.set(prefix + ":expiring", "soon", ex=3600)
    model[prefix + ":expiring"] = ("string", b"soon")
    r.set(prefix + ":deleted", "x")
    r.delete(prefix + ":deleted")
    model[prefix + ":deleted"] = ("none", None)
    r.set(prefix + ":old", "renamed")
    r.rename(prefix + ":old", prefix + ":new")
    model[prefix + ":old"] = ("none", None)
    model[prefix + ":new"] = ("string", b"renamed")
    return model


def checkModel(r, model):
    """
    Assert that the store holds exactly what C{model} says.
    """
    for key, (kind, value) in model.items():
        assert r.type(key) == kind.encode(), key
        if kind == "string":
            assert r.get(key) == value, key
        elif kind == "list":
            assert r.lrange(key, 0, -1) == value, key


def refusedToStart(server):
    """
    Start C{server} and check that it exits non-zero.  (Its port may be
    listening for a moment: twistd binds it before the store recovers.)
    """
    try:
        server.start()
    except ServerError:
        pass
    assert server.process.wait(timeout=STOP_TIMEOUT) != 0


def stoppedCleanly(code, sig):
    """
    Whether an exit code is a clean stop on C{sig}: twistd exits 0, or
    re-raises the signal it stopped on once shutdown is complete.
    """
    return code in (0, -sig)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT],
                         ids=["SIGTERM", "SIGINT"])
def test_everyWriteSurvivesSignal(makeServer, sig):
    """
    Writes made just before SIGTERM or SIGINT (Ctrl+C) all survive the
    restart, with the default flush interval of a second: the service
    flushes on shutdown.
    """
    server = makeServer()
    r = server.redis(protocol=2)
    model = writeMixed(r)
    with server.textClient() as c:
        assert c.command("SET seed hello  world") == \
            "Added key 'seed' with value 'hello  world'"
    model["seed"] = ("string", b"hello  world")
    r.close()
    code = server.stop(sig)
    assert stoppedCleanly(code, sig), code
    server.start()
    r = server.redis(protocol=2)
    checkModel(r, model)
    assert 3500 < r.ttl("k:expiring") <= 3600
    r.close()
    assert logErrors(server.log) == []


def test_restartsAccumulate(makeServer):
    """
    Several restarts in a row keep everything written across all of them.
    """
    server = makeServer()
    model = {}
    for round in range(3):
        r = server.redis(protocol=2)
        checkModel(r, model)
        model.update(writeMixed(r, prefix="round%d" % (round,)))
        r.close()
        server.restart()
    r = server.redis(protocol=2)
    checkModel(r, model)
    r.close()


def test_fsyncAlwaysKill9(makeServer):
    """
    With C{--fsync always}, every acknowledged write survives C{kill -9}
    sent right after the last acknowledgement, including writes from
    several concurrent clients.
    """
    server = makeServer(["--fsync", "always", "--flush-interval", "5"])
    acked = {}
    lock = threading.Lock()
    errors = []

    def writer(n):
        r = server.redis(protocol=2)
        try:
            for i in range(150):
                key = "w%d:%d" % (n, i)
                r.set(key, key * 3)
                with lock:
                    acked[key] = (key * 3).encode()
            r.rpush("list%d" % (n,), *[str(i) for i in range(50)])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            r.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    r = server.redis(protocol=2)
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set("piped:%d" % (i,), i)
    assert pipe.execute() == [True] * 1000
    r.close()
    assert server.kill9() == -signal.SIGKILL
    server.start()
    r = server.redis(protocol=2)
    missing = [k for k, v in acked.items() if r.get(k) != v]
    assert missing == []
    assert r.mget(["piped:%d" % (i,) for i in range(1000)]) == \
        [b"%d" % (i,) for i in range(1000)]
    for n in range(4):
        assert r.lrange("list%d" % (n,), 0, -1) == \
            [b"%d" % (i,) for i in range(50)]
    r.close()


def test_intervalKill9(makeServer):
    """
    With the default C{--fsync interval}, writes acknowledged more than two
    flush intervals before C{kill -9} survive it; later writes may be lost
    but never come back wrong.
    """
    interval = 0.25
    server = makeServer(["--flush-interval", str(interval)])
    r = server.redis(protocol=2)
    old = writeMixed(r, prefix="old")
    acked = time.monotonic()
    waitFor(lambda: time.monotonic() - acked > 2 * interval,
            timeout=5, what="two flush intervals")
    for i in range(100):
        r.set("recent:%d" % (i,), "v%d" % (i,))
    r.close()
    assert server.kill9() == -signal.SIGKILL
    server.start()
    r = server.redis(protocol=2)
    checkModel(r, old)
    for i in range(100):
        assert r.get("recent:%d" % (i,)) in (None, b"v%d" % (i,))
    r.close()


def test_tornTailDropped(makeServer):
    """
    A log whose last record was cut short by a crash is recovered: the torn
    record is dropped with a logged warning and the server starts with
    everything before it.
    """
    server = makeServer(["--fsync", "always"])
    r = server.redis(protocol=2)
    model = writeMixed(r)
    r.close()
    server.kill9()
    logs = sorted(glob.glob(os.path.join(server.dataDir, "kvtwist-*.aof")))
    assert logs, os.listdir(server.dataDir)
    with open(logs[-1], "ab") as f:
        # A record header announcing 100 bytes, followed by only 3.
        f.write(b"\x64\x00\x00\x00\x01\x02\x03\x04abc")
    server.start()
    r = server.redis(protocol=2)
    checkModel(r, model)
    r.close()
    log = server.logSinceStart().lower()
    assert "torn" in log or "truncat" in log, server.logSinceStart()


def test_leftoverTempFileIgnored(makeServer):
    """
    A leftover temporary snapshot file (a crash during a snapshot) does not
    stop the server from starting with its data.
    """
    server = makeServer()
    r = server.redis(protocol=2)
    model = writeMixed(r)
    r.close()
    server.stop()
    with open(os.path.join(server.dataDir, "kvtwist.snapshot.tmp"),
              "wb") as f:
        f.write(b"KVTWSNAP half a snapshot")
    server.start()
    r = server.redis(protocol=2)
    checkModel(r, model)
    r.close()


def test_saveAndBgsave(makeServer):
    """
    SAVE writes a snapshot; BGSAVE writes one in the background without
    stopping service; data written before, between and after them all
    survives a restart.
    """
    server = makeServer()
    r = server.redis(protocol=2)
    model = writeMixed(r, prefix="before")
    assert r.save() is True
    assert os.path.exists(os.path.join(server.dataDir, "kvtwist.snapshot"))
    first = r.lastsave()
    model.update(writeMixed(r, prefix="between"))
    assert r.bgsave() in (True, b"Background saving started")
    assert r.ping() is True
    waitFor(lambda: r.info("persistence")["rdb_bgsave_in_progress"] == 0,
            timeout=30, what="BGSAVE to finish")
    assert r.info("persistence")["rdb_last_bgsave_status"] == "ok"
    assert r.lastsave() >= first
    model.update(writeMixed(r, prefix="after"))
    r.close()
    server.restart()
    r = server.redis(protocol=2)
    checkModel(r, model)
    r.close()


def test_startFresh(makeServer):
    """
    Deleting the files docs/operations.md names (the snapshot, the manifest and
    the logs) while the server is stopped starts it with an empty store;
    deleting only the snapshot and the logs refuses to start (the manifest
    says they are missing).
    """
    server = makeServer()
    r = server.redis(protocol=2)
    writeMixed(r)
    r.save()
    r.set("after-save", "x")
    r.close()
    server.stop()
    names = os.listdir(server.dataDir)
    assert "kvtwist.snapshot" in names
    for path in glob.glob(os.path.join(server.dataDir, "kvtwist.snapshot")) \
            + glob.glob(os.path.join(server.dataDir, "kvtwist-*.aof")):
        os.remove(path)
    refusedToStart(server)
    assert "kvtwist.snapshot is missing" in server.logSinceStart()
    os.remove(os.path.join(server.dataDir, "kvtwist.manifest"))
    server.start()
    r = server.redis(protocol=2)
    assert r.dbsize() == 0
    r.close()


def test_expiryPersists(makeServer):
    """
    Expiry times survive a restart: a key keeps its remaining time to live
    and a key that expired while the server was down is gone.
    """
    server = makeServer()
    r = server.redis(protocol=2)
    r.set("long", "v", ex=1000)
    r.set("short", "v", px=300)
    started = time.monotonic()
    r.close()
    server.stop()
    waitFor(lambda: time.monotonic() - started > 0.4, timeout=5,
            what="the short key's expiry")
    server.start()
    r = server.redis(protocol=2)
    assert r.get("short") is None
    assert r.exists("short") == 0
    assert r.get("long") == b"v"
    assert 990 <= r.ttl("long") <= 1000
    r.close()


@pytest.mark.parametrize("kind", ["file", "under-a-file", "unwritable"])
def test_unusableDataDir(makeServer, kind):
    """
    A data directory that is a file, that can't be created, or that can't
    be written stops twistd from starting, with a message naming the path.
    """
    if kind == "unwritable" and os.geteuid() == 0:
        pytest.skip("root can write to a read-only directory")
    server = makeServer(start=False)
    if kind == "file":
        with open(server.dataDir, "w") as f:
            f.write("not a directory")
    elif kind == "under-a-file":
        with open(server.dataDir, "w") as f:
            f.write("not a directory")
        server.dataDir = os.path.join(server.dataDir, "data")
    else:
        os.makedirs(server.dataDir)
        os.chmod(server.dataDir, 0o500)
    with pytest.raises(Exception) as e:
        server.start(timeout=15)
    assert not server.running
    assert server.process.returncode != 0
    assert server.dataDir in server.stderr + server.log, str(e.value)
