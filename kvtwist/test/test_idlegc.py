"""
Tests for L{kvtwist.idlegc}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from kvtwist import idlegc
from kvtwist.stats import Stats


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
        self.trims = []
        self.collector = idlegc.IdleCollector(
            self.stats, clock=self.clock, interval=1.0, threshold=1000,
            quietBytes=100, collectStep=self.step, trim=self.trims.append)
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
        self.assertEqual(self.stats.idleReleases, 0)
        pending = [c for c in self.clock.getDelayedCalls()
                   if c is not self.collector._loop.call]
        self.assertEqual([c.getTime() for c in pending], [1.0])
        self.assertEqual(self.trims, [])
        self.clock.advance(0)
        self.assertEqual(self.step.calls, 3)
        self.assertEqual(self.trims, [0])  # after the collection, not before
        self.assertEqual(self.stats.idleReleases, 1)
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

    def test_quietDespitePolling(self):
        """
        A trickle of traffic under C{quietBytes} per interval (a monitor
        polling INFO) still counts as quiet.
        """
        self.traffic(5000)
        self.clock.advance(1.0)
        self.traffic(99)
        self.collector.check()
        self.assertEqual(self.step.calls, 1)

    def test_notDuringSnapshot(self):
        """
        While garbage collection is off (a BGSAVE child is writing), no
        collection starts; it starts at the first look after it is back
        on.
        """
        enabled = [False]
        self.collector.isEnabled = lambda: enabled[0]
        self.traffic(5000)
        self.clock.pump([1.0] * 5)
        self.assertEqual(self.step.calls, 0)
        enabled[0] = True
        self.clock.advance(1.0)
        self.assertEqual(self.step.calls, 3)
        self.assertEqual(self.stats.idleReleases, 1)

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
        self.assertEqual(self.stats.idleReleases, 1)
        self.clock.pump([1.0] * 5)
        self.assertEqual(self.stats.idleReleases, 1)
        self.traffic(2000)
        self.clock.pump([1.0, 1.0, 0, 0])
        self.assertEqual(self.stats.idleReleases, 2)

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


class TrimOnlyTests(SynchronousTestCase):
    """
    Where the interpreter can't collect in steps (CPython), the collector
    only trims the C heap.
    """

    def test_trimAtOnce(self):
        """
        Quiet after enough traffic: one trim, no delayed steps.
        """
        clock = Clock()
        stats = Stats(0.0)
        trims = []
        collector = idlegc.IdleCollector(stats, clock=clock, threshold=10,
                                         quietBytes=1, collectStep=None,
                                         trim=trims.append)
        collector.startService()
        self.addCleanup(collector.stopService)
        stats.netInput += 100
        clock.pump([1.0, 1.0])
        self.assertEqual(trims, [0])
        self.assertEqual(stats.idleReleases, 1)
        self.assertEqual(clock.getDelayedCalls(), [collector._loop.call])

    def test_failingTrimLogged(self):
        """
        A trim that raises is logged; nothing is counted; the loop goes on.
        """
        clock = Clock()
        stats = Stats(0.0)

        def broken(pad):
            raise OSError("no")
        collector = idlegc.IdleCollector(stats, clock=clock, threshold=10,
                                         quietBytes=1, collectStep=None,
                                         trim=broken)
        collector.startService()
        self.addCleanup(collector.stopService)
        stats.netInput += 100
        clock.pump([1.0, 1.0])
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        self.assertEqual(stats.idleReleases, 0)
        self.assertTrue(collector._loop.running)


class AvailableTests(SynchronousTestCase):
    """
    What L{idlegc} finds on this system.
    """

    def test_findTrim(self):
        """
        On glibc (every machine this runs on here), C{malloc_trim} is
        found and callable; it returns 0 or 1.
        """
        import platform
        if platform.libc_ver()[0] != "glibc":
            raise SkipTest("not glibc")
        trim = idlegc.findTrim()
        self.assertIsNotNone(trim)
        self.assertIn(trim(0), (0, 1))
        self.assertTrue(idlegc.available())


class FakeGC:
    """
    A stand-in for the C{gc} module that records what was asked of it.
    """

    def __init__(self, canFreeze: bool = True):
        self.calls = []
        if canFreeze:
            self.freeze = lambda: self.calls.append("freeze")

    def collect(self):
        self.calls.append("collect")


class FreezeHeapTests(SynchronousTestCase):
    """
    L{idlegc.freezeHeap}.
    """

    def test_collectsThenFreezes(self):
        """
        Where the collector can freeze (CPython), it collects first, so
        that garbage is not frozen with the rest, then freezes.
        """
        collector = FakeGC()
        self.assertTrue(idlegc.freezeHeap(collector))
        self.assertEqual(collector.calls, ["collect", "freeze"])

    def test_noFreeze(self):
        """
        Where it can't (PyPy), nothing is done.
        """
        collector = FakeGC(canFreeze=False)
        self.assertFalse(idlegc.freezeHeap(collector))
        self.assertEqual(collector.calls, [])
