"""
Tests for the list commands (L{kvtwist.commands.lists}) and
their store operations: Redis 7's semantics, reply types and errors, and
journal ops that replay to the same state.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import Context
from kvtwist.replies import NULL_ARRAY, OK, SYNTAX, WRONGTYPE
from kvtwist.store import Store


class Clock:
    """
    A settable millisecond clock for the store.
    """

    def __init__(self):
        self.now = 1700000000000.0

    def __call__(self):
        return self.now


class ListCommandTests(SynchronousTestCase):
    """
    Commands run through the memory backend on a journaled store.
    """

    def setUp(self):
        self.store = Store(Clock())
        self.ops = []
        self.store.journal = self.ops.append
        self.ctx = Context(self.store)
        self.backend = MemoryBackend(self.store)

    def call(self, *words):
        """
        Run a command given as strings; its reply.
        """
        words = [w.encode() if isinstance(w, str) else w for w in words]
        return self.backend.execute(self.ctx, words[0], words[1:])

    def items(self):
        """
        The store's keys, values and expiries.
        """
        return sorted((k, v, self.store.expiresAt(k))
                      for k, v in self.store.items())

    def assertReplays(self):
        """
        The journal so far, replayed into a new store, gives this store.
        """
        copy = Store(Clock())
        for op in self.ops:
            copy.apply(op)
        self.assertEqual(sorted((k, v, copy.expiresAt(k))
                                for k, v in copy.items()), self.items())

    def test_lmove(self):
        """
        LMOVE and RPOPLPUSH move an element between ends of two lists or
        rotate one (keeping its expiry); an emptied source is deleted; a
        destination of another type is refused before anything moves.
        """
        self.call("RPUSH", "l", "a", "b", "c")
        self.call("PEXPIRE", "l", "5000")
        self.assertEqual(self.call("LMOVE", "l", "m", "LEFT", "RIGHT"), b"a")
        self.assertEqual(self.call("LMOVE", "l", "l", "RIGHT", "LEFT"), b"c")
        self.assertEqual(self.call("LRANGE", "l", "0", "-1"), [b"c", b"b"])
        self.assertEqual(self.call("RPOPLPUSH", "l", "m"), b"b")
        self.assertEqual(self.call("LRANGE", "m", "0", "-1"), [b"b", b"a"])
        self.call("RPUSH", "one", "x")
        self.call("PEXPIRE", "one", "5000")
        self.assertEqual(self.call("RPOPLPUSH", "one", "one"), b"x")
        self.assertEqual(self.call("PTTL", "one"), 5000)
        self.call("SET", "s", "v")
        self.assertEqual(self.call("LMOVE", "l", "s", "LEFT", "LEFT"),
                         WRONGTYPE)
        self.assertEqual(self.call("LRANGE", "l", "0", "-1"), [b"c"])
        self.assertIsNone(self.call("LMOVE", "nol", "s", "LEFT", "LEFT"))
        self.assertEqual(self.call("LMOVE", "l", "m", "UP", "LEFT"), SYNTAX)
        self.assertEqual(self.call("LMOVE", "l", "m", "LEFT", "LEFT"), b"c")
        self.assertEqual(self.call("EXISTS", "l"), 0)
        self.assertReplays()

    def test_lmpop(self):
        """
        LMPOP pops from the first non-empty list, answering its name and
        the elements; a null array when all are empty; Redis's errors.
        """
        self.call("RPUSH", "b", "1", "2", "3")
        self.assertEqual(self.call("LMPOP", "2", "a", "b", "LEFT"),
                         [b"b", [b"1"]])
        self.assertEqual(
            self.call("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5"),
            [b"b", [b"3", b"2"]])
        self.assertIs(self.call("LMPOP", "2", "a", "b", "LEFT"), NULL_ARRAY)
        self.assertEqual(self.call("LMPOP", "0", "a", "LEFT"),
                         "ERR numkeys should be greater than 0")
        self.assertEqual(self.call("LMPOP", "2", "a", "LEFT"), SYNTAX)
        self.assertEqual(self.call("LMPOP", "1", "a", "LEFT", "COUNT", "0"),
                         "ERR count should be greater than 0")
        self.call("SET", "s", "v")
        self.assertEqual(self.call("LMPOP", "1", "s", "LEFT"), WRONGTYPE)
        self.assertReplays()

    def test_lpos(self):
        """
        LPOS finds the index of matches, from a rank (negative: from the
        tail), several with COUNT (0: all), within MAXLEN elements.
        """
        self.call("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
        self.assertEqual(self.call("LPOS", "l", "c"), 2)
        self.assertEqual(self.call("LPOS", "l", "c", "RANK", "2"), 6)
        self.assertEqual(self.call("LPOS", "l", "c", "RANK", "-1"), 7)
        self.assertEqual(self.call("LPOS", "l", "c", "COUNT", "0"),
                         [2, 6, 7])
        self.assertEqual(self.call("LPOS", "l", "c", "RANK", "-2",
                                   "COUNT", "0"), [6, 2])
        self.assertEqual(self.call("LPOS", "l", "c", "COUNT", "0",
                                   "MAXLEN", "7"), [2, 6])
        self.assertIsNone(self.call("LPOS", "l", "z"))
        self.assertEqual(self.call("LPOS", "l", "z", "COUNT", "1"), [])
        self.assertEqual(self.call("LPOS", "nol", "z", "COUNT", "1"), [])
        self.assertEqual(self.call("LPOS", "l", "c", "COUNT", "-1"),
                         "ERR COUNT can't be negative")
        self.assertTrue(self.call("LPOS", "l", "c", "RANK", "0")
                        .startswith("ERR RANK can't be zero"))

    def test_linsertLtrim(self):
        """
        LINSERT inserts next to the first match (-1 without one, 0 for a
        missing key); LTRIM keeps a range, deleting an emptied list.
        """
        self.call("RPUSH", "l", "a", "b", "a")
        self.assertEqual(self.call("LINSERT", "l", "BEFORE", "a", "X"), 4)
        self.assertEqual(self.call("LINSERT", "l", "after", "b", "Y"), 5)
        self.assertEqual(self.call("LINSERT", "l", "BEFORE", "z", "X"), -1)
        self.assertEqual(self.call("LINSERT", "nol", "BEFORE", "a", "X"), 0)
        self.assertEqual(self.call("LINSERT", "l", "MIDDLE", "a", "X"),
                         SYNTAX)
        self.assertEqual(self.call("LRANGE", "l", "0", "-1"),
                         [b"X", b"a", b"b", b"Y", b"a"])
        self.assertEqual(self.call("LTRIM", "l", "1", "-2"), OK)
        self.assertEqual(self.call("LRANGE", "l", "0", "-1"),
                         [b"a", b"b", b"Y"])
        self.assertEqual(self.call("LTRIM", "l", "-100", "100"), OK)
        self.assertEqual(self.call("LLEN", "l"), 3)
        self.assertReplays()
        self.assertEqual(self.call("LTRIM", "l", "5", "1"), OK)
        self.assertEqual(self.call("EXISTS", "l"), 0)
        self.assertReplays()
        # Negative indexes replay as given (normalised ones kept the last
        # element of a one-element list on replay, which LTRIM removed).
        self.call("RPUSH", "one", "x")
        self.assertEqual(self.call("LTRIM", "one", "-2", "-2"), OK)
        self.assertEqual(self.call("EXISTS", "one"), 0)
        self.assertReplays()

    def test_encoding(self):
        """
        OBJECT ENCODING of a list: listpack while small, quicklist after.
        """
        self.call("RPUSH", "l", "a")
        self.assertEqual(self.call("OBJECT", "ENCODING", "l"), b"listpack")
        self.call("RPUSH", "l", "x" * 10000)
        self.assertEqual(self.call("OBJECT", "ENCODING", "l"), b"quicklist")
