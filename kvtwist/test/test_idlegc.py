"""
Tests for L{kvtwist.idlegc}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from kvtwist import idlegc
from kvtwist.server import Stats


class _Step:
    def __init__(self, done):
        self.major_is_done = done


class FakeCollector:
    """
    A C{gc.collect_step} whose major collection takes C{steps} steps.
    """

    def __init__(self, steps: int = 3):
        self.steps = steps
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return _Step(self.calls % self.steps == 0)


class IdleCollectorTests(SynchronousTestCase):
    """
    L{idlegc.IdleCollector} collects once the server is quiet after busy
    traffic, one step per reactor turn.
    """

    def setUp(self):
        self.clock = Clock()
        self.stats = Stats(0.0)
        self.step = FakeCollector(steps=3)
        self.collector = idlegc.IdleCollector(
            self.stats, clock=self.clock, interval=1.0, threshold=1000,
            collectStep=self.step)
        self.collector.startService()
        self.addCleanup(self.collector.stopService)

    def traffic(self, size: int):
        self.stats.netInput += size

    def test_quietAfterBusy(self):
        """
        Traffic over the threshold then a quiet interval starts a
        collection; each step after the first is a new delayed call (a
        reactor turn of its own), not a loop.
        """
        self.traffic(5000)
        self.clock.advance(1.0)  # busy: no collection
        self.assertEqual(self.step.calls, 0)
        self.collector.check()  # the next look finds it quiet
        self.assertEqual(self.step.calls, 1)
        self.assertEqual(self.stats.idleCollections, 0)
        pending = [c for c in self.clock.getDelayedCalls()
                   if c is not self.collector._loop.call]
        self.assertEqual([c.getTime() for c in pending], [1.0])
        self.clock.advance(0)
        self.assertEqual(self.step.calls, 3)
        self.assertEqual(self.stats.idleCollections, 1)
        self.assertEqual(self.clock.getDelayedCalls(),
                         [self.collector._loop.call])

    def test_busyServerNotInterrupted(self):
        """
        While traffic keeps coming, no collection starts.
        """
        for _ in range(5):
            self.traffic(5000)
            self.clock.advance(1.0)
        self.assertEqual(self.step.calls, 0)

    def test_littleTraffic(self):
        """
        Traffic under the threshold since the last collection starts none,
        however quiet the server then is.
        """
        self.traffic(999)
        self.clock.advance(1.0)
        self.clock.advance(5.0)
        self.assertEqual(self.step.calls, 0)

    def test_onceUntilMoreTraffic(self):
        """
        After a collection, the next one waits for another threshold of
        traffic.
        """
        self.stats.netOutput += 5000
        self.clock.advance(1.0)
        self.clock.advance(1.0)
        self.clock.pump([0, 0])
        self.assertEqual(self.stats.idleCollections, 1)
        self.clock.pump([1.0] * 5)
        self.assertEqual(self.stats.idleCollections, 1)
        self.traffic(2000)
        self.clock.pump([1.0, 1.0, 0, 0])
        self.assertEqual(self.stats.idleCollections, 2)

    def test_stopCancelsSteps(self):
        """
        Stopping the service leaves no delayed call behind, even in the
        middle of a collection.
        """
        self.traffic(5000)
        self.clock.advance(1.0)
        self.clock.advance(1.0)
        self.collector.stopService()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_failingStepLogged(self):
        """
        A step that raises is logged and ends that collection; the loop
        goes on.
        """
        def broken():
            raise RuntimeError("no")
        self.collector.collectStep = broken
        self.traffic(5000)
        self.clock.pump([1.0, 1.0])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.assertTrue(self.collector._loop.running)


class AvailableTests(SynchronousTestCase):
    """
    L{idlegc.available} follows the interpreter.
    """

    def test_matchesGC(self):
        """
        It is true exactly where C{gc.collect_step} exists (PyPy).
        """
        import gc
        self.assertEqual(idlegc.available(), hasattr(gc, "collect_step"))
