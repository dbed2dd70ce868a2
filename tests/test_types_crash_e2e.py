"""
Crash tests of hashes, sets and sorted sets against a real C{twistd -n
kvstore} with C{--fsync always}: writer threads change their own hash,
set and sorted set (and the STORE forms' destinations) under load while
the server is killed (C{kill -9}), stopped (SIGTERM) or snapshotted
(C{BGSAVE}) then killed, round after round, restarted on the same data
directory.

Each writer keeps a model of its keys, changed when a reply comes back.
After each restart every key must be what the model says, or what it
would say with the one request that was sent but never answered: with
C{--fsync always}, no acknowledged change is lost, and nothing appears
that nobody wrote.
"""

import copy
import random
import signal
import threading
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from tests.harness import logErrors

redis = pytest.importorskip("redis")

#: Writer threads at once.
WRITERS = 3
#: Members per collection: few, so that collections empty (and vanish)
#: and fill again often.
MEMBERS = 6


def keysOf(ident: int) -> Dict[str, str]:
    """
    A writer's keys by role.
    """
    return {role: "%s:%d" % (role, ident)
            for role in ("h", "s", "z", "sc", "zc")}


#: A model of one writer's keys: key -> dict (hash), set, or dict of
#: member to score (sorted set); a missing key is absent.
Model = Dict[str, object]

#: An operation: the command to send, and how the model changes given the
#: reply (L{None} while the reply is unknown, for a command whose effect
#: doesn't depend on it).
Operation = Tuple[List[str], Callable[[Model, object], None]]


def _drop_empty(model: Model, key: str):
    if key in model and not model[key]:
        del model[key]


def randomOperation(rng: random.Random, ident: int, seq: int) -> Operation:
    """
    One random change to a writer's keys, with its effect on the model.
    """
    k = keysOf(ident)
    m = "m%d" % (rng.randrange(MEMBERS),)
    kind = rng.choice(["hset", "hdel", "hincrby", "sadd", "srem", "spop",
                       "zadd", "zincrby", "zrem", "zpopmin", "sstore",
                       "zstore", "zremrange"])
    if kind == "hset":
        value = "v%d" % (seq,)

        def effect(model, reply):
            model.setdefault(k["h"], {})[m] = value
        return ["HSET", k["h"], m, value], effect
    if kind == "hdel":
        def effect(model, reply):
            model.get(k["h"], {}).pop(m, None)
            _drop_empty(model, k["h"])
        return ["HDEL", k["h"], m], effect
    if kind == "hincrby":
        def effect(model, reply):
            h = model.setdefault(k["h"], {})
            h["n"] = str(int(h.get("n", "0")) + 3)
        return ["HINCRBY", k["h"], "n", "3"], effect
    if kind == "sadd":
        def effect(model, reply):
            model.setdefault(k["s"], set()).add(m)
        return ["SADD", k["s"], m], effect
    if kind == "srem":
        def effect(model, reply):
            model.get(k["s"], set()).discard(m)
            _drop_empty(model, k["s"])
        return ["SREM", k["s"], m], effect
    if kind == "spop":
        def effect(model, reply):
            if reply is not None:
                model[k["s"]].discard(reply.decode())
                _drop_empty(model, k["s"])
        return ["SPOP", k["s"]], effect
    if kind == "zadd":
        score = rng.choice([-1.5, 0.0, 1.0, 2.5, float("inf")])

        def effect(model, reply):
            model.setdefault(k["z"], {})[m] = score
        return ["ZADD", k["z"], repr(score), m], effect
    if kind == "zincrby":
        def effect(model, reply):
            z = model.setdefault(k["z"], {})
            z[m] = z.get(m, 0.0) + 0.25
        return ["ZINCRBY", k["z"], "0.25", m], effect
    if kind == "zrem":
        def effect(model, reply):
            model.get(k["z"], {}).pop(m, None)
            _drop_empty(model, k["z"])
        return ["ZREM", k["z"], m], effect
    if kind == "zpopmin":
        def effect(model, reply):
            z = model.get(k["z"])
            if z:
                lowest = min(z.items(), key=lambda kv: (kv[1], kv[0]))[0]
                del z[lowest]
                _drop_empty(model, k["z"])
        return ["ZPOPMIN", k["z"]], effect
    if kind == "sstore":
        def effect(model, reply):
            members = set(model.get(k["s"], set()))
            model.pop(k["sc"], None)
            if members:
                model[k["sc"]] = members
        return ["SUNIONSTORE", k["sc"], k["s"]], effect
    if kind == "zstore":
        def effect(model, reply):
            z = dict(model.get(k["z"], {}))
            model.pop(k["zc"], None)
            if z:
                model[k["zc"]] = z
        return ["ZUNIONSTORE", k["zc"], "1", k["z"]], effect

    def effect(model, reply):
        z = model.get(k["zc"])
        if z:
            ordered = sorted(z.items(), key=lambda kv: (kv[1], kv[0]))
            del z[ordered[0][0]]
            _drop_empty(model, k["zc"])
    return ["ZREMRANGEBYRANK", k["zc"], "0", "0"], effect


