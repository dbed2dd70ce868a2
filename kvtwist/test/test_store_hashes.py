"""
Tests for L{kvtwist.store.hashes} and L{kvtwist.store.elements}.
"""

import pickle

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.store import Store, WrongType
from kvtwist.store.elements import SMALL, parseCursor, sample, scanElements
from kvtwist.store.errors import Refused
from kvtwist.test.test_store import makeStore


def replayed(ops) -> Store:
    """
    A new store with C{ops} replayed into it.
    """
    store = Store(lambda: 1000000.0)
    for op in ops:
        store.apply(op)
    return store


class HashTests(SynchronousTestCase):
    """
    Hash values: fields, counters, deletion of emptied hashes, journal.
    """

    def test_setGet(self):
        """
        C{hset} counts new fields and overwrites old ones; the readers see
        them; a missing key reads as empty.
        """
        store, _, ops = makeStore()
        self.assertEqual(store.hset(b"h", [b"a", b"1", b"b", b"2"]), 2)
        self.assertEqual(store.hset(b"h", [b"a", b"3", b"c", b"4"]), 1)
        self.assertEqual(store.hget(b"h", b"a"), b"3")
        self.assertIsNone(store.hget(b"h", b"zz"))
        self.assertIsNone(store.hget(b"missing", b"a"))
        self.assertEqual(store.hmget(b"h", [b"a", b"zz", b"c"]),
                         [b"3", None, b"4"])
        self.assertEqual(store.hmget(b"missing", [b"a"]), [None])
        self.assertEqual(store.hgetall(b"h"),
                         {b"a": b"3", b"b": b"2", b"c": b"4"})
        self.assertEqual(store.hgetall(b"missing"), {})
        self.assertEqual(sorted(store.hkeys(b"h")), [b"a", b"b", b"c"])
        self.assertEqual(sorted(store.hvals(b"h")), [b"2", b"3", b"4"])
        self.assertEqual(store.hlen(b"h"), 3)
        self.assertEqual(store.hlen(b"missing"), 0)
        self.assertTrue(store.hexists(b"h", b"a"))
        self.assertFalse(store.hexists(b"h", b"zz"))
        self.assertEqual(store.hstrlen(b"h", b"a"), 1)
        self.assertEqual(store.hstrlen(b"h", b"zz"), 0)
        self.assertEqual(store.typeOf(b"h"), "hash")
        self.assertEqual(ops, [(b"HSET", b"h", b"a", b"1", b"b", b"2"),
                               (b"HSET", b"h", b"a", b"3", b"c", b"4")])

    def test_hgetallIsACopy(self):
        """
        What C{hgetall} returns is not the store's own dict (a reply may be
        rendered elsewhere while the store changes).
        """
        store, _, _ = makeStore()
        store.hset(b"h", [b"a", b"1"])
        store.hgetall(b"h")[b"b"] = b"2"
        self.assertEqual(store.hlen(b"h"), 1)

    def test_deleteEmptied(self):
        """
        Deleting the last field deletes the key; only fields that existed
        are journaled.
        """
        store, _, ops = makeStore()
        store.hset(b"h", [b"a", b"1", b"b", b"2"])
        del ops[:]
        self.assertEqual(store.hdel(b"h", [b"a", b"zz"]), 1)
        self.assertTrue(store.exists(b"h"))
        self.assertEqual(store.hdel(b"h", [b"b"]), 1)
        self.assertFalse(store.exists(b"h"))
        self.assertEqual(store.typeOf(b"h"), "none")
        self.assertEqual(store.hdel(b"h", [b"b"]), 0)
        self.assertEqual(ops, [(b"HDEL", b"h", b"a"), (b"HDEL", b"h", b"b")])

    def test_setnx(self):
        """
        C{hsetnx} sets a field only if it is missing.
        """
        store, _, _ = makeStore()
        self.assertTrue(store.hsetnx(b"h", b"a", b"1"))
        self.assertFalse(store.hsetnx(b"h", b"a", b"2"))
        self.assertEqual(store.hget(b"h", b"a"), b"1")

    def test_wrongType(self):
        """
        Hash operations on another type raise L{WrongType}, and the other
        types' operations on a hash too.
        """
        store, _, _ = makeStore()
        store.set(b"s", b"x")
        store.hset(b"h", [b"a", b"1"])
        for call in (lambda: store.hset(b"s", [b"a", b"1"]),
                     lambda: store.hget(b"s", b"a"),
                     lambda: store.hgetall(b"s"),
                     lambda: store.hdel(b"s", [b"a"]),
                     lambda: store.hlen(b"s"),
                     lambda: store.get(b"h"),
                     lambda: store.push(b"h", [b"x"])):
            self.assertRaises(WrongType, call)

    def test_incrby(self):
        """
        C{hincrby} counts from zero, journals the result, refuses a value
        that is not an integer and an overflow, with Redis's texts.
        """
        store, _, ops = makeStore()
        self.assertEqual(store.hincrby(b"h", b"n", 5), 5)
        self.assertEqual(store.hincrby(b"h", b"n", -7), -2)
        self.assertEqual(ops[-1], (b"HSET", b"h", b"n", b"-2"))
        store.hset(b"h", [b"x", b"1.5", b"big", b"9223372036854775807"])
        e = self.assertRaises(Refused, store.hincrby, b"h", b"x", 1)
        self.assertEqual(e.text, "ERR hash value is not an integer")
        e = self.assertRaises(Refused, store.hincrby, b"h", b"big", 1)
        self.assertEqual(e.text, "ERR increment or decrement would overflow")

    def test_incrbyfloat(self):
        """
        C{hincrbyfloat} adds in long double as Redis does (10.5 + 0.1 is
        10.6, 0.1 + 0.2 is 0.3), stores and journals the result's text,
        and refuses what Redis refuses with its texts.
        """
        store, _, ops = makeStore()
        self.assertEqual(store.hincrbyfloat(b"h", b"f", b"10.5"), b"10.5")
        self.assertEqual(store.hincrbyfloat(b"h", b"f", b"0.1"), b"10.6")
        self.assertEqual(store.hget(b"h", b"f"), b"10.6")
        self.assertEqual(ops[-1], (b"HSET", b"h", b"f", b"10.6"))
        store.hincrbyfloat(b"h", b"g", b"0.1")
        self.assertEqual(store.hincrbyfloat(b"h", b"g", b"0.2"), b"0.3")
        self.assertEqual(store.hincrbyfloat(b"h", b"g", b"5.0e3"),
                         b"5000.29999999999999982")
        self.assertEqual(store.hincrbyfloat(b"h", b"g", b"-5000.3"), b"0")
        store.hset(b"h", [b"x", b"abc", b"i", b"inf"])
        for field, incr, text in [
                (b"f", b"abc", "ERR value is not a valid float"),
                (b"f", b" 1", "ERR value is not a valid float"),
                (b"f", b"inf", "ERR value is NaN or Infinity"),
                (b"x", b"1", "ERR hash value is not a float"),
                (b"i", b"1", "ERR increment would produce NaN or Infinity")]:
            e = self.assertRaises(Refused, store.hincrbyfloat, b"h", field,
                                  incr)
            self.assertEqual(e.text, text)

    def test_randfield(self):
        """
        C{hrandfield}: one pair, distinct pairs for a positive count (all
        of them at most), possibly repeated ones for a negative count,
        nothing from a missing key.
        """
        store, _, _ = makeStore()
        fields = {b"f%d" % i: b"v%d" % i for i in range(10)}
        store.hset(b"h", [x for kv in fields.items() for x in kv])
        [(f, v)] = store.hrandfield(b"h")
        self.assertEqual(fields[f], v)
        picked = store.hrandfield(b"h", 5)
        self.assertEqual(len(set(picked)), 5)
        self.assertEqual(sorted(store.hrandfield(b"h", 50)),
                         sorted(fields.items()))
        self.assertEqual(len(store.hrandfield(b"h", -50)), 50)
        self.assertIsNone(store.hrandfield(b"missing"))
        self.assertEqual(store.hrandfield(b"missing", 3), [])
        self.assertEqual(store.hrandfield(b"h", 0), [])

    def test_replayAndSnapshot(self):
        """
        Replaying the journal of a hash's changes, or loading a pickled
        snapshot, gives the same hashes.
        """
        store, _, ops = makeStore()
        store.hset(b"h", [b"a", b"1", b"b", b"2"])
        store.hincrby(b"h", b"c", 3)
        store.hincrbyfloat(b"h", b"d", b"1.5")
        store.hdel(b"h", [b"a"])
        store.hset(b"gone", [b"x", b"y"])
        store.hdel(b"gone", [b"x"])
        self.assertEqual(replayed(ops).contents(), store.contents())
        copy = Store(lambda: 1000000.0)
        copy.loadState(*pickle.loads(pickle.dumps(store.dumpState())))
        self.assertEqual(copy.contents(),
                         {b"h": {b"b": b"2", b"c": b"3", b"d": b"1.5"}})
        copy.hset(b"h", [b"e", b"5"])
        self.assertEqual(copy.hlen(b"h"), 4)

    def test_expiry(self):
        """
        A hash with an expiry goes at its time, as any key.
        """
        store, clock, _ = makeStore()
        store.hset(b"h", [b"a", b"1"])
        store.expireAt(b"h", clock.now + 10)
        clock.now += 11
        self.assertEqual(store.hlen(b"h"), 0)
        self.assertFalse(store.exists(b"h"))

    def test_scan(self):
        """
        C{hscan} visits every field once, filtered by a pattern.
        """
        store, _, _ = makeStore()
        fields = [b"f%d" % i for i in range(1000)]
        store.hset(b"h", [x for f in fields for x in (f, f + b"!")])
        seen = []
        cursor = 0
        steps = 0
        while True:
            cursor, found = store.hscan(b"h", cursor, b"f1*", 10)
            seen.extend(found)
            steps += 1
            if cursor == 0:
                break
        self.assertEqual(sorted(seen), sorted(
            (f, f + b"!") for f in fields if f.startswith(b"f1")))
        self.assertLessEqual(steps, 70)
        self.assertEqual(store.hscan(b"missing", 0), (0, []))

    def test_encoding(self):
        """
        A small hash of short strings is a listpack to C{OBJECT ENCODING},
        a big one or one with a long value a hashtable, as in Redis.
        """
        from kvtwist.store.hashes import encoding
        self.assertEqual(encoding({b"a": b"1"}), "listpack")
        self.assertEqual(encoding({b"a": b"x" * 65}), "hashtable")
        self.assertEqual(encoding({b"%d" % i: b"" for i in range(129)}),
                         "hashtable")


