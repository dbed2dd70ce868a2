"""
Tests for the numbered databases: L{kvtwist.store.databases} (the set,
its journal, replay and snapshot state) and the commands on them
(L{kvtwist.commands.databases}, C{MOVE}).
"""

import pickle

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import Context
from kvtwist.replies import NOT_INTEGER, OK, Error
from kvtwist.factory import Config, KVFactory
from kvtwist.store import Store
from kvtwist.store.databases import DatabaseSet


class FakeTime:
    """
    A settable millisecond clock.
    """

    def __init__(self, now=1000000.0):
        self.now = now

    def __call__(self):
        return self.now


def makeStore(databases=16):
    """
    A store on a fake clock, recording its journal.

    @return: C{(store, clock, ops)}.
    """
    clock = FakeTime()
    store = Store(clock, databases=databases)
    ops = []
    store.journal = ops.append
    return store, clock, ops


def replayed(ops, databases=16, clock=None):
    """
    A new store with C{ops} applied.
    """
    store = Store(clock or FakeTime(), databases=databases)
    for op in ops:
        store.apply(op)
    return store


def everything(store):
    """
    Every database's live contents and expiry times, for comparisons.
    """
    return [(sorted(db.items()),
             sorted((k, db.expiresAt(k)) for k, _ in db.items()))
            for db in store.databases]


