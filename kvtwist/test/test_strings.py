"""
Tests for the string and bitmap commands
(L{kvtwist.commands.strings}) and their store operations: Redis 7's
semantics, reply types and errors, and journal ops that replay to the
same state.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import Context
from kvtwist.replies import NOT_FLOAT, NOT_INTEGER, OK, SYNTAX, WRONGTYPE
from kvtwist.factory import Config, KVFactory
from kvtwist.store import Store


class Clock:
    """
    A settable millisecond clock for the store.
    """

    def __init__(self):
        self.now = 1700000000000.0

    def __call__(self):
        return self.now


TOO_LONG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


class StringCommandTests(SynchronousTestCase):
    """
    Commands run through the memory backend on a journaled store.
    """

    def setUp(self):
        self.clock = Clock()
        self.store = Store(self.clock)
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

    def assertReplays(self):
        """
        The journal so far, replayed into a new store, gives this store.
        """
        copy = Store(Clock())
        for op in self.ops:
            copy.apply(op)
        self.assertEqual(sorted(copy.items()), sorted(self.store.items()))
        self.assertEqual(
            sorted((k, copy.expiresAt(k)) for k, _ in copy.items()),
            sorted((k, self.store.expiresAt(k))
                   for k, _ in self.store.items()))

    def test_incrbyfloat(self):
        """
        INCRBYFLOAT adds in long double, keeps the TTL, journals the
        result; a value or increment that isn't a float is refused, and so
        is an infinite result.
        """
        self.call("SET", "f", "10.5", "PX", "5000")
        self.assertEqual(self.call("INCRBYFLOAT", "f", "0.1"), b"10.6")
        self.assertEqual(self.call("INCRBYFLOAT", "f", "-5e3"),
                         b"-4989.39999999999999991")
        self.assertEqual(self.call("PTTL", "f"), 5000)
        self.assertEqual(self.call("INCRBYFLOAT", "new", "1.50"), b"1.5")
        self.call("SET", "w", "abc")
        self.assertEqual(self.call("INCRBYFLOAT", "w", "1"), NOT_FLOAT)
        self.assertEqual(self.call("INCRBYFLOAT", "f", "x"), NOT_FLOAT)
        self.assertEqual(self.call("INCRBYFLOAT", "f", "inf"),
                         "ERR increment would produce NaN or Infinity")
        self.call("RPUSH", "l", "x")
        self.assertEqual(self.call("INCRBYFLOAT", "l", "1"), WRONGTYPE)
        self.assertIn((b"SETKEEPTTL", b"new", b"1.5"), self.ops)
        self.assertReplays()

    def test_getex(self):
        """
        GETEX returns the value and sets (relative or absolute) or removes
        its expiry; an absolute time in the past deletes the key; options
        are checked first, the time after the key.
        """
        self.call("SET", "k", "v")
        self.assertEqual(self.call("GETEX", "k", "EX", "10"), b"v")
        self.assertEqual(self.call("PTTL", "k"), 10000)
        self.assertEqual(self.call("GETEX", "k", "PX", "5", "PX", "7"), b"v")
        self.assertEqual(self.call("PTTL", "k"), 7)
        self.assertEqual(self.call("GETEX", "k", "PERSIST"), b"v")
        self.assertEqual(self.call("PTTL", "k"), -1)
        self.assertEqual(self.call("GETEX", "k"), b"v")
        self.assertEqual(self.call("GETEX", "k", "PERSIST", "EX", "1"),
                         SYNTAX)
        self.assertEqual(self.call("GETEX", "k", "EX", "0"),
                         "ERR invalid expire time in 'getex' command")
        self.assertIsNone(self.call("GETEX", "nokey", "EX", "0"))
        self.assertEqual(self.call("GETEX", "k", "EX", "x"), NOT_INTEGER)
        self.assertEqual(self.call("GETEX", "k", "PXAT", "1"), b"v")
        self.assertEqual(self.call("EXISTS", "k"), 0)
        self.assertReplays()

    def test_setOptionsParsedAsRedis(self):
        """
        SET takes an expiry option given twice (the last wins) and checks
        the syntax before the time.
        """
        self.assertEqual(self.call("SET", "k", "v", "EX", "10", "EX", "20"),
                         OK)
        self.assertEqual(self.call("TTL", "k"), 20)
        self.assertEqual(self.call("SET", "k", "v", "EX", "0", "FOO"), SYNTAX)
        self.assertEqual(self.call("SET", "k", "v", "KEEPTTL", "EX", "1"),
                         SYNTAX)

    def test_psetex(self):
        """
        PSETEX sets a value with a time to live in milliseconds.
        """
        self.assertEqual(self.call("PSETEX", "k", "1500", "v"), OK)
        self.assertEqual(self.call("PTTL", "k"), 1500)
        self.assertEqual(self.call("PSETEX", "k", "0", "v"),
                         "ERR invalid expire time in 'psetex' command")

    def test_getrange(self):
        """
        GETRANGE takes Redis's indexes, both ends included.
        """
        self.call("SET", "s", "Hello World")
        self.assertEqual(self.call("GETRANGE", "s", "0", "4"), b"Hello")
        self.assertEqual(self.call("GETRANGE", "s", "-5", "-1"), b"World")
        self.assertEqual(self.call("GETRANGE", "s", "-1", "-5"), b"")
        self.assertEqual(self.call("GETRANGE", "s", "-100", "100"),
                         b"Hello World")
        self.assertEqual(self.call("GETRANGE", "nokey", "0", "-1"), b"")

    def test_setrangeAppend(self):
        """
        SETRANGE overwrites from an offset, padding with zero bytes;
        APPEND appends; both are journaled as themselves (not as the whole
        new value) and replay to the same state.
        """
        self.call("SET", "s", "Hello World", "PX", "1000")
        self.assertEqual(self.call("SETRANGE", "s", "6", "Redis"), 11)
        self.assertEqual(self.call("SETRANGE", "s", "13", "!"), 14)
        self.assertEqual(self.call("GET", "s"), b"Hello Redis\x00\x00!")
        self.assertEqual(self.call("SETRANGE", "s", "0", ""), 14)
        self.assertEqual(self.call("SETRANGE", "new", "2", ""), 0)
        self.assertEqual(self.call("EXISTS", "new"), 0)
        self.assertEqual(self.call("APPEND", "s", "?"), 15)
        self.assertEqual(self.call("PTTL", "s"), 1000)
        self.assertEqual(self.ops[-2:], [
            (b"SETRANGE", b"s", b"13", b"!"), (b"APPEND", b"s", b"?")])
        self.assertEqual(self.call("SETRANGE", "s", "-1", "x"),
                         "ERR offset is out of range")
        self.assertReplays()

    def test_limits(self):
        """
        SETRANGE, APPEND and SETBIT refuse to build a string longer than
        proto-max-bulk-len (512 MB unless C{--max-bulk} says less) with
        Redis's error, without allocating it.
        """
        self.assertEqual(self.call("SETRANGE", "s", "536870911", "xx"),
                         TOO_LONG)
        self.assertEqual(self.call("SETBIT", "b", "4294967296", "1"),
                         "ERR bit offset is not an integer or out of range")
        self.assertEqual(self.call("EXISTS", "s", "b"), 0)
        self.ctx.factory = KVFactory(self.store, None, Config(maxBulk=10))
        self.call("SET", "s", "12345678")
        self.assertEqual(self.call("APPEND", "s", "abc"), TOO_LONG)
        self.assertEqual(self.call("APPEND", "s", "ab"), 10)
        self.assertEqual(self.call("SETRANGE", "s", "10", "x"), TOO_LONG)
        self.assertEqual(self.call("SETBIT", "s", "80", "1"),
                         "ERR bit offset is not an integer or out of range")
        self.assertEqual(self.call("SETBIT", "s", "79", "1"), 0)

    def test_bits(self):
        """
        SETBIT returns the old bit and grows the string; GETBIT reads
        beyond it as 0; BITCOUNT counts bytes or bits of a range.
        """
        self.assertEqual(self.call("SETBIT", "b", "7", "1"), 0)
        self.assertEqual(self.call("SETBIT", "b", "7", "1"), 1)
        self.assertEqual(self.call("SETBIT", "b", "17", "1"), 0)
        self.assertEqual(self.call("GET", "b"), b"\x01\x00\x40")
        self.assertEqual(self.call("GETBIT", "b", "17"), 1)
        self.assertEqual(self.call("GETBIT", "b", "1000"), 0)
        self.assertEqual(self.call("SETBIT", "b", "1", "2"),
                         "ERR bit is not an integer or out of range")
        self.call("SET", "f", "foobar")
        self.assertEqual(self.call("BITCOUNT", "f"), 26)
        self.assertEqual(self.call("BITCOUNT", "f", "1", "1"), 6)
        self.assertEqual(self.call("BITCOUNT", "f", "5", "30", "BIT"), 17)
        self.assertEqual(self.call("BITCOUNT", "f", "0"), SYNTAX)
        self.assertEqual(self.call("BITCOUNT", "nokey"), 0)
        self.assertEqual(self.call("SETBIT", "b", "7", "0"), 1)
        self.assertReplays()

    def test_lcs(self):
        """
        LCS answers the subsequence, its length, or its ranges (a map:
        RESP2 shows it flat); keys that aren't strings are refused with
        Redis's message.
        """
        self.call("SET", "a", "ohmytext")
        self.call("SET", "b", "mynewtext")
        self.assertEqual(self.call("LCS", "a", "b"), b"mytext")
        self.assertEqual(self.call("LCS", "a", "b", "LEN"), 6)
        self.assertEqual(
            self.call("LCS", "a", "b", "IDX", "MINMATCHLEN", "3",
                      "WITHMATCHLEN"),
            {b"matches": [[[4, 7], [5, 8], 4]], b"len": 6})
        self.assertEqual(self.call("LCS", "a", "b", "LEN", "IDX"),
                         "ERR If you want both the length and indexes, "
                         "please just use IDX.")
        self.call("RPUSH", "l", "x")
        self.assertEqual(self.call("LCS", "a", "l"),
                         "ERR The specified keys must contain string values")

    def test_lcsOffloaded(self):
        """
        The subsequence of long strings is found off the reactor thread
        (the backend's C{runInThread}), on the values as they were.
        """
        calls = []

        def runInThread(f):
            from twisted.internet.defer import succeed
            calls.append(f)
            return succeed(f())
        self.backend.runInThread = runInThread
        self.call("SET", "a", "ab" * 1500)
        self.call("SET", "b", "ba" * 1500)
        reply = self.call("LCS", "a", "b", "IDX")
        self.assertEqual(len(calls), 1)
        self.assertEqual(self.successResultOf(reply)[b"len"], 2999)
