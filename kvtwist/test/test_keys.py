"""
Tests for the commands on keys of any type (L{kvtwist.commands.keys}):
Redis 7's semantics, reply types and error texts.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import Context
from kvtwist.store import Store


class Clock:
    """
    A settable millisecond clock for the store.
    """

    def __init__(self):
        self.now = 1700000000000.0

    def __call__(self):
        return self.now


class KeyCommandTests(SynchronousTestCase):
    """
    Commands run through the memory backend.
    """

    def setUp(self):
        self.clock = Clock()
        self.store = Store(self.clock)
        self.ctx = Context(self.store)
        self.backend = MemoryBackend(self.store)

    def call(self, *words):
        """
        Run a command given as strings; its reply.
        """
        words = [w.encode() if isinstance(w, str) else w for w in words]
        return self.backend.execute(self.ctx, words[0], words[1:])

    def test_expireTime(self):
        """
        EXPIRETIME and PEXPIRETIME give a key's absolute expiry (seconds
        rounded as Redis does), -1 without one, -2 for a missing key.
        """
        self.call("SET", "k", "v", "PXAT", "1800000000700")
        self.assertEqual(self.call("PEXPIRETIME", "k"), 1800000000700)
        self.assertEqual(self.call("EXPIRETIME", "k"), 1800000001)
        self.call("SET", "k", "v", "PXAT", "1800000000499")
        self.assertEqual(self.call("EXPIRETIME", "k"), 1800000000)
        self.call("SET", "p", "v")
        self.assertEqual(self.call("EXPIRETIME", "p"), -1)
        self.assertEqual(self.call("PEXPIRETIME", "p"), -1)
        self.assertEqual(self.call("EXPIRETIME", "nope"), -2)
        self.assertEqual(self.call("PEXPIRETIME", "nope"), -2)

    def test_renamenx(self):
        """
        RENAMENX renames only to a new name, keeping the expiry; renaming
        a key to itself answers 0; a missing key is an error.
        """
        self.call("SET", "a", "1", "PX", "900")
        self.call("SET", "b", "2")
        self.assertEqual(self.call("RENAMENX", "a", "b"), 0)
        self.assertEqual(self.call("RENAMENX", "a", "c"), 1)
        self.assertEqual(self.call("PTTL", "c"), 900)
        self.assertEqual(self.call("RENAMENX", "c", "c"), 0)
        self.assertEqual(self.call("RENAMENX", "nokey", "d"),
                         "ERR no such key")

    def test_copy(self):
        """
        COPY copies value and expiry, to another database with DB,
        replacing with REPLACE; Redis's errors.
        """
        self.call("RPUSH", "l", "a")
        self.call("PEXPIRE", "l", "700")
        self.assertEqual(self.call("COPY", "l", "m"), 1)
        self.call("RPUSH", "l", "b")
        self.assertEqual(self.call("LRANGE", "m", "0", "-1"), [b"a"])
        self.assertEqual(self.call("PTTL", "m"), 700)
        self.assertEqual(self.call("COPY", "l", "m"), 0)
        self.assertEqual(self.call("COPY", "l", "m", "REPLACE"), 1)
        self.assertEqual(self.call("COPY", "l", "l", "DB", "2"), 1)
        self.assertEqual(self.store.database(2).lrange(b"l", 0, -1),
                         [b"a", b"b"])
        self.assertEqual(self.call("COPY", "l", "l"),
                         "ERR source and destination objects are the same")
        self.assertEqual(self.call("COPY", "l", "x", "DB", "16"),
                         "ERR DB index is out of range")
        self.assertEqual(self.call("COPY", "l", "x", "FOO"),
                         "ERR syntax error")
        self.assertEqual(self.call("COPY", "nokey", "x"), 0)

    def test_touchRandomkey(self):
        """
        TOUCH counts existing keys; RANDOMKEY picks a live key, skipping
        deleted and expired ones, or answers a null.
        """
        self.assertIsNone(self.call("RANDOMKEY"))
        for i in range(20):
            self.call("SET", "k%d" % (i,), "v")
        self.call("SCAN", "0")  # positions: deletes leave tombstones
        for i in range(19):
            self.call("DEL", "k%d" % (i,))
        self.assertEqual(self.call("TOUCH", "k19", "k0", "k19"), 2)
        self.assertEqual({self.call("RANDOMKEY") for _ in range(10)},
                         {b"k19"})
        self.call("PEXPIRE", "k19", "10")
        self.clock.now += 20
        self.assertIsNone(self.call("RANDOMKEY"))

    def test_expireOptions(self):
        """
        EXPIRE's NX, XX, GT and LT (no expiry counting as infinite), in
        Redis's order of checks and with its errors.
        """
        self.call("SET", "k", "v")
        self.assertEqual(self.call("EXPIRE", "k", "100", "XX"), 0)
        self.assertEqual(self.call("EXPIRE", "k", "100", "GT"), 0)
        self.assertEqual(self.call("EXPIRE", "k", "100", "NX"), 1)
        self.assertEqual(self.call("EXPIRE", "k", "200", "NX"), 0)
        self.assertEqual(self.call("EXPIRE", "k", "50", "GT"), 0)
        self.assertEqual(self.call("EXPIRE", "k", "150", "GT"), 1)
        self.assertEqual(self.call("EXPIRE", "k", "160", "LT"), 0)
        self.assertEqual(self.call("EXPIRE", "k", "120", "XX", "LT"), 1)
        self.assertEqual(self.call("TTL", "k"), 120)
        self.call("PERSIST", "k")
        self.assertEqual(self.call("EXPIRE", "k", "120", "LT"), 1)
        self.assertEqual(self.call("EXPIRE", "k", "10", "NX", "XX"),
                         "ERR NX and XX, GT or LT options at the same time "
                         "are not compatible")
        self.assertEqual(self.call("EXPIRE", "k", "10", "GT", "LT"),
                         "ERR GT and LT options at the same time are not "
                         "compatible")
        self.assertEqual(self.call("EXPIRE", "k", "x", "FOO"),
                         "ERR Unsupported option FOO")
        self.assertEqual(self.call("EXPIRE", "nokey", "10", "NX"), 0)
        self.assertEqual(self.call("EXPIRE", "k", "-1", "XX"), 1)
        self.assertEqual(self.call("EXISTS", "k"), 0)

    def test_scanType(self):
        """
        SCAN's TYPE option returns only keys of that type.
        """
        self.call("SET", "s", "v")
        self.call("RPUSH", "l", "v")
        self.assertEqual(self.call("SCAN", "0", "TYPE", "list"),
                         [b"0", [b"l"]])
        self.assertEqual(self.call("SCAN", "0", "TYPE", "STRING"),
                         [b"0", [b"s"]])
        self.assertEqual(self.call("SCAN", "0", "TYPE", "hash"), [b"0", []])

    def test_object(self):
        """
        OBJECT ENCODING, REFCOUNT (shared small integers as Redis shares
        them), IDLETIME (0: no access times are kept), FREQ (Redis's error
        without an LFU policy), HELP; a null for a missing key.
        """
        self.call("SET", "i", "123")
        self.call("SET", "e", "abc")
        self.call("SET", "r", "x" * 45)
        self.call("SET", "big", "12345")
        self.assertEqual([self.call("OBJECT", "ENCODING", k)
                          for k in ("i", "e", "r", "big")],
                         [b"int", b"embstr", b"raw", b"int"])
        self.assertEqual(self.call("OBJECT", "REFCOUNT", "i"), 2147483647)
        self.assertEqual(self.call("OBJECT", "REFCOUNT", "big"), 1)
        self.assertEqual(self.call("OBJECT", "REFCOUNT", "e"), 1)
        self.assertEqual(self.call("OBJECT", "IDLETIME", "e"), 0)
        self.assertTrue(self.call("OBJECT", "FREQ", "e").startswith(
            "ERR An LFU maxmemory policy is not selected"))
        self.assertIsNone(self.call("OBJECT", "ENCODING", "nokey"))
        self.assertEqual(self.call("OBJECT", "FOO", "e"),
                         "ERR unknown subcommand 'FOO'. Try OBJECT HELP.")
        self.assertEqual(self.call("OBJECT", "ENCODING"),
                         "ERR wrong number of arguments for 'object|encoding'"
                         " command")
        self.assertEqual(self.call("OBJECT", "HELP")[0],
                         "OBJECT <subcommand> [<arg> [value] [opt] ...]. "
                         "Subcommands are:")

    def test_genericForEveryType(self):
        """
        TYPE, COPY, MOVE, RENAME, SCAN TYPE and OBJECT ENCODING work for a
        kind of value the generic commands know only by its ValueType (a
        toy set here, as the types helper's will be).
        """
        from kvtwist.store.valuetype import ValueType
        toys = ValueType("toy", frozenset, plain=sorted, restore=frozenset,
                         ops={}, encoding=lambda v: "toypack")
        store = self.store
        for db in store.databases:
            db._types = {**Store._types, frozenset: toys}
        store._put(b"t", frozenset([b"a"]))
        self.assertEqual(self.call("TYPE", "t"), "toy")
        self.assertEqual(self.call("OBJECT", "ENCODING", "t"), b"toypack")
        self.assertEqual(self.call("SCAN", "0", "TYPE", "toy"),
                         [b"0", [b"t"]])
        self.assertEqual(self.call("COPY", "t", "u", "DB", "1"), 1)
        self.assertEqual(self.call("RENAME", "t", "v"), "OK")
        self.assertEqual(self.call("MOVE", "v", "2"), 1)
        self.assertEqual(store.database(2).typeOf(b"v"), "toy")
        self.assertEqual(store.database(1).valueOf(b"u"), frozenset([b"a"]))
