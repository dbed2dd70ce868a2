"""
Tests for the blocking pops: their handlers (L{kvtwist.commands.blocking}),
the memory backend's blocked clients (L{kvtwist.backends.blocking}), and a
connection while its client is blocked (L{kvtwist.protocol.connection}).
"""

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import ClientState, Context
from kvtwist.commands.blocking import (
    NEGATIVE_TIMEOUT, NOT_A_TIMEOUT, parseTimeout)
from kvtwist.dialects.resp import encodeCommand as e
from kvtwist.replies import NULL_ARRAY, WRONGTYPE, Error
from kvtwist.store import Store
from kvtwist.test.test_protocol import connect, lose, makeFactory


class TimeoutTests(SynchronousTestCase):
    """
    L{parseTimeout} reads seconds as Redis 7.0 does.
    """

    def test_seconds(self):
        """
        Whole and fractional seconds, in milliseconds; 0 is for ever.
        """
        self.assertEqual(parseTimeout(b"0"), 0)
        self.assertEqual(parseTimeout(b"5"), 5000)
        self.assertEqual(parseTimeout(b"0.25"), 250)
        self.assertEqual(parseTimeout(b"1e1"), 10000)
        self.assertEqual(parseTimeout(b"0x10"), 16000)
        self.assertEqual(parseTimeout(b"+1.5"), 1500)

    def test_truncated(self):
        """
        Milliseconds are truncated, as Redis 7.0 converts them: under a
        millisecond is 0 (for ever), and so is a tiny negative number.
        """
        self.assertEqual(parseTimeout(b"0.0015"), 1)
        self.assertEqual(parseTimeout(b"0.0001"), 0)
        self.assertEqual(parseTimeout(b"-0.0001"), 0)

    def test_notAFloat(self):
        """
        A word that isn't a number, with blanks, or NaN is not a float.
        """
        for text in [b"abc", b"", b" 1", b"1 ", b"nan", b"1e5000", b"1,5"]:
            self.assertEqual(parseTimeout(text), NOT_A_TIMEOUT, text)

    def test_negative(self):
        """
        A negative number is negative; so are the infinities and numbers
        whose milliseconds overflow a C{long long} (Redis 7.0's cast).
        """
        for text in [b"-1", b"-0.5", b"inf", b"-inf", b"1e400",
                     b"9223372036854775807", b"9223372036854776"]:
            self.assertEqual(parseTimeout(text), NEGATIVE_TIMEOUT, text)
        self.assertEqual(parseTimeout(b"9223372036854775"),
                         9223372036854775000)


class Clients:
    """
    A memory backend on a clock, and clients of it.
    """

    def __init__(self, service=None):
        self.clock = Clock()
        self.store = Store(lambda: self.clock.seconds() * 1000)
        self.ops = []
        self.store.journal = self.ops.append
        self.backend = MemoryBackend(self.store, service, clock=self.clock)
        self._ids = 0

    def client(self, db: int = 0) -> Context:
        self._ids += 1
        state = ClientState(self._ids)
        state.db = db
        return Context(self.store.database(db), None, None, state)

    def run(self, ctx, *words):
        return self.backend.execute(
            ctx, words[0].encode(),
            [w if isinstance(w, bytes) else w.encode() for w in words[1:]])


