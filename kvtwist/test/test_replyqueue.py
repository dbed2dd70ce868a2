"""
Tests for L{kvtwist.protocol.replyqueue}: replies leave in request order,
however late some are ready.
"""

from twisted.internet.defer import Deferred, fail
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.dialects.resp import render
from kvtwist.protocol import replyqueue
from kvtwist.protocol.replyqueue import ReplyQueue
from kvtwist.replies import Later
from kvtwist.test.test_store import PendingRunner


class ReplyQueueTests(SynchronousTestCase):
    """
    L{ReplyQueue} with a list for its output.
    """

    def setUp(self):
        self.sent = []
        self.heavyDone = 0
        self.emptied = 0

        def heavyDone():
            self.heavyDone += 1

        def emptied():
            self.emptied += 1

        self.runner = PendingRunner()
        self.queue = ReplyQueue(self.sent.append, self.runner, render,
                                heavyDone, emptied)

    def test_readyPassThrough(self):
        """
        Ready replies go straight out while nothing waits.
        """
        self.queue.add(b"a")
        self.queue.add(b"b")
        self.assertEqual(self.sent, [b"a", b"b"])
        self.assertFalse(self.queue.waiting)

    def test_orderBehindDeferreds(self):
        """
        Replies behind a Deferred wait for it; Deferreds firing out of
        order still give request order, and the waiting replies leave
        together once their turn comes.
        """
        first, second = Deferred(), Deferred()
        self.queue.later(first, lambda r: r)
        self.queue.add(b"2")
        self.queue.later(second, lambda r: r)
        self.queue.add(b"4")
        self.assertEqual(self.sent, [])
        second.callback(b"3")
        self.assertEqual(self.sent, [])
        first.callback(b"1")
        self.assertEqual(self.sent, [b"1234"])
        self.assertEqual(self.emptied, 1)
        self.queue.add(b"5")
        self.assertEqual(self.sent, [b"1234", b"5"])

    def test_orderBehindLaters(self):
        """
        L{Later} replies keep their place as Deferreds do, mixed with
        Deferreds and ready replies; one that fired before it was queued
        is ready at once; an empty rendering takes its turn too.
        """
        first, second, third = Later(), Deferred(), Later()
        fired = Later()
        fired.fire(b"0")
        self.queue.later(fired, lambda r: r)
        self.assertEqual(self.sent, [b"0"])
        self.queue.later(first, lambda r: r)
        self.queue.later(second, lambda r: r)
        self.queue.add(b"3")
        self.queue.later(third, lambda r: b"")
        self.queue.add(b"4")
        third.fire(b"ignored")
        second.callback(b"2")
        self.assertEqual(self.sent, [b"0"])
        first.fire(b"1")
        self.assertEqual(self.sent, [b"0", b"1234"])
        self.assertFalse(self.queue.waiting)

    def test_largeRenderedElsewhere(self):
        """
        A large reply is rendered through C{runInThread}; a small one at
        once.
        """
        self.patch(replyqueue, "LARGE_REPLY", 2)
        self.queue.later([b"x"], lambda r: render(r))
        self.assertEqual(self.sent, [b"*1\r\n$1\r\nx\r\n"])
        self.queue.later([b"x"] * 3, lambda r: render(r))
        self.queue.add(b"+OK\r\n")
        self.assertEqual(len(self.runner.calls), 1)
        self.runner.runAll()
        self.assertEqual(self.sent[1:],
                         [b"*3\r\n" + b"$1\r\nx\r\n" * 3 + b"+OK\r\n"])

    def test_heavyCounted(self):
        """
        A heavy reply counts in C{heavy} until rendered; the last one
        rendered is announced.
        """
        one, two = Deferred(), Deferred()
        self.queue.later(one, lambda r: r, heavy=True)
        self.queue.later(two, lambda r: r, heavy=True)
        self.assertEqual(self.queue.heavy, 2)
        one.callback(b"a")
        self.assertEqual((self.queue.heavy, self.heavyDone), (1, 0))
        two.callback(b"b")
        self.assertEqual((self.queue.heavy, self.heavyDone), (0, 1))

    def test_renderFailure(self):
        """
        A reply that fails to render is answered with an error in its place
        and logged.
        """
        self.patch(replyqueue, "LARGE_REPLY", 0)
        queue = ReplyQueue(self.sent.append,
                           lambda f, *a: fail(RuntimeError("boom")), render)
        queue.later([b"x"], render)
        queue.add(b"+OK\r\n")
        self.assertEqual(self.sent, [b"-ERR internal error\r\n", b"+OK\r\n"])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_failedDeferred(self):
        """
        A reply whose Deferred fails (a backend's bug) is answered with an
        error in its place and logged; the replies behind it still leave
        and a heavy one stops counting.
        """
        broken = Deferred()
        self.queue.later(broken, lambda r: r, heavy=True)
        self.queue.add(b"+OK\r\n")
        broken.errback(RuntimeError("boom"))
        self.assertEqual(self.sent, [b"-ERR internal error\r\n+OK\r\n"])
        self.assertEqual((self.queue.heavy, self.heavyDone), (0, 1))
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_clearDropsLateReplies(self):
        """
        After L{ReplyQueue.clear}, replies that arrive are dropped.
        """
        late = Deferred()
        self.queue.later(late, lambda r: r)
        self.queue.clear()
        late.callback(b"x")
        self.queue.add(b"y")
        self.assertEqual(self.sent, [])
