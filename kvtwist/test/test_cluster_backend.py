"""
Tests for L{kvtwist.backends.cluster.backend} and the modules it uses
(fan-out, sessions, INFO): commands as a front end runs them, against a
fake cluster (L{kvtwist.test.clusterfakes}) on a L{Clock}.
"""

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from zope.interface.verify import verifyObject

from kvtwist.backends.cluster.backend import ClusterBackend, LREPLACE_SCRIPT
from kvtwist.backends.cluster.router import Router
from kvtwist.backends.cluster.slots import SLOTS, keySlot
from kvtwist.commands import ClientState, Context
from kvtwist.interfaces import IBackend
from kvtwist.replies import OK, QUEUED, Error, Later, Verbatim
from kvtwist.factory import Config, KVFactory
from kvtwist.test.clusterfakes import FakeCluster
from kvtwist.test.test_cluster_router import keyOn


class BackendTestCase(SynchronousTestCase):
    """
    A cluster backend over a fake cluster of three primaries, its slot
    table and the nodes' commands known.
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1000)
        self.cluster = FakeCluster(self.clock, primaries=3)
        self.router = Router(self.cluster.seeds(), self.clock,
                             self.cluster.connect, timeout=5.0)
        self.backend = ClusterBackend(self.router, "redis-cluster://x:1")
        self.factory = KVFactory(
            None, None, Config(backend="redis-cluster://x:1"),
            clock=self.clock, backend=self.backend)
        self.router.start()
        self.settle()
        self.backend.loadSpecs()
        self.settle()
        self.addCleanup(self.router.stop)
        self.client = ClientState(1)
        self.ctx = Context(None, self.factory, None, self.client)

    def settle(self):
        self.cluster.settle()

    def call(self, *words, ctx=None):
        """
        Run a command and settle; its reply (L{Deferred} resolved).
        """
        words = [w if isinstance(w, bytes) else w.encode() for w in words]
        reply = self.backend.execute(ctx or self.ctx, words[0], words[1:])
        if isinstance(reply, Later):
            reply = reply.asDeferred()
        if isinstance(reply, Deferred):
            self.settle()
            result = []
            reply.addCallback(result.append)
            self.assertEqual(len(result), 1, "no reply to %r" % (words,))
            return result[0]
        return reply

    def start(self, *words, ctx=None):
        """
        Run a command without settling; its reply's list (empty until it
        comes).
        """
        words = [w if isinstance(w, bytes) else w.encode() for w in words]
        reply = self.backend.execute(ctx or self.ctx, words[0], words[1:])
        result = []
        if isinstance(reply, Later):
            reply.then(result.append)
        elif isinstance(reply, Deferred):
            reply.addCallback(result.append)
        else:
            result.append(reply)
        return result

    def keysOnEveryNode(self, perNode=2):
        return [keyOn(node, self.cluster, b"n%d-%d-" % (i, j))
                for i, node in enumerate(self.cluster.primaries)
                for j in range(perNode)]


class LocalTests(BackendTestCase):
    """
    What runs on the front end itself.
    """

    def test_interface(self):
        """
        It is an L{IBackend}.
        """
        verifyObject(IBackend, self.backend)

    def test_local(self):
        """
        PING, ECHO, SELECT 0, CONFIG GET answer here: no node is asked.
        """
        before = len(self.cluster.written)
        self.assertEqual(self.call("PING"), "PONG")
        self.assertEqual(self.call("ECHO", "hi"), b"hi")
        self.assertEqual(self.call("SELECT", "0"), OK)
        self.assertIsInstance(self.call("SELECT", "1"), Error)
        self.assertEqual(self.call("CONFIG", "GET", "backend"),
                         {b"backend": b"redis-cluster://x:1"})
        self.assertEqual(self.call("CONFIG", "GET", "dir"), {})
        self.assertEqual(len(self.cluster.written), before)

    def test_refused(self):
        """
        SAVE, BGSAVE, WAIT and the nodes' administration commands are
        refused, saying why.
        """
        save = self.call("SAVE")
        self.assertIn("keeps no data", save)
        self.assertTrue(save.startswith("ERR SAVE is not available"))
        self.assertIn("--backend-wait", self.call("WAIT", "1", "0"))
        self.assertIn("not available", self.call("SHUTDOWN"))

    def test_unknown(self):
        """
        A command neither kvtwist nor the nodes know: Redis's error.
        """
        self.assertEqual(self.call("NOPE", "x"), Error(
            "ERR unknown command 'NOPE', with args beginning with: 'x'"))

    def test_arity(self):
        """
        The wrong number of arguments: Redis's error, nothing sent.
        """
        self.assertEqual(self.call("GET"), Error(
            "ERR wrong number of arguments for 'get' command"))

    def test_noauth(self):
        """
        Before authentication, only the commands allowed then run.
        """
        self.client.authenticated = False
        self.assertEqual(self.call("GET", "k"), Error(
            "NOAUTH Authentication required."))

    def test_counted(self):
        """
        Commands are counted in the factory's stats, by name.
        """
        self.call("PING")
        self.call("SET", "k", "v")
        self.call("SET", "k", "v")
        self.assertEqual(self.factory.stats.perCommand["SET"], 2)
        self.assertEqual(self.factory.stats.commandsProcessed, 3)


class RoutedTests(BackendTestCase):
    """
    Commands routed by their keys.
    """

    def test_getSet(self):
        """
        SET then GET through the cluster.
        """
        self.assertEqual(self.call("SET", "k", "v"), OK)
        self.assertEqual(self.call("GET", "k"), b"v")
        node = self.cluster.owners[keySlot(b"k")]
        self.assertEqual(node.data, {b"k": b"v"})

    def test_singleKeyIsLater(self):
        """
        A command whose one key is its first argument is answered with a
        L{Later}, not a Deferred, that fires with the node's reply.
        """
        ctx = self.ctx
        reply = self.backend.execute(ctx, b"SET", [b"k", b"v"])
        self.assertIsInstance(reply, Later)
        self.assertNotIsInstance(reply, Deferred)
        got = []
        reply.then(got.append)
        self.settle()
        self.assertEqual(got, [OK])

    def test_whileLearningCommands(self):
        """
        A command only the nodes know, run while their C{COMMAND} reply is
        awaited, waits for it, then is routed: its Deferred fires with
        the node's reply (not with a L{Later}).
        """
        backend = ClusterBackend(self.router, "redis-cluster://x:1")
        backend.loadSpecs()
        reply = backend.execute(self.ctx, b"PFADD", [b"h", b"v"])
        self.assertIsInstance(reply, Deferred)
        self.settle()
        result = self.successResultOf(reply)
        self.assertIsInstance(result, Error)  # the fake has no PFADD
        node = self.cluster.owners[keySlot(b"h")]
        self.assertEqual(node.commands(b"PFADD"), [[b"PFADD", b"h", b"v"]])

    def test_nodeOnlyCommand(self):
        """
        A command kvtwist's table doesn't have but the nodes do goes to
        its key's node.
        """
        reply = self.call("PFADD", "h", "v")
        node = self.cluster.owners[keySlot(b"h")]
        self.assertEqual(node.commands(b"PFADD"), [[b"PFADD", b"h", b"v"]])
        self.assertIsInstance(reply, Error)  # the fake has no PFADD

    def test_crossslot(self):
        """
        A multi-key command whose keys are in several slots: CROSSSLOT,
        nothing sent; in one slot (a hash tag): sent.
        """
        a, b = self.keysOnEveryNode(1)[:2]
        before = len(self.cluster.written)
        self.assertEqual(self.call("RENAME", a, b), Error(
            "CROSSSLOT Keys in request don't hash to the same slot"))
        self.assertEqual(len(self.cluster.written), before)
        self.call("SET", "{t}a", "1")
        self.assertEqual(self.call("RENAME", "{t}a", "{t}b"),
                         Error("ERR unknown command 'RENAME'"))

    def test_movableKeys(self):
        """
        The keys of a command whose keys move with its arguments (a count
        of keys, then the keys) are found: in several slots, CROSSSLOT and
        nothing sent; in one slot, sent to its node.  The same with
        C{SORT ... STORE}.
        """
        a, b = self.keysOnEveryNode(1)[:2]
        before = len(self.cluster.written)
        for words in (["LMPOP", "2", a, b, "LEFT"],
                      ["ZUNIONSTORE", a, "1", b],
                      ["ZINTERSTORE", "{t}d", "2", "{t}a", b],
                      ["SINTERCARD", "2", a, b, "LIMIT", "1"],
                      ["SORT", a, "LIMIT", "0", "1", "STORE", b]):
            self.assertEqual(self.call(*words), Error(
                "CROSSSLOT Keys in request don't hash to the same slot"))
        self.assertEqual(len(self.cluster.written), before)
        node = self.cluster.owners[keySlot(b"t")]
        for words in (["LMPOP", "2", "{t}a", "{t}b", "LEFT"],
                      ["ZUNIONSTORE", "{t}d", "2", "{t}a", "{t}b"],
                      ["SORT", "{t}a", "STORE", "{t}d"]):
            self.call(*words)
            self.assertEqual(node.commands(words[0].encode()),
                             [[w.encode() for w in words]])

    def test_movableNoKey(self):
        """
        A command whose keys move, given none (C{LMPOP 0 a LEFT}): a node
        answers (its error), not the front end.
        """
        self.call("LMPOP", "0", "a", "LEFT")
        self.assertEqual(
            sum(len(n.commands(b"LMPOP")) for n in self.cluster.primaries), 1)

    def test_mgetSplit(self):
        """
        MGET over keys on every node: one MGET per slot, the values in
        the keys' order.
        """
        keys = self.keysOnEveryNode()
        for i, key in enumerate(keys):
            self.call("SET", key, b"v%d" % (i,))
        reply = self.call("MGET", *(keys + [b"missing"]))
        self.assertEqual(reply, [b"v%d" % (i,) for i in range(len(keys))]
                         + [None])
        for node in self.cluster.primaries:
            for argv in node.commands(b"MGET"):
                self.assertEqual(len({keySlot(k) for k in argv[1:]}), 1)

    def test_countsSummed(self):
        """
        EXISTS, DEL, UNLINK and TOUCH over several slots: summed.
        """
        keys = self.keysOnEveryNode()
        for key in keys:
            self.call("SET", key, "v")
        self.assertEqual(self.call("EXISTS", *(keys + [b"nope"])), len(keys))
        self.assertEqual(self.call("TOUCH", *keys), len(keys))
        self.assertEqual(self.call("DEL", *keys[:3]), 3)
        self.assertEqual(self.call("UNLINK", *keys), len(keys) - 3)
        self.assertEqual(self.call("EXISTS", *keys), 0)

    def test_msetSplit(self):
        """
        MSET over several slots: each slot's pairs to its node; OK.
        """
        keys = self.keysOnEveryNode()
        args = []
        for key in keys:
            args += [key, key + b"-value"]
        self.assertEqual(self.call("MSET", *args), OK)
        for key in keys:
            self.assertEqual(self.cluster.owners[keySlot(key)].data[key],
                             key + b"-value")

    def test_splitError(self):
        """
        One part failing: its error is the reply.
        """
        keys = self.keysOnEveryNode(1)
        node = self.cluster.owners[keySlot(keys[1])]
        node.errors.append(Error("ERR boom"))
        self.assertEqual(self.call("MGET", *keys), Error("ERR boom"))

    def test_lreplace(self):
        """
        kvtwist's LREPLACE runs as a Lua script on the key's node.
        """
        self.assertEqual(self.call("LREPLACE", "l", "a", "b"), 1)
        node = self.cluster.owners[keySlot(b"l")]
        self.assertEqual(node.commands(b"EVAL"),
                         [[b"EVAL", LREPLACE_SCRIPT, b"1", b"l", b"a",
                           b"b"]])


class FanOutTests(BackendTestCase):
    """
    Commands run on every primary.
    """

    def setUp(self):
        BackendTestCase.setUp(self)
        self.keys = self.keysOnEveryNode(3)
        for key in self.keys:
            self.call("SET", key, "v")

    def test_keysDbsize(self):
        """
        KEYS joins every primary's; DBSIZE sums them.
        """
        self.assertEqual(sorted(self.call("KEYS", "*")), sorted(self.keys))
        self.assertEqual(self.call("DBSIZE"), len(self.keys))

    def test_flush(self):
        """
        FLUSHDB (and kvtwist's FLUSH) empty every primary.
        """
        self.assertEqual(self.call("FLUSH"), OK)
        self.assertEqual(self.call("DBSIZE"), 0)
        for node in self.cluster.primaries:
            self.assertEqual(node.data, {})

    def test_randomkey(self):
        """
        RANDOMKEY finds a key even where some primaries have none.
        """
        self.cluster.primaries[0].data.clear()
        self.cluster.primaries[2].data.clear()
        for _ in range(5):
            self.assertIn(self.call("RANDOMKEY"),
                          list(self.cluster.primaries[1].data))
        self.call("FLUSHALL")
        self.assertIsNone(self.call("RANDOMKEY"))

    def test_scan(self):
        """
        SCAN visits every key once, primary after primary; the cursor
        names the primary by its lowest slot, and any front end can go on
        from it.
        """
        seen = []
        cursor = b"0"
        steps = 0
        while True:
            cursor, keys = self.call("SCAN", cursor)
            seen.extend(keys)
            steps += 1
            if cursor != b"0":
                slot = int(cursor) % SLOTS
                self.assertIn(slot, [0, 5461, 10922])
            if cursor == b"0":
                break
        self.assertEqual(sorted(seen), sorted(self.keys))
        self.assertEqual(steps, 6)
        # Another front end over the same cluster, from a cursor.
        other = ClusterBackend(Router(self.cluster.seeds(), self.clock,
                                      self.cluster.connect), "")
        other.router.start()
        self.addCleanup(other.router.stop)
        self.settle()
        first = self.call("SCAN", "0")
        d = other.execute(self.ctx, b"SCAN", [first[0]])
        self.settle()
        self.assertEqual(self.successResultOf(d), self.call("SCAN",
                                                           first[0]))

    def test_badCursor(self):
        """
        A cursor that is not a number: Redis's error.
        """
        self.assertEqual(self.call("SCAN", "x"), Error("ERR invalid cursor"))

    def test_print(self):
        """
        PRINT shows every key's value, through SCAN.
        """
        self.call("RPUSH", "list", "a", "b")
        printed = self.call("PRINT")
        self.assertEqual(printed, dict([(k, b"v") for k in self.keys] +
                                       [(b"list", [b"a", b"b"])]))

    def test_info(self):
        """
        INFO: the front end's sections, a Backend section, the keyspace
        summed over the primaries.
        """
        info = self.call("INFO")
        self.assertIsInstance(info, Verbatim)
        text = info.decode()
        self.assertIn("# Backend\r\nbackend:redis-cluster\r\n"
                      "backend_state:ok\r\n", text)
        self.assertIn("backend_primaries:3", text)
        self.assertIn("backend_slots_covered:16384", text)
        self.assertIn("db0:keys=%d,expires=0" % (len(self.keys),), text)
        self.assertNotIn("# Persistence", text)
        only = self.call("INFO", "backend").decode()
        self.assertTrue(only.startswith("# Backend"))
        self.assertNotIn("Keyspace", only)

    def test_snapshot(self):
        """
        The stats snapshot (which /metrics and the web status page render)
        has the Backend figures and the keyspace as last asked; /metrics
        shows the state and the numbers.
        """
        from kvtwist.stats import takeSnapshot
        from kvtwist.web.metrics import render
        snap = takeSnapshot(self.factory)
        self.assertEqual(snap.backend.kind, "redis-cluster")
        self.assertIsNone(snap.backend.keyspace)
        self.assertIsNone(snap.backend.persistence)
        self.backend.refreshKeyspace()
        self.settle()
        snap = takeSnapshot(self.factory)
        self.assertEqual(snap.backend.keyspace.keys, len(self.keys))
        families = {f.name: f for f in render(snap)}
        self.assertEqual(families["kvtwist_keys"].samples[0].value,
                         len(self.keys))
        states = {s.labels["state"]: s.value
                  for s in families["kvtwist_backend_state"].samples}
        self.assertEqual(states, {"ok": 1, "degraded": 0, "down": 0})
        self.assertEqual(
            families["kvtwist_backend_primaries"].samples[0].value, 3)


class SessionTests(BackendTestCase):
    """
    Transactions, watches and blocking commands.
    """

    def test_multiExec(self):
        """
        MULTI queues here; EXEC sends the whole transaction to the node of
        its slot.
        """
        self.assertEqual(self.call("MULTI"), OK)
        self.assertEqual(self.call("SET", "{u}a", "1"), QUEUED)
        self.assertEqual(self.call("INCR", "{u}a"), QUEUED)
        node = self.cluster.owners[keySlot(b"u")]
        self.assertEqual(node.commands(b"MULTI"), [])
        self.assertEqual(self.call("EXEC"), [OK, 2])
        self.assertEqual(len(node.commands(b"MULTI")), 1)
        self.assertEqual(self.call("GET", "{u}a"), b"2")

    def test_multiCrossslot(self):
        """
        A transaction's keys in two slots: CROSSSLOT when queued, then
        EXECABORT.
        """
        a, b = self.keysOnEveryNode(1)[:2]
        self.call("MULTI")
        self.assertEqual(self.call("SET", a, "1"), QUEUED)
        self.assertIn("CROSSSLOT", self.call("SET", b, "1"))
        self.assertEqual(self.call("EXEC"), Error(
            "EXECABORT Transaction discarded because of previous errors."))
        self.assertEqual(self.call("GET", a), None)

    def test_multiErrors(self):
        """
        Nested MULTI, EXEC or DISCARD without MULTI: Redis's errors; an
        unknown command inside aborts the transaction.
        """
        self.assertEqual(self.call("EXEC"), Error("ERR EXEC without MULTI"))
        self.assertEqual(self.call("DISCARD"),
                         Error("ERR DISCARD without MULTI"))
        self.call("MULTI")
        self.assertEqual(self.call("MULTI"),
                         Error("ERR MULTI calls can not be nested"))
        self.assertIsInstance(self.call("NOPE"), Error)
        self.assertTrue(self.call("EXEC").startswith("EXECABORT"))
        self.call("MULTI")
        self.call("SET", "k", "v")
        self.assertEqual(self.call("DISCARD"), OK)
        self.assertIsNone(self.call("GET", "k"))

    def test_watch(self):
        """
        WATCH holds a connection of its own; the transaction goes on it;
        then it is given back.
        """
        node = self.cluster.owners[keySlot(b"w")]
        self.assertEqual(self.call("WATCH", "w"), OK)
        watched = [c for c in node.connections
                   if c.protocol.index == -1]
        self.assertEqual(len(watched), 1)
        self.call("MULTI")
        self.call("SET", "w", "1")
        self.assertEqual(self.call("EXEC"), [OK])
        self.assertEqual([a[0] for a in watched[0].node.received
                          if a[0] in (b"WATCH", b"MULTI", b"EXEC")],
                         [b"WATCH", b"MULTI", b"EXEC"])
        self.assertEqual(self.router.node(node.address).idle,
                         [watched[0].protocol])
        self.assertEqual(self.backend.session.active, {})

    def test_watchOtherSlot(self):
        """
        A transaction on another slot than the watch: CROSSSLOT.
        """
        a, b = self.keysOnEveryNode(1)[:2]
        self.call("WATCH", a)
        self.call("MULTI")
        self.assertIn("CROSSSLOT", self.call("SET", b, "1"))

    def test_blockingHoldsClient(self):
        """
        A blocking command waits on a connection of its own; the client's
        next commands wait behind it, the others' don't.
        """
        node = self.cluster.owners[keySlot(b"q")]
        blocked = self.start("BLPOP", "q", "0")
        after = self.start("GET", "q")
        other = ClientState(2)
        otherCtx = Context(None, self.factory, None, other)
        self.settle()
        self.assertEqual((blocked, after), ([], []))
        self.assertEqual(self.call("RPUSH", "other", "x", ctx=otherCtx), 1)
        # The list gets an element: the fake wakes no one, so answer for
        # it as the node would.
        connection = [c for c in node.connections
                      if c.protocol.index == -1][0]
        connection.protocol.dataReceived(b"*2\r\n$1\r\nq\r\n$1\r\nx\r\n")
        self.settle()
        self.assertEqual(blocked, [[b"q", b"x"]])
        self.assertEqual(after, [None])

    def test_blockingMovable(self):
        """
        A blocking command whose keys move (C{BLMPOP timeout numkeys
        key...}) waits on a connection of its own at its keys' node;
        across slots, CROSSSLOT.
        """
        node = self.cluster.owners[keySlot(b"t")]
        self.start("BLMPOP", "0", "2", "{t}a", "{t}b", "LEFT")
        self.settle()
        [connection] = [c for c in node.connections
                        if c.protocol.index == -1]
        self.assertEqual(node.commands(b"BLMPOP"),
                         [[b"BLMPOP", b"0", b"2", b"{t}a", b"{t}b",
                           b"LEFT"]])
        a, b = self.keysOnEveryNode(1)[:2]
        self.assertIn("CROSSSLOT", self.call("BLMPOP", "0", "2", a, b,
                                             "LEFT", ctx=Context(
                                                 None, self.factory, None,
                                                 ClientState(2))))

    def test_clientGoneWhileBlocked(self):
        """
        The client leaves during a blocking command: its connection is
        closed, what waited behind it is dropped.
        """
        node = self.cluster.owners[keySlot(b"q")]
        self.start("BLPOP", "q", "0")
        self.settle()
        connection = [c for c in node.connections
                      if c.protocol.index == -1][0]
        self.backend.clientDisconnected(self.ctx)
        self.settle()
        self.assertTrue(connection.closed)
        self.assertEqual(self.backend.session.active, {})


class _RecordingBackend:
    """
    A backend that answers OK and records the clients that left.
    """

    def __init__(self):
        self.gone = []

    def execute(self, ctx, name, args):
        return OK

    def endTurn(self):
        pass

    def clientDisconnected(self, ctx):
        self.gone.append(ctx.client.id)


class ClientGoneTests(SynchronousTestCase):
    """
    The connection tells its backend when its client leaves, so that what
    the client held is let go (L{IBackend.clientDisconnected}).
    """

    def test_toldOnce(self):
        """
        A client that leaves is told about, with its context; a client
        refused at once (the client limit) never reached the backend and
        is not.
        """
        from kvtwist.store import Store
        from kvtwist.test.test_protocol import connect
        backend = _RecordingBackend()
        factory = KVFactory(Store(), None, Config(maxClients=1),
                            clock=Clock(), backend=backend)
        _, first = connect(factory)
        _, refused = connect(factory, port=40001)
        self.assertEqual(backend.gone, [])
        first.loseConnection()
        self.assertEqual(backend.gone, [1])
        self.assertFalse(refused.connected)
        self.assertEqual(backend.gone, [1])
