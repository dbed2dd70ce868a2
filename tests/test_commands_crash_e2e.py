"""
Crash tests of the string, bitmap, list and key commands and databases
against a real C{twistd -n kvstore} with C{--fsync always}: client threads
run random mixes of those commands in several databases while the server
is killed (C{kill -9}) at a random moment, or stopped, or snapshotted
meanwhile; after each restart every key must be as the acknowledged
commands left it.
"""

import os
import random
import signal
import threading
from typing import Dict, List, Tuple

import pytest

redis = pytest.importorskip("redis")

from kvtwist.backends.memory import MemoryBackend  # noqa: E402
from kvtwist.commands import Context  # noqa: E402
from kvtwist.store import Store  # noqa: E402
from tests.snapshot import readAll  # noqa: E402

#: Threads of a round, and the databases they use.
THREADS = 4
DATABASES = (0, 1, 5)
#: Far-off absolute expiry times (ms): none passes during the test.
FAR = 4102444800000


def randomCommand(rng: random.Random, prefix: str) -> List[str]:
    """
    One random string, list or key command on a thread's keys (C{prefix}...).
    """
    k = lambda: "%s%d" % (prefix, rng.randint(0, 5))  # noqa: E731
    v = lambda: rng.choice(["a", "b", "xyz", "1", "2.5"])  # noqa: E731
    db = lambda: str(rng.choice(DATABASES))  # noqa: E731
    side = lambda: rng.choice(["LEFT", "RIGHT"])  # noqa: E731
    at = str(FAR + rng.randint(0, 10 ** 6))
    return rng.choice([
        lambda: ["SELECT", db()],
        lambda: ["SET", k(), v()],
        lambda: ["SET", k(), v(), "PXAT", at],
        lambda: ["APPEND", k(), v()],
        lambda: ["SETRANGE", k(), str(rng.randint(0, 20)), v()],
        lambda: ["SETBIT", k(), str(rng.randint(0, 100)),
                 str(rng.randint(0, 1))],
        lambda: ["INCRBYFLOAT", k(), rng.choice(["0.1", "-2", "1e3"])],
        lambda: ["GETEX", k(), "PXAT", at],
        lambda: ["GETEX", k(), "PERSIST"],
        lambda: ["GETDEL", k()],
        lambda: ["RPUSH", k(), v(), v()],
        lambda: ["LPUSH", k(), v()],
        lambda: ["LMOVE", k(), k(), side(), side()],
        lambda: ["RPOPLPUSH", k(), k()],
        lambda: ["LMPOP", "2", k(), k(), side(), "COUNT", "2"],
        lambda: ["LINSERT", k(), rng.choice(["BEFORE", "AFTER"]), v(), v()],
        lambda: ["LTRIM", k(), str(rng.randint(-3, 2)),
                 str(rng.randint(-2, 3))],
        lambda: ["LREM", k(), str(rng.randint(-1, 1)), v()],
        lambda: ["LSET", k(), str(rng.randint(-2, 2)), v()],
        lambda: ["RENAMENX", k(), k()],
        lambda: ["RENAME", k(), k()],
        lambda: ["COPY", k(), k(), "DB", db(), "REPLACE"],
        lambda: ["MOVE", k(), db()],
        lambda: ["EXPIREAT", k(), str(FAR // 1000 + rng.randint(0, 99)),
                 rng.choice(["NX", "XX", "GT", "LT"])],
        lambda: ["PEXPIREAT", k(), at],
        lambda: ["PERSIST", k()],
        lambda: ["DEL", k()],
    ])()


class Model:
    """
    A thread's expected data: the same commands run on kvtwist's own
    store.
    """

    def __init__(self):
        self.store = Store()
        self.ctx = Context(self.store)
        self.backend = MemoryBackend(self.store)

    def run(self, words: List[str]):
        self.backend.execute(self.ctx, words[0].encode(),
                             [w.encode() for w in words[1:]])

    def state(self) -> Dict[Tuple[int, bytes], tuple]:
        """
        The data as L{tests.snapshot.readAll} reads a server's.
        """
        out = {}
        for db in self.store.databases:
            for key, value in db.items():
                if isinstance(value, bytes):
                    kind = b"string"
                else:
                    kind, value = b"list", tuple(value)
                when = db.expiresAt(key)
                out[(db.index, key)] = (kind, value,
                                        -1 if when is None else when)
        return out


class Worker(threading.Thread):
    """
    A client thread running random commands on its own keys until its
    connection fails or C{stop} is set.

    @ivar acked: the model's data after the last acknowledged command.
    @ivar inFlight: the model's data after the command sent last, which
        may not have been answered.
    """

    def __init__(self, port: int, prefix: str, seed: int,
                 stop: threading.Event):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.stop = stop
        self.model = Model()
        self.acked = self.inFlight = {}
        self.commands = 0
        self.errors: List[str] = []
        self.history: List[List[str]] = []

    def run(self):
        client = redis.Redis(port=self.port, socket_timeout=10,
                             protocol=self.rng.choice([2, 3]))
        try:
            while not self.stop.is_set():
                words = randomCommand(self.rng, self.prefix)
                self.history.append(words)
                self.model.run(words)
                self.inFlight = self.model.state()
                try:
                    client.execute_command(*words)
                except redis.ResponseError:
                    pass  # WRONGTYPE and the like: answered, nothing done
                self.acked = self.inFlight
                self.commands += 1
        except (redis.ConnectionError, redis.TimeoutError):
            pass
        except Exception as e:  # pragma: no cover - reported by the test
            self.errors.append(repr(e))
        finally:
            client.close()


def difference(got: dict, expected: dict) -> str:
    """
    What differs between two readings, for a failure's message.
    """
    keys = sorted(set(got) | set(expected))
    return "; ".join("%r: got %r, expected %r" % (k, got.get(k),
                                                  expected.get(k))
                     for k in keys if got.get(k) != expected.get(k))


def ours(data: dict, prefix: str) -> dict:
    """
    The entries of C{data} whose key starts with C{prefix}.
    """
    return {k: v for k, v in data.items() if k[1].startswith(
        prefix.encode())}


@pytest.mark.parametrize("how", ["kill -9", "kill -9 after BGSAVE",
                                 "SIGTERM"])
def test_crashRounds(makeServer, how):
    """
    Three rounds of random commands, each ended by C{how}: after each
    restart, every thread's keys are as its acknowledged commands left
    them (or with its last command too), in every database, and the keys
    of the rounds before are untouched.
    """
    server = makeServer(["--fsync", "always"])
    rng = random.Random()
    seed = int(os.environ.get("KVTWIST_CRASH_SEED", rng.randrange(10 ** 9)))
    before: dict = {}
    for round in range(3):
        stop = threading.Event()
        workers = [Worker(server.port, "r%dt%d:" % (round, i),
                          seed + 100 * round + i, stop)
                   for i in range(THREADS)]
        for w in workers:
            w.start()
        admin = server.redis()
        threading.Event().wait(rng.uniform(0.3, 1.0))
        if how == "kill -9 after BGSAVE":
            admin.bgsave()
            threading.Event().wait(rng.uniform(0.1, 0.4))
        admin.close()
        if how == "SIGTERM":
            stop.set()
            for w in workers:
                w.join(20)
            server.stop(signal.SIGTERM)
        else:
            server.kill9()
            stop.set()
            for w in workers:
                w.join(20)
        server.restart()
        client = server.redis()
        after = readAll(client)
        client.close()
        for w in workers:
            assert not w.errors, w.errors
            assert w.commands > 0, "seed %d: %s ran nothing" % (seed,
                                                               w.prefix)
            got = ours(after, w.prefix)
            assert got in (w.acked, w.inFlight), (
                "seed %d, round %d, %s: %s | in flight: %s | last commands: "
                "%r" % (seed, round, w.prefix, difference(got, w.acked),
                        difference(got, w.inFlight), w.history[-30:]))
        old = {k: v for k, v in after.items() if not k[1].startswith(
            b"r%dt" % (round,))}
        assert old == before, "seed %d: earlier rounds changed" % (seed,)
        before = after