class Writer(threading.Thread):
    """
    A client thread changing its keys one request at a time until the
    connection fails or C{stop} is set.

    @ivar model: the keys as the acknowledged requests made them.
    @ivar pending: the operation sent and not answered, or L{None}.
    @ivar acked: how many requests were answered.
    @ivar errors: error replies and unexpected exceptions.
    """

    def __init__(self, port: int, ident: int, stop: threading.Event,
                 model: Model, seed: int):
        threading.Thread.__init__(self, daemon=True)
        self.port = port
        self.ident_ = ident
        self.stop = stop
        self.model = model
        self.rng = random.Random(seed)
        self.seq = 0
        self.pending: Optional[Operation] = None
        self.acked = 0
        self.errors: List[str] = []

    def run(self):
        try:
            client = redis.Redis(port=self.port, socket_timeout=10,
                                 protocol=2)
            client.ping()
        except redis.ConnectionError as e:
            self.errors.append("connect: %r" % (e,))
            return
        try:
            while not self.stop.is_set():
                self.seq += 1
                op = randomOperation(self.rng, self.ident_, self.seq)
                self.pending = op
                reply = client.execute_command(*op[0])
                op[1](self.model, reply)
                self.pending = None
                self.acked += 1
        except redis.ResponseError as e:
            self.errors.append("%r: %s" % (op[0], e))
        except redis.TimeoutError:
            self.errors.append("timed out waiting for a reply")
        except redis.ConnectionError:
            pass
        finally:
            client.close()


def readKeys(client, ident: int) -> Model:
    """
    A writer's keys as the server has them, in the model's form.
    """
    model: Model = {}
    for role, key in keysOf(ident).items():
        kind = client.type(key)
        if kind == b"none":
            continue
        if kind == b"hash":
            model[key] = {f.decode(): v.decode()
                          for f, v in client.hgetall(key).items()}
        elif kind == b"set":
            model[key] = {m.decode() for m in client.smembers(key)}
        elif kind == b"zset":
            model[key] = {m.decode(): s for m, s in
                          client.zrange(key, 0, -1, withscores=True)}
        else:
            model[key] = ("unexpected type", kind)
    return model


def candidates(model: Model, pending: Optional[Operation]) -> List[Model]:
    """
    The states a writer's keys may be in after a crash: the model, and
    the model with the unanswered request applied (with each reply it
    might have had, for SPOP).
    """
    out = [model]
    if pending is None:
        return out
    words, effect = pending
    replies = [None]
    if words[0] == "SPOP":
        replies = [m.encode() for m in model.get(words[1], set())]
    for reply in replies:
        after = copy.deepcopy(model)
        effect(after, reply)
        out.append(after)
    return out


def runRound(server, writers: List[Writer], seconds: float, how: str):
    """
    Run the writers for C{seconds}, then stop the server C{how}
    (C{"kill"}, C{"term"}, C{"bgsave-kill"}), restart it, and check every
    writer's keys.
    """
    stop = threading.Event()
    for w in writers:
        w.stop = stop
        w.port = server.port
        w.start()
    waiter = threading.Event()
    if how == "bgsave-kill":
        waiter.wait(seconds / 2)
        admin = redis.Redis(port=server.port, socket_timeout=10)
        assert admin.bgsave() is True
        admin.close()
        waiter.wait(seconds / 2)
    else:
        waiter.wait(seconds)
    code = server.stop(signal.SIGTERM if how == "term" else signal.SIGKILL)
    stop.set()
    for w in writers:
        w.join(15)
        assert not w.is_alive(), "a writer hung after the server stopped"
    assert [e for w in writers for e in w.errors] == []
    if how != "term":
        assert code == -signal.SIGKILL
    server.start(server.extraArgs)
    client = redis.Redis(port=server.port, socket_timeout=10)
    try:
        for w in writers:
            found = readKeys(client, w.ident_)
            possible = candidates(w.model, w.pending)
            assert found in possible, (how, w.ident_, w.pending and
                                       w.pending[0], found, possible)
            # What the server has is the truth from now on.
            w.model.clear()
            w.model.update(found)
    finally:
        client.close()


def test_killUnderLoadTypes(makeServer):
    """
    With C{--fsync always}, hashes, sets and sorted sets changed under
    load by three writers survive C{kill -9} at random moments, a
    SIGTERM, and a kill after a BGSAVE (snapshot plus log), exactly as
    acknowledged, over four rounds on the same data directory.
    """
    server = makeServer(["--fsync", "always"])
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    models: List[Model] = [{} for _ in range(WRITERS)]
    seqs = [0] * WRITERS
    total = 0
    for how in ["kill", "bgsave-kill", "term", "kill"]:
        writers = []
        for i in range(WRITERS):
            w = Writer(server.port, i, threading.Event(), models[i],
                       rng.randrange(1 << 30))
            w.seq = seqs[i]
            writers.append(w)
        runRound(server, writers, rng.uniform(1.0, 2.0), how)
        seqs = [w.seq for w in writers]
        total += sum(w.acked for w in writers)
    assert total > 50, "too little load to mean anything (seed %d)" % seed
    assert logErrors(server.log) == []


def test_restartKeepsTypesAndExpiry(makeServer):
    """
    A hash, a set and a sorted set come back after a clean restart with
    their contents and expiry; one whose expiry passed meanwhile does not.
    """
    server = makeServer()
    client = server.redis(protocol=3)
    client.hset("h", mapping={"a": "1", "b": "2"})
    client.sadd("s", "x", "y")
    client.zadd("z", {"m": 1.5, "n": float("-inf")})
    client.expire("s", 1000)
    client.zadd("short", {"m": 1})
    client.pexpire("short", 50)
    client.close()
    server.stop(signal.SIGTERM)
    # The server is down for longer than 50 ms: start() waits for a new
    # process to listen.
    server.start(server.extraArgs)
    client = server.redis(protocol=3)
    try:
        assert client.hgetall("h") == {b"a": b"1", b"b": b"2"}
        assert client.smembers("s") == {b"x", b"y"}
        assert 0 < client.ttl("s") <= 1000
        assert [tuple(p) for p in client.zrange("z", 0, -1,
                                                withscores=True)] == [
            (b"n", float("-inf")), (b"m", 1.5)]
        assert client.exists("short") == 0
        assert client.type("z") == b"zset"
    finally:
        client.close()
