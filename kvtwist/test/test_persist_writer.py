"""
Tests for L{kvtwist.persist.writer} and L{kvtwist.persist.threads}: the log
writer's own thread.

The thread tests run a real thread (that is what they test) and wait for
it through the reactor trial runs, never on the clock.
"""

import threading

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import TestCase

from kvtwist.persist.threads import DedicatedThread


class DedicatedThreadTests(TestCase):
    """
    L{DedicatedThread} runs work in order on one thread of its own.
    """

    @inlineCallbacks
    def test_oneThreadInOrder(self):
        """
        Every piece of work runs on the same thread, named after the name
        given, not the reactor's; in the order given; results come back on the
        reactor thread; the thread is a daemon (a write stuck in the
        kernel can't hold the process at exit).
        """
        thread = DedicatedThread("test writer")
        self.addCleanup(thread.stop)
        seen = []

        def work(n):
            current = threading.current_thread()
            seen.append((n, current.name, current.daemon))
            return n * 2

        results = yield thread(work, 1)
        more = yield thread(work, 2)
        self.assertEqual((results, more), (2, 4))
        self.assertEqual([n for n, _, _ in seen], [1, 2])
        names = {name for _, name, _ in seen}
        self.assertEqual(len(names), 1)
        self.assertIn("test writer", names.pop())
        self.assertEqual({daemon for _, _, daemon in seen}, {True})
        self.assertNotEqual(seen[0][1], threading.current_thread().name)

    @inlineCallbacks
    def test_failurePropagates(self):
        """
        An exception in the work fails the Deferred; the thread goes on
        working.
        """
        thread = DedicatedThread("test writer")
        self.addCleanup(thread.stop)

        def fail():
            raise OSError(28, "No space left on device")

        yield self.assertFailure(thread(fail), OSError)
        self.assertEqual((yield thread(lambda: "still")), "still")

    @inlineCallbacks
    def test_stopAndRestart(self):
        """
        Once stopped, the next piece of work starts a new thread.
        """
        thread = DedicatedThread("test writer")
        yield thread(lambda: None)
        thread.stop()
        self.addCleanup(thread.stop)
        self.assertEqual((yield thread(lambda: 3)), 3)
