"""
Tests for the hash commands (L{kvtwist.commands.hashes}): Redis's replies
and error texts, through the memory backend.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import Context
from kvtwist.dialects import resp
from kvtwist.replies import OK, Error
from kvtwist.store import Store


class Clock:
    """
    A settable millisecond clock for the store.
    """

    def __init__(self):
        self.now = 1700000000000.0

    def __call__(self):
        return self.now


class FamilyTestCase(SynchronousTestCase):
    """
    Commands run through the memory backend on a store of its own.
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
        Run a command given as strings or bytes; its neutral reply.
        """
        words = [w.encode() if isinstance(w, str) else w for w in words]
        return self.backend.execute(self.ctx, words[0], words[1:])

    def wire(self, protover, *words):
        """
        Run a command as a client of RESP version C{protover}; the bytes
        it would be answered.
        """
        self.ctx.client.protover = protover
        try:
            return resp.render(self.call(*words), protover)
        finally:
            self.ctx.client.protover = 2


class HashCommandTests(FamilyTestCase):
    """
    HSET and friends.
    """

    def test_setAndRead(self):
        """
        HSET counts new fields, HMSET answers OK, the readers answer what
        Redis answers.
        """
        self.assertEqual(self.call("HSET", "h", "a", "1", "b", "2"), 2)
        self.assertEqual(self.call("HMSET", "h", "a", "3", "c", "4"), OK)
        self.assertEqual(self.call("HGET", "h", "a"), b"3")
        self.assertIsNone(self.call("HGET", "h", "x"))
        self.assertEqual(self.call("HMGET", "h", "a", "x"), [b"3", None])
        self.assertEqual(self.call("HLEN", "h"), 3)
        self.assertEqual(self.call("HEXISTS", "h", "a"), 1)
        self.assertEqual(self.call("HEXISTS", "h", "x"), 0)
        self.assertEqual(self.call("HSTRLEN", "h", "c"), 1)
        self.assertEqual(self.call("HSETNX", "h", "a", "9"), 0)
        self.assertEqual(self.call("HSETNX", "h", "z", "9"), 1)
        self.assertEqual(sorted(self.call("HKEYS", "h")),
                         [b"a", b"b", b"c", b"z"])
        self.assertEqual(sorted(self.call("HVALS", "h")),
                         [b"2", b"3", b"4", b"9"])
        self.assertEqual(self.call("HDEL", "h", "a", "b", "c", "x"), 3)
        self.assertEqual(self.call("TYPE", "h"), "hash")
        self.assertEqual(self.call("HDEL", "h", "z"), 1)
        self.assertEqual(self.call("EXISTS", "h"), 0)

    def test_arity(self):
        """
        Field-value lists must be whole: Redis's arity error otherwise.
        """
        for name in ("HSET", "HMSET"):
            self.assertEqual(
                self.call(name, "h", "a", "1", "b"),
                Error("ERR wrong number of arguments for '%s' command"
                      % (name.lower(),)))
        self.assertEqual(self.call("HGET", "h"), Error(
            "ERR wrong number of arguments for 'hget' command"))

    def test_wrongType(self):
        """
        Hash commands on a string answer WRONGTYPE; nothing changes.
        """
        self.call("SET", "s", "x")
        for words in (["HSET", "s", "a", "1"], ["HGET", "s", "a"],
                      ["HGETALL", "s"], ["HLEN", "s"], ["HDEL", "s", "a"],
                      ["HINCRBY", "s", "a", "1"], ["HSCAN", "s", "0"],
                      ["HRANDFIELD", "s"]):
            self.assertEqual(self.call(*words).split(" ")[0], "WRONGTYPE")
        self.assertEqual(self.call("GET", "s"), b"x")

    def test_getallWire(self):
        """
        HGETALL is a flat array in RESP2 and a map in RESP3.
        """
        self.call("HSET", "h", "a", "1")
        self.assertEqual(self.wire(2, "HGETALL", "h"),
                         b"*2\r\n$1\r\na\r\n$1\r\n1\r\n")
        self.assertEqual(self.wire(3, "HGETALL", "h"),
                         b"%1\r\n$1\r\na\r\n$1\r\n1\r\n")
        self.assertEqual(self.wire(3, "HGETALL", "missing"), b"%0\r\n")

    def test_incr(self):
        """
        HINCRBY and HINCRBYFLOAT, with Redis's error texts.
        """
        self.assertEqual(self.call("HINCRBY", "h", "n", "10"), 10)
        self.assertEqual(self.call("HINCRBY", "h", "n", "x"),
                         Error("ERR value is not an integer or out of range"))
        self.assertEqual(self.call("HINCRBYFLOAT", "h", "n", "0.5"),
                         b"10.5")
        self.assertEqual(self.call("HINCRBY", "h", "n", "1"),
                         Error("ERR hash value is not an integer"))
        self.assertEqual(self.call("HINCRBYFLOAT", "h", "n", "x"),
                         Error("ERR value is not a valid float"))
        self.assertEqual(self.wire(3, "HINCRBYFLOAT", "h", "n", "1"),
                         b"$4\r\n11.5\r\n")

    def test_randfield(self):
        """
        HRANDFIELD: a field, fields, fields with values (pairs in RESP3);
        nil or an empty array for a missing key; a syntax error for a
        stray word.
        """
        self.call("HSET", "h", "a", "1")
        self.assertEqual(self.call("HRANDFIELD", "h"), b"a")
        self.assertEqual(self.call("HRANDFIELD", "h", "-2"), [b"a", b"a"])
        self.assertEqual(self.call("HRANDFIELD", "h", "1", "WITHVALUES"),
                         [b"a", b"1"])
        self.assertEqual(self.wire(3, "HRANDFIELD", "h", "1", "withvalues"),
                         b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n")
        self.assertIsNone(self.call("HRANDFIELD", "missing"))
        self.assertEqual(self.call("HRANDFIELD", "missing", "3"), [])
        self.assertEqual(self.call("HRANDFIELD", "h", "1", "x"),
                         Error("ERR syntax error"))
        self.assertEqual(self.call("HRANDFIELD", "h", "x"),
                         Error("ERR value is not an integer or out of range"))

    def test_scan(self):
        """
        HSCAN: fields and values, MATCH, NOVALUES, Redis's errors for a bad
        cursor or COUNT.
        """
        self.call("HSET", "h", "a1", "1", "b1", "2")
        self.assertEqual(self.call("HSCAN", "h", "0"),
                         [b"0", [b"a1", b"1", b"b1", b"2"]])
        self.assertEqual(self.call("HSCAN", "h", "0", "MATCH", "a*"),
                         [b"0", [b"a1", b"1"]])
        self.assertEqual(self.call("HSCAN", "h", "0", "NOVALUES"),
                         [b"0", [b"a1", b"b1"]])
        self.assertEqual(self.call("HSCAN", "missing", "0"), [b"0", []])
        self.assertEqual(self.call("HSCAN", "h", "x"),
                         Error("ERR invalid cursor"))
        self.assertEqual(self.call("HSCAN", "h", "0", "COUNT", "0"),
                         Error("ERR syntax error"))
        self.assertEqual(self.call("HSCAN", "h", "0", "MATCH"),
                         Error("ERR syntax error"))

    def test_journal(self):
        """
        Writes are journaled as HSET and HDEL ops; reads journal nothing.
        """
        self.call("HSET", "h", "a", "1")
        self.call("HINCRBY", "h", "n", "2")
        self.call("HGETALL", "h")
        self.call("HDEL", "h", "a", "x")
        self.assertEqual(self.ops, [(b"HSET", b"h", b"a", b"1"),
                                    (b"HSET", b"h", b"n", b"2"),
                                    (b"HDEL", b"h", b"a")])
