"""
Tests for streams: the value (L{kvtwist.store.streams}) and the commands
(L{kvtwist.commands.streams}) through the memory backend.
"""

import pickle

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.replies import NULL_ARRAY, Error
from kvtwist.store import Store, WrongType
from kvtwist.store.errors import Refused
from kvtwist.store.streams import MAX_ID, UINT64_MAX
from kvtwist.test.test_commands_hashes import FamilyTestCase
from kvtwist.test.test_store import makeStore

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong "
                  "kind of value")


def replayed(ops) -> Store:
    """
    A new store with C{ops} replayed into it.
    """
    store = Store(lambda: 5.0)
    for op in ops:
        store.apply(op)
    return store


class StreamStoreTests(SynchronousTestCase):
    """
    The stream part of the store.
    """

    def test_autoIDs(self):
        """
        C{*} IDs take the clock's time with sequence 0, or the last ID's
        time with the next sequence when the clock is not ahead (the same
        millisecond, or a clock gone back).
        """
        store, clock, _ = makeStore()
        now = int(store.now())
        self.assertEqual(store.xadd(b"s", [b"f", b"1"]), (now, 0))
        self.assertEqual(store.xadd(b"s", [b"f", b"2"]), (now, 1))
        store.xadd(b"s", [b"f", b"3"], sid=(now + 1000, 5))
        self.assertEqual(store.xadd(b"s", [b"f", b"4"]), (now + 1000, 6))
        self.assertEqual(store.xadd(b"s", [b"f", b"5"], ms=now + 1000),
                         (now + 1000, 7))
        self.assertEqual(store.xadd(b"s", [b"f", b"6"], ms=now + 2000),
                         (now + 2000, 0))
        self.assertRaises(Refused, store.xadd, b"s", [b"f", b"7"], ms=now)

    def test_explicitIDs(self):
        """
        An explicit ID must be greater than 0-0 and than the stream's last
        ID, even after that entry is deleted.
        """
        store, _, _ = makeStore()
        e = self.assertRaises(Refused, store.xadd, b"s", [b"f", b"v"],
                              sid=(0, 0))
        self.assertIn("greater than 0-0", e.text)
        self.assertEqual(store.contents(), {})
        store.xadd(b"s", [b"f", b"v"], sid=(5, 1))
        store.xdel(b"s", [(5, 1)])
        e = self.assertRaises(Refused, store.xadd, b"s", [b"f", b"v"],
                              sid=(5, 1))
        self.assertIn("equal or smaller", e.text)
        self.assertEqual(store.xlen(b"s"), 0)
        self.assertEqual(store.xlast(b"s"), (5, 1))

    def test_exhausted(self):
        """
        After the greatest ID, C{*} is refused; after a sequence's end,
        C{ms-*} is refused and C{*} moves to the next millisecond.
        """
        store, _, _ = makeStore()
        store.xadd(b"s", [b"f", b"v"], sid=(10 ** 15, UINT64_MAX))
        self.assertEqual(store.xadd(b"s", [b"f", b"v"]), (10 ** 15 + 1, 0))
        store.xadd(b"t", [b"f", b"v"], sid=MAX_ID)
        e = self.assertRaises(Refused, store.xadd, b"t", [b"f", b"v"])
        self.assertIn("exhausted", e.text)
        self.assertRaises(Refused, store.xadd, b"t", [b"f", b"v"],
                          ms=UINT64_MAX)

    def test_rangeAndTrim(self):
        """
        Ranges are inclusive, bounded by a count, in either order;
        trimming removes the oldest entries, by length or by ID, at most
        a limit.
        """
        store, _, _ = makeStore()
        for i in range(1, 6):
            store.xadd(b"s", [b"n", b"%d" % i], sid=(i, 0))
        self.assertEqual(store.xrange(b"s", (2, 0), (4, 0)),
                         [((2, 0), [b"n", b"2"]), ((3, 0), [b"n", b"3"]),
                          ((4, 0), [b"n", b"4"])])
        self.assertEqual([sid for sid, _ in
                          store.xrange(b"s", (0, 0), MAX_ID, 2, True)],
                         [(5, 0), (4, 0)])
        self.assertEqual(store.xrange(b"missing", (0, 0), MAX_ID), [])
        self.assertEqual(store.xtrim(b"s", maxlen=4, limit=0), 1)
        self.assertEqual(store.xtrim(b"s", minid=(4, 0), limit=1), 1)
        self.assertEqual(store.xtrim(b"s", minid=(4, 0)), 1)
        self.assertEqual(store.xtrim(b"s", maxlen=0), 2)
        self.assertEqual(store.xlen(b"s"), 0)
        self.assertEqual(store.contents(), {b"s": []})

    def test_wrongType(self):
        """
        Stream operations refuse other kinds of value, and theirs refuse
        streams.
        """
        store, _, _ = makeStore()
        store.set(b"str", b"v")
        self.assertRaises(WrongType, store.xadd, b"str", [b"f", b"v"])
        self.assertRaises(WrongType, store.xlen, b"str")
        store.xadd(b"s", [b"f", b"v"])
        self.assertRaises(WrongType, store.hlen, b"s")
        self.assertEqual(store.typeOf(b"s"), "stream")

    def test_replayAndSnapshot(self):
        """
        Replaying the journal (IDs as resolved, trims as counts) gives the
        same streams on a store whose clock reads another time, and so
        does a pickled snapshot; last IDs survive both.
        """
        store, clock, ops = makeStore()
        store.xadd(b"s", [b"a", b"1"])
        store.xadd(b"s", [b"b", b"2"], ms=int(store.now()) + 7)
        store.xadd(b"s", [b"c", b"3"], maxlen=2)
        store.xadd(b"s", [b"d", b"4"], sid=(10 ** 14, 1))
        store.xdel(b"s", [(10 ** 14, 1)])
        store.xtrim(b"s", maxlen=1)
        store.xadd(b"e", [b"x", b"y"], maxlen=0)
        self.assertIn((b"XTRIMHEAD", b"s", b"1"), ops)
        copy = replayed(ops)
        self.assertEqual(copy.contents(), store.contents())
        self.assertEqual(copy.xlast(b"s"), (10 ** 14, 1))
        self.assertEqual(copy.xlast(b"e"), store.xlast(b"e"))
        loaded = Store(lambda: 1000000.0)
        loaded.loadState(*pickle.loads(pickle.dumps(store.dumpState())))
        self.assertEqual(loaded.contents(), store.contents())
        self.assertEqual(loaded.xadd(b"s", [b"z", b"z"]), (10 ** 14, 2))

    def test_copy(self):
        """
        COPY makes an independent stream.
        """
        store, _, _ = makeStore()
        store.xadd(b"s", [b"f", b"v"], sid=(1, 1))
        self.assertTrue(store.copyTo(b"s", store, b"t"))
        store.xadd(b"t", [b"g", b"w"], sid=(2, 0))
        self.assertEqual(store.xlen(b"s"), 1)
        self.assertEqual(store.xlen(b"t"), 2)


