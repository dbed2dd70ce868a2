"""
Crash tests against a real C{twistd -n kvstore}: several client threads
write under load while the server is killed at random moments (C{kill -9})
or stopped (SIGTERM), round after round, restarted each time on the same
data directory.

Every write has a unique value, and each thread waits for one write's
acknowledgement before sending the next, so after each restart the store
can be checked key by key against what the clients saw:

    - I{unexpected}: a value no client ever wrote (or a key no client used);
    - I{lost}: a value older than the last acknowledged write to its key
      (an acknowledged write is missing).

With C{--fsync always} nothing may be lost to C{kill -9}; with the default
C{--fsync interval}, only writes acknowledged within the last two flush
intervals before the kill may be; SIGTERM rounds lose nothing in any mode.
A write sent but never acknowledged may or may not be there.
"""

import random
import signal
import socket
import threading
import time
from typing import Dict, List, Optional

import pytest

from tests.harness import HOST, encodeCommand, logErrors

#: Client threads writing at once.
WRITERS = 6
#: Keys per thread: each key is overwritten many times.
KEYS_PER_WRITER = 40
#: The C{--flush-interval} of the interval-mode test, in seconds.
FLUSH_INTERVAL = 0.5


class Write:
    """
    One C{SET} a client sent.

    @ivar ackTime: C{time.monotonic()} when C{+OK} came back, or L{None}
        if it never did.
    """

    __slots__ = ("key", "value", "ackTime")

    def __init__(self, key: bytes, value: bytes):
        self.key = key
        self.value = value
        self.ackTime: Optional[float] = None


class Writer(threading.Thread):
    """
    A client thread: SET after SET, one at a time, until the connection
    fails or C{stop} is set.  The sequence number goes on across rounds, so
    every value ever written is unique.

    @ivar writes: this round's L{Write}s, in order.
    @ivar errors: replies other than C{+OK}, and unexpected exceptions.
    """

    def __init__(self, port: int, ident: int, stop: threading.Event):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.ident_ = ident
        self.stop = stop
        self.seq = 0
        self.writes: List[Write] = []
        self.errors: List[str] = []
        self.connected = threading.Event()

    def newRound(self, port: int) -> "Writer":
        """
        A fresh thread for the next round, writing to C{port} (the
        restarted server's), that carries on the numbering.
        """
        nxt = Writer(port, self.ident_, self.stop)
        nxt.seq = self.seq
        return nxt

    def run(self):
        try:
            sock = socket.create_connection((HOST, self.port), timeout=10)
        except OSError as e:
            self.errors.append("connect: %r" % (e,))
            return
        self.connected.set()
        buf = b""
        try:
            while not self.stop.is_set():
                self.seq += 1
                key = b"crash:%d:%d" % (self.ident_,
                                        self.seq % KEYS_PER_WRITER)
                value = b"w%d:%d" % (self.ident_, self.seq)
                write = Write(key, value)
                self.writes.append(write)
                sock.sendall(encodeCommand(b"SET", key, value))
                while b"\r\n" not in buf:
                    chunk = sock.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                line, buf = buf.split(b"\r\n", 1)
                if line != b"+OK":
                    self.errors.append("SET %r: %r" % (key, line))
                    return
                write.ackTime = time.monotonic()
        except (ConnectionError, socket.timeout) as e:
            if isinstance(e, socket.timeout):
                self.errors.append("timed out waiting for a reply")
        except OSError:
            pass
        finally:
            sock.close()


