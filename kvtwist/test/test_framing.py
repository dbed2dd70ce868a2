"""
Tests for L{kvtwist.protocol.framing}: bytes in, requests out, and the
size caps.
"""

from typing import List

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist.dialects.resp import encodeCommand
from kvtwist.protocol.framing import (
    Framer, LineTooLong, PREAUTH, ProtocolError, RESP_STARTS,
    authenticated)


def drain(framer: Framer) -> List:
    """
    Take everything L{Framer.next} gives until it returns L{None}: lines as
    they are, each RESP request as its argument list (consumed as it
    comes), L{RESP_STARTS} after switching the framer to RESP.
    """
    out = []
    while True:
        item = framer.next()
        if item is None:
            return out
        if item is RESP_STARTS:
            out.append(item)
            framer.startResp()
        elif isinstance(item, list):
            for args, end in item:
                out.append(args)
            framer.consumed(item[-1][1])
        else:
            out.append(item)


class LineTests(SynchronousTestCase):
    """
    A text connection's input: lines.
    """

    def test_lines(self):
        """
        Lines end with LF, a CR before it dropped; an unfinished line
        waits.
        """
        framer = Framer(authenticated())
        framer.feed(b"SET a 1\r\nGET a\nPRI")
        self.assertEqual(drain(framer), [b"SET a 1", b"GET a"])
        self.assertTrue(framer.partialLine())
        framer.feed(b"NT\r\n")
        self.assertEqual(drain(framer), [b"PRINT"])
        self.assertFalse(framer.partialLine())

    def test_delimiter(self):
        """
        Lines end with the delimiter the framer is given (the
        connection's L{LineReceiver.delimiter}), cut across reads or not.
        """
        framer = Framer(authenticated(), delimiter=b"\r\n")
        framer.feed(b"a\nb\r\nc\r")
        self.assertEqual(drain(framer), [b"a\nb"])
        self.assertFalse(framer.feed(b"d"))
        framer.feed(b"\r\n")
        self.assertEqual(drain(framer), [b"c\rd"])

    def test_unfinishedLineKeptAside(self):
        """
        Reads that bring no line end are kept aside, not parsed: L{feed}
        says there is nothing new.
        """
        framer = Framer(authenticated())
        self.assertTrue(framer.feed(b"SET k "))
        self.assertEqual(drain(framer), [])
        for piece in (b"a", b"b", b"c"):
            self.assertFalse(framer.feed(piece))
        self.assertEqual(framer.buffered(), 9)
        self.assertTrue(framer.feed(b"\r\n"))
        self.assertEqual(drain(framer), [b"SET k abc"])
        self.assertEqual(framer.buffered(), 0)

    def test_lineTooLong(self):
        """
        A line longer than the limit, ended or not, raises L{LineTooLong}
        with the input from its start; before authentication the limit is
        L{PREAUTH}'s.
        """
        framer = Framer(authenticated(inline=10))
        framer.feed(b"0123456789\n")
        self.assertEqual(drain(framer), [b"0123456789"])
        framer.feed(b"0123456789a\nnext\n")
        e = self.assertRaises(LineTooLong, framer.next)
        self.assertEqual(e.line, b"0123456789a\nnext\n")
        framer = Framer(authenticated(inline=10))
        framer.feed(b"0123456")
        self.assertIsNone(framer.next())
        framer.feed(b"7890")
        self.assertRaises(LineTooLong, framer.next)
        framer = Framer(PREAUTH)
        framer.feed(b"x" * (PREAUTH.inline + 1))
        self.assertRaises(LineTooLong, framer.next)

    def test_take(self):
        """
        L{Framer.take} hands over the unfinished input and forgets it.
        """
        framer = Framer(authenticated())
        framer.feed(b"GET a\nSET b ")
        drain(framer)
        framer.feed(b"2")
        self.assertEqual(framer.take(), b"SET b 2")
        self.assertEqual(framer.buffered(), 0)
        self.assertFalse(framer.partialLine())


