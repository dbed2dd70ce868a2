"""
Tests for L{kvtwist.protocol.writer}: the end-of-turn writer.
"""

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.protocol.writer import EndOfTurn, TurnWriter


class Counted:
    """
    The part of L{kvtwist.stats.Stats} a writer counts in.
    """

    netOutput = 0


class TurnWriterTests(SynchronousTestCase):
    """
    L{TurnWriter} with and without a direct sender, on a L{Clock}.
    """

    def setUp(self):
        self.clock = Clock()
        self.endOfTurn = EndOfTurn(self.clock)
        self.stats = Counted()

    def writer(self, direct=None):
        transport = StringTransport()
        return TurnWriter(transport, self.endOfTurn, direct,
                          self.stats), transport

    def test_withoutDirectSender(self):
        """
        Without a direct sender, what is released is written to the
        transport at once, in one piece.
        """
        writer, transport = self.writer()
        writer.held += [b"a", b"b"]
        self.assertEqual(transport.value(), b"")
        writer.release()
        self.assertEqual(transport.value(), b"ab")
        writer.write(b"c")
        self.assertEqual(transport.value(), b"abc")
        self.assertEqual(self.stats.netOutput, 3)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_heldToEndOfTurn(self):
        """
        With a direct sender, replies of many reads are held until the end
        of the turn, then sent in one piece; one call serves every writer.
        """
        sent1, sent2 = [], []
        one, _ = self.writer(sent1.append)
        two, _ = self.writer(sent2.append)
        one.write(b"a")
        two.write(b"x")
        one.write(b"b")
        self.assertEqual((sent1, sent2), ([], []))
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(0)
        self.assertEqual((sent1, sent2), ([b"ab"], [b"x"]))
        self.clock.advance(0)
        self.assertEqual((sent1, sent2), ([b"ab"], [b"x"]))

    def test_flushBeforeTheEnd(self):
        """
        L{TurnWriter.flush} sends what is held at once (before a close);
        the end of the turn then has nothing more to send.
        """
        sent = []
        writer, _ = self.writer(sent.append)
        writer.write(b"bye")
        writer.flush()
        self.assertEqual(sent, [b"bye"])
        self.clock.advance(0)
        self.assertEqual(sent, [b"bye"])

    def test_discard(self):
        """
        After L{TurnWriter.discard} nothing held or written later is sent.
        """
        sent = []
        writer, _ = self.writer(sent.append)
        writer.write(b"a")
        writer.discard()
        writer.write(b"b")
        self.clock.advance(0)
        self.assertEqual(sent, [])
        self.assertEqual(writer.held, [])

    def test_failingWriter(self):
        """
        A writer that fails to send is logged; the others still send.
        """
        def broken(data):
            raise OSError("gone")

        bad, _ = self.writer(broken)
        sent = []
        good, _ = self.writer(sent.append)
        bad.write(b"a")
        good.write(b"b")
        self.clock.advance(0)
        self.assertEqual(sent, [b"b"])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