def readStore(port: int) -> Dict[bytes, bytes]:
    """
    Every key and its value, over one RESP connection (KEYS, then MGET).
    """
    def reply(sock, buf):
        while b"\r\n" not in buf[0]:
            chunk = sock.recv(65536)
            assert chunk, "server closed the connection"
            buf[0] += chunk
        line, buf[0] = buf[0].split(b"\r\n", 1)
        return line

    def bulk(sock, buf):
        head = reply(sock, buf)
        assert head[:1] == b"$", head
        n = int(head[1:])
        if n < 0:
            return None
        while len(buf[0]) < n + 2:
            chunk = sock.recv(65536)
            assert chunk
            buf[0] += chunk
        data, buf[0] = buf[0][:n], buf[0][n + 2:]
        return data

    def array(sock, buf):
        head = reply(sock, buf)
        assert head[:1] == b"*", head
        return [bulk(sock, buf) for _ in range(int(head[1:]))]

    with socket.create_connection((HOST, port), timeout=10) as sock:
        buf = [b""]
        sock.sendall(encodeCommand(b"KEYS", b"*"))
        keys = array(sock, buf)
        if not keys:
            return {}
        sock.sendall(encodeCommand(b"MGET", *keys))
        values = array(sock, buf)
    return dict(zip(keys, values))


def checkRound(before: Dict[bytes, bytes], writes: List[Write],
               after: Dict[bytes, bytes], killTime: float,
               window: float) -> Dict[str, list]:
    """
    Compare the store after a restart with the store before the round and
    the round's writes.

    @param window: how long before C{killTime} an acknowledged write may
        still be lost (0: none may be).
    @return: C{{"lost": [...], "unexpected": [...], "recentLoss": [...]}}:
        acknowledged writes missing outside the window, values or keys
        nobody wrote, and acknowledged writes missing inside the window.
    """
    byKey: Dict[bytes, List[Write]] = {}
    for w in writes:
        byKey.setdefault(w.key, []).append(w)
    result = {"lost": [], "unexpected": [], "recentLoss": []}
    for key in set(before) | set(byKey) | set(after):
        history = byKey.get(key, [])
        if key not in before and not history:
            result["unexpected"].append((key, after.get(key)))
            continue
        # The possible states, oldest first: what the round started with
        # (None for absent), then each write of the round.
        values = [before.get(key)] + [w.value for w in history]
        present = after.get(key)
        if present not in values:
            result["unexpected"].append((key, present))
            continue
        # The latest occurrence: values are unique, None only first.
        idx = len(values) - 1 - values[::-1].index(present)
        for w in history[idx:]:
            if w.ackTime is None:
                continue
            if killTime - w.ackTime < window:
                result["recentLoss"].append((key, w.value,
                                             killTime - w.ackTime))
            else:
                result["lost"].append((key, w.value, killTime - w.ackTime))
    return result


def runRounds(server, rounds, window: float):
    """
    Run the writer threads for each of C{rounds} (C{(signal, seconds)}),
    stopping the server with the signal after the given time, restarting
    it, and checking the store.

    @return: per round, the L{checkRound} result and counts of writes.
    """
    stop = threading.Event()
    writers = [Writer(server.port, i, stop) for i in range(WRITERS)]
    before = readStore(server.port)
    assert before == {}
    reports = []
    for sig, seconds in rounds:
        stop.clear()
        writers = [w.newRound(server.port) for w in writers]
        for w in writers:
            w.start()
        for w in writers:
            assert w.connected.wait(10), "writer could not connect"
        # Let the load run: an Event wait, not a sleep (nothing sets it).
        threading.Event().wait(seconds)
        killTime = time.monotonic()
        code = server.stop(sig)
        stop.set()
        for w in writers:
            w.join(15)
            assert not w.is_alive(), "a writer hung after the server stopped"
        errors = [e for w in writers for e in w.errors]
        assert errors == [], errors
        if sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            assert code in (0, -sig), code
        server.start(server.extraArgs)
        after = readStore(server.port)
        writes = [x for w in writers for x in w.writes]
        result = checkRound(before, writes, after, killTime,
                            window if sig == signal.SIGKILL else 0.0)
        acked = [x for x in writes if x.ackTime is not None]
        result["acked"] = len(acked)
        result["unacked"] = len(writes) - len(acked)
        result["ackedBeforeWindow"] = sum(
            1 for x in acked if killTime - x.ackTime >= window)
        result["signal"] = sig
        reports.append(result)
        before = after
    return reports