class RespTests(SynchronousTestCase):
    """
    RESP input.
    """

    def test_switch(self):
        """
        On a text connection, a request starting with C{*} is announced
        with L{RESP_STARTS}; after L{Framer.startResp} it comes as a batch.
        """
        framer = Framer(authenticated())
        framer.feed(b"PING\r\n" + encodeCommand("GET", "a") +
                    encodeCommand("GET", "b"))
        self.assertEqual(drain(framer),
                         [b"PING", RESP_STARTS, [b"GET", b"a"],
                          [b"GET", b"b"]])
        self.assertTrue(framer.resp)

    def test_takeWhole(self):
        """
        L{Framer.takeWhole} takes the whole requests a read starts with
        when no input waits; it takes nothing, and changes nothing, when
        input waits (unparsed, kept aside or half parsed), on a text
        connection, or when the read starts with no whole request.
        """
        framer = Framer(authenticated())
        framer.startResp()
        data = encodeCommand("GET", "a") + encodeCommand("GET", "b")
        batch = framer.takeWhole(data + b"*2\r\n$3\r\nGET")
        self.assertEqual([args for args, end in batch],
                         [[b"GET", b"a"], [b"GET", b"b"]])
        framer.consumed(batch[0][1])
        # Input waits: nothing taken; feeding goes on as before.
        self.assertIsNone(framer.takeWhole(encodeCommand("PING")))
        framer.consumed(batch[-1][1])
        self.assertIsNone(framer.takeWhole(b"\r\n$1\r\nc\r\n"))
        framer.feed(b"\r\n$1\r\nc\r\n")
        self.assertEqual(drain(framer), [[b"GET", b"c"]])
        self.assertIsNone(framer.takeWhole(b"*1\r\n$4\r\nPI"))
        framer.feed(b"*1\r\n$4\r\nPI")
        self.assertEqual(drain(framer), [])
        self.assertIsNone(framer.takeWhole(encodeCommand("ECHO", "x")))
        framer.feed(b"NG\r\n" + encodeCommand("ECHO", "x"))
        self.assertEqual(drain(framer), [[b"PING"], [b"ECHO", b"x"]])
        text = Framer(authenticated())
        self.assertIsNone(text.takeWhole(encodeCommand("PING")))

    def test_inlineStaysResp(self):
        """
        On a RESP connection a line is an inline command: split into words
        as Redis splits them, in a batch of its own; blank lines are
        skipped; broken quotes and long lines are protocol errors.
        """
        framer = Framer(authenticated(inline=20))
        framer.startResp()
        framer.feed(b'SET k "a b"\r\n\r\n \n' + encodeCommand("GET", "k") +
                    b"PING\n")
        self.assertEqual(drain(framer), [[b"SET", b"k", b"a b"],
                                         [b"GET", b"k"], [b"PING"]])
        for wire, error in [
                (b'SET k "v\r\n', "unbalanced quotes in request"),
                (b"x" * 21, "too big inline request"),
                (b"x" * 21 + b"\n", "too big inline request")]:
            framer = Framer(authenticated(inline=20))
            framer.startResp()
            framer.feed(wire)
            e = self.assertRaises(ProtocolError, drain, framer)
            self.assertEqual(str(e), "ERR Protocol error: " + error)

    def test_consumedPart(self):
        """
        Requests of a batch after the one L{Framer.consumed} names come
        again.
        """
        framer = Framer(authenticated())
        framer.startResp()
        wire = b"".join(encodeCommand("GET", str(i)) for i in range(3))
        framer.feed(wire)
        batch = framer.next()
        self.assertEqual([args for args, _ in batch],
                         [[b"GET", b"0"], [b"GET", b"1"], [b"GET", b"2"]])
        framer.consumed(batch[0][1])
        self.assertEqual(drain(framer), [[b"GET", b"1"], [b"GET", b"2"]])

    def test_consumedSaysDrained(self):
        """
        L{Framer.consumed} says whether the requests run were all of the
        input: after the last request of a batch, yes, and L{Framer.next}
        then finds nothing; after an earlier one, or while part of a
        request waits for the rest, no.
        """
        framer = Framer(authenticated())
        framer.startResp()
        framer.feed(encodeCommand("GET", "a") + encodeCommand("GET", "b"))
        batch = framer.next()
        self.assertFalse(framer.consumed(batch[0][1]))
        batch = framer.next()
        self.assertEqual([args for args, _ in batch], [[b"GET", b"b"]])
        self.assertTrue(framer.consumed(batch[-1][1]))
        self.assertIsNone(framer.next())
        whole = encodeCommand("GET", "c")
        framer.feed(whole + encodeCommand("GET", "d")[:5])
        batch = framer.next()
        self.assertEqual([args for args, _ in batch], [[b"GET", b"c"]])
        self.assertFalse(framer.consumed(batch[-1][1]))

    def test_emptyRequestsSkipped(self):
        """
        C{*0} and C{*-1} are skipped, as Redis does.
        """
        framer = Framer(authenticated())
        framer.startResp()
        framer.feed(b"*0\r\n*-1\r\n" + encodeCommand("PING"))
        self.assertEqual(drain(framer), [[b"PING"]])

    def test_everyCut(self):
        """
        A pipeline cut anywhere into two reads gives the same requests,
        including values holding CR LF (which the one-pass splitter leaves
        to the careful parser).
        """
        wire = (encodeCommand("SET", "k\r\n", "v\x00") +
                encodeCommand("GET", "k") + encodeCommand("DEL", "k"))
        expected = [[b"SET", b"k\r\n", b"v\x00"], [b"GET", b"k"],
                    [b"DEL", b"k"]]
        for cut in range(len(wire) + 1):
            framer = Framer(authenticated())
            framer.startResp()
            got = []
            for piece in (wire[:cut], wire[cut:]):
                framer.feed(piece)
                got += drain(framer)
            self.assertEqual(got, expected, cut)
            self.assertEqual(framer.buffered(), 0)

    def test_framingErrors(self):
        """
        Broken framing raises L{ProtocolError} with Redis's text.
        """
        cases = [
            (b"*2\r\n$3\r\nGET\r\n:1\r\n",
             "ERR Protocol error: expected '$', got ':'"),
            (b"*x\r\n", "ERR Protocol error: invalid multibulk length"),
            (b"*1\r\n$x\r\n", "ERR Protocol error: invalid bulk length"),
            (b"*1\r\n$1\r\nab\r\n", "ERR Protocol error: invalid bulk format"),
            (b"*1\r\n$" + b"1" * 40, "ERR Protocol error: invalid bulk length"),
        ]
        for wire, message in cases:
            framer = Framer(authenticated())
            framer.startResp()
            framer.feed(wire)
            e = self.assertRaises(ProtocolError, drain, framer)
            self.assertEqual(str(e), message)

    def test_limits(self):
        """
        Bulk lengths and argument counts over the limits are refused from
        their header, before their bytes come; L{Framer.limits} may be
        lifted between requests.
        """
        framer = Framer(PREAUTH)
        framer.startResp()
        framer.feed(b"*11\r\n")
        self.assertRaises(ProtocolError, framer.next)
        framer = Framer(PREAUTH)
        framer.startResp()
        framer.feed(b"*2\r\n$3\r\nSET\r\n$16385\r\n")
        self.assertRaises(ProtocolError, framer.next)
        framer = Framer(PREAUTH)
        framer.startResp()
        framer.feed(encodeCommand("AUTH", "pw") +
                    encodeCommand("SET", "k", "v" * 20000))
        batch = framer.next()
        self.assertEqual(batch[0][0], [b"AUTH", b"pw"])
        framer.consumed(batch[0][1])
        framer.limits = authenticated()
        self.assertEqual(drain(framer), [[b"SET", b"k", b"v" * 20000]])


