"""
Tests for L{kvtwist.protocol.writer}: the end-of-turn writer.
"""

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.protocol import writer
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
        # The next turn is ended by a call of its own.
        two.write(b"y")
        one.write(b"c")
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.clock.advance(0)
        self.assertEqual((sent1, sent2), ([b"ab", b"c"], [b"x", b"y"]))

    def test_addedWhileSending(self):
        """
        A writer released while the turn's writers are being sent (by what
        one of them sent) is not lost: a call of its own sends it (on a
        L{Clock}, within the same C{advance}).
        """
        sent = []
        two, _ = self.writer(sent.append)

        def sendOne(data):
            sent.append(data)
            two.write(b"then")

        one, _ = self.writer(sendOne)
        one.write(b"first")
        self.clock.advance(0)
        self.assertEqual(sent, [b"first", b"then"])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.endOfTurn.due, [])

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


class StreamTests(SynchronousTestCase):
    """
    A big reply is given to the transport a slice at a time, as it drains.
    """

    def setUp(self):
        self.clock = Clock()
        self.stats = Counted()
        self.transport = StringTransport()
        # What the transport holds unsent: all it was given since the last
        # drain().
        self.drainedAt = 0
        self.writer = TurnWriter(
            self.transport, EndOfTurn(self.clock), None, self.stats,
            lambda: len(self.transport.value()) - self.drainedAt)

    def drain(self):
        self.drainedAt = len(self.transport.value())
        self.writer.drained()

    def test_slices(self):
        """
        A reply of L{writer.LARGE} bytes or more, held with others, is not
        joined to them: a slice of L{writer.SLICE} bytes is given while
        the transport holds less than that; L{TurnWriter.drained} gives
        more; what is written meanwhile waits behind it; all arrive in
        order and counted.
        """
        big = bytes(range(256)) * (writer.LARGE // 256 + 3)
        self.writer.held += [b"$%d\r\n" % (len(big),), big, b"\r\n"]
        self.writer.heldLarge = True
        self.writer.release()
        self.assertTrue(self.writer.streaming())
        first = self.transport.value()
        self.assertEqual(first, b"$%d\r\n" % (len(big),) + big[:writer.SLICE])
        self.writer.write(b"+PONG\r\n")
        self.assertEqual(self.transport.value(), first)
        self.writer.drained()
        self.assertEqual(self.transport.value(), first)
        drains = 0
        while self.writer.streaming():
            self.drain()
            drains += 1
        # One slice a drain; the last, short, takes the rest with it.
        self.assertEqual(drains, len(big) // writer.SLICE)
        expected = b"$%d\r\n%s\r\n+PONG\r\n" % (len(big), big)
        self.assertEqual(self.transport.value(), expected)
        self.assertEqual(self.stats.netOutput, len(expected))

    def test_manySmall(self):
        """
        Replies that add up to L{writer.LARGE} bytes or more are joined,
        then given a slice at a time too.
        """
        reply = b"+" + b"x" * 1021 + b"\r\n"
        count = writer.LARGE // len(reply) + 1
        self.writer.held += [reply] * count
        self.writer.release()
        self.assertTrue(self.writer.streaming())
        self.assertEqual(len(self.transport.value()), writer.SLICE)
        while self.writer.streaming():
            self.drain()
        self.assertEqual(self.transport.value(), reply * count)
        self.assertEqual(self.stats.netOutput, len(reply) * count)

    def test_finish(self):
        """
        L{TurnWriter.finish} (before a close) gives the transport all that
        is streaming at once.
        """
        big = b"v" * writer.LARGE
        self.writer.write(big)
        self.assertTrue(self.writer.streaming())
        self.writer.held.append(b"+OK\r\n")
        self.writer.finish()
        self.assertFalse(self.writer.streaming())
        self.assertEqual(self.transport.value(), big + b"+OK\r\n")

    def test_discard(self):
        """
        L{TurnWriter.discard} drops what is streaming.
        """
        self.writer.write(b"v" * writer.LARGE)
        self.writer.discard()
        self.assertFalse(self.writer.streaming())
        self.drain()
        self.assertEqual(self.transport.value(), b"v" * writer.SLICE)
