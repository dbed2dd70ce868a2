"""
Tests for L{kvtwist.persist.shutdown} and the store service's side of a
full disk: writes refused early and memory bounded, no exit with writes
not on disk unless told (C{SHUTDOWN NOSAVE}, a second signal), and
C{SHUTDOWN [NOSAVE|SAVE]}.
"""

import signal

from twisted.internet.defer import Deferred
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.commands import Context, execute
from kvtwist.interfaces import Backpressure
from kvtwist.replies import NO_REPLY
from kvtwist.test.test_persist_service import (
    ServiceTestMixin, capturedEvents, formatted)


class BoundTests(ServiceTestMixin, SynchronousTestCase):
    """
    With C{--fsync interval}, what the log holds in memory stays bounded.
    """

    def test_flushEarlyPastFlushBytes(self):
        """
        Once C{FLUSH_BYTES} of records are sealed, the writer starts at
        once instead of waiting for the next tick: a full disk is noticed,
        and writes refused, within about that much.
        """
        store, svc = self.start()
        svc.journal.FLUSH_BYTES = 300
        svc.journal.SEAL_OPS = 1
        self.fs.failWrites = True
        ctx = Context(store, None, svc)
        for i in range(20):
            reply = execute(ctx, b"SET", [b"k%d" % (i,), b"v" * 100])
            svc.sealBatch()
            self.clock.advance(0)
            if reply != "OK":
                break
        self.assertTrue(reply.startswith("MISCONF"), reply)
        self.assertLess(i, 5)
        self.assertLess(self.clock.seconds() - 1700000000.0, 1)
        self.flushLoggedErrors(OSError)

    def drain(self):
        """
        Let the writer's thread run again, and every flush it schedules.
        """
        self.runner.auto = True
        while self.runner.calls or self.clock.getDelayedCalls():
            self.runner.runAll()
            self.clock.advance(0)
            if not self.runner.calls:
                break

    def _fillPastBound(self, svc, ctx, keys=50):
        """
        With the writer's thread stopped, write until a reply waits for
        the log (at most C{keys} writes of 100 bytes); return the replies.
        """
        svc.journal.FLUSH_BYTES = 100
        svc.journal.MAX_UNWRITTEN = 1000
        svc.journal.SEAL_OPS = 1
        got = []
        for i in range(keys):
            reply = execute(ctx, b"SET", [b"k%d" % (i,), b"v" * 100])
            svc.sealBatch()
            self.clock.advance(0)
            got.append(reply)
            if isinstance(reply, Deferred):
                break
        return got

    def test_backlogSlowsWritersDown(self):
        """
        While more than C{MAX_UNWRITTEN} bytes wait for a slow disk,
        writes are applied but their replies wait (a L{Backpressure}, so
        the client sends nothing more meanwhile): never C{MISCONF}, which
        means a failing disk.  Once the writer catches up the replies are
        C{OK}, writes no longer wait, and nothing was lost.
        """
        self.runner.auto = False
        store, svc = self.start()
        ctx = Context(store, None, svc)
        got = self._fillPastBound(svc, ctx)
        self.assertEqual(got[:-1], ["OK"] * (len(got) - 1))
        waiting = got[-1]
        self.assertIsInstance(waiting, Backpressure)
        self.assertNoResult(waiting)
        self.assertIsNone(svc.failure)
        self.assertEqual(svc.info()["aof_backpressure"], 1)
        more = execute(ctx, b"SET", [b"more", b"v"])
        self.assertIsInstance(more, Backpressure)
        self.assertLess(svc.journal.unwrittenBytes, 1300)

        self.drain()
        self.assertEqual(self.successResultOf(waiting), "OK")
        self.assertEqual(self.successResultOf(more), "OK")
        self.assertEqual(svc.info()["aof_backpressure"], 0)
        self.assertEqual(svc.info()["aof_backpressure_writes"], 2)
        self.assertEqual(execute(ctx, b"SET", [b"last", b"v"]), "OK")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(len(store2.keys()), len(got) + 2)

    def test_backlogWithFailingDiskRefuses(self):
        """
        If writing the log fails while writes wait for it to catch up,
        each of them is answered C{MISCONF} (not acknowledged, not left
        waiting), as is every later write.
        """
        self.runner.auto = False
        store, svc = self.start()
        ctx = Context(store, None, svc)
        waiting = self._fillPastBound(svc, ctx)[-1]
        self.assertIsInstance(waiting, Backpressure)
        self.fs.failWrites = True
        self.runner.runAll()
        self.assertTrue(self.successResultOf(waiting).startswith("MISCONF"))
        self.assertTrue(execute(ctx, b"SET", [b"k", b"v"]).startswith(
            "MISCONF"))
        self.flushLoggedErrors(OSError)

    def test_alwaysBacklogSlowsWritersDown(self):
        """
        With C{--fsync always}, a write made while the log is far behind
        waits for its fsync as ever, and its client sends nothing more
        meanwhile (the Deferred is a L{Backpressure}).
        """
        self.runner.auto = False
        store, svc = self.start(fsync="always")
        svc.journal.FLUSH_BYTES = 100
        svc.journal.MAX_UNWRITTEN = 1000
        ctx = Context(store, None, svc)
        first = execute(ctx, b"SET", [b"first", b"v"])
        self.assertIsInstance(first, Deferred)
        self.assertNotIsInstance(first, Backpressure)
        for i in range(20):
            store.set(b"k%d" % (i,), b"%0100d" % (i,))
        svc.journal.seal()
        self.assertTrue(svc.journal.throttled)
        late = execute(ctx, b"SET", [b"late", b"v"])
        self.assertIsInstance(late, Backpressure)
        self.drain()
        self.assertEqual(self.successResultOf(first), "OK")
        self.assertEqual(self.successResultOf(late), "OK")
        self.assertIsNone(svc.failure)

    def test_bigValueNeverRefusesOthers(self):
        """
        A value bigger than C{MAX_UNWRITTEN}, with a healthy disk: while
        it is written, other clients' writes wait a moment and then get
        C{OK}; none gets C{MISCONF}.
        """
        for fsync in ["interval", "always", "no"]:
            self.runner.auto = False
            store, svc = self.start(fsync=fsync)
            svc.journal.MAX_UNWRITTEN = 1 << 20
            ctx = Context(store, None, svc)
            big = execute(ctx, b"SET", [b"big", b"x" * (2 << 20)])
            svc.sealBatch()
            self.clock.advance(1)
            self.assertTrue(svc.journal.throttled, fsync)
            other = execute(ctx, b"MSET", [b"a", b"1", b"b", b"2"])
            self.assertIsInstance(other, Backpressure)
            self.assertIsNone(svc.failure)
            self.drain()
            self.assertEqual(self.successResultOf(other), "OK")
            if isinstance(big, Deferred):
                big = self.successResultOf(big)
            self.assertEqual(big, "OK")
            self.stop(svc)
            store2, svc2 = self.start(fsync=fsync)
            self.assertEqual(len(store2.get(b"big")), 2 << 20)
            self.assertEqual(store2.get(b"b"), b"2")
            self.stop(svc2)


