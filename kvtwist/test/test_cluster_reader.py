"""
Tests for L{kvtwist.backends.cluster.reader}: a node's RESP2 and RESP3
replies read into neutral replies, whatever pieces they come in.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.backends.cluster.reader import (
    Push, ReplyFormatError, ReplyReader, encode, readReply)
from kvtwist.dialects import resp
from kvtwist.replies import OK, Error, Status, Verbatim


class ReadReplyTests(SynchronousTestCase):
    """
    One reply of each kind.
    """

    def read(self, data: bytes):
        reply, end = readReply(data, 0)
        self.assertEqual(end, len(data))
        return reply

    def test_simple(self):
        """
        Status, error, integer, bulk, nulls.
        """
        self.assertIs(self.read(b"+OK\r\n"), OK)
        status = self.read(b"+string\r\n")
        self.assertEqual((status, type(status)), ("string", Status))
        error = self.read(b"-WRONGTYPE no\r\n")
        self.assertEqual((error, type(error)), ("WRONGTYPE no", Error))
        self.assertEqual(self.read(b":-42\r\n"), -42)
        self.assertEqual(self.read(b"$5\r\na\r\nb\x00\r\n"), b"a\r\nb\x00")
        self.assertEqual(self.read(b"$0\r\n\r\n"), b"")
        self.assertIsNone(self.read(b"$-1\r\n"))
        self.assertIsNone(self.read(b"*-1\r\n"))
        self.assertIsNone(self.read(b"_\r\n"))

    def test_aggregates(self):
        """
        Arrays (nested), sets, maps; attributes are dropped.
        """
        self.assertEqual(self.read(b"*2\r\n$1\r\na\r\n*1\r\n:1\r\n"),
                         [b"a", [1]])
        self.assertEqual(self.read(b"~2\r\n$1\r\na\r\n$1\r\nb\r\n"),
                         [b"a", b"b"])
        self.assertEqual(self.read(b"%2\r\n$1\r\nf\r\n$1\r\nv\r\n"
                                   b"$1\r\ng\r\n:2\r\n"),
                         {b"f": b"v", b"g": 2})
        self.assertEqual(self.read(b"|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"),
                         b"v")
        push = self.read(b">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n")
        self.assertIsInstance(push, Push)
        self.assertEqual(push, [b"message", b"x"])

    def test_resp3Scalars(self):
        """
        Doubles, booleans, big numbers, verbatim strings, blob errors.
        """
        self.assertEqual(self.read(b",1.5\r\n"), 1.5)
        self.assertEqual(self.read(b",inf\r\n"), float("inf"))
        self.assertIs(self.read(b"#t\r\n"), True)
        self.assertIs(self.read(b"#f\r\n"), False)
        self.assertEqual(self.read(b"(12345678901234567890\r\n"),
                         12345678901234567890)
        verbatim = self.read(b"=9\r\ntxt:hello\r\n")
        self.assertEqual((verbatim, type(verbatim)), (b"hello", Verbatim))
        blob = self.read(b"!7\r\nERR bad\r\n")
        self.assertEqual((blob, type(blob)), ("ERR bad", Error))

    def test_roundTrip(self):
        """
        What kvtwist's renderer writes in RESP3, this reads back.
        """
        for reply in [b"x", 7, None, [b"a", [1, None]], {b"k": [b"v"]},
                      OK, Error("ERR e"), 2.5, True,
                      Verbatim(b"line\r\nline")]:
            self.assertEqual(self.read(resp.render(reply, 3)), reply)

    def test_encode(self):
        """
        A request is an array of bulk strings.
        """
        self.assertEqual(encode([b"SET", b"k", b""]),
                         b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n")


class ReaderTests(SynchronousTestCase):
    """
    L{ReplyReader}: replies cut anywhere.
    """

    stream = (b"+OK\r\n$3\r\nabc\r\n*2\r\n:1\r\n%1\r\n$1\r\nk\r\n$1\r\nv\r\n"
              b"_\r\n")
    replies = [OK, b"abc", [1, {b"k": b"v"}], None]

    def test_everySplit(self):
        """
        However the bytes are cut in two, the same replies come, each
        once.
        """
        for cut in range(len(self.stream) + 1):
            reader = ReplyReader()
            got = reader.feed(self.stream[:cut])
            got += reader.feed(self.stream[cut:])
            self.assertEqual(got, self.replies, cut)
            self.assertEqual(reader.buffered(), 0)

    def test_byteByByte(self):
        """
        One byte at a time.
        """
        reader = ReplyReader()
        got = []
        for i in range(len(self.stream)):
            got += reader.feed(self.stream[i:i + 1])
        self.assertEqual(got, self.replies)

    def test_bigBulk(self):
        """
        A big bulk string comes in many pieces: it is gathered, then read
        once.
        """
        value = b"x" * 1000000
        data = b"$%d\r\n%s\r\n+OK\r\n" % (len(value), value)
        reader = ReplyReader()
        got = []
        for i in range(0, len(data), 65536):
            got += reader.feed(data[i:i + 65536])
        self.assertEqual(got, [value, OK])
        self.assertEqual(reader.buffered(), 0)

    def test_notResp(self):
        """
        What is not RESP is an error.
        """
        self.assertRaises(ReplyFormatError, ReplyReader().feed,
                          b"HTTP/1.1 400 Bad Request\r\n")
        self.assertRaises(ReplyFormatError, ReplyReader().feed,
                          b":notanumber\r\n")