def _rounds(seed: int, seconds=(1.0, 2.0)):
    rng = random.Random(seed)
    kinds = [signal.SIGKILL, signal.SIGKILL, signal.SIGTERM, signal.SIGKILL]
    return [(sig, rng.uniform(*seconds)) for sig in kinds]


def test_killUnderLoadFsyncAlways(makeServer):
    """
    With C{--fsync always}, C{kill -9} at random moments under load from
    six writers loses no acknowledged write and invents nothing, over four
    rounds (one of them a SIGTERM), each restarted on the same data dir.
    """
    server = makeServer(["--fsync", "always"])
    seed = random.randrange(1 << 30)
    reports = runRounds(server, _rounds(seed), window=0.0)
    for i, r in enumerate(reports):
        where = "round %d (seed %d): %r" % (i, seed, {
            k: (v[:5] if isinstance(v, list) else v) for k, v in r.items()})
        assert r["unexpected"] == [], where
        assert r["lost"] == [] and r["recentLoss"] == [], where
        assert r["acked"] > 20, "too little load to mean anything: " + where
    assert logErrors(server.log) == []


def test_killUnderLoadFsyncInterval(makeServer):
    """
    With the default C{--fsync interval} (flushing every half second
    here), C{kill -9} may lose only writes acknowledged within the last two
    flush intervals; older ones all survive; the SIGTERM round loses
    nothing; nothing unexpected appears.
    """
    window = 2 * FLUSH_INTERVAL
    server = makeServer(["--flush-interval", str(FLUSH_INTERVAL)])
    seed = random.randrange(1 << 30)
    reports = runRounds(server, _rounds(seed, (1.6, 2.4)), window=window)
    for i, r in enumerate(reports):
        where = "round %d (seed %d): %r" % (i, seed, {
            k: (v[:5] if isinstance(v, list) else v) for k, v in r.items()})
        assert r["unexpected"] == [], where
        assert r["lost"] == [], where
        if r["signal"] != signal.SIGKILL:
            assert r["recentLoss"] == [], where
        # The check must have had something to check: writes acknowledged
        # before the window, which had to survive.
        assert r["ackedBeforeWindow"] > 20, where
    assert logErrors(server.log) == []


@pytest.mark.parametrize("fsync", ["always", "interval"])
def test_checkRoundDetects(fsync):
    """
    The checker itself: a missing acknowledged write is reported as lost
    (or as a recent loss inside the window), a value nobody wrote and a
    key nobody used as unexpected, and unacknowledged writes are optional.
    """
    w1, w2, w3 = Write(b"k", b"1"), Write(b"k", b"2"), Write(b"k", b"3")
    w1.ackTime, w2.ackTime = 10.0, 14.5
    writes = [w1, w2, w3]
    window = 0.0 if fsync == "always" else 1.0
    ok = checkRound({}, writes, {b"k": b"2"}, 15.0, window)
    assert ok["lost"] == ok["unexpected"] == ok["recentLoss"] == []
    assert checkRound({}, writes, {b"k": b"3"}, 15.0, window)["lost"] == []
    old = checkRound({}, writes, {b"k": b"1"}, 15.0, window)
    if fsync == "always":
        assert old["lost"] == [(b"k", b"2", 0.5)]
    else:
        assert old["lost"] == [] and old["recentLoss"] == [(b"k", b"2", 0.5)]
    gone = checkRound({}, writes, {}, 15.0, window)
    assert (b"k", b"1", 5.0) in gone["lost"]
    bad = checkRound({b"j": b"x"}, writes, {b"k": b"9", b"z": b"1",
                                            b"j": b"x"}, 15.0, window)
    assert sorted(bad["unexpected"]) == [(b"k", b"9"), (b"z", b"1")]
