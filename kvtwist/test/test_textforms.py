"""
Tests for L{kvtwist.dialects.textforms}: hashes, sets and sorted sets as a
person on the text protocol sees them, through the text dialect and the
command table.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.memory import MemoryBackend
from kvtwist.commands import Context
from kvtwist.dialects import text
from kvtwist.store import Store


class TextFormTests(SynchronousTestCase):
    """
    Each line typed runs through the text dialect and the memory backend;
    the bytes it would send are checked.
    """

    def setUp(self):
        self.store = Store(lambda: 1700000000000.0)
        self.backend = MemoryBackend(self.store)
        self.ctx = Context(self.store)

    def type(self, line: bytes) -> bytes:
        """
        What the text protocol answers C{line}.
        """
        request = text.parse(line)
        reply = self.backend.execute(self.ctx, request.name, request.args)
        return text.render(request, reply)

    def test_hashes(self):
        """
        HGETALL as C{field: value} lines, HMGET naming its fields, HKEYS
        one per line, HSCAN with its cursor first; a block ends with C{.}.
        """
        self.assertEqual(self.type(b"HSET h a 1 b two"), b"2\r\n")
        self.assertEqual(self.type(b"HGETALL h"),
                         b"a: 1\r\nb: two\r\n.\r\n")
        self.assertEqual(self.type(b"HMGET h a zz"),
                         b"a: 1\r\nzz: (nil)\r\n.\r\n")
        self.assertEqual(self.type(b"HKEYS h"), b"a\r\nb\r\n.\r\n")
        self.assertEqual(self.type(b"HSCAN h 0"),
                         b"0\r\n  a: 1\r\n  b: two\r\n.\r\n")
        self.assertEqual(self.type(b"HGETALL nope"), b".\r\n")
        self.assertEqual(self.type(b"HGET h a"), b"1\r\n")

    def test_sets(self):
        """
        SMEMBERS one member per line, SMISMEMBER yes or no per member.
        """
        self.type(b"SADD s x")
        self.assertEqual(self.type(b"SMEMBERS s"), b"x\r\n.\r\n")
        self.assertEqual(self.type(b"SMISMEMBER s x y"),
                         b"x: yes\r\ny: no\r\n.\r\n")
        self.assertEqual(self.type(b"SPOP nope"), b"(nil)\r\n.\r\n")

    def test_sortedSets(self):
        """
        ZRANGE WITHSCORES as C{member (score)} lines, scores written as
        Redis writes them; without scores one member per line; ZPOPMIN and
        ZSCAN with scores; ZSCORE on one line.
        """
        self.type(b"ZADD z 1 a 2.5 b inf c")
        self.assertEqual(self.type(b"ZRANGE z 0 -1 WITHSCORES"),
                         b"a (1)\r\nb (2.5)\r\nc (inf)\r\n.\r\n")
        self.assertEqual(self.type(b"ZRANGE z 0 -1"), b"a\r\nb\r\nc\r\n.\r\n")
        self.assertEqual(self.type(b"ZMSCORE z b zz"),
                         b"b: 2.5\r\nzz: (nil)\r\n.\r\n")
        self.assertEqual(self.type(b"ZSCORE z b"), b"2.5\r\n")
        self.assertEqual(self.type(b"ZSCAN z 0"),
                         b"0\r\n  a (1)\r\n  b (2.5)\r\n  c (inf)\r\n.\r\n")
        self.assertEqual(self.type(b"ZPOPMIN z"), b"a (1)\r\n.\r\n")

    def test_errors(self):
        """
        An error is still an error line.
        """
        self.type(b"SET s v")
        self.assertTrue(self.type(b"HGETALL s").startswith(b"WRONGTYPE"))

    def test_print(self):
        """
        PRINT shows a hash as C{{field: value}}, a sorted set as
        C{{member (score)}} and a set as a list, quoted as PRINT quotes a
        list's items.
        """
        self.type(b"HSET h f v")
        self.type(b"ZADD z 1.5 m")
        self.type(b"SADD s a b")
        self.assertEqual(sorted(self.type(b"PRINT").split(b"\r\n")),
                         sorted([b"h: {'f': 'v'}", b"z: {'m' (1.5)}",
                                 b"s: ['a', 'b']", b".", b""]))