def reads(data: bytes, size: int):
    """
    C{data} cut into reads of C{size} bytes.
    """
    return [data[i:i + size] for i in range(0, len(data), size)]


class LongRequestTests(SynchronousTestCase):
    """
    A request that spans many reads is parsed once, however it is cut.
    """

    def scanned(self, wire: bytes, readSize: int):
        """
        Feed C{wire} to a RESP framer in reads of C{readSize} bytes,
        counting the bytes the parsers of L{kvtwist.dialects.resp} are
        given to look at (from the position they are asked to parse at to
        the end of their buffer).

        @return: C{(requests, bytes looked at)}.
        """
        from kvtwist.dialects import resp
        seen = [0]
        for name in ("parseMany", "parseCount", "parseBulks",
                     "parseCommand"):
            original = getattr(resp, name)

            def counting(buf, pos, *args, _original=original):
                seen[0] += len(buf) - pos
                return _original(buf, pos, *args)

            self.patch(resp, name, counting)
        framer = Framer(authenticated())
        framer.startResp()
        got = []
        for piece in reads(wire, readSize):
            if framer.feed(piece):
                got += drain(framer)
        return got, seen[0]

    def test_linearInTheInput(self):
        """
        An MSET of 20,000 arguments cut into 100-byte reads: the parsers
        look at each byte a bounded number of times (never again from the
        first argument on each read), and the request comes out whole.
        """
        args = [b"MSET"]
        for i in range(10000):
            args += [b"key:%d" % (i,), b"value:%d" % (i,)]
        wire = encodeCommand(*args)
        got, seen = self.scanned(wire, 100)
        self.assertEqual(got, [args])
        self.assertLess(seen, 3 * len(wire))

    def test_bigBulkIntoOneBuffer(self):
        """
        A bulk string bigger than L{BIG_BULK} cut into small reads goes
        into one buffer of its size: nothing is kept aside to be joined
        while it comes; the value and the requests after it are whole.
        """
        from kvtwist.protocol import bulk, framing
        made = []

        class Recording(bulk.BulkBufferPython):
            def __init__(self, size):
                bulk.BulkBufferPython.__init__(self, size)
                made.append(size)

        self.patch(framing, "BulkBuffer", Recording)
        value = bytes(range(256)) * 400
        wire = (encodeCommand("SET", "k", value) + encodeCommand("GET", "k"))
        framer = Framer(authenticated())
        framer.startResp()
        got = []
        for piece in reads(wire, 1000):
            if framer.feed(piece):
                got += drain(framer)
            if len(got) == 0:
                self.assertLess(framer.buffered(), 1000)
        self.assertEqual(got, [[b"SET", b"k", value], [b"GET", b"k"]])
        self.assertEqual(made, [len(value)])

    def test_bigBulkLineEnd(self):
        """
        A big bulk string must be followed by CR LF, which may come in a
        read of its own, a byte at a time.
        """
        value = b"v" * 100000
        head = b"*2\r\n$3\r\nGET\r\n$%d\r\n" % (len(value),)
        framer = Framer(authenticated())
        framer.startResp()
        for piece in [head, value[:10], value[10:], b"\r", b"\n"]:
            framer.feed(piece)
            got = drain(framer)
        self.assertEqual(got, [[b"GET", value]])
        framer = Framer(authenticated())
        framer.startResp()
        framer.feed(head + value[:10])
        drain(framer)
        framer.feed(value[10:] + b"xy")
        e = self.assertRaises(ProtocolError, drain, framer)
        self.assertEqual(str(e), "ERR Protocol error: invalid bulk format")

    def test_discardBigBulk(self):
        """
        An upload cut short and discarded (the client went away) leaves
        nothing behind: the framer starts afresh.
        """
        framer = Framer(authenticated())
        framer.startResp()
        framer.feed(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1000000\r\n" +
                    b"x" * 50000)
        drain(framer)
        framer.discard()
        self.assertEqual(framer.buffered(), 0)
        framer.feed(encodeCommand("PING"))
        self.assertEqual(drain(framer), [[b"PING"]])


