"""
Tests for L{kvtwist.store.sets}.
"""

import pickle

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.store import Store, WrongType
from kvtwist.store.sets import encoding
from kvtwist.test.test_store import makeStore
from kvtwist.test.test_store_hashes import replayed


class SetTests(SynchronousTestCase):
    """
    Set values: members, random picks, algebra, the STORE forms, journal.
    """

    def test_addRemove(self):
        """
        C{sadd} counts new members, C{srem} removed ones (a member named
        twice once); an emptied set is deleted.
        """
        store, _, ops = makeStore()
        self.assertEqual(store.sadd(b"s", [b"a", b"b", b"a"]), 2)
        self.assertEqual(store.sadd(b"s", [b"a"]), 0)
        self.assertEqual(sorted(store.smembers(b"s")), [b"a", b"b"])
        self.assertTrue(store.sismember(b"s", b"a"))
        self.assertFalse(store.sismember(b"s", b"z"))
        self.assertEqual(store.smismember(b"s", [b"a", b"z"]), [True, False])
        self.assertEqual(store.smismember(b"missing", [b"a"]), [False])
        self.assertEqual(store.scard(b"s"), 2)
        self.assertEqual(store.typeOf(b"s"), "set")
        self.assertEqual(store.srem(b"s", [b"a", b"a", b"z"]), 1)
        self.assertEqual(store.srem(b"s", [b"b"]), 1)
        self.assertFalse(store.exists(b"s"))
        self.assertEqual(store.scard(b"s"), 0)
        self.assertEqual(ops, [(b"SADD", b"s", b"a", b"b", b"a"),
                               (b"SREM", b"s", b"a", b"a"),
                               (b"SREM", b"s", b"b")])

    def test_pop(self):
        """
        C{spop} removes what it returns, journaled as C{SREM} of them; the
        whole set when asked for more.
        """
        store, _, ops = makeStore()
        members = {b"m%d" % i for i in range(20)}
        store.sadd(b"s", list(members))
        del ops[:]
        popped = store.spop(b"s", 5)
        self.assertEqual(len(set(popped)), 5)
        self.assertEqual(set(store.smembers(b"s")), members - set(popped))
        self.assertEqual(ops, [(b"SREM", b"s") + tuple(popped)])
        [one] = store.spop(b"s")
        self.assertNotIn(one, popped)
        rest = store.spop(b"s", 100)
        self.assertEqual(set(popped) | {one} | set(rest), members)
        self.assertFalse(store.exists(b"s"))
        self.assertEqual(store.spop(b"s", 3), [])

    def test_randmember(self):
        """
        C{srandmember} changes nothing: distinct picks for a positive
        count, possibly repeated ones for a negative count.
        """
        store, _, _ = makeStore()
        store.sadd(b"s", [b"a", b"b", b"c"])
        self.assertIn(store.srandmember(b"s")[0], (b"a", b"b", b"c"))
        self.assertEqual(sorted(store.srandmember(b"s", 10)),
                         [b"a", b"b", b"c"])
        self.assertEqual(len(store.srandmember(b"s", 2)), 2)
        self.assertEqual(len(store.srandmember(b"s", -7)), 7)
        self.assertEqual(store.srandmember(b"missing"), [])
        self.assertEqual(store.scard(b"s"), 3)

    def test_move(self):
        """
        C{smove} moves a member, creating the target and deleting an
        emptied source; a missing member moves nothing; a wrong type on
        either side raises before anything changes.
        """
        store, _, ops = makeStore()
        store.sadd(b"a", [b"x"])
        self.assertTrue(store.smove(b"a", b"b", b"x"))
        self.assertFalse(store.exists(b"a"))
        self.assertEqual(store.smembers(b"b"), [b"x"])
        self.assertFalse(store.smove(b"a", b"b", b"x"))
        self.assertTrue(store.smove(b"b", b"b", b"x"))
        store.set(b"str", b"v")
        self.assertRaises(WrongType, store.smove, b"b", b"str", b"x")
        self.assertRaises(WrongType, store.smove, b"str", b"b", b"x")
        self.assertEqual(store.smembers(b"b"), [b"x"])
        self.assertIn((b"SMOVE", b"a", b"b", b"x"), ops)

    def test_algebra(self):
        """
        Intersection, union and difference; a missing key is empty; a key
        of another type raises, wherever it is.
        """
        store, _, _ = makeStore()
        store.sadd(b"a", [b"1", b"2", b"3"])
        store.sadd(b"b", [b"2", b"3", b"4"])
        store.set(b"str", b"v")
        self.assertEqual(store.sinter([b"a", b"b"]), {b"2", b"3"})
        self.assertEqual(store.sinter([b"a", b"missing"]), set())
        self.assertRaises(WrongType, store.sinter, [b"a", b"missing", b"str"])
        self.assertRaises(WrongType, store.sinter, [b"a", b"str"])
        self.assertEqual(store.sunion([b"a", b"b", b"missing"]),
                         {b"1", b"2", b"3", b"4"})
        self.assertRaises(WrongType, store.sunion, [b"missing", b"str"])
        self.assertEqual(store.sdiff([b"a", b"b"]), {b"1"})
        self.assertEqual(store.sdiff([b"missing", b"a"]), set())
        self.assertEqual(store.sintercard([b"a", b"b"]), 2)
        self.assertEqual(store.sintercard([b"a", b"b"], 1), 1)
        self.assertEqual(store.sintercard([b"a", b"missing"]), 0)

    def test_store(self):
        """
        C{sstore} replaces a key of any type, dropping its expiry, or
        deletes it for an empty result.
        """
        store, clock, ops = makeStore()
        store.set(b"d", b"v")
        store.expireAt(b"d", clock.now + 1000)
        self.assertEqual(store.sstore(b"d", {b"x", b"y"}), 2)
        self.assertEqual(sorted(store.smembers(b"d")), [b"x", b"y"])
        self.assertEqual(store.ttlMs(b"d"), -1)
        self.assertEqual(store.sstore(b"d", set()), 0)
        self.assertFalse(store.exists(b"d"))

    def test_replayAndSnapshot(self):
        """
        Replaying the journal, or loading a pickled snapshot, gives the
        same sets.
        """
        store, _, ops = makeStore()
        store.sadd(b"a", [b"%d" % i for i in range(50)])
        store.srem(b"a", [b"1", b"2"])
        store.spop(b"a", 5)
        store.sadd(b"b", [b"x"])
        store.smove(b"a", b"b", b"10")
        store.sstore(b"c", store.sunion([b"a", b"b"]))
        store.sstore(b"gone", set())
        self.assertEqual(replayed(ops).contents(), store.contents())
        copy = Store(lambda: 1000000.0)
        copy.loadState(*pickle.loads(pickle.dumps(store.dumpState())))
        self.assertEqual(copy.contents(), store.contents())
        self.assertEqual(copy.typeOf(b"c"), "set")

    def test_scan(self):
        """
        C{sscan} visits every member of a big set once.
        """
        store, _, _ = makeStore()
        members = [b"m%d" % i for i in range(500)]
        store.sadd(b"s", members)
        seen = []
        cursor = 0
        while True:
            cursor, found = store.sscan(b"s", cursor, b"*", 7)
            seen.extend(found)
            if cursor == 0:
                break
        self.assertEqual(sorted(seen), sorted(members))

    def test_encoding(self):
        """
        Integers make an intset, short strings a listpack, others a
        hashtable, as Redis 7.2 decides.
        """
        self.assertEqual(encoding({b"1", b"-2"}), "intset")
        self.assertEqual(encoding({b"1", b"01"}), "listpack")
        self.assertEqual(encoding({b"a"}), "listpack")
        self.assertEqual(encoding({b"a" * 65}), "hashtable")
        self.assertEqual(encoding({b"%d" % i for i in range(513)}),
                         "hashtable")

    def test_moveTellsBothKeys(self):
        """
        A change listener (WATCH) hears of both keys SMOVE changes.
        """
        store, _, _ = makeStore()
        store.sadd(b"a", [b"x"])
        heard = []
        store.addChangeListener(lambda db, keys: heard.append(keys))
        store.smove(b"a", b"b", b"x")
        self.assertEqual(heard, [(b"a", b"b")])