class StreamCommandTests(FamilyTestCase):
    """
    XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM.
    """

    def test_addAndRead(self):
        """
        XADD answers the new ID; XRANGE and XREVRANGE answer entries as
        C{[id, [field, value...]]}, the same in RESP2 and RESP3.
        """
        self.assertEqual(self.call("XADD", "s", "1-1", "a", "1", "b", "2"),
                         b"1-1")
        self.assertEqual(self.call("XADD", "s", "1-*", "c", "3"), b"1-2")
        self.assertEqual(self.call("XADD", "s", "3", "d", "4"), b"3-0")
        self.assertEqual(self.call("XADD", "s", "*", "e", "5"),
                         b"1700000000000-0")
        self.assertEqual(self.call("XLEN", "s"), 4)
        self.assertEqual(self.call("XRANGE", "s", "-", "1"),
                         [[b"1-1", [b"a", b"1", b"b", b"2"]],
                          [b"1-2", [b"c", b"3"]]])
        self.assertEqual(self.call("XREVRANGE", "s", "+", "-", "COUNT", "1"),
                         [[b"1700000000000-0", [b"e", b"5"]]])
        self.assertEqual(self.call("XRANGE", "s", "(1-1", "(3-0"),
                         [[b"1-2", [b"c", b"3"]]])
        self.assertEqual(self.call("XRANGE", "s", "-", "+", "COUNT", "0"),
                         NULL_ARRAY)
        self.assertEqual(self.call("XRANGE", "nope", "-", "+"), [])
        for protover in (2, 3):
            self.assertEqual(
                self.wire(protover, "XRANGE", "s", "3", "3"),
                b"*1\r\n*2\r\n$3\r\n3-0\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n")

    def test_errors(self):
        """
        Redis's error texts for bad IDs, IDs not increasing, options and
        arity.
        """
        self.call("XADD", "s", "5-5", "f", "v")
        self.assertEqual(
            self.call("XADD", "s", "5-5", "f", "v"),
            Error("ERR The ID specified in XADD is equal or smaller than "
                  "the target stream top item"))
        self.assertEqual(
            self.call("XADD", "t", "0-0", "f", "v"),
            Error("ERR The ID specified in XADD must be greater than 0-0"))
        invalid = Error("ERR Invalid stream ID specified as stream command "
                        "argument")
        self.assertEqual(self.call("XADD", "s", "x-1", "f", "v"), invalid)
        self.assertEqual(self.call("XRANGE", "s", "(-", "+"), invalid)
        self.assertEqual(self.call("XDEL", "s", "+"), invalid)
        self.assertEqual(self.call("XADD", "s", "9", "f"),
                         Error("ERR wrong number of arguments for 'xadd' "
                               "command"))
        self.assertEqual(
            self.call("XTRIM", "s", "MAXLEN", "1", "LIMIT", "5"),
            Error("ERR syntax error, LIMIT cannot be used without the "
                  "special ~ option"))
        self.assertEqual(self.call("XTRIM", "s", "MAXLEN", "-1"),
                         Error("ERR The MAXLEN argument must be >= 0."))
        self.assertEqual(self.call("XRANGE", "s", "-", "(0-0"),
                         Error("ERR invalid end ID for the interval"))
        self.assertEqual(self.call("XADD", "t", "NOMKSTREAM", "*", "f", "v"),
                         None)
        self.assertEqual(self.call("EXISTS", "t"), 0)
        self.call("SET", "str", "v")
        for words in (("XADD", "str", "*", "f", "v"), ("XLEN", "str"),
                      ("XRANGE", "str", "-", "+"), ("XDEL", "str", "1"),
                      ("XTRIM", "str", "MAXLEN", "0")):
            self.assertEqual(self.call(*words), WRONGTYPE)

    def test_trimAndDelete(self):
        """
        XADD's MAXLEN (C{~} trims exactly here), XTRIM and XDEL remove
        entries; an emptied stream stays.
        """
        for i in range(1, 21):
            self.call("XADD", "s", "MAXLEN", "~", "10", "%d" % i, "n", "v")
        self.assertEqual(self.call("XLEN", "s"), 10)
        self.assertEqual(self.call("XRANGE", "s", "-", "+", "COUNT", "1"),
                         [[b"11-0", [b"n", b"v"]]])
        self.assertEqual(self.call("XTRIM", "s", "MINID", "15"), 4)
        self.assertEqual(self.call("XTRIM", "s", "MAXLEN", "~", "0",
                                   "LIMIT", "2"), 2)
        self.assertEqual(self.call("XDEL", "s", "17", "17-0", "99"), 1)
        self.assertEqual(self.call("XTRIM", "s", "MAXLEN", "=", "0"), 3)
        self.assertEqual(self.call("XLEN", "s"), 0)
        self.assertEqual(self.call("TYPE", "s"), "stream")
        self.assertEqual(self.call("OBJECT", "ENCODING", "s"), b"stream")

    def test_journalReplay(self):
        """
        Replaying what the commands journaled gives the same streams, with
        the IDs the clock gave, not new ones.
        """
        self.call("XADD", "s", "*", "a", "1")
        self.clock.now += 5
        self.call("XADD", "s", "MAXLEN", "1", "*", "b", "2")
        self.call("XADD", "s", "*", "c", "3")
        self.call("XDEL", "s", "1700000000005")
        self.call("XRANGE", "s", "-", "+")
        self.assertEqual(self.ops, [
            (b"XADD", b"s", b"1700000000000-0", b"a", b"1"),
            (b"XADD", b"s", b"1700000000005-0", b"b", b"2"),
            (b"XTRIMHEAD", b"s", b"1"),
            (b"XADD", b"s", b"1700000000005-1", b"c", b"3"),
            (b"XDEL", b"s", b"1700000000005-0")])
        copy = replayed(self.ops)
        self.assertEqual(copy.contents(), self.store.contents())
        self.assertEqual(copy.xlast(b"s"), (1700000000005, 1))

    def test_read(self):
        """
        XREAD answers the entries after each ID, of the streams that have
        some: C{[[key, entries], ...]} in RESP2, a map in RESP3; a null
        array when none has; BLOCK is refused.
        """
        self.call("XADD", "a", "1-1", "f", "1")
        self.call("XADD", "a", "2-0", "f", "2")
        self.call("XADD", "b", "3-0", "g", "3")
        self.assertEqual(
            self.call("XREAD", "COUNT", "1", "STREAMS", "a", "b", "nope",
                      "1-1", "0", "0"),
            [[b"a", [[b"2-0", [b"f", b"2"]]]],
             [b"b", [[b"3-0", [b"g", b"3"]]]]])
        self.assertEqual(self.call("XREAD", "STREAMS", "a", "b", "$", "$"),
                         NULL_ARRAY)
        self.assertEqual(
            self.wire(3, "XREAD", "STREAMS", "b", "2"),
            b"%1\r\n$1\r\nb\r\n*1\r\n*2\r\n$3\r\n3-0\r\n"
            b"*2\r\n$1\r\ng\r\n$1\r\n3\r\n")
        self.assertEqual(self.wire(3, "XREAD", "STREAMS", "b", "3"),
                         b"_\r\n")
        self.assertEqual(
            self.call("XREAD", "BLOCK", "0", "STREAMS", "a", "0"),
            Error("ERR XREAD BLOCK is not supported by kvtwist"))
        self.assertEqual(self.ops[-1][0], b"XADD")