class ElementTests(SynchronousTestCase):
    """
    What hashes, sets and sorted sets share.
    """

    def test_scanSmall(self):
        """
        A small collection is answered whole, with cursor 0.
        """
        members = {b"%d" % i for i in range(SMALL)}
        self.assertEqual(scanElements(members, 0, 1), (0, list(members)))

    def test_scanWhileChanging(self):
        """
        Every element present from the start of an iteration to its end is
        returned exactly once, whatever is added and removed meanwhile.
        """
        members = {b"m%d" % i for i in range(5000)}
        stable = {m for m in members if m.endswith(b"7")}
        seen = []
        cursor = 0
        added = 0
        while True:
            cursor, found = scanElements(members, cursor, 20)
            seen.extend(found)
            for m in list(members)[:30]:
                if m not in stable:
                    members.discard(m)
            for _ in range(30):
                members.add(b"new%d" % added)
                added += 1
            if cursor == 0:
                break
        self.assertEqual(stable - set(seen), set())
        stableSeen = [m for m in seen if m in stable]
        self.assertEqual(len(stableSeen), len(stable))

    def test_parseCursor(self):
        """
        A cursor is an unsigned 64-bit decimal, else Redis's error.
        """
        self.assertEqual(parseCursor(b"18446744073709551615"), 2 ** 64 - 1)
        for bad in (b"-1", b"x", b"18446744073709551616", b"", b"1.5"):
            e = self.assertRaises(Refused, parseCursor, bad)
            self.assertEqual(e.text, "ERR invalid cursor")

    def test_sample(self):
        """
        A positive count picks distinct elements, a negative one may
        repeat them.
        """
        self.assertEqual(sorted(sample([1, 2, 3], 10)), [1, 2, 3])
        self.assertEqual(len(set(sample(list(range(100)), 10))), 10)
        self.assertEqual(sample([1], -5), [1] * 5)