class DatabaseSetTests(SynchronousTestCase):
    """
    A store is database 0 of a set; each database is a keyspace of its own.
    """

    def test_separate(self):
        """
        Keys of one database are not seen in another; C{size} counts one
        database, C{keyCount} every one.
        """
        store, _, _ = makeStore()
        three = store.database(3)
        three.set(b"k", b"in 3")
        store.set(b"k", b"in 0")
        self.assertEqual(store.get(b"k"), b"in 0")
        self.assertEqual(three.get(b"k"), b"in 3")
        self.assertIsNone(store.database(4).get(b"k"))
        self.assertEqual((store.size(), three.size(), store.keyCount()),
                         (1, 1, 2))
        self.assertEqual([db.index for db in store.databases],
                         list(range(16)))
        self.assertIs(three.owner, store)
        self.assertIs(three.databases, store.databases)
        self.assertRaises(IndexError, store.database, 16)
        self.assertRaises(IndexError, store.database, -1)

    def test_count(self):
        """
        A store has as many databases as asked, at least one.
        """
        self.assertEqual(len(Store(databases=1).databases), 1)
        self.assertEqual(len(Store(databases=40).databases), 40)
        self.assertRaises(ValueError, Store, databases=0)

    def test_journalOfDatabase0Untouched(self):
        """
        Database 0's ops reach the journal as they always have, through
        the journal itself (nothing added to its hot path); another
        database's ops are tagged with its number.
        """
        store, _, ops = makeStore()
        self.assertEqual(store._journal, ops.append)
        store.set(b"a", b"1")
        store.database(2).set(b"b", b"2")
        store.database(2).push(b"l", [b"x"])
        self.assertEqual(ops, [(b"SET", b"a", b"1"),
                               (b"DB", b"2", b"SET", b"b", b"2"),
                               (b"DB", b"2", b"RPUSH", b"l", b"x")])
        self.assertEqual(store.database(2).journal, ops.append)
        store.journal = None
        store.database(2).set(b"c", b"3")
        self.assertEqual(len(ops), 3)

    def test_flushDbAndFlushAll(self):
        """
        C{flush} empties one database (C{FLUSHDB}), C{flushAll} every one.
        """
        store, _, ops = makeStore()
        for db in store.databases[:3]:
            db.set(b"k", b"v", expireAtMs=2000000)
        store.database(1).flush()
        self.assertEqual([db.size() for db in store.databases[:3]],
                         [1, 0, 1])
        self.assertEqual(store.database(1).expiringCount(), 0)
        store.flushAll()
        self.assertEqual(store.keyCount(), 0)
        self.assertEqual(ops[-2:], [(b"DB", b"1", b"FLUSHDB"),
                                    (b"FLUSHALL",)])

    def test_swap(self):
        """
        C{swapDatabases} swaps contents and expiries; a database object
        stays its number (clients that selected it see the other's keys).
        """
        store, clock, ops = makeStore()
        one, two = store.database(1), store.database(2)
        one.set(b"a", b"1", expireAtMs=clock.now + 1000)
        two.push(b"l", [b"x"])
        store.swapDatabases(1, 2)
        self.assertEqual(one.lrange(b"l", 0, -1), [b"x"])
        self.assertEqual(two.get(b"a"), b"1")
        self.assertEqual(two.ttlMs(b"a"), 1000)
        self.assertFalse(one.exists(b"a"))
        clock.now += 2000
        self.assertEqual(store.sweep(10), 1)
        self.assertEqual(ops[-2:], [(b"SWAPDB", b"1", b"2"),
                                    (b"DB", b"2", b"DEL", b"a")])

    def test_move(self):
        """
        C{moveTo} moves a key and its expiry, unless it is missing here or
        exists there.
        """
        store, clock, ops = makeStore()
        five = store.database(5)
        store.set(b"k", b"v", expireAtMs=clock.now + 500)
        self.assertTrue(store.moveTo(b"k", five))
        self.assertFalse(store.exists(b"k"))
        self.assertEqual(five.get(b"k"), b"v")
        self.assertEqual(five.ttlMs(b"k"), 500)
        self.assertFalse(store.moveTo(b"k", five))
        store.set(b"k", b"other")
        self.assertFalse(store.moveTo(b"k", five))
        self.assertEqual(store.get(b"k"), b"other")
        self.assertRaises(ValueError, store.moveTo, b"k", store)
        self.assertEqual(ops[-2], (b"MOVE", b"k", b"5"))

    def test_copy(self):
        """
        C{copyTo} copies a value (a list's is a new list) and its expiry,
        to the same database or another, replacing only if asked.
        """
        store, clock, _ = makeStore()
        two = store.database(2)
        store.push(b"l", [b"a"])
        store.expireAt(b"l", clock.now + 100)
        self.assertTrue(store.copyTo(b"l", two, b"m"))
        store.push(b"l", [b"b"])
        self.assertEqual(two.lrange(b"m", 0, -1), [b"a"])
        self.assertEqual(two.ttlMs(b"m"), 100)
        self.assertFalse(store.copyTo(b"l", two, b"m"))
        self.assertTrue(store.copyTo(b"l", two, b"m", replace=True))
        self.assertEqual(two.lrange(b"m", 0, -1), [b"a", b"b"])
        self.assertTrue(store.copyTo(b"l", store, b"l2"))
        self.assertFalse(store.copyTo(b"nope", store, b"x"))
        self.assertRaises(ValueError, store.copyTo, b"l", store, b"l")

    def test_sweepEveryDatabase(self):
        """
        The expiry sweep expires keys in every database, within its limit,
        and C{expiredCount} counts them all.
        """
        store, clock, _ = makeStore()
        for db in store.databases:
            db.set(b"k", b"v", expireAtMs=clock.now + 10)
        clock.now += 20
        self.assertEqual(store.sweep(10), 10)
        self.assertEqual(store.sweep(10), 6)
        self.assertEqual(store.keyCount(), 0)
        self.assertEqual(store.expiredCount, 16)
        self.assertEqual(store.database(7).expiredCount, 16)

    def test_figures(self):
        """
        C{figures} gives each non-empty database's keys, expiring keys and
        average time to live.
        """
        store, clock, _ = makeStore()
        store.set(b"a", b"1")
        three = store.database(3)
        three.set(b"x", b"1", expireAtMs=clock.now + 1000)
        three.set(b"y", b"1", expireAtMs=clock.now + 3000)
        three.set(b"z", b"1")
        self.assertEqual(store.figures(), [(0, 1, 0, 0), (3, 3, 2, 2000)])

    def test_averageTtlSampled(self):
        """
        With many expiring keys the average time to live is estimated from
        a sample, close to the true one.
        """
        store, clock, _ = makeStore()
        for i in range(1000):
            store.set(b"k%d" % (i,), b"v", expireAtMs=clock.now + 1000 +
                      (i % 2) * 1000)
        self.assertTrue(1000 <= store.averageTtlMs() <= 2000)