class RefuseToExitTests(ServiceTestMixin, SynchronousTestCase):
    """
    No exit while acknowledged writes are not on disk.
    """

    def test_keepsRetryingAndSaysWhy(self):
        """
        The stop waits for as long as writing fails, retrying every second
        and saying why every five seconds; once the disk works the write is
        made and the stop finishes cleanly.
        """
        store, svc = self.start()
        store.set(b"k", b"v")
        self.fs.failWrites = True
        with capturedEvents() as events:
            d = svc.stopService()
            self.clock.pump([1] * 60)
        self.assertNoResult(d)
        said = formatted(events)
        self.assertEqual(said.count("Refusing to exit"), 13)
        self.assertIn("No space left on device", said)
        self.assertIn("SHUTDOWN NOSAVE", said)
        self.flushLoggedErrors(OSError)
        self.fs.failWrites = False
        self.clock.advance(1)
        self.successResultOf(d)
        self.assertTrue(svc.stoppedCleanly)
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"k"), b"v")

    def test_secondSignalGivesUp(self):
        """
        While refusing, a second SIGTERM (or SIGINT) gives the writes up:
        the stop finishes, saying loudly what is lost.
        """
        store, svc = self.start()
        store.set(b"k", b"v")
        self.fs.failWrites = True
        with capturedEvents() as events:
            d = svc.stopService()
            self.clock.advance(1)
            self.assertNoResult(d)
            handler = self.signals.handlers[signal.SIGTERM]
            self.assertIs(self.signals.handlers[signal.SIGINT], handler)
            handler(signal.SIGTERM, None)
        self.successResultOf(d)
        self.assertFalse(svc.stoppedCleanly)
        said = formatted(events)
        self.assertIn("a second SIGTERM", said)
        self.assertIn("LOST", said)
        self.assertIn("1 writes acknowledged", said)
        self.flushLoggedErrors(OSError)

    def test_hungWriteHoldsUntilGivenUp(self):
        """
        A write that never returns holds the stop (no timeout gives up
        acknowledged writes) until they are given up.
        """
        self.runner.auto = False
        store, svc = self.start()
        store.set(b"k", b"v")
        self.clock.advance(1)
        d = svc.stopService()
        self.clock.pump([1] * 100)
        self.assertNoResult(d)
        with capturedEvents() as events:
            svc.guard.abandon("test")
        self.successResultOf(d)
        self.assertIn("LOST", formatted(events))

    def test_gateHoldsTheRest(self):
        """
        The gate's stop (the first of the tree) waits for the log like the
        service's own, while the service still runs: clients can still
        send C{SHUTDOWN NOSAVE}, which lets it go.
        """
        store, svc = self.start()
        store.set(b"k", b"v")
        self.fs.failWrites = True
        gate = svc.gate()
        gate.startService()
        d = gate.stopService()
        self.clock.pump([1] * 10)
        self.assertNoResult(d)
        self.assertTrue(svc.running)
        ctx = Context(store, None, svc)
        self.assertTrue(execute(ctx, b"SET", [b"x", b"y"]).startswith(
            "MISCONF"))
        reply = self.successResultOf(svc.shutdown("nosave"))
        self.assertEqual(reply, "OK")
        self.successResultOf(d)
        self.clock.advance(0)
        self.assertEqual(self.reactor.stopped, 1)
        self.flushLoggedErrors(OSError)


    def test_gateWaitsOnlyForEarlierWrites(self):
        """
        The gate waits for the writes journaled before it began, not for
        those clients keep sending meanwhile (a pipeline never pausing
        would hold it forever); the service's own stop writes those.
        """
        self.runner.auto = False
        store, svc = self.start()
        store.set(b"a", b"1")
        gate = svc.gate()
        gate.startService()
        d = gate.stopService()
        self.clock.advance(0)
        store.set(b"b", b"2")
        self.runner.runAll()
        self.successResultOf(d)
        self.assertEqual(svc.journal.pendingOps(), 1)
        self.runner.auto = True
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"b"), b"2")