class BulkBufferTests(SynchronousTestCase):
    """
    L{kvtwist.protocol.bulk}'s buffers, the C one where it is built and the
    Python one.
    """

    def kinds(self):
        from kvtwist.protocol import bulk
        kinds = [bulk.BulkBufferPython]
        if bulk.BulkBuffer is not bulk.BulkBufferPython:
            kinds.append(bulk.BulkBuffer)
        return kinds

    def test_fill(self):
        """
        Writes fill it up to its size and say how much they took; its
        value is what was written, once full.
        """
        for kind in self.kinds():
            buf = kind(7)
            self.assertEqual(buf.remaining, 7)
            self.assertEqual(buf.write(b"..abc", 2), 3)
            self.assertRaises(ValueError, buf.value)
            self.assertEqual(buf.write(b""), 0)
            self.assertEqual(buf.write(b"defgh"), 4)
            self.assertEqual(buf.remaining, 0)
            self.assertEqual(buf.write(b"more"), 0)
            value = buf.value()
            self.assertEqual((type(value), value), (bytes, b"abcdefg"), kind)
            self.assertRaises(ValueError, buf.value)

    def test_close(self):
        """
        After C{close} its value is gone.
        """
        for kind in self.kinds():
            buf = kind(3)
            buf.write(b"abc")
            buf.close()
            self.assertRaises(ValueError, buf.value)
            buf.close()

    def test_empty(self):
        """
        A buffer of size 0 is full at once.
        """
        for kind in self.kinds():
            self.assertEqual(kind(0).value(), b"")


