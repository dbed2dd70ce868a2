"""
Tests for L{kvtwist.store}.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.interfaces import IStore
from kvtwist.store import (
    NotAnInteger, NoSuchKey, OutOfRange, Store, WrongType,
    parseInt)
from zope.interface.verify import verifyObject


class FakeTime:
    """
    A settable millisecond clock.
    """

    def __init__(self, now=1000000.0):
        self.now = now

    def __call__(self):
        return self.now


def makeStore():
    """
    A store on a fake clock, recording its journal.
    """
    clock = FakeTime()
    store = Store(clock)
    ops = []
    store.journal = ops.append
    return store, clock, ops


class StringTests(SynchronousTestCase):
    """
    Strings, counters and type checks.
    """

    def test_interface(self):
        """
        L{Store} provides L{IStore}.
        """
        self.assertTrue(verifyObject(IStore, Store()))

    def test_setGet(self):
        """
        A value set is got back; a missing key gives L{None}.
        """
        store, _, ops = makeStore()
        store.set(b"k", b"v")
        self.assertEqual(store.get(b"k"), b"v")
        self.assertIsNone(store.get(b"missing"))
        self.assertEqual(ops, [(b"SET", b"k", b"v")])

    def test_wrongType(self):
        """
        Reading a list as a string raises L{WrongType}, and the reverse.
        """
        store, _, _ = makeStore()
        store.push(b"l", [b"a"])
        store.set(b"s", b"x")
        self.assertRaises(WrongType, store.get, b"l")
        self.assertRaises(WrongType, store.push, b"s", [b"a"])
        self.assertRaises(WrongType, store.incrBy, b"l", 1)

    def test_incr(self):
        """
        C{incrBy} counts from zero and refuses non-integers and overflow.
        """
        store, _, ops = makeStore()
        self.assertEqual(store.incrBy(b"n", 5), 5)
        self.assertEqual(store.incrBy(b"n", -7), -2)
        self.assertEqual(store.get(b"n"), b"-2")
        store.set(b"x", b"abc")
        self.assertRaises(NotAnInteger, store.incrBy, b"x", 1)
        store.set(b"big", b"9223372036854775807")
        self.assertRaises(NotAnInteger, store.incrBy, b"big", 1)
        self.assertEqual(ops[1], (b"SETKEEPTTL", b"n", b"-2"))

    def test_parseInt(self):
        """
        Only canonical decimal integers in the signed 64-bit range parse.
        """
        self.assertEqual(parseInt(b"-12"), -12)
        for bad in [b"", b" 1", b"1 ", b"+1", b"01", b"1_0", b"--1",
                    b"9223372036854775808", b"1.5", b"-"]:
            self.assertRaises(NotAnInteger, parseInt, bad)

    def test_append(self):
        """
        C{append} concatenates and returns the new length.
        """
        store, _, _ = makeStore()
        self.assertEqual(store.append(b"a", b"hello"), 5)
        self.assertEqual(store.append(b"a", b" world"), 11)
        self.assertEqual(store.get(b"a"), b"hello world")


class ExpiryTests(SynchronousTestCase):
    """
    Lazy and active expiry.
    """

    def test_lazyExpiry(self):
        """
        A key past its expiry time is never returned.
        """
        store, clock, ops = makeStore()
        store.set(b"k", b"v", expireAtMs=clock.now + 100)
        self.assertEqual(store.ttlMs(b"k"), 100)
        clock.now += 100
        self.assertIsNone(store.get(b"k"))
        self.assertFalse(store.exists(b"k"))
        self.assertEqual(store.ttlMs(b"k"), -2)
        self.assertEqual(store.expiredCount, 1)
        self.assertIn((b"DEL", b"k"), ops)

    def test_keysSkipExpired(self):
        """
        KEYS and SCAN skip expired keys.
        """
        store, clock, _ = makeStore()
        store.set(b"a", b"1", expireAtMs=clock.now + 10)
        store.set(b"b", b"2")
        clock.now += 20
        self.assertEqual(store.keys(b"*"), [b"b"])
        self.assertEqual(store.scan(0, b"*", 100), (0, [b"b"]))

    def test_activeSweep(self):
        """
        C{sweep} removes expired keys, at most C{limit} per call.
        """
        store, clock, _ = makeStore()
        for i in range(10):
            store.set(b"k%d" % i, b"v", expireAtMs=clock.now + 5)
        store.set(b"keep", b"v", expireAtMs=clock.now + 1000)
        clock.now += 10
        self.assertEqual(store.sweep(4), 4)
        self.assertEqual(store.size(), 7)
        self.assertEqual(store.sweep(100), 6)
        self.assertEqual(store.size(), 1)

    def test_setClearsTTL(self):
        """
        SET removes an expiry unless C{keepTTL}; PERSIST removes it too.
        """
        store, clock, _ = makeStore()
        store.set(b"k", b"v", expireAtMs=clock.now + 100)
        store.set(b"k", b"w", keepTTL=True)
        self.assertEqual(store.ttlMs(b"k"), 100)
        store.set(b"k", b"x")
        self.assertEqual(store.ttlMs(b"k"), -1)
        store.expireAt(b"k", clock.now + 50)
        self.assertTrue(store.persist(b"k"))
        self.assertEqual(store.ttlMs(b"k"), -1)

    def test_expireInPastDeletes(self):
        """
        An expiry time in the past deletes the key at once.
        """
        store, clock, _ = makeStore()
        store.set(b"k", b"v")
        self.assertTrue(store.expireAt(b"k", clock.now - 1))
        self.assertFalse(store.exists(b"k"))
        self.assertFalse(store.expireAt(b"missing", clock.now + 10))


class ListTests(SynchronousTestCase):
    """
    Lists.
    """

    def test_pushPopRange(self):
        """
        Pushes at both ends, pops, ranges with negative indexes.
        """
        store, _, _ = makeStore()
        self.assertEqual(store.push(b"l", [b"b", b"c"]), 2)
        self.assertEqual(store.push(b"l", [b"a", b"z"], left=True), 4)
        self.assertEqual(store.lrange(b"l", 0, -1), [b"z", b"a", b"b", b"c"])
        self.assertEqual(store.lrange(b"l", -2, -1), [b"b", b"c"])
        self.assertEqual(store.lrange(b"l", 3, 1), [])
        self.assertEqual(store.lrange(b"l", 1, 100), [b"a", b"b", b"c"])
        self.assertEqual(store.pop(b"l", 1, left=True), [b"z"])
        self.assertEqual(store.pop(b"l", 5, left=False), [b"c", b"b", b"a"])
        self.assertFalse(store.exists(b"l"))
        self.assertIsNone(store.pop(b"l"))

    def test_lsetLremLreplace(self):
        """
        LSET, LREM (both directions) and the colon protocol's LREPLACE.
        """
        store, _, _ = makeStore()
        store.push(b"l", [b"x", b"y", b"x", b"z", b"x"])
        store.lset(b"l", -1, b"w")
        self.assertEqual(store.lindex(b"l", 4), b"w")
        self.assertRaises(OutOfRange, store.lset, b"l", 9, b"v")
        self.assertRaises(NoSuchKey, store.lset, b"nope", 0, b"v")
        self.assertEqual(store.lrem(b"l", -1, b"x"), 1)
        self.assertEqual(store.lrange(b"l", 0, -1), [b"x", b"y", b"z", b"w"])
        self.assertEqual(store.lreplace(b"l", b"y", b"Y"), 1)
        self.assertEqual(store.lrange(b"l", 0, -1), [b"x", b"Y", b"z", b"w"])
        self.assertEqual(store.lrem(b"l", 0, b"x"), 1)


class KeyTests(SynchronousTestCase):
    """
    Keys of any type.
    """

    def test_globs(self):
        """
        KEYS and SCAN match Redis glob patterns (L{kvtwist.glob}), even
        pathological ones at once: C{a*a*...*b} with 12 stars on a 40-byte
        key took a backtracking matcher hours.  C{*} lists every key, the
        empty one too.
        """
        store, _, _ = makeStore()
        for key in [b"user:12", b"users", b"hallo", b"a*", b"a" * 40, b""]:
            store.set(key, b"v")
        self.assertEqual(sorted(store.keys(b"user:*")), [b"user:12"])
        self.assertEqual(sorted(store.keys(b"h[^e]llo")), [b"hallo"])
        self.assertEqual(store.keys(b"a\\*"), [b"a*"])
        self.assertEqual(store.keys(b"a*" * 12 + b"b"), [])
        self.assertEqual(store.scan(0, b"a*" * 12 + b"b", 100), (0, []))
        self.assertEqual(store.scan(0, b"a*" * 12, 100), (0, [b"a" * 40]))
        self.assertEqual(len(store.keys(b"*")), 6)

    def test_scanVisitsEverything(self):
        """
        Following SCAN cursors to 0 returns every key once.
        """
        store, _, _ = makeStore()
        for i in range(95):
            store.set(b"k%d" % i, b"v")
        seen = []
        cursor = 0
        while True:
            cursor, keys = store.scan(cursor, b"*", 10)
            seen.extend(keys)
            if cursor == 0:
                break
        self.assertEqual(sorted(seen), sorted(b"k%d" % i for i in range(95)))

    def test_scanWhileDeleting(self):
        """
        Deleting every key SCAN returned (the usual SCAN-and-DEL loop)
        still visits every key: deleted keys leave tombstones, so the
        positions cursors stand for don't move.
        """
        store, _, _ = makeStore()
        for i in range(3000):
            store.set(b"k%d" % i, b"v")
        seen = set()
        cursor = 0
        while True:
            cursor, keys = store.scan(cursor, b"*", 100)
            for key in keys:
                seen.add(key)
                store.delete(key)
            if cursor == 0:
                break
        self.assertEqual(len(seen), 3000)
        self.assertEqual(store.size(), 0)

    def test_scanSeesKeysAddedMeanwhile(self):
        """
        Keys set after a SCAN began (after its position index was built)
        are appended and visited; none of the others is missed.
        """
        store, _, _ = makeStore()
        for i in range(50):
            store.set(b"old%d" % i, b"v")
        cursor, seen = store.scan(0, b"*", 20)
        seen = set(seen)
        for i in range(30):
            store.set(b"new%d" % i, b"v")
        while cursor:
            cursor, keys = store.scan(cursor, b"*", 20)
            seen.update(keys)
        self.assertEqual(seen, set(store.keys()))
        self.assertEqual(len(seen), 80)

    def test_compactionRestartsCursors(self):
        """
        Once tombstones outnumber live keys the store is compacted; an
        older cursor then starts over (keys may repeat, none is missed).
        """
        store, _, _ = makeStore()
        for i in range(5000):
            store.set(b"k%d" % i, b"v")
        cursor, first = store.scan(0, b"*", 10)
        for i in range(10, 4000):
            store.delete(b"k%d" % i)
        self.assertEqual(store.size(), 1010)
        self.assertLess(len(store._data), 5000)
        seen = set(first)
        while cursor:
            cursor, keys = store.scan(cursor, b"*", 100)
            seen.update(keys)
        self.assertEqual(seen, set(store.keys()) | set(first))

    def test_tombstonesInvisible(self):
        """
        A deleted key is gone for every reader, comes back when set again,
        and a snapshot taken with tombstones loads without them.
        """
        import pickle
        store, clock, _ = makeStore()
        store.set(b"a", b"1")
        store.push(b"l", [b"x"])
        store.delete(b"a")
        store.pop(b"l", 1)
        self.assertIsNone(store.get(b"a"))
        self.assertEqual(store.typeOf(b"l"), "none")
        self.assertEqual((store.size(), store.keys(), list(store.items())),
                         (0, [], []))
        self.assertEqual(store.incrBy(b"a", 2), 2)
        self.assertEqual(store.push(b"l", [b"y"]), 1)
        store.set(b"gone", b"x")
        store.delete(b"gone")
        self.assertEqual(store.size(), 2)
        data, expires = pickle.loads(pickle.dumps(store.dumpState(), 4))
        copy = Store(clock)
        copy.loadState(data, expires)
        self.assertEqual(sorted(copy.keys()), [b"a", b"l"])
        self.assertEqual(copy.size(), 2)

    def test_rename(self):
        """
        RENAME moves the value and its TTL; a missing source raises.
        """
        store, clock, _ = makeStore()
        store.set(b"a", b"1", expireAtMs=clock.now + 500)
        store.set(b"b", b"2")
        store.rename(b"a", b"b")
        self.assertEqual(store.get(b"b"), b"1")
        self.assertEqual(store.ttlMs(b"b"), 500)
        self.assertRaises(NoSuchKey, store.rename, b"a", b"c")


class ReplayTests(SynchronousTestCase):
    """
    The journal replays to the same state.
    """

    def test_replay(self):
        """
        Applying every journaled op to an empty store rebuilds the state.
        """
        store, clock, ops = makeStore()
        store.set(b"a", b"1")
        store.incrBy(b"a", 4)
        store.set(b"t", b"x", expireAtMs=clock.now + 5000)
        store.push(b"l", [b"p", b"q", b"r"])
        store.pop(b"l", 1, left=True)
        store.lset(b"l", 0, b"Q")
        store.lreplace(b"l", b"r", b"R")
        store.push(b"l2", [b"1", b"2", b"1"])
        store.lrem(b"l2", 1, b"1")
        store.rename(b"l2", b"l3")
        store.set(b"gone", b"x")
        store.delete(b"gone")
        store.append(b"a", b"0")
        copy = Store(clock)
        for op in ops:
            copy.apply(op)
        self.assertEqual(sorted(copy.items()), sorted(store.items()))
        self.assertEqual(copy.ttlMs(b"t"), 5000)

    def test_applyRejectsUnknown(self):
        """
        An unknown or malformed op raises L{ValueError}.
        """
        store = Store()
        self.assertRaises(ValueError, store.apply, (b"NOPE", b"x"))
        self.assertRaises(ValueError, store.apply, (b"SET", b"x"))

    def test_dumpLoad(self):
        """
        C{loadState} of C{dumpState} restores values, lists and expiries.
        """
        store, clock, _ = makeStore()
        store.set(b"a", b"1", expireAtMs=clock.now + 10)
        store.push(b"l", [b"x"])
        data, expires = store.dumpState()
        copy = Store(clock)
        copy.loadState(dict(data), dict(expires))
        self.assertEqual(copy.lrange(b"l", 0, -1), [b"x"])
        clock.now += 11
        self.assertEqual(copy.sweep(10), 1)


class PendingRunner:
    """
    A C{runInThread} that runs nothing until told: calls wait in
    C{self.calls} as C{(f, args, deferred)}.
    """

    def __init__(self):
        self.calls = []

    def __call__(self, f, *args):
        from twisted.internet.defer import Deferred
        d = Deferred()
        self.calls.append((f, args, d))
        return d

    def runAll(self):
        calls, self.calls = self.calls, []
        for f, args, d in calls:
            d.callback(f(*args))


class TaskTests(SynchronousTestCase):
    """
    C{keysTask} and C{contentsTask} take a snapshot when called and do the
    O(store) work on it when their function is called (maybe on another
    thread); C{flush} frees a big store's contents through C{runInThread}.
    """

    def setUp(self):
        self.store, self.clock, _ = makeStore()
        for i in range(5):
            self.store.set(b"k%d" % (i,), b"v%d" % (i,))

    def test_keysSnapshot(self):
        """
        The task lists the keys live when it was made: changes after that
        don't show, expired and deleted keys don't.
        """
        self.store.set(b"k9", b"x", expireAtMs=self.clock.now + 10)
        self.store.delete(b"k0")
        self.clock.now += 20
        task = self.store.keysTask(b"k*")
        self.store.set(b"k7", b"late")
        self.store.delete(b"k1")
        self.assertEqual(sorted(task()), [b"k1", b"k2", b"k3", b"k4"])
        self.assertEqual(sorted(self.store.keys(b"k*")),
                         [b"k2", b"k3", b"k4", b"k7"])

    def test_keysWithTombstones(self):
        """
        Deleted keys that left tombstones for SCAN are not listed.
        """
        self.store.scan(0)  # builds the position index: deletes leave tombs
        self.store.delete(b"k2")
        self.assertEqual(sorted(self.store.keysTask(b"*")()),
                         [b"k0", b"k1", b"k3", b"k4"])

    def test_contents(self):
        """
        C{contents} gives a dict of the live keys, lists as lists.
        """
        self.store.push(b"l", [b"a", b"b"])
        task = self.store.contentsTask()
        self.store.set(b"k3", b"later")
        result = task()
        self.assertEqual(result[b"k3"], b"v3")
        self.assertEqual(result[b"l"], self.store.lrange(b"l", 0, -1))
        self.assertIs(type(result[b"l"]), list)
        self.assertEqual(len(result), 6)
        self.assertEqual(self.store.contents()[b"k3"], b"later")

    def test_flushFreesElsewhere(self):
        """
        C{flush} empties the store at once and hands the old contents to
        the runner, which frees them item by item.
        """
        runner = PendingRunner()
        self.store.runInThread = runner
        self.store.OFFLOAD_KEYS = 3
        self.store.flush()
        self.assertEqual(self.store.size(), 0)
        self.assertEqual(self.store.keys(), [])
        [(f, (old,), _)] = runner.calls
        self.assertEqual(len(old), 5)
        runner.runAll()
        self.assertEqual(old, {})


class PackageTests(SynchronousTestCase):
    """
    The store as parts: the keyspace knows each kind of value only by its
    L{ValueType}, so a new kind is a module of its own.
    """

    def test_tombstonePickle(self):
        """
        A tombstone in a snapshot pickles as C{kvtwist.store.TOMBSTONE}, as
        it did when the store was one module (the snapshot format).
        """
        import pickle
        from kvtwist.store import TOMBSTONE
        data = pickle.dumps(TOMBSTONE, 2)
        self.assertEqual(data, b"\x80\x02ckvtwist.store\nTOMBSTONE\nq\x00.")
        self.assertIs(pickle.loads(data), TOMBSTONE)

    def test_newValueType(self):
        """
        A store with one more kind of value (here a toy set) names it,
        copies it for PRINT, restores it from a snapshot and replays its
        journal ops, through its L{ValueType} alone.
        """
        from kvtwist.store import Store
        from kvtwist.store.valuetype import ValueType

        def replayAdd(store, args):
            store.sadd(args[0], list(args[1:]))

        sets = ValueType("set", set, plain=sorted, restore=set,
                         ops={b"SADD": replayAdd})

        class Sets:
            def sadd(self, key, members):
                value = self._typed(key, set)
                if value is None:
                    value = set()
                    self._put(key, value)
                value.update(members)
                self._emit(b"SADD", key, *members)

        class SetStore(Sets, Store):
            _types = {**Store._types, set: sets}
            _restorers = {**Store._restorers, set: sets}
            _ops = {**Store._ops, b"SADD": replayAdd}

        store = SetStore(FakeTime())
        ops = []
        store.journal = ops.append
        store.sadd(b"s", [b"b", b"a"])
        store.set(b"k", b"v")
        self.assertEqual(store.typeOf(b"s"), "set")
        self.assertEqual(store.contents(), {b"s": [b"a", b"b"], b"k": b"v"})
        self.assertRaises(WrongType, store.get, b"s")
        copy = SetStore(FakeTime())
        copy.loadState(*store.dumpState())
        self.assertEqual(copy.typeOf(b"s"), "set")
        replayed = SetStore(FakeTime())
        for op in ops:
            replayed.apply(op)
        self.assertEqual(replayed.contents(), store.contents())
