"""
Tests for L{benchmarks.resp}: encoding requests, parsing replies and C{INFO}.
"""

from twisted.trial.unittest import SynchronousTestCase

from benchmarks.resp import (Incomplete, ReplyError, bgsaveInProgress,
                             encodeCommand, parseInfo, parseReply)


class InfoTests(SynchronousTestCase):
    """
    L{parseInfo} and L{bgsaveInProgress}.
    """

    def test_parse(self):
        """
        Section titles and blank lines are skipped; values keep colons.
        """
        info = parseInfo("# Persistence\r\nrdb_bgsave_in_progress:1"
                         "\r\n\r\n# Keyspace\r\ndb0:keys=3,x=a:b\r\n")
        self.assertEqual(info, {"rdb_bgsave_in_progress": "1",
                                "db0": "keys=3,x=a:b"})

    def test_inProgress(self):
        """
        The Redis field name and the alternatives are understood.
        """
        self.assertTrue(bgsaveInProgress(
            {"rdb_bgsave_in_progress": "1"}))
        self.assertFalse(bgsaveInProgress(
            {"rdb_bgsave_in_progress": "0"}))
        self.assertTrue(bgsaveInProgress({"bgsave_in_progress": "1"}))

    def test_unknown(self):
        """
        L{None} when no known field is present.
        """
        self.assertIsNone(bgsaveInProgress({"loading": "0"}))


class RespTests(SynchronousTestCase):
    """
    L{encodeCommand} and L{parseReply}.
    """

    def test_encode(self):
        """
        Strings, bytes and ints become bulk strings.
        """
        self.assertEqual(encodeCommand("SET", b"k", 12),
                         b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n")

    def test_replies(self):
        """
        Status, error, integer, bulk, null and nested arrays.
        """
        buf = (b"+OK\r\n-ERR no\r\n:42\r\n$3\r\nabc\r\n$-1\r\n"
               b"*2\r\n:1\r\n*1\r\n$0\r\n\r\n")
        pos = 0
        values = []
        while pos < len(buf):
            value, pos = parseReply(buf, pos)
            values.append(value)
        self.assertEqual(values[0], b"OK")
        self.assertIsInstance(values[1], ReplyError)
        self.assertEqual(str(values[1]), "ERR no")
        self.assertEqual(values[2:], [42, b"abc", None, [1, [b""]]])

    def test_resp3(self):
        """
        RESP3 verbatim strings and maps (C{INFO} after C{HELLO 3}).
        """
        self.assertEqual(parseReply(b"=7\r\ntxt:a:1\r\n"),
                         (b"txt:a:1", 13))
        self.assertEqual(parseReply(b"%1\r\n+a\r\n:1\r\n")[0],
                         [b"a", 1])

    def test_incomplete(self):
        """
        A reply cut short raises L{Incomplete}.
        """
        for partial in (b"+OK", b"$3\r\nab", b"*2\r\n:1\r\n"):
            self.assertRaises(Incomplete, parseReply, partial)