#: The size of the buffers of L{AdoptTests}.
SIZE = 1 << 20


class AdoptTests(SynchronousTestCase):
    """
    L{kvtwist.protocol.bulk.BulkBufferPython} given the L{bytes} object to
    fill (L{bulk.allocate}): the value goes into it, with no copy at the
    end.
    """

    def setUp(self):
        from kvtwist.protocol import bulk
        if bulk._ffi is None:
            raise SkipTest("no cffi: the buffer copies at the end")
        self.bulk = bulk

    def test_allocate(self):
        """
        L{bulk.allocate} makes a new L{bytes} object of zero bytes.
        """
        storage = self.bulk.allocate(SIZE)
        self.assertEqual((type(storage), storage), (bytes, bytes(SIZE)))

    def test_small(self):
        """
        A buffer smaller than L{bulk.ADOPT_MIN} wants no storage.
        """
        buf = self.bulk.BulkBufferPython(self.bulk.ADOPT_MIN - 1)
        self.assertFalse(buf.wantsStorage())
        self.assertFalse(buf.adopt(self.bulk.allocate(self.bulk.ADOPT_MIN - 1)))

    def test_adopt(self):
        """
        What was received before C{adopt} is copied into the storage, what
        comes after goes into it, and the value is the storage itself.
        """
        buf = self.bulk.BulkBufferPython(SIZE)
        head = bytes(range(256)) * 100
        self.assertEqual(buf.write(b"xx" + head, 2), len(head))
        storage = self.bulk.allocate(SIZE)
        self.assertTrue(buf.adopt(storage))
        self.assertFalse(buf.wantsStorage())
        tail = b"t" * (SIZE - len(head))
        self.assertEqual(buf.write(tail + b"more"), len(tail))
        self.assertEqual(buf.remaining, 0)
        value = buf.value()
        self.assertIs(value, storage)
        self.assertEqual(value, head + tail)

    def test_adoptRefused(self):
        """
        C{adopt} refuses (and the buffer copies at the end as before)
        storage of the wrong size, none, or storage once the buffer is
        full or closed.
        """
        buf = self.bulk.BulkBufferPython(SIZE)
        self.assertTrue(buf.wantsStorage())
        buf.write(b"a" * 1000)
        self.assertFalse(buf.adopt(None))
        self.assertFalse(buf.adopt(self.bulk.allocate(SIZE - 1)))
        self.assertFalse(buf.adopt(bytearray(SIZE)))
        buf.write(b"b" * (SIZE - 1000))
        self.assertFalse(buf.wantsStorage())
        self.assertFalse(buf.adopt(self.bulk.allocate(SIZE)))
        self.assertEqual(buf.value(), b"a" * 1000 + b"b" * (SIZE - 1000))
        closed = self.bulk.BulkBufferPython(SIZE)
        closed.close()
        self.assertFalse(closed.wantsStorage())
        self.assertFalse(closed.adopt(self.bulk.allocate(SIZE)))
