"""
Tests for L{kvtwist.protocol.framing}: bytes in, requests out, and the
size caps.
"""

from typing import List

from twisted.trial.unittest import SynchronousTestCase

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