class BlockingCommandTests(SynchronousTestCase):
    """
    The blocking commands through the memory backend.
    """

    def setUp(self):
        self.c = Clients()
        self.a = self.c.client()
        self.b = self.c.client()
        self.run = self.c.run

    def test_immediate(self):
        """
        With something to pop, a blocking pop answers at once, from the
        first non-empty key, as its non-blocking form.
        """
        self.run(self.a, "RPUSH", "k2", "x", "y")
        self.assertEqual(self.run(self.a, "BLPOP", "k1", "k2", "0"),
                         [b"k2", b"x"])
        self.assertEqual(self.run(self.a, "BRPOP", "k2", "0"), [b"k2", b"y"])
        self.run(self.a, "RPUSH", "s", "1", "2", "3")
        self.assertEqual(
            self.run(self.a, "BLMPOP", "0", "2", "k1", "s", "RIGHT",
                     "COUNT", "2"), [b"s", [b"3", b"2"]])
        self.assertEqual(self.run(self.a, "BLMOVE", "s", "d", "LEFT",
                                  "RIGHT", "0"), b"1")
        self.assertEqual(self.run(self.a, "BRPOPLPUSH", "d", "d2", "0"), b"1")
        self.assertEqual(self.c.store.lrange(b"d2", 0, -1), [b"1"])
        self.assertIsNone(self.c.backend.waiting)

    def test_errors(self):
        """
        Redis's errors: a bad timeout, a wrong-typed key met before one
        that holds a list, BLMOVE's and BLMPOP's syntax.
        """
        self.run(self.a, "SET", "s", "x")
        self.run(self.a, "RPUSH", "l", "v")
        self.assertEqual(self.run(self.a, "BLPOP", "k", "-1"),
                         NEGATIVE_TIMEOUT)
        self.assertEqual(self.run(self.a, "BLPOP", "k", "soon"),
                         NOT_A_TIMEOUT)
        self.assertEqual(self.run(self.a, "BLPOP", "s", "l", "0"), WRONGTYPE)
        self.assertEqual(self.run(self.a, "BLPOP", "l", "s", "0"),
                         [b"l", b"v"])
        self.assertEqual(self.run(self.a, "BLMOVE", "a", "b", "UP", "LEFT",
                                  "-1"), Error("ERR syntax error"))
        self.assertEqual(self.run(self.a, "BLMPOP", "-1", "0", "k", "LEFT"),
                         NEGATIVE_TIMEOUT)
        self.assertEqual(self.run(self.a, "BLMPOP", "0", "0", "k", "LEFT"),
                         Error("ERR numkeys should be greater than 0"))
        self.assertEqual(self.run(self.a, "BLMPOP", "0", "1", "k", "LEFT",
                                  "COUNT", "0"),
                         Error("ERR count should be greater than 0"))
        self.assertEqual(self.run(self.a, "BLMPOP", "0", "2", "k", "LEFT"),
                         Error("ERR syntax error"))
        self.assertEqual(self.run(self.a, "BLMOVE", "s", "b", "LEFT",
                                  "LEFT", "0"), WRONGTYPE)
        self.assertIsNone(self.c.backend.waiting)

    def test_wakeUp(self):
        """
        A client blocked on an empty key gets what a push brings, and the
        pusher's reply is its own.
        """
        d = self.run(self.a, "BLPOP", "k", "0")
        self.assertIsInstance(d, Deferred)
        self.assertNoResult(d)
        self.assertEqual(self.run(self.b, "RPUSH", "k", "v1", "v2"), 2)
        self.assertEqual(self.successResultOf(d), [b"k", b"v1"])
        self.assertEqual(self.c.store.lrange(b"k", 0, -1), [b"v2"])

    def test_fairOrder(self):
        """
        First blocked, first served, per key; a push of fewer elements than
        waiters serves the earliest ones.
        """
        clients = [self.c.client() for _ in range(4)]
        ds = [self.run(c, "BLPOP", "k", "0") for c in clients]
        self.run(self.b, "RPUSH", "k", "1", "2", "3")
        self.assertEqual([self.successResultOf(d) for d in ds[:3]],
                         [[b"k", b"1"], [b"k", b"2"], [b"k", b"3"]])
        self.assertNoResult(ds[3])
        self.run(self.b, "LPUSH", "k", "4")
        self.assertEqual(self.successResultOf(ds[3]), [b"k", b"4"])

    def test_severalKeys(self):
        """
        A client blocked on several keys is served by the first of them to
        be pushed to, once; it waits on none of them afterwards.
        """
        d = self.run(self.a, "BRPOP", "k1", "k2", "0")
        e2 = self.run(self.b, "BLPOP", "k1", "0")
        self.run(self.c.client(), "RPUSH", "k2", "x")
        self.assertEqual(self.successResultOf(d), [b"k2", b"x"])
        self.run(self.c.client(), "RPUSH", "k1", "y")
        self.assertEqual(self.successResultOf(e2), [b"k1", b"y"])
        self.assertEqual(len(self.c.backend.waiting), 0)

    def test_wrongTypeWaits(self):
        """
        A blocked client whose key becomes another kind of value goes on
        waiting (Redis 7.0), and is served once it is a list again.
        """
        d = self.run(self.a, "BLPOP", "k", "0")
        self.run(self.b, "SET", "k", "string")
        self.assertNoResult(d)
        self.run(self.b, "DEL", "k")
        self.run(self.b, "RPUSH", "k", "v")
        self.assertEqual(self.successResultOf(d), [b"k", b"v"])

    def test_moveChain(self):
        """
        BLMOVE moves what a push brings to its destination, which serves
        a client blocked there in turn; a destination of another kind
        ends the wait with WRONGTYPE and leaves the source alone.
        """
        d1 = self.run(self.a, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
        d2 = self.run(self.b, "BLPOP", "dst", "0")
        self.run(self.c.client(), "RPUSH", "src", "v")
        self.assertEqual(self.successResultOf(d1), b"v")
        self.assertEqual(self.successResultOf(d2), [b"dst", b"v"])
        self.run(self.c.client(), "SET", "str", "x")
        d3 = self.run(self.a, "BRPOPLPUSH", "src", "str", "0")
        self.run(self.c.client(), "RPUSH", "src", "w")
        self.assertEqual(self.successResultOf(d3), WRONGTYPE)
        self.assertEqual(self.c.store.lrange(b"src", 0, -1), [b"w"])

    def test_sortedSets(self):
        """
        BZPOPMIN and BZPOPMAX answer at once from a sorted set, or wait
        for one: a ZADD serves them (the score as a double); a list pushed
        to the key they wait on serves a BLPOP waiting there, not them.
        """
        self.run(self.a, "ZADD", "z", "1", "a", "2", "b")
        self.assertEqual(self.run(self.a, "BZPOPMAX", "none", "z", "0"),
                         [b"z", b"b", 2.0])
        self.run(self.a, "ZREM", "z", "a")
        zmin = self.run(self.a, "BZPOPMIN", "k", "0")
        lpop = self.run(self.b, "BLPOP", "k", "0")
        self.run(self.c.client(), "RPUSH", "k", "x")
        self.assertNoResult(zmin)
        self.assertEqual(self.successResultOf(lpop), [b"k", b"x"])
        self.run(self.c.client(), "ZADD", "k", "0.5", "m", "7", "n")
        self.assertEqual(self.successResultOf(zmin), [b"k", b"m", 0.5])
        self.run(self.a, "SET", "s", "x")
        self.assertEqual(self.run(self.a, "BZPOPMIN", "s", "0"), WRONGTYPE)
        self.a.client.atomic = object()
        self.assertIs(self.run(self.a, "BZPOPMAX", "none", "0"), NULL_ARRAY)

    def test_blmpop(self):
        """
        BLMPOP is served up to its COUNT from the key that was pushed to.
        """
        d = self.run(self.a, "BLMPOP", "0", "2", "x", "y", "RIGHT", "COUNT",
                     "2")
        self.run(self.b, "RPUSH", "y", "1", "2", "3")
        self.assertEqual(self.successResultOf(d), [b"y", [b"3", b"2"]])

    def test_bzmpop(self):
        """
        BZMPOP is served up to its COUNT from the sorted set that was made,
        from the end it names; a list made on a key it waits on doesn't
        serve it; its timeout gives a null array.
        """
        d = self.run(self.a, "BZMPOP", "0", "2", "x", "y", "MAX", "COUNT",
                     "2")
        self.run(self.b, "RPUSH", "x", "1")
        self.assertNoResult(d)
        self.run(self.b, "ZADD", "y", "1", "a", "2", "b", "3", "c")
        self.assertEqual(self.successResultOf(d),
                         [b"y", [[b"c", 3.0], [b"b", 2.0]]])
        self.assertEqual(self.run(self.a, "ZMPOP", "2", "nope", "y", "MIN"),
                         [b"y", [[b"a", 1.0]]])
        self.assertIs(self.run(self.a, "ZMPOP", "1", "y", "MIN"), NULL_ARRAY)
        t = self.run(self.a, "BZMPOP", "0.5", "1", "y", "MIN")
        self.c.clock.advance(0.5)
        self.assertIs(self.successResultOf(t), NULL_ARRAY)
        self.run(self.b, "ZADD", "y", "5", "e")
        self.assertEqual(self.c.store.zcard(b"y"), 1)

    def test_timeout(self):
        """
        With nothing pushed before its timeout, a blocked client gets a
        null array, and waits no more.
        """
        d = self.run(self.a, "BLPOP", "k", "1.5")
        m = self.run(self.b, "BLMOVE", "k", "j", "LEFT", "LEFT", "0.5")
        self.c.clock.advance(0.499)
        self.assertNoResult(m)
        self.c.clock.advance(0.001)
        self.assertIs(self.successResultOf(m), NULL_ARRAY)
        self.c.clock.advance(1)
        self.assertIs(self.successResultOf(d), NULL_ARRAY)
        self.run(self.b, "RPUSH", "k", "v")
        self.assertEqual(self.c.store.lrange(b"k", 0, -1), [b"v"])
        self.assertEqual(self.c.clock.getDelayedCalls(), [])

    def test_rightDatabase(self):
        """
        A client waits on the key of its own database: a push to the
        same name in another one doesn't serve it.
        """
        one = self.c.client(db=1)
        d = self.run(one, "BLPOP", "k", "0")
        self.run(self.a, "RPUSH", "k", "in-0")
        self.assertNoResult(d)
        self.run(self.c.client(db=1), "RPUSH", "k", "in-1")
        self.assertEqual(self.successResultOf(d), [b"k", b"in-1"])
        self.assertEqual(self.c.store.lrange(b"k", 0, -1), [b"in-0"])

    def test_swapdb(self):
        """
        SWAPDB brings a list to a database where a client waits on its
        name: it is served, as Redis serves it.
        """
        d = self.run(self.c.client(db=1), "BLPOP", "k", "0")
        self.run(self.a, "RPUSH", "k", "v")
        self.run(self.a, "SWAPDB", "0", "1")
        self.assertEqual(self.successResultOf(d), [b"k", b"v"])

    def test_insideTransaction(self):
        """
        Where nothing may wait (a client's EXEC or script running), a
        blocking pop answers as if its timeout had passed: a null array,
        a null for BLMOVE and BRPOPLPUSH.
        """
        self.a.client.atomic = object()
        self.assertIs(self.run(self.a, "BLPOP", "k", "0"), NULL_ARRAY)
        self.assertIs(self.run(self.a, "BLMPOP", "0", "1", "k", "LEFT"),
                      NULL_ARRAY)
        self.assertIsNone(self.run(self.a, "BLMOVE", "k", "d", "LEFT",
                                   "LEFT", "0"))
        self.assertIsNone(self.run(self.a, "BRPOPLPUSH", "k", "d", "0"))
        self.assertIsNone(self.c.backend.waiting)

    def test_journaled(self):
        """
        The pop served to a blocked client is journaled like any pop.
        """
        self.run(self.a, "BLPOP", "k", "0")
        self.run(self.b, "RPUSH", "k", "v")
        self.assertEqual(self.c.ops, [(b"RPUSH", b"k", b"v"),
                                      (b"LPOP", b"k", b"1")])

    def test_durable(self):
        """
        Under C{--fsync always}, a served client's reply waits until its
        pop is durable.
        """
        service = DurableService()
        c = Clients(service)
        a, b = c.client(), c.client()
        d = c.run(a, "BLPOP", "k", "0")
        pushed = c.run(b, "RPUSH", "k", "v")
        self.assertNoResult(d)
        for w in service.waiting:
            w.callback(None)
        self.assertEqual(self.successResultOf(pushed), 1)
        self.assertEqual(self.successResultOf(d), [b"k", b"v"])

    def test_unblock(self):
        """
        CLIENT UNBLOCK id answers the blocked client as a timeout, or with
        ERROR with Redis's UNBLOCKED error; 0 for a client not blocked.
        """
        d = self.run(self.a, "BLPOP", "k", "0")
        self.assertEqual(self.c.backend.unblockClient(self.a.client.id), True)
        self.assertIs(self.successResultOf(d), NULL_ARRAY)
        d = self.run(self.a, "BLPOP", "k", "0")
        self.assertEqual(self.c.backend.unblockClient(self.a.client.id,
                                                      error=True), True)
        self.assertEqual(self.successResultOf(d), Error(
            "UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        self.assertEqual(self.c.backend.unblockClient(self.a.client.id),
                         False)

    def test_blockedAgain(self):
        """
        A client state that blocks again (callers sharing one) ends its
        earlier wait as if timed out; nothing of it is left behind.
        """
        first = self.run(self.a, "BLPOP", "k1", "5")
        second = self.run(self.a, "BLPOP", "k2", "0")
        self.assertIs(self.successResultOf(first), NULL_ARRAY)
        self.run(self.b, "RPUSH", "k1", "v")
        self.run(self.b, "RPUSH", "k2", "w")
        self.assertEqual(self.successResultOf(second), [b"k2", b"w"])
        self.assertEqual(self.c.store.lrange(b"k1", 0, -1), [b"v"])
        self.assertEqual(self.c.store._listeners, ())
        self.assertEqual(self.c.clock.getDelayedCalls(), [])

    def test_disconnected(self):
        """
        A client that goes away waits no more: a push is not served to it,
        and its timer is gone.
        """
        d = self.run(self.a, "BLPOP", "k", "5")
        self.c.backend.clientDisconnected(self.a)
        self.run(self.b, "RPUSH", "k", "v")
        self.assertNoResult(d)
        self.assertEqual(self.c.store.lrange(b"k", 0, -1), [b"v"])
        self.assertEqual(self.c.clock.getDelayedCalls(), [])

    def test_noCostWhenNoneBlocked(self):
        """
        While no client is blocked the backend's C{execute} is the plain
        one, and no database has a change listener; the first client to
        block installs the serving one, the last to leave takes it away.
        """
        backend = self.c.backend
        self.assertNotIn("execute", backend.__dict__)
        d = self.run(self.a, "BLPOP", "k", "0")
        self.assertIn("execute", backend.__dict__)
        self.assertEqual(len(self.c.store._listeners), 1)
        self.run(self.b, "RPUSH", "k", "v")
        self.successResultOf(d)
        self.assertNotIn("execute", backend.__dict__)
        self.assertEqual(self.c.store._listeners, ())


class DurableService:
    """
    A store service under C{--fsync always}: every write waits.
    """

    failure = None

    def __init__(self):
        self.waiting = []

    def whenDurable(self):
        d = Deferred()
        self.waiting.append(d)
        return d

    def sealBatch(self):
        pass


class BlockedConnectionTests(SynchronousTestCase):
    """
    A connection while its client is blocked.
    """

    def setUp(self):
        self.factory, self.clock = makeFactory(maxOutputBuffer=1000)
        self.a, self.ta = connect(self.factory)
        self.b, self.tb = connect(self.factory, port=40001)

    def test_laterRequestsWait(self):
        """
        The requests a blocked client sent after the blocking one don't
        run (not only their replies wait) until it is served: another
        client doesn't see their effect; then they run, in order.
        """
        self.a.dataReceived(e("BLPOP", "k", "0") + e("SET", "x", "1") +
                            e("GET", "x"))
        self.assertEqual(self.ta.value(), b"")
        self.assertTrue(self.a.state.blocked)
        self.b.dataReceived(e("GET", "x") + e("RPUSH", "k", "v"))
        self.assertEqual(self.tb.value(), b"$-1\r\n:1\r\n")
        self.assertEqual(self.ta.value(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n")
        self.clock.advance(0)
        self.assertEqual(self.ta.value(), b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
                                          b"+OK\r\n$1\r\n1\r\n")
        self.assertFalse(self.a.state.blocked)

    def test_laterReadWaits(self):
        """
        A read that comes while the client is blocked is not run, even
        made of whole requests that nothing precedes in its input: it runs
        once the client is served, after the blocking command's reply.
        """
        self.a.dataReceived(e("BLPOP", "k", "0"))
        self.a.dataReceived(e("SET", "x", "1") + e("GET", "x"))
        self.assertIsNone(self.factory.store.get(b"x"))
        self.assertEqual(self.ta.value(), b"")
        self.b.dataReceived(e("RPUSH", "k", "v"))
        self.clock.advance(0)
        self.assertEqual(self.factory.store.get(b"x"), b"1")
        self.assertEqual(self.ta.value(),
                         b"*2\r\n$1\r\nk\r\n$1\r\nv\r\n+OK\r\n$1\r\n1\r\n")

    def test_readsAheadWithinBounds(self):
        """
        A blocked client's input is kept until it holds more than the
        output budget; then reading pauses (not a stall), and resumes once
        the client is served.
        """
        self.a.dataReceived(e("BLPOP", "k", "0"))
        self.a.dataReceived(e("SET", "x", "y" * 400))
        self.assertEqual(self.ta.producerState, "producing")
        self.a.dataReceived(e("SET", "x", "z" * 700))
        self.assertEqual(self.ta.producerState, "paused")
        self.assertIsNone(self.a.stalledSince)
        self.b.dataReceived(e("RPUSH", "k", "v"))
        self.clock.advance(0)
        self.assertEqual(self.ta.producerState, "producing")
        self.assertEqual(self.factory.store.get(b"x"), b"z" * 700)

    def test_timeoutThenRuns(self):
        """
        A blocking pop that times out answers a null array (RESP3: a
        null), then the later requests run.
        """
        self.a.dataReceived(e("HELLO", "3") + e("BRPOP", "k", "0.5") +
                            e("PING"))
        self.ta.clear()
        self.clock.advance(0.5)
        self.clock.advance(0)
        self.assertEqual(self.ta.value(), b"_\r\n+PONG\r\n")

    def test_notIdle(self):
        """
        A blocked client is not closed for being idle (C{--timeout}), nor
        for stalling.
        """
        factory, clock = makeFactory(timeout=10)
        factory.startFactory()
        self.addCleanup(factory.stopFactory)
        a, ta = connect(factory)
        idle, tidle = connect(factory, port=40002)
        a.dataReceived(e("BLPOP", "k", "0"))
        for _ in range(60):
            clock.advance(1)
        self.assertTrue(ta.connected)
        self.assertFalse(tidle.connected)

    def test_shutdown(self):
        """
        A graceful shutdown closes a blocked client at once, after what
        was ready for it, instead of waiting for a reply that won't come.
        """
        self.a.dataReceived(e("PING") + e("BLPOP", "k", "0"))
        self.ta.clear()
        done = self.factory.disconnectAll(timeout=5)
        self.assertEqual(self.ta.value(), b"")
        self.assertFalse(self.ta.connected)
        self.successResultOf(done)

    def test_stats(self):
        """
        INFO's C{blocked_clients} counts the clients blocked now; a client
        that disconnects while blocked is no longer counted.
        """
        self.a.dataReceived(e("BLPOP", "k", "0"))
        self.assertEqual(self.factory.stats.blockedClients, 1)
        self.b.dataReceived(e("INFO", "clients"))
        self.assertIn(b"blocked_clients:1\r\n", self.tb.value())
        lose(self.a)
        self.assertEqual(self.factory.stats.blockedClients, 0)
        self.b.dataReceived(e("RPUSH", "k", "v"))
        self.assertEqual(self.factory.store.lrange(b"k", 0, -1), [b"v"])

    def test_clientUnblock(self):
        """
        CLIENT UNBLOCK from another connection.
        """
        self.a.dataReceived(e("BLPOP", "k", "0") + e("PING"))
        self.b.dataReceived(e("CLIENT", "UNBLOCK", str(self.a.state.id),
                              "ERROR") + e("CLIENT", "UNBLOCK", "999"))
        self.assertEqual(self.tb.value(), b":1\r\n:0\r\n")
        self.clock.advance(0)
        self.assertEqual(self.ta.value(), b"-UNBLOCKED client unblocked via "
                         b"CLIENT UNBLOCK\r\n+PONG\r\n")

    def test_textDialect(self):
        """
        A person on the text protocol blocks too, and sees the pop.
        """
        self.a.dataReceived(b"BLPOP jobs 0\r\nGET x\r\n")
        self.assertEqual(self.ta.value(), b"")
        self.b.dataReceived(e("RPUSH", "jobs", "j1"))
        self.clock.advance(0)
        self.assertEqual(self.ta.value(), b"'jobs' 'j1'\r\nKey 'x' not "
                                          b"found.\r\n")