class ListenerTests(SynchronousTestCase):
    """
    A database tells its change listeners which keys changed (for WATCH).
    """

    def test_changes(self):
        """
        Writes, deletes, expiry, renames, flushes, moves, copies and swaps
        are told to the listeners of the databases they change, as tuples
        of keys or L{None} for every key; the journal still gets its ops.
        """
        store, clock, ops = makeStore()
        seen = []

        def listener(db, keys):
            seen.append((db.index, keys))
        one = store.database(1)
        store.addChangeListener(listener)
        one.addChangeListener(listener)
        store.set(b"a", b"1", expireAtMs=clock.now + 10)
        one.push(b"l", [b"x"])
        store.rename(b"a", b"b")
        store.copyTo(b"b", one, b"c")
        one.moveTo(b"l", store)
        clock.now += 20
        store.get(b"b")
        one.flush()
        store.swapDatabases(0, 1)
        store.flushAll()
        self.assertEqual(seen, [
            (0, (b"a",)), (0, (b"a",)), (1, (b"l",)), (0, (b"a", b"b")),
            (0, ()), (1, (b"c",)), (1, (b"l",)), (0, (b"l",)),
            (0, (b"b",)), (1, None), (0, None), (1, None)] +
            [(0, None), (1, None)])
        self.assertEqual(len(ops), 10)

    def test_noListenerNoCost(self):
        """
        Once its last listener is removed a database's changes go straight
        to the journal again.
        """
        store, _, ops = makeStore()
        listener = lambda db, keys: None  # noqa: E731
        store.addChangeListener(listener)
        self.assertNotEqual(store._journal, ops.append)
        store.removeChangeListener(listener)
        self.assertEqual(store._journal, ops.append)
        store.journal = None
        store.addChangeListener(listener)
        store.set(b"k", b"v")
        store.removeChangeListener(listener)
        self.assertIsNone(store._journal)


class ReplayTests(SynchronousTestCase):
    """
    The journal of every database replays to the same state, and older
    logs (of one database) still replay.
    """

    def test_replayEverything(self):
        """
        Ops of several databases, swaps, moves, copies and flushes replay
        to the same contents and expiries.
        """
        store, clock, ops = makeStore()
        one, two = store.database(1), store.database(2)
        store.set(b"a", b"0")
        one.set(b"a", b"1", expireAtMs=clock.now + 5000)
        two.push(b"l", [b"x", b"y"])
        store.swapDatabases(0, 2)
        one.moveTo(b"a", two)
        store.copyTo(b"l", one, b"l2")
        store.database(3).set(b"gone", b"x")
        store.database(3).flush()
        store.pop(b"l", 1)
        two.incrBy(b"n", 3)
        copy = replayed(ops, clock=FakeTime())
        self.assertEqual(everything(copy), everything(store))

    def test_oldLog(self):
        """
        A log of before the databases (untagged ops, FLUSHALL) replays
        into database 0.
        """
        copy = replayed([(b"SET", b"a", b"1"), (b"FLUSHALL",),
                         (b"SET", b"b", b"2"), (b"RPUSH", b"l", b"x")])
        self.assertEqual(sorted(copy.items()),
                         [(b"b", b"2"), (b"l", [b"x"])])
        self.assertEqual(copy.keyCount(), 2)

    def test_unknownDatabase(self):
        """
        An op of a database the store doesn't have (it was started with
        fewer C{--databases}) can't be replayed.
        """
        store = Store(databases=4)
        self.assertRaises(ValueError, store.apply,
                          (b"DB", b"4", b"SET", b"a", b"1"))
        self.assertRaises(ValueError, store.apply,
                          (b"DB", b"x", b"SET", b"a", b"1"))
        self.assertRaises(ValueError, store.apply, (b"DB", b"1"))
        self.assertRaises(ValueError, store.apply, (b"MOVE", b"a", b"9"))

    def test_replayKeepsKeysThatExpiredSince(self):
        """
        Replay doesn't expire keys whose time passed since they were
        journaled: a key renamed, incremented or pushed to before its
        expiry replays (it failed: RENAME of an expired key refused to
        start the server, and INCR brought a counter back without its
        expiry), and expires after recovery.
        """
        store, clock, ops = makeStore()
        store.set(b"a", b"1", expireAtMs=clock.now + 1000)
        store.rename(b"a", b"b")
        store.set(b"n", b"1", expireAtMs=clock.now + 1000)
        store.incrBy(b"n", 1)
        store.push(b"l", [b"x", b"y"])
        store.expireAt(b"l", clock.now + 1000)
        store.lset(b"l", 1, b"z")
        store.database(1).set(b"m", b"v", expireAtMs=clock.now + 1000)
        store.database(1).moveTo(b"m", store)
        later = FakeTime(clock.now + 5000)
        copy = replayed(ops, clock=later)
        later.now = clock.now
        self.assertEqual(everything(copy), everything(store))
        later.now = clock.now + 5000
        self.assertEqual(copy.sweep(10), 4)
        self.assertEqual(copy.keyCount(), 0)


