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