class ShutdownCommandTests(ServiceTestMixin, SynchronousTestCase):
    """
    C{SHUTDOWN [NOSAVE|SAVE]}, through the command table.
    """

    def test_shutdownWritesThenStops(self):
        """
        C{SHUTDOWN} writes the log, stops the reactor and answers
        nothing: the connection closes (as Redis).
        """
        store, svc = self.start()
        ctx = Context(store, None, svc)
        execute(ctx, b"SET", [b"k", b"v"])
        self.assertEqual(self.successResultOf(
            execute(ctx, b"SHUTDOWN", [])), NO_REPLY)
        self.assertTrue(ctx.client.closeAfterReply)
        self.clock.advance(0)
        self.assertEqual(self.reactor.stopped, 1)
        self.assertEqual(self.fs.writes, 1)

    def test_shutdownRefusedWhileWritingFails(self):
        """
        While the log can't be written, C{SHUTDOWN} and C{SHUTDOWN SAVE}
        answer Redis's error and the server goes on.
        """
        store, svc = self.start()
        ctx = Context(store, None, svc)
        execute(ctx, b"SET", [b"k", b"v"])
        self.fs.failWrites = True
        for args in ([], [b"SAVE"], [b"save"]):
            reply = self.successResultOf(execute(ctx, b"SHUTDOWN", args))
            self.assertEqual(reply, "ERR Errors trying to SHUTDOWN. Check "
                                    "logs.")
        self.clock.advance(0)
        self.assertEqual(self.reactor.stopped, 0)
        self.flushLoggedErrors(OSError)

    def test_shutdownSave(self):
        """
        C{SHUTDOWN SAVE} takes a snapshot before stopping.
        """
        store, svc = self.start()
        ctx = Context(store, None, svc)
        execute(ctx, b"SET", [b"k", b"v"])
        self.assertEqual(self.successResultOf(
            execute(ctx, b"SHUTDOWN", [b"SAVE"])), NO_REPLY)
        self.assertEqual(svc.snapshotCount, 1)

    def test_shutdownNosaveWhileFailing(self):
        """
        C{SHUTDOWN NOSAVE} stops even while writing fails; the stop then
        gives the writes up instead of refusing.
        """
        store, svc = self.start()
        ctx = Context(store, None, svc)
        execute(ctx, b"SET", [b"k", b"v"])
        self.fs.failWrites = True
        self.clock.advance(1)
        self.assertEqual(self.successResultOf(
            execute(ctx, b"SHUTDOWN", [b"NOSAVE"])), NO_REPLY)
        self.clock.advance(0)
        self.assertEqual(self.reactor.stopped, 1)
        with capturedEvents() as events:
            d = svc.stopService()
        self.successResultOf(d)
        self.assertIn("SHUTDOWN NOSAVE", formatted(events))
        self.flushLoggedErrors(OSError)

    def test_syntax(self):
        """
        Other arguments are a syntax error.
        """
        store, svc = self.start()
        ctx = Context(store, None, svc)
        self.assertEqual(execute(ctx, b"SHUTDOWN", [b"NOW", b"X"]),
                         "ERR syntax error")
        self.assertEqual(execute(ctx, b"SHUTDOWN", [b"maybe"]),
                         "ERR syntax error")