class SnapshotStateTests(SynchronousTestCase):
    """
    C{dumpState} and C{loadState} with databases.
    """

    def test_onlyDatabase0(self):
        """
        With the other databases empty, the state is database 0's
        C{(data, expires)}, copy-free, as it always was.
        """
        store, _, _ = makeStore()
        store.set(b"a", b"1")
        store.database(3).set(b"b", b"2")
        store.database(3).delete(b"b")
        data, expires = store.dumpState()
        self.assertIs(data, store._data)
        self.assertIs(expires, store._expires)

    def test_roundTrip(self):
        """
        With other databases in use, the state is a L{DatabaseSet} (a
        dict, as readers of C{(data, expires)} check) that pickles and
        loads every database back.
        """
        store, clock, _ = makeStore()
        store.set(b"a", b"1", expireAtMs=clock.now + 100)
        store.database(9).push(b"l", [b"x"])
        store.database(9).set(b"t", b"v", expireAtMs=clock.now + 200)
        data, expires = store.dumpState()
        self.assertIsInstance(data, dict)
        self.assertIsInstance(data, DatabaseSet)
        self.assertEqual(expires, {})
        self.assertIs(data.states[9][0], store.database(9)._data)
        blob = pickle.dumps((data, expires), 4)
        self.assertIn(b"kvtwist.store.databases", blob)
        copy = Store(clock)
        copy.database(4).set(b"stale", b"x")
        copy.loadState(*pickle.loads(blob))
        self.assertEqual(everything(copy), everything(store))

    def test_oldState(self):
        """
        A state of before the databases loads into database 0 and empties
        the others.
        """
        copy = Store(FakeTime())
        copy.database(2).set(b"stale", b"x")
        copy.loadState({b"a": b"1"}, {b"a": 2000000.0})
        self.assertEqual(copy.get(b"a"), b"1")
        self.assertEqual(copy.keyCount(), 1)

    def test_tooFewDatabases(self):
        """
        A state with data in a database this store doesn't have can't be
        loaded.
        """
        store, _, _ = makeStore()
        store.database(12).set(b"a", b"1")
        state = store.dumpState()
        small = Store(databases=4)
        error = self.assertRaises(ValueError, small.loadState, *state)
        self.assertIn("database 12", str(error))
        self.assertIn("4 databases", str(error))


