"""
Tests for C{WATCH} (L{kvtwist.store.watches}, L{kvtwist.commands.
transactions}): what makes an C{EXEC} answer a null array, as Redis 7
decides it, and what watching costs the keyspace.
"""

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import TABLE, ClientState, Context
from kvtwist.dialects.resp import encodeCommand
from kvtwist.factory import Config, KVFactory
from kvtwist.replies import NULL_ARRAY, OK, Error, Status
from kvtwist.store import Store
from kvtwist.store.watches import watchers
from kvtwist.test.test_scripting import NO_LUA


class WatchTests(SynchronousTestCase):
    """
    C{WATCH} then C{MULTI} ... C{EXEC}: the C{EXEC} runs nothing and
    answers a null array if a watched key changed since, by anyone.
    """

    def setUp(self):
        self.now = 1700000000000.0
        self.store = Store(clock=lambda: self.now)
        self.backend = MemoryBackend(self.store)
        self.me = self.context(1)
        self.them = self.context(2)

    def context(self, id: int) -> Context:
        return Context(self.store, None, None, ClientState(id))

    def call(self, ctx, *words):
        words = [w if isinstance(w, bytes) else str(w).encode()
                 for w in words]
        return self.backend.execute(ctx, words[0], words[1:])

    def exec_(self, ctx=None):
        """
        C{MULTI}, C{SET done 1}, C{EXEC} for C{ctx} (this test's client):
        C{EXEC}'s reply.
        """
        ctx = ctx or self.me
        self.assertEqual(self.call(ctx, "MULTI"), OK)
        self.call(ctx, "SET", "done", "1")
        return self.call(ctx, "EXEC")

    def assertAborted(self, ctx=None):
        """
        The C{EXEC} answers a null array and runs nothing.
        """
        self.assertIs(self.exec_(ctx), NULL_ARRAY)
        self.assertIsNone(self.store.get(b"done"))

    def assertRuns(self, ctx=None):
        """
        The C{EXEC} runs.
        """
        self.assertEqual(self.exec_(ctx), [OK])
        self.store.delete(b"done")

    def test_writtenByAnother(self):
        """
        A watched key written by another client aborts the C{EXEC}; one
        not written doesn't.
        """
        self.call(self.me, "SET", "k", "1")
        self.assertEqual(self.call(self.me, "WATCH", "k"), OK)
        self.call(self.them, "SET", "other", "1")
        self.assertRuns()
        self.call(self.me, "WATCH", "k")
        self.call(self.them, "SET", "k", "1")
        self.assertAborted()

    def test_writtenByItself(self):
        """
        The watching client's own write before C{MULTI} aborts too.
        """
        self.call(self.me, "WATCH", "k")
        self.call(self.me, "SET", "k", "2")
        self.assertAborted()

    def test_changes(self):
        """
        Every kind of change to a watched key aborts: the same value set
        again, an expiry set, a deletion, a push, a rename to or from it,
        a move away, a script's write.
        """
        changes = [("SET", "k", "v"), ("EXPIRE", "k", "100"), ("DEL", "k"),
                   ("RPUSH", "l", "x"), ("RENAME", "k", "k2"),
                   ("RENAME", "src", "k"), ("MOVE", "k", "1"),
                   ("INCR", "n"), ("PERSIST", "e")]
        watched = {"RPUSH": "l", "INCR": "n", "PERSIST": "e"}
        for change in changes:
            self.store.flushAll()
            self.call(self.them, "SET", "k", "v")
            self.call(self.them, "SET", "src", "s")
            self.call(self.them, "SET", "e", "v", "EX", "100")
            self.call(self.me, "WATCH", watched.get(change[0], "k"))
            self.assertNotIsInstance(self.call(self.them, *change), Error)
            self.assertAborted()

    def test_noChange(self):
        """
        A command that changes nothing (a deletion of a missing key) is
        not a change.
        """
        self.call(self.me, "WATCH", "k")
        self.assertEqual(self.call(self.them, "DEL", "k"), 0)
        self.assertRuns()

    def test_createdThenDeleted(self):
        """
        A missing key created and deleted again has changed.
        """
        self.call(self.me, "WATCH", "k")
        self.call(self.them, "SET", "k", "1")
        self.call(self.them, "DEL", "k")
        self.assertAborted()

    def test_expired(self):
        """
        A watched key that expires before C{EXEC} aborts it, whether or
        not anyone read it meanwhile.
        """
        for readByAnother in (False, True):
            self.call(self.me, "SET", "k", "v", "PX", "100")
            self.call(self.me, "WATCH", "k")
            self.now += 200
            if readByAnother:
                self.assertIsNone(self.call(self.them, "GET", "k"))
            self.assertAborted()

    def test_expiredBeforeWatched(self):
        """
        A key already expired when watched is watched as missing: its
        removal is no change.
        """
        self.call(self.me, "SET", "k", "v", "PX", "100")
        self.now += 200
        self.call(self.me, "WATCH", "k")
        self.assertIsNone(self.call(self.them, "GET", "k"))
        self.assertRuns()

    def test_flush(self):
        """
        C{FLUSHDB} and C{FLUSHALL} change a watched key that exists, not
        one that doesn't.
        """
        for flush in ("FLUSHDB", "FLUSHALL"):
            self.call(self.me, "WATCH", "missing")
            self.call(self.them, flush)
            self.assertRuns()
            self.call(self.me, "SET", "k", "v")
            self.call(self.me, "WATCH", "k")
            self.call(self.them, flush)
            self.assertAborted()

    def test_swapdb(self):
        """
        C{SWAPDB} changes a watched key that existed before it in the
        watched database, or exists there after it; not one missing from
        both.
        """
        other = self.context(3)
        self.call(other, "SELECT", "1")
        self.call(self.me, "WATCH", "k")
        self.call(self.them, "SWAPDB", "0", "1")
        self.assertRuns()
        self.call(other, "SET", "k", "in1")
        self.call(self.me, "WATCH", "k")
        self.call(self.them, "SWAPDB", "0", "1")
        self.assertEqual(self.call(self.me, "GET", "k"), b"in1")
        self.assertAborted()
        self.call(self.me, "WATCH", "k")
        self.call(self.them, "SWAPDB", "0", "1")
        self.assertAborted()

    def test_databases(self):
        """
        A key is watched in the watching client's database: the same name
        changed in another database is another key; a key moved or
        copied into the watched database changes it there.
        """
        one = self.context(3)
        self.call(one, "SELECT", "1")
        self.call(one, "WATCH", "k")
        self.call(self.them, "SET", "k", "db0")
        self.assertRuns(one)
        self.call(one, "WATCH", "k")
        self.call(self.them, "MOVE", "k", "1")
        self.assertAborted(one)
        if b"COPY" in TABLE:
            self.call(self.them, "SET", "c", "v")
            self.call(one, "WATCH", "k2")
            self.assertEqual(
                self.call(self.them, "COPY", "c", "k2", "DB", "1"), 1)
            self.assertAborted(one)

    def test_over(self):
        """
        C{EXEC}, C{DISCARD}, C{UNWATCH} and an aborted transaction stop
        the watching: a later change doesn't abort the next C{EXEC}.
        """
        ends = [lambda: self.exec_(),
                lambda: (self.call(self.me, "MULTI"),
                         self.call(self.me, "DISCARD")),
                lambda: self.call(self.me, "UNWATCH"),
                lambda: (self.call(self.me, "MULTI"),
                         self.call(self.me, "NOSUCH"),
                         self.call(self.me, "EXEC"))]
        for end in ends:
            self.call(self.me, "WATCH", "k")
            end()
            self.store.delete(b"done")
            self.call(self.them, "SET", "k", "again")
            self.assertRuns()

    def test_abortedUnwatches(self):
        """
        An C{EXEC} aborted by a change stops the watching too.
        """
        self.call(self.me, "WATCH", "k")
        self.call(self.them, "SET", "k", "1")
        self.assertAborted()
        self.call(self.them, "SET", "k", "2")
        self.assertRuns()

    def test_watchInsideMulti(self):
        """
        C{WATCH} after C{MULTI} is an error that doesn't fail the
        transaction; C{UNWATCH} after C{MULTI} is queued.
        """
        self.call(self.me, "MULTI")
        self.assertEqual(self.call(self.me, "WATCH", "k"),
                         Error("ERR WATCH inside MULTI is not allowed"))
        self.assertEqual(self.call(self.me, "UNWATCH"), Status("QUEUED"))
        self.assertEqual(self.call(self.me, "EXEC"), [OK])

    def test_manyWatchers(self):
        """
        Several clients watching one key are all told; watching a key
        twice is watching it once.
        """
        third = self.context(3)
        for ctx in (self.me, third):
            self.call(ctx, "WATCH", "k", "k")
        self.call(self.them, "SET", "k", "1")
        self.assertAborted()
        self.assertAborted(third)

    def test_costsNothingUnwatched(self):
        """
        A database gets a change listener with its first watched key and
        loses it with its last: unwatched, writes go straight to the
        journal.
        """
        db = self.store
        self.assertEqual(db._listeners, ())
        self.call(self.me, "WATCH", "a", "b")
        self.call(self.them, "WATCH", "b")
        self.assertEqual(len(db._listeners), 1)
        self.assertEqual(watchers(db), 2)
        self.call(self.me, "UNWATCH")
        self.assertEqual(watchers(db), 1)
        self.exec_(self.them)
        self.assertEqual(watchers(db), 0)
        self.assertEqual(db._listeners, ())

    def test_disconnected(self):
        """
        A client that goes away stops watching.
        """
        self.call(self.me, "WATCH", "k")
        self.backend.clientDisconnected(self.me)
        self.assertIsNone(self.me.client.watching)
        self.assertEqual(watchers(self.store), 0)

    def test_script(self):
        """
        A script's write to a watched key aborts the C{EXEC}.
        """
        if NO_LUA:
            raise self.skipTest(NO_LUA)
        self.call(self.me, "WATCH", "k")
        self.call(self.them, "EVAL", "redis.call('set', KEYS[1], 'x')", "1",
                  "k")
        self.assertAborted()


class ConnectionTests(SynchronousTestCase):
    """
    A connection's end tells the backend, which lets its watches go.
    """

    def test_connectionLost(self):
        """
        A client that watched keys and whose connection ends leaves no
        watcher, and no listener on the keyspace.
        """
        store = Store()
        factory = KVFactory(store, None, Config(), clock=Clock())
        addr = IPv4Address("TCP", "127.0.0.1", 40000)
        proto = factory.buildProtocol(addr)
        transport = StringTransport(peerAddress=addr)
        proto.makeConnection(transport)
        proto.dataReceived(encodeCommand(b"WATCH", b"a", b"b") +
                           encodeCommand(b"MULTI"))
        self.assertEqual(transport.value(), b"+OK\r\n+OK\r\n")
        self.assertEqual(watchers(store), 2)
        proto.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(watchers(store), 0)
        self.assertEqual(store._listeners, ())
