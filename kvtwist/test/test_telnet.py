"""
Tests for L{kvtwist.protocol.telnet}: Telnet commands taken out of a text
connection's input.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.protocol.telnet import (
    CANCEL_LINE, ERASE_CHAR, YES, TelnetEvent, TelnetFilter)

WILL_TM = TelnetEvent(reply=b"\xff\xfb\x06")


class TelnetFilterTests(SynchronousTestCase):
    """
    L{TelnetFilter.feed}.
    """

    def test_plainData(self):
        """
        Data without IAC comes through as it is, in one piece.
        """
        self.assertEqual(TelnetFilter().feed(b"GET k\r\n"),
                         ([b"GET k\r\n"], None))

    def test_ctrlC(self):
        """
        Ctrl+C as telnet sends it (IAC IP, IAC DO TIMING-MARK): the line is
        cancelled, the timing mark answered, in their places.
        """
        self.assertEqual(
            TelnetFilter().feed(b"GET a\xff\xf4\xff\xfd\x06GET b\r\n"),
            ([b"GET a", CANCEL_LINE, WILL_TM, b"GET b\r\n"], None))

    def test_commands(self):
        """
        BRK and EL cancel the line, EC erases a character, AYT is
        answered, IAC IAC is a 255 byte, other commands vanish; a 255 byte
        before a byte that is no command is data.
        """
        f = TelnetFilter()
        self.assertEqual(f.feed(b"a\xff\xf3b\xff\xf8c\xff\xf7d\xff\xf6"),
                         ([b"a", CANCEL_LINE, b"b", CANCEL_LINE, b"c",
                           ERASE_CHAR, b"d", YES], None))
        self.assertEqual(f.feed(b"x\xff\xffy\xff\xf1\xff\xf2\xff\xf9z"),
                         ([b"x\xffyz"], None))
        self.assertEqual(f.feed(b"caf\xff\xe9\xff\n"),
                         ([b"caf\xff\xe9\xff\n"], None))

    def test_negotiations(self):
        """
        Every option is refused (DO answered WONT, WILL answered DONT);
        WONT and DONT are not answered; a subnegotiation is dropped, IAC
        IAC inside it included.
        """
        f = TelnetFilter()
        self.assertEqual(
            f.feed(b"\xff\xfd\x01\xff\xfb\x1f\xff\xfc\x01\xff\xfe\x03"
                   b"\xff\xfa\x1f\x00\x50\xff\xff\x00\x18\xff\xf0ok"),
            ([TelnetEvent(reply=b"\xff\xfc\x01"),
              TelnetEvent(reply=b"\xff\xfe\x1f"), b"ok"], None))

    def test_cutAcrossReads(self):
        """
        A command cut across reads is recognised; the filter says it is
        inside one meanwhile.
        """
        f = TelnetFilter()
        got = []
        for byte in b"a\xff\xfd\x06\xff\xfa\x18\x00x\xff\xf0b":
            got += f.feed(bytes([byte]))[0]
        self.assertEqual(got, [b"a", WILL_TM, b"b"])
        f.feed(b"\xff")
        self.assertTrue(f.busy())
        f.feed(b"\xf1")
        self.assertFalse(f.busy())

    def test_stopsAtResp(self):
        """
        A line starting with C{*} begins RESP: filtering stops there, and
        says where.
        """
        f = TelnetFilter()
        wire = b"PING\xff\xf1\r\n*1\r\n$2\r\n\xff\xf4\r\n"
        self.assertEqual(f.feed(wire), ([b"PING\r\n"], wire.index(b"*")))
        self.assertEqual(f.feed(b"*1\r\n"), ([], 0))
        self.assertEqual(f.feed(b"*1\r\n", atLineStart=False),
                         ([b"*1\r\n"], None))