class CommandTests(SynchronousTestCase):
    """
    SELECT, SWAPDB, DBSIZE, FLUSHDB, FLUSHALL, MOVE, INFO keyspace.
    """

    def setUp(self):
        self.clock = FakeTime(1700000000000.0)
        self.store = Store(self.clock)
        self.ctx = Context(self.store)
        self.backend = MemoryBackend(self.store)

    def call(self, *words, ctx=None):
        words = [w.encode() if isinstance(w, str) else w for w in words]
        return self.backend.execute(ctx or self.ctx, words[0], words[1:])

    def test_select(self):
        """
        SELECT changes the client's database and its state's number; an
        index out of range or not an integer is refused, as Redis does.
        """
        self.assertEqual(self.call("SET", "k", "zero"), OK)
        self.assertEqual(self.call("SELECT", "15"), OK)
        self.assertEqual(self.ctx.client.db, 15)
        self.assertIsNone(self.call("GET", "k"))
        self.assertEqual(self.call("SET", "k", "fifteen"), OK)
        self.assertEqual(self.call("SELECT", "16"),
                         "ERR DB index is out of range")
        self.assertEqual(self.call("SELECT", "-1"),
                         "ERR DB index is out of range")
        self.assertEqual(self.call("SELECT", "x"), NOT_INTEGER)
        self.assertEqual(self.call("SELECT", "4294967296"), NOT_INTEGER)
        self.assertEqual(self.call("GET", "k"), b"fifteen")
        self.assertEqual(self.call("SELECT", "0"), OK)
        self.assertEqual(self.call("GET", "k"), b"zero")

    def test_selectRefusedToDatabase0Dialects(self):
        """
        The colon and JSON-lines dialects use database 0: SELECT of
        another is refused there.
        """
        self.ctx.client.dialect = "jsonlines"
        reply = self.call("SELECT", "1")
        self.assertIsInstance(reply, Error)
        self.assertIn("database 0", reply)
        self.assertEqual(self.call("SELECT", "0"), OK)

    def test_dbsizeFlush(self):
        """
        DBSIZE counts the selected database; FLUSHDB (with ASYNC or SYNC)
        empties it, FLUSHALL every database; other arguments are a syntax
        error.
        """
        self.call("SET", "a", "1")
        self.call("SELECT", "1")
        self.call("MSET", "a", "1", "b", "2")
        self.assertEqual(self.call("DBSIZE"), 2)
        self.assertEqual(self.call("FLUSHDB", "async"), OK)
        self.assertEqual(self.call("DBSIZE"), 0)
        self.assertEqual(self.store.size(), 1)
        self.call("SET", "a", "1")
        self.assertEqual(self.call("FLUSHDB", "now"), "ERR syntax error")
        self.assertEqual(self.call("FLUSHALL", "SYNC", "x"),
                         "ERR syntax error")
        self.assertEqual(self.call("FLUSHALL", "SYNC"), OK)
        self.assertEqual(self.store.keyCount(), 0)
        self.call("SET", "a", "1")
        self.assertEqual(self.call("FLUSH"), OK)
        self.assertEqual(self.store.database(1).size(), 0)

    def test_swapdb(self):
        """
        SWAPDB swaps two databases: a client of either sees the other's
        keys; Redis's errors for bad indexes.
        """
        other = Context(self.store)
        self.call("SELECT", "1", ctx=other)
        self.call("SET", "k", "zero")
        self.assertEqual(self.call("SWAPDB", "0", "1"), OK)
        self.assertEqual(self.call("GET", "k", ctx=other), b"zero")
        self.assertIsNone(self.call("GET", "k"))
        self.assertEqual(self.call("SWAPDB", "1", "1"), OK)
        self.assertEqual(self.call("SWAPDB", "x", "1"),
                         "ERR invalid first DB index")
        self.assertEqual(self.call("SWAPDB", "0", "y"),
                         "ERR invalid second DB index")
        self.assertEqual(self.call("SWAPDB", "0", "16"),
                         "ERR DB index is out of range")

    def test_move(self):
        """
        MOVE answers 1 when it moved the key, 0 when it is missing or
        exists in the target; Redis's errors for the same database and a
        bad index.
        """
        self.call("SET", "k", "v")
        self.assertEqual(self.call("MOVE", "k", "3"), 1)
        self.assertEqual(self.call("MOVE", "k", "3"), 0)
        self.assertEqual(self.store.database(3).get(b"k"), b"v")
        self.assertEqual(self.call("MOVE", "k", "0"),
                         "ERR source and destination objects are the same")
        self.assertEqual(self.call("MOVE", "k", "16"),
                         "ERR DB index is out of range")
        self.assertEqual(self.call("MOVE", "k", "x"), NOT_INTEGER)

    def test_infoKeyspace(self):
        """
        INFO keyspace has a line for each non-empty database, with its
        keys, expiring keys and average time to live.
        """
        self.call("SET", "a", "1")
        self.call("SELECT", "2")
        self.call("SET", "b", "1", "PX", "3000")
        self.call("SET", "c", "1")
        info = self.call("INFO", "keyspace").decode()
        self.assertIn("\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n", info)
        self.assertIn("\r\ndb2:keys=2,expires=1,avg_ttl=3000\r\n", info)
        self.assertNotIn("db1:", info)

    def test_configDatabases(self):
        """
        CONFIG GET databases tells how many there are (C{--databases}).
        """
        self.ctx.factory = KVFactory(self.store, None, Config(databases=16))
        self.assertEqual(self.call("CONFIG", "GET", "databases"),
                         {b"databases": b"16"})

    def test_clientListShowsDatabase(self):
        """
        CLIENT INFO shows the selected database.
        """
        self.call("SELECT", "7")
        self.assertIn(b" db=7 ", self.call("CLIENT", "INFO"))


class DialectTests(SynchronousTestCase):
    """
    Over a connection: the text protocol SELECTs; the colon and JSON-lines
    dialects use database 0 whatever the text protocol selected.
    """

    def test_textSelectsOthersUseDatabase0(self):
        """
        After a text SELECT 1, text requests run in database 1 and JSON
        lines and colon lines in database 0.
        """
        store = Store()
        factory = KVFactory(store, None, Config())
        addr = IPv4Address("TCP", "127.0.0.1", 40000)
        proto = factory.buildProtocol(addr)
        transport = StringTransport(peerAddress=addr)
        proto.makeConnection(transport)
        proto.dataReceived(b"SELECT 1\r\nSET k one\r\n"
                           b'{"type": "SET", "key": "k", "value": "zero"}\r\n'
                           b"Put:c:1\r\n"
                           b'{"type": "SELECT", "key": "1"}\r\n')
        self.assertEqual(store.get(b"k"), b"zero")
        self.assertEqual(store.database(1).get(b"k"), b"one")
        self.assertEqual(store.lrange(b"c", 0, -1), [b"1"])
        self.assertFalse(store.database(1).exists(b"c"))
        self.assertIn(b'{"error": "ERR SELECT is for RESP and the text '
                      b'protocol', transport.value())
        proto.connectionLost(None)
