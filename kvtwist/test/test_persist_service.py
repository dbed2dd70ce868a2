"""
Tests for L{kvtwist.persist.StoreService}: recovery, flushing, fsync modes,
failures, shutdown and snapshots.

No sockets and no real time: a L{Clock} drives the loops, thread work runs
synchronously (or when a test says so), snapshots run in-process, and a
file layer that fails on demand stands in for a broken disk.
"""

import errno
import os
from contextlib import contextmanager

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from kvtwist.commands import Context, execute
from kvtwist.persist import files, format, snapfile, snapshots
from kvtwist.persist.files import FileSystem
from kvtwist.persist.fork import InlineForker, ProcessForker
from kvtwist.persist.recovery import RecoveryError
from kvtwist.persist.service import StoreService
from kvtwist.persist.writer import joined as _joined
from kvtwist.replies import Error
from kvtwist.store import Store

START = 1700000000.0


@contextmanager
def capturedEvents():
    """
    Collect the log events emitted inside the block.
    """
    events = []
    globalLogPublisher.addObserver(events.append)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(events.append)


def formatted(events):
    """
    The text of every event, for searching.
    """
    from twisted.logger import formatEvent
    return "\n".join(formatEvent(e) for e in events)


class Runner:
    """
    Runs "thread" work synchronously, or queues it until L{runAll} when
    C{auto} is false.

    @ivar calls: the queued work.
    """

    def __init__(self):
        self.auto = True
        self.calls = []

    def __call__(self, f, *args):
        if self.auto:
            return maybeDeferred(f, *args)
        d = Deferred()
        self.calls.append((f, args, d))
        return d

    def runAll(self):
        """
        Run every queued call, including ones queued meanwhile.
        """
        while self.calls:
            f, args, d = self.calls.pop(0)
            maybeDeferred(f, *args).chainDeferred(d)


class FaultyFS(FileSystem):
    """
    The real file layer, counting fsyncs, failing when told.

    @ivar failWrites: log writes write half their data, then fail (ENOSPC).
    @ivar writes: the writes of log records (not headers, nor manifests).
    @ivar fsyncs: the fsyncs of log records.
    @ivar failFsync: fsyncs fail (EIO).
    @ivar failSnapshot: snapshot files are written halfway, then fail.
    """

    def __init__(self):
        self.fsyncs = 0
        self.writes = 0
        self.failWrites = False
        self.failFsync = False
        self.failSnapshot = False

    def writeAt(self, fd, data, offset):
        if self.failWrites:
            FileSystem.writeAt(self, fd, data[:len(data) // 2], offset)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        if offset >= format.LOG_HEADER_SIZE:
            # Only writes of records count, not headers nor the manifest.
            self.writes += 1
        FileSystem.writeAt(self, fd, data, offset)

    def fsync(self, fd):
        if self.failFsync:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        self.fsyncs += 1
        FileSystem.fsync(self, fd)

    def createLog(self, dataDir, gen, manifest):
        fsyncs = self.fsyncs
        try:
            return FileSystem.createLog(self, dataDir, gen, manifest)
        finally:
            # Only fsyncs of records count.
            self.fsyncs = fsyncs

    def writeNew(self, path, chunks):
        if self.failSnapshot:
            with open(path, "wb") as f:
                f.write(chunks[0])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        FileSystem.writeNew(self, path, chunks)


class SlowForker(InlineForker):
    """
    Runs the work at once but reports the child running until C{finish}.

    @ivar killed: the handles killed.
    """

    def __init__(self):
        InlineForker.__init__(self)
        self.finished = False
        self.killed = []

    def poll(self, handle):
        if not self.finished:
            return None
        return InlineForker.poll(self, handle)

    def kill(self, handle):
        self.killed.append(handle)


class FakeReactor:
    """
    What the store service asks of the reactor besides time: stop it, and
    call from a signal handler.

    @ivar stopped: how many times C{stop} was called.
    """

    def __init__(self):
        self.stopped = 0

    def stop(self):
        self.stopped += 1

    def callFromThread(self, f, *args):
        f(*args)


class FakeSignals:
    """
    Stands in for C{signal.signal}: records the handlers installed.

    @ivar handlers: the current handler of each signal number.
    """

    def __init__(self):
        self.handlers = {}

    def install(self, signum, handler):
        previous = self.handlers.get(signum)
        self.handlers[signum] = handler
        return previous


class ServiceTestMixin:
    """
    Builds services on a temporary data directory with a fake clock.
    """

    def setUp(self):
        self.dir = self.mktemp()
        os.makedirs(self.dir)
        self.clock = Clock()
        self.clock.advance(START)
        self.runner = Runner()
        self.forker = InlineForker()
        self.fs = FaultyFS()
        self.reactor = FakeReactor()
        self.signals = FakeSignals()
        self.services = []
        self.addCleanup(self._stopAll)

    def _stopAll(self):
        self.fs.failWrites = self.fs.failFsync = False
        self.runner.auto = True
        self.runner.runAll()
        for svc in self.services:
            if svc.running:
                svc.stopService()
                self.clock.pump([1] * 20)

    def start(self, fsync="interval", **kw):
        """
        A started service on a fresh store over C{self.dir}.
        """
        store = Store(clock=lambda: self.clock.seconds() * 1000)
        kw.setdefault("runInThread", self.runner)
        kw.setdefault("forker", self.forker)
        kw.setdefault("fs", self.fs)
        kw.setdefault("reactor", self.reactor)
        kw.setdefault("installSignal", self.signals.install)
        svc = StoreService(store, self.dir, fsync=fsync, flushInterval=1.0,
                           clock=self.clock, **kw)
        svc.startService()
        self.services.append(svc)
        return store, svc

    def stop(self, svc):
        """
        Stop C{svc} and check its Deferred fired.
        """
        d = svc.stopService()
        self.clock.advance(0)
        self.assertIsNone(self.successResultOf(d))

    def files(self):
        """
        The names in the data directory.
        """
        return sorted(os.listdir(self.dir))

    def logPaths(self):
        """
        The log files in the data directory, in generation order.
        """
        return [p for _, p in files.listDataDir(self.dir).logs]


class RecoveryTests(ServiceTestMixin, SynchronousTestCase):
    """
    Startup recovers the store from the snapshot and the logs.
    """

    def test_writesSurviveRestart(self):
        """
        Strings, lists and deletions flushed by the loop are there after a
        restart, and the restart begins a new log generation.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        store.set(b"gone", b"x")
        store.push(b"l", [b"x", b"y"])
        store.delete(b"gone")
        self.assertEqual(os.path.getsize(self.logPaths()[-1]),
                         format.LOG_HEADER_SIZE)
        self.clock.advance(1)
        self.assertGreater(os.path.getsize(self.logPaths()[-1]),
                           format.LOG_HEADER_SIZE)
        self.assertEqual(svc.info()["aof_pending_bytes"], 0)
        gen = svc.info()["aof_current_generation"]
        self.stop(svc)

        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"a"), b"1")
        self.assertEqual(store2.lrange(b"l", 0, -1), [b"x", b"y"])
        self.assertFalse(store2.exists(b"gone"))
        self.assertEqual(svc2.recoveredKeys, 2)
        self.assertEqual(svc2.info()["aof_current_generation"], gen + 1)

    def test_tornTail(self):
        """
        A last record cut short by a crash is dropped with a warning naming
        the file; the file is truncated, so later restarts are clean.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        store.set(b"b", b"2")
        self.clock.advance(1)
        self.stop(svc)
        path = self.logPaths()[-1]
        good = os.path.getsize(path)
        with open(path, "ab") as f:
            f.write(format.encodeRecord((b"SET", b"c", b"3"))[:-3])

        with capturedEvents() as events:
            store2, svc2 = self.start()
        self.assertEqual(store2.get(b"a"), b"1")
        self.assertEqual(store2.get(b"b"), b"2")
        self.assertIsNone(store2.get(b"c"))
        self.assertIn("torn", formatted(events))
        self.assertIn(path, formatted(events))
        self.assertEqual(os.path.getsize(path), good)
        self.assertGreater(svc2.tornBytes, 0)

        store2.set(b"d", b"4")
        self.stop(svc2)
        store3, svc3 = self.start()
        self.assertEqual(store3.get(b"d"), b"4")
        self.assertEqual(svc3.tornBytes, 0)

    def test_leftoverTempFile(self):
        """
        A temporary file left by an interrupted snapshot is ignored and
        removed; the data is recovered from the real files.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        self.assertEqual(self.successResultOf(svc.save()), "OK")
        store.set(b"b", b"2")
        self.stop(svc)
        tmp = os.path.join(self.dir, "kvtwist.snapshot.tmp")
        with open(tmp, "wb") as f:
            f.write(b"KVTWSNAP half a snapshot")

        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"a"), b"1")
        self.assertEqual(store2.get(b"b"), b"2")
        self.assertFalse(os.path.exists(tmp))

    def test_corruptionInTheMiddleRefuses(self):
        """
        A damaged record followed by good ones refuses to start, with a
        message naming the file and offset.
        """
        store, svc = self.start()
        for key in (b"a", b"b", b"c"):
            store.set(key, b"1")
            self.clock.advance(1)
        self.stop(svc)
        path = self.logPaths()[-1]
        where = format.LOG_HEADER_SIZE + 14
        with open(path, "r+b") as f:
            f.seek(where)
            byte = f.read(1)
            f.seek(where)
            f.write(bytes([byte[0] ^ 0xFF]))
        before = os.path.getsize(path)
        e = self.assertRaises(RecoveryError, self.start)
        self.assertIn(path, str(e))
        self.assertIn("at byte %d" % (format.LOG_HEADER_SIZE,), str(e))
        self.assertEqual(os.path.getsize(path), before)

    def test_tornTailOnlyInLastLog(self):
        """
        An earlier log with a damaged end, followed by a log with records,
        is corruption, not a torn tail.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        self.stop(svc)
        first = self.logPaths()[-1]
        store, svc = self.start()
        store.set(b"b", b"2")
        self.stop(svc)
        with open(first, "ab") as f:
            f.write(b"\x05")
        e = self.assertRaises(RecoveryError, self.start)
        self.assertIn(first, str(e))

    def test_corruptSnapshotRefuses(self):
        """
        A snapshot that fails its checks refuses to start, naming the file.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        self.assertEqual(self.successResultOf(svc.save()), "OK")
        self.stop(svc)
        path = os.path.join(self.dir, files.SNAPSHOT_NAME)
        with open(path, "r+b") as f:
            f.seek(40)
            f.write(b"\x00\x01\x02")
        e = self.assertRaises(RecoveryError, self.start)
        self.assertIn(path, str(e))

    def test_logsCoveredBySnapshotIgnored(self):
        """
        Logs older than the snapshot's generation (left by a crash between
        installing a snapshot and deleting them) are deleted, not replayed.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        self.clock.advance(1)
        old = self.logPaths()[-1]
        with open(old, "rb") as f:
            content = f.read()
        self.assertEqual(self.successResultOf(svc.save()), "OK")
        store.set(b"a", b"2")
        self.stop(svc)
        with open(old, "wb") as f:
            f.write(content + b"garbage")

        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"a"), b"2")
        self.assertFalse(os.path.exists(old))

    def test_emptyLogsRemoved(self):
        """
        Restarts without writes leave no pile of empty log files.
        """
        for _ in range(3):
            store, svc = self.start()
            self.stop(svc)
        self.assertEqual(len(self.logPaths()), 1)


class FlushTests(ServiceTestMixin, SynchronousTestCase):
    """
    Journaling, the flush loop and the fsync modes.
    """

    def test_intervalFlushesAndFsyncs(self):
        """
        In C{interval} mode, nothing is written until the loop runs; then
        one write and one fsync carry every pending record, and writes are
        acknowledged at once.
        """
        store, svc = self.start()
        ctx = Context(store, None, svc)
        self.assertEqual(execute(ctx, b"SET", [b"k", b"v"]), "OK")
        self.assertEqual(execute(ctx, b"SET", [b"k2", b"v"]), "OK")
        self.assertIsNone(svc.whenDurable())
        self.assertGreater(svc.info()["aof_pending_bytes"], 0)
        self.clock.advance(0.99)
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (0, 0))
        self.clock.advance(0.01)
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (1, 1))
        self.assertEqual(svc.flushCount, 1)
        self.assertEqual(len(svc.flushDurations), 1)
        self.assertEqual(svc.info()["aof_last_flush_time"], int(START + 1))

    def test_bigFlushInPieces(self):
        """
        A flush of more than C{WRITE_BYTES} of records writes them a piece
        at a time, one after the other, and the log holds them all, in
        order; the next flush goes on after them.
        """
        store, svc = self.start()
        svc.journal.SEAL_OPS = 3
        svc.writer.WRITE_BYTES = 1
        for i in range(10):
            store.set(b"k%d" % (i,), b"v")
            svc.sealBatch()
        self.clock.advance(1)
        # Three records of three ops sealed early, one of the last op
        # sealed by the flush: one write each.
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (4, 1))
        store.set(b"last", b"v")
        self.clock.advance(1)
        [path] = self.logPaths()
        with open(path, "rb") as f:
            ops = format.scanLog(f.read()).ops
        self.assertEqual(
            [op[1] for op in ops],
            [b"k%d" % (i,) for i in range(10)] + [b"last"])

    def test_sealBatch(self):
        """
        L{StoreService.sealBatch} encodes the pending ops into a log record
        once there are C{SEAL_OPS} of them, and not before; the flush
        writes the record as it is, and INFO counts its exact size until
        then.
        """
        store, svc = self.start()
        ops = [(b"SET", b"k%d" % (i,), b"v") for i in range(svc.journal.SEAL_OPS)]
        for op in ops[:-1]:
            store.set(op[1], op[2])
        svc.sealBatch()
        self.assertEqual(len(svc.journal.pending), svc.journal.SEAL_OPS - 1)
        store.set(ops[-1][1], ops[-1][2])
        svc.sealBatch()
        self.assertEqual(svc.journal.pending, [])
        record = format.encodeFrames(ops)
        info = svc.info()
        self.assertEqual(info["aof_pending_ops"], svc.journal.SEAL_OPS)
        self.assertEqual(info["aof_pending_bytes"], len(record))
        self.clock.advance(1)
        self.assertEqual(self.fs.writes, 1)
        self.assertEqual(svc.info()["aof_pending_bytes"], 0)
        [path] = self.logPaths()
        with open(path, "rb") as f:
            self.assertTrue(f.read().endswith(record))

    def test_recordsJoinedIntoOneWrite(self):
        """
        The records a flush carries go to the log in one write when they
        fit in C{WRITE_BYTES}.
        """
        store, svc = self.start()
        svc.journal.SEAL_OPS = 2
        for i in range(6):
            store.set(b"k%d" % (i,), b"v")
            svc.sealBatch()
        self.assertEqual(len(svc.journal.sealed), 3)
        self.clock.advance(1)
        self.assertEqual(self.fs.writes, 1)

    def test_noFsync(self):
        """
        In C{no} mode the loop writes but never fsyncs.
        """
        store, svc = self.start(fsync="no")
        store.set(b"k", b"v")
        self.clock.advance(1)
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (1, 0))
        self.assertIsNone(svc.whenDurable())

    def _earlyFlushes(self, svc, store, keys, prefix=b"k"):
        """
        Write C{keys} keys, each sealed at once and flushed early (past a
        C{FLUSH_BYTES} of 100), without letting the timer's flush run.
        """
        svc.journal.SEAL_OPS = 1
        svc.journal.FLUSH_BYTES = 100
        for i in range(keys):
            store.set(b"%s%d" % (prefix, i), b"%0100d" % (i,))
            svc.sealBatch()
            self.clock.advance(0)

    def test_intervalEarlyFlushesDontFsync(self):
        """
        In C{interval} mode, the flushes that start early because a
        megabyte of records waits (here: C{FLUSH_BYTES}) write without
        fsyncing; the timer's flush fsyncs them, once per interval however
        many there were, even with nothing new to write; and a restart
        has every write.
        """
        store, svc = self.start()
        self._earlyFlushes(svc, store, 20)
        self.assertEqual(self.fs.writes, 20)
        self.assertEqual(self.fs.fsyncs, 0)
        self.assertEqual(svc.info()["aof_pending_bytes"], 0)
        self.clock.advance(1)
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (20, 1))
        self.assertEqual(svc.info()["aof_fsyncs"], 1)
        self.assertEqual(svc.writer.held, [])
        self._earlyFlushes(svc, store, 20, b"more")
        self.clock.advance(1)
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (40, 2))
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(len(store2.keys()), 40)

    def test_intervalEarlyFlushesFsyncPastSyncBytes(self):
        """
        Past C{SYNC_BYTES} written and not fsynced, an early flush fsyncs
        too: what the writer holds for writing again stays bounded.
        """
        store, svc = self.start()
        svc.writer.SYNC_BYTES = 500
        self._earlyFlushes(svc, store, 20)
        self.assertEqual(self.fs.writes, 20)
        self.assertGreaterEqual(self.fs.fsyncs, 2)
        self.assertLessEqual(self.fs.fsyncs, 20 // 3)
        self.assertLess(svc.writer.heldBytes, 500 + 200)

    def test_stopFsyncsEarlyFlushes(self):
        """
        Stopping fsyncs what early flushes wrote, though nothing new is
        left to write, and counts as a clean stop.
        """
        store, svc = self.start()
        self._earlyFlushes(svc, store, 5)
        self.assertEqual(self.fs.fsyncs, 0)
        self.stop(svc)
        self.assertEqual(self.fs.fsyncs, 1)
        self.assertTrue(svc.stoppedCleanly)

    def test_failedFsyncRewritesEarlyWrites(self):
        """
        If the timer's fsync fails, writes get C{MISCONF}; the next flush
        writes again what early flushes had written (the kernel may have
        dropped those pages, here cut off the file) before it fsyncs: a
        restart has every write acknowledged.
        """
        store, svc = self.start()
        [path] = self.logPaths()
        synced = os.path.getsize(path)
        self._earlyFlushes(svc, store, 10)
        self.fs.failFsync = True
        self.clock.advance(1)
        ctx = Context(store, None, svc)
        self.assertTrue(execute(ctx, b"SET", [b"x", b"y"]).startswith(
            "MISCONF"))
        os.truncate(path, synced)
        self.fs.failFsync = False
        self.clock.advance(1)
        self.assertIsNone(svc.failure)
        self.assertEqual(svc.writer.held, [])
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(sorted(store2.keys()),
                         sorted(b"k%d" % (i,) for i in range(10)))
        self.flushLoggedErrors(OSError)

    def test_alwaysEveryFlushFsyncs(self):
        """
        In C{always} mode every flush, early ones included, fsyncs.
        """
        store, svc = self.start(fsync="always")
        self._earlyFlushes(svc, store, 5)
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (5, 5))
        self.assertEqual(svc.writer.held, [])

    def test_noFsyncHoldsNothing(self):
        """
        In C{no} mode flushes, early or not, never fsync nor hold records.
        """
        store, svc = self.start(fsync="no")
        self._earlyFlushes(svc, store, 5)
        self.clock.advance(1)
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (5, 0))
        self.assertEqual(svc.writer.held, [])

    def test_alwaysWaitsForFsync(self):
        """
        In C{always} mode a write's reply fires only once the flush that
        carries its record has fsynced; the flush is scheduled on the next
        reactor turn and runs off the reactor thread.
        """
        self.runner.auto = False
        store, svc = self.start(fsync="always")
        ctx = Context(store, None, svc)
        reply = execute(ctx, b"SET", [b"k", b"v"])
        self.assertIsInstance(reply, Deferred)
        self.assertNoResult(reply)
        self.clock.advance(0)
        self.assertEqual(len(self.runner.calls), 1)
        self.assertNoResult(reply)
        self.assertEqual(self.fs.fsyncs, 0)
        self.runner.runAll()
        self.assertEqual(self.fs.fsyncs, 1)
        self.assertEqual(self.successResultOf(reply), "OK")
        self.assertIsNone(svc.whenDurable())
        self.assertEqual(execute(ctx, b"GET", [b"k"]), b"v")

    def test_groupCommit(self):
        """
        Writes of the same moment share one write and one fsync.
        """
        store, svc = self.start(fsync="always")
        ctx = Context(store, None, svc)
        replies = [execute(ctx, b"SET", [b"k%d" % i, b"v"])
                   for i in range(10)]
        for r in replies:
            self.assertNoResult(r)
        self.clock.advance(0)
        for r in replies:
            self.assertEqual(self.successResultOf(r), "OK")
        self.assertEqual((self.fs.writes, self.fs.fsyncs), (1, 1))

    def test_nextFlushRightAfterInFlight(self):
        """
        A write arriving while a flush is in flight waits for the next
        flush, which starts right after the first one finishes; only one
        flush is ever in flight.
        """
        self.runner.auto = False
        store, svc = self.start(fsync="always")
        ctx = Context(store, None, svc)
        first = execute(ctx, b"SET", [b"a", b"1"])
        self.clock.advance(0)
        second = execute(ctx, b"SET", [b"b", b"2"])
        self.clock.advance(0)
        self.assertEqual(len(self.runner.calls), 1)
        f, args, d = self.runner.calls.pop(0)
        maybeDeferred(f, *args).chainDeferred(d)
        self.assertEqual(self.successResultOf(first), "OK")
        self.assertNoResult(second)
        self.clock.advance(0)
        self.assertEqual(len(self.runner.calls), 1)
        self.runner.runAll()
        self.assertEqual(self.successResultOf(second), "OK")
        self.assertEqual(self.fs.fsyncs, 2)

    def test_sweepExpiresActively(self):
        """
        The expiry loop removes expired keys without anyone reading them,
        and the removal is journaled.
        """
        store, svc = self.start()
        store.set(b"k", b"v", expireAtMs=(START + 0.5) * 1000)
        store.set(b"keep", b"v")
        self.clock.advance(1)
        self.assertEqual(store.size(), 1)
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.size(), 1)
        self.assertEqual(store2.keys(), [b"keep"])
        self.assertEqual(store2.size(), 1)

    def test_expiryPersisted(self):
        """
        Expiry times survive a restart, from the log and from a snapshot,
        and an expired key is gone after the restart.
        """
        store, svc = self.start()
        store.set(b"k", b"v", expireAtMs=(START + 10) * 1000)
        store.set(b"s", b"v", expireAtMs=(START + 20) * 1000)
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.ttlMs(b"k"), 10000)
        self.assertEqual(self.successResultOf(svc2.save()), "OK")
        self.stop(svc2)
        store3, svc3 = self.start()
        self.assertEqual(store3.ttlMs(b"k"), 10000)
        self.assertEqual(store3.ttlMs(b"s"), 20000)
        self.stop(svc3)
        self.clock.advance(15)
        store4, svc4 = self.start()
        self.assertIsNone(store4.get(b"k"))
        self.assertEqual(store4.ttlMs(b"s"), 5000)


class JoinedTests(SynchronousTestCase):
    """
    L{_joined} groups log records into writes.
    """

    def test_bigRecordsAlone(self):
        """
        A record, or a piece of L{format.Pieces}, as long as the limit is
        written alone, not joined (copied) into a group.
        """
        big = b"b" * 10
        pieces = format.Pieces([b"hh", big, b"t"])
        groups = list(_joined([b"aa", pieces, b"c"], 5))
        self.assertEqual(groups, [b"aahh", big, b"tc"])
        self.assertIs(groups[1], big)

    def test_groups(self):
        """
        Records are joined in order until a group reaches the limit; no
        record is split, and the rest make a last, shorter group.
        """
        self.assertEqual(
            list(_joined([b"aaa", b"bbb", b"c" * 10, b"d", b"e"], 5)),
            [b"aaabbb", b"c" * 10, b"de"])
        self.assertEqual(list(_joined([b"aaa", b"bbb", b"c"], 6)),
                         [b"aaabbb", b"c"])
        self.assertEqual(list(_joined([], 5)), [])


class FailureTests(ServiceTestMixin, SynchronousTestCase):
    """
    A failing disk: loud logs, retries, MISCONF, recovery, no loss.
    """

    def test_failingWriteRefusesWritesUntilItWorks(self):
        """
        A failing log write is logged and retried with the data kept;
        meanwhile writes get C{MISCONF} and reads go on; once a retry
        succeeds writes are accepted again, and the partial bytes of the
        failed attempts never corrupt the log.
        """
        store, svc = self.start()
        ctx = Context(store, None, svc)
        self.assertEqual(execute(ctx, b"SET", [b"k1", b"v1"]), "OK")
        self.fs.failWrites = True
        self.clock.advance(1)
        self.assertEqual(svc.failure, "No space left on device")
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)
        reply = execute(ctx, b"SET", [b"k2", b"v2"])
        self.assertIsInstance(reply, Error)
        self.assertTrue(reply.startswith("MISCONF"), reply)
        self.assertIsNone(store.get(b"k2"))
        self.assertEqual(execute(ctx, b"GET", [b"k1"]), b"v1")
        info = svc.info()
        self.assertEqual(info["aof_last_write_status"], "err")
        self.assertEqual(info["aof_last_error"], "No space left on device")
        self.assertGreater(info["aof_pending_bytes"], 0)

        with capturedEvents() as events:
            self.clock.advance(1)
        self.assertEqual(svc.flushErrors, 2)
        self.assertIn("still fails", formatted(events))

        self.fs.failWrites = False
        self.clock.advance(1)
        self.assertIsNone(svc.failure)
        self.assertEqual(svc.info()["aof_last_write_status"], "ok")
        self.assertEqual(execute(ctx, b"SET", [b"k3", b"v3"]), "OK")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"k1"), b"v1")
        self.assertEqual(store2.get(b"k3"), b"v3")
        self.assertEqual(svc2.tornBytes, 0)

    def test_failedFlushKeepsRecordsInOrder(self):
        """
        The records of a failed flush go back ahead of those sealed while
        it was in flight, and the retry writes all of them in order.
        """
        store, svc = self.start()
        svc.journal.SEAL_OPS = 2
        self.runner.auto = False
        for key in (b"k0", b"k1", b"k2"):
            store.set(key, b"v")
            svc.sealBatch()
        self.clock.advance(1)  # a flush of k0 to k2 starts
        for key in (b"k3", b"k4"):
            store.set(key, b"v")
            svc.sealBatch()
        self.fs.failWrites = True
        self.runner.runAll()
        self.flushLoggedErrors(OSError)
        self.assertEqual(svc.info()["aof_pending_ops"], 5)
        self.fs.failWrites = False
        self.runner.auto = True
        self.clock.advance(1)
        self.assertIsNone(svc.failure)
        self.assertEqual(svc.info()["aof_pending_ops"], 0)
        [path] = self.logPaths()
        with open(path, "rb") as f:
            ops = format.scanLog(f.read()).ops
        self.assertEqual([op[1] for op in ops],
                         [b"k%d" % (i,) for i in range(5)])

    def startUnencodable(self):
        """
        A started service with C{k1}'s op sealed and C{k2}'s pending, and
        the log's encoding failing from then on (a new encoder
        patched back in ends that).

        @return: C{(store, service, context)}.
        """
        store, svc = self.start()
        svc.journal.SEAL_OPS = 1
        ctx = Context(store, None, svc)
        self.assertEqual(execute(ctx, b"SET", [b"k1", b"v1"]), "OK")
        svc.sealBatch()

        def cantEncode(ops):
            raise MemoryError("no memory")

        self.patch(svc.journal, "_encode", cantEncode)
        self.assertEqual(execute(ctx, b"SET", [b"k2", b"v2"]), "OK")
        svc.sealBatch()
        return store, svc, ctx

    def test_unencodableOpsRefuseWrites(self):
        """
        Ops that can't be encoded stay pending and make persistence fail
        as a failing write does: writes get C{MISCONF}, snapshots are
        refused, and a flush of earlier records doesn't end it; once they
        can be encoded, the next flush writes them and writes are accepted
        again.
        """
        store, svc, ctx = self.startUnencodable()
        self.assertEqual(len(self.flushLoggedErrors(MemoryError)), 1)
        self.assertEqual(svc.failure, "can't encode the log: no memory")
        reply = execute(ctx, b"SET", [b"k3", b"v3"])
        self.assertTrue(reply.startswith("MISCONF"), reply)
        self.assertEqual(self.successResultOf(svc.save()), "ERR SAVE refused: can't encode the "
                                     "log: no memory")
        self.assertIsInstance(svc.bgsave(), Error)
        self.clock.advance(1)  # writes k1's record, can't encode k2's op
        self.assertEqual(self.fs.writes, 1)
        self.assertEqual(svc.failure, "can't encode the log: no memory")
        self.assertEqual(svc.info()["aof_pending_ops"], 1)

        svc.journal._encode = format.FrameEncoder().encode
        self.clock.advance(1)
        self.assertIsNone(svc.failure)
        self.assertEqual(execute(ctx, b"SET", [b"k3", b"v3"]), "OK")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual([store2.get(k) for k in (b"k1", b"k2", b"k3")],
                         [b"v1", b"v2", b"v3"])

    def test_encodingFailureOutlivesWriteFailure(self):
        """
        While pending ops can't be encoded, a failing write's message
        replaces that failure only as long as the write fails: once
        writing works again, the encoding failure is what is reported,
        until it too goes.
        """
        store, svc, ctx = self.startUnencodable()
        self.fs.failWrites = True
        self.clock.advance(1)  # k1's record fails to be written
        self.assertEqual(svc.failure, "No space left on device")
        self.fs.failWrites = False
        self.clock.advance(1)  # k1's record is written; k2 still can't be
        self.assertEqual(svc.failure, "can't encode the log: no memory")
        reply = execute(ctx, b"SET", [b"k3", b"v3"])
        self.assertTrue(reply.startswith("MISCONF"), reply)
        self.flushLoggedErrors(MemoryError, OSError)

        svc.journal._encode = format.FrameEncoder().encode
        self.clock.advance(1)
        self.assertIsNone(svc.failure)
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual([store2.get(k) for k in (b"k1", b"k2")],
                         [b"v1", b"v2"])

    def test_alwaysNeverAcknowledgesBeforeDisk(self):
        """
        In C{always} mode, writes in flight when the fsync fails are never
        acknowledged and never left unanswered: each gets C{MISCONF} as
        soon as the flush fails.  Their data stays in the journal and is
        written once the disk works again.
        """
        self.runner.auto = False
        store, svc = self.start(fsync="always")
        ctx = Context(store, None, svc)
        self.fs.failFsync = True
        first = execute(ctx, b"SET", [b"k", b"v"])
        self.clock.advance(0)  # the flush of k starts
        second = execute(ctx, b"SET", [b"k2", b"v"])  # waits for the next
        self.assertNoResult(first)
        self.assertNoResult(second)
        self.runner.runAll()
        self.assertEqual(svc.failure, "Input/output error")
        self.flushLoggedErrors(OSError)
        for reply in (first, second):
            reply = self.successResultOf(reply)
            self.assertTrue(reply.startswith("MISCONF"), reply)
            self.assertIn("Input/output error", reply)
        refused = execute(ctx, b"SET", [b"k3", b"v"])
        self.assertTrue(refused.startswith("MISCONF"), refused)
        self.fs.failFsync = False
        self.runner.auto = True
        self.clock.advance(1)
        self.assertIsNone(svc.failure)
        last = execute(ctx, b"SET", [b"k4", b"v"])
        self.clock.advance(0)
        self.assertEqual(self.successResultOf(last), "OK")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(sorted(store2.keys()), [b"k", b"k2", b"k4"])

    def test_alwaysSealedInFlightWaitsForItsFlush(self):
        """
        In C{always} mode, a write sealed while a flush is in flight is
        acknowledged by the flush that follows it at once, not by the one
        in flight.
        """
        store, svc = self.start(fsync="always")
        svc.journal.SEAL_OPS = 1
        self.runner.auto = False
        ctx = Context(store, None, svc)
        first = execute(ctx, b"SET", [b"a", b"1"])
        self.clock.advance(0)  # the flush of a starts
        second = execute(ctx, b"SET", [b"b", b"2"])
        svc.sealBatch()
        self.runner.runAll()
        self.assertEqual(self.successResultOf(first), "OK")
        self.assertNoResult(second)
        self.clock.advance(0)  # b's flush, right after
        self.runner.runAll()
        self.assertEqual(self.successResultOf(second), "OK")


class ShutdownTests(ServiceTestMixin, SynchronousTestCase):
    """
    C{stopService} flushes and waits.
    """

    def test_stopServiceFlushes(self):
        """
        Writes pending at shutdown are written before the Deferred fires;
        a write that comes after is refused as the server is shutting
        down, not with C{MISCONF} (the disk is fine).
        """
        self.runner.auto = False
        store, svc = self.start()
        store.set(b"k", b"v")
        d = svc.stopService()
        self.assertNoResult(d)
        self.runner.runAll()
        self.successResultOf(d)
        self.assertIsNone(store.journal)
        self.assertFalse(svc.running)
        reply = execute(Context(store, None, svc), b"SET", [b"late", b"v"])
        self.assertEqual(reply, "ERR the server is shutting down")
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"k"), b"v")

    def test_writesDuringFinalFlushAreFlushed(self):
        """
        A write journaled while the final flush is in flight is flushed too
        before C{stopService}'s Deferred fires.
        """
        self.runner.auto = False
        store, svc = self.start()
        store.set(b"a", b"1")
        d = svc.stopService()
        store.set(b"b", b"2")
        self.runner.runAll()
        self.successResultOf(d)
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"b"), b"2")

    def test_stopWaitsForSnapshotChild(self):
        """
        An in-flight background snapshot is waited for, and installed.
        """
        self.forker = SlowForker()
        store, svc = self.start()
        store.set(b"k", b"v")
        self.assertEqual(svc.bgsave(), "Background saving started")
        d = svc.stopService()
        self.clock.advance(1)
        self.assertNoResult(d)
        self.forker.finished = True
        self.clock.advance(0.05)
        self.successResultOf(d)
        self.assertIn(files.SNAPSHOT_NAME, self.files())

    def test_stopKillsStuckSnapshotChild(self):
        """
        A snapshot child still running at the shutdown bound is killed.
        """
        self.forker = SlowForker()
        store, svc = self.start()
        svc.bgsave()
        d = svc.stopService()
        self.clock.advance(10)
        self.successResultOf(d)
        self.assertEqual(len(self.forker.killed), 1)
        self.assertNotIn(files.SNAPSHOT_NAME, self.files())


class StartupTests(ServiceTestMixin, SynchronousTestCase):
    """
    The chain of files kept up as the server runs, and what a start does
    to a directory of format 1 or, with C{--load-damaged}, to a damaged
    one.
    """

    def manifest(self):
        """
        The manifest's content.
        """
        return snapfile.decodeManifest(self.fs.readFile(
            os.path.join(self.dir, files.MANIFEST_NAME)))

    def test_manifestFollowsTheChain(self):
        """
        The manifest names each new generation once its file exists, and
        the snapshot's generation once it is installed; a restart finds
        the chain whole.
        """
        store, svc = self.start()
        self.assertEqual(self.manifest(), snapfile.Manifest(1, 1))
        store.set(b"a", b"1")
        self.clock.advance(1)
        self.assertEqual(svc.bgsave(), "Background saving started")
        self.clock.advance(0.05)
        self.assertEqual(self.manifest(), snapfile.Manifest(2, 1))
        store.set(b"b", b"2")
        self.clock.advance(1)
        self.assertEqual(self.manifest(), snapfile.Manifest(2, 2))
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual((store2.get(b"a"), store2.get(b"b")), (b"1", b"2"))

    def test_snapshotOfUnusedGenerationLeavesNoGap(self):
        """
        Two snapshots with no write between them don't skip a generation:
        the later writes' log is the one right after the snapshot.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        self.assertEqual(self.successResultOf(svc.save()), "OK")
        self.assertEqual(self.successResultOf(svc.save()), "OK")
        store.set(b"b", b"2")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual((store2.get(b"a"), store2.get(b"b")), (b"1", b"2"))

    def test_formatOneConverted(self):
        """
        A directory of log format 1 is read, then converted: a snapshot
        replaces its logs, and later starts read format 2 only.
        """
        from kvtwist.test.test_persist_format import legacyRecord
        with open(os.path.join(self.dir, "kvtwist-00000004.aof"), "wb") as f:
            f.write(legacyRecord((b"SET", b"a", b"1"))
                    + legacyRecord((b"SET", b"b", b"2")))
        store, svc = self.start()
        self.assertEqual(store.get(b"b"), b"2")
        self.assertNotIn("kvtwist-00000004.aof", self.files())
        self.assertIn("kvtwist.snapshot", self.files())
        self.assertEqual(self.manifest(), snapfile.Manifest(5, 5))
        store.set(b"c", b"3")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(sorted(store2.keys()), [b"a", b"b", b"c"])

    def test_loadDamaged(self):
        """
        A missing generation refuses to start; with C{loadDamaged} the
        server starts with what could be read, having moved every old file
        into a C{damaged-*} directory (nothing deleted) and begun a new
        chain, which later starts find whole.
        """
        store, svc = self.start()
        for gen, key in enumerate([b"a", b"b", b"c"]):
            store.set(key, b"1")
            self.assertEqual(svc.bgsave(), "Background saving started")
            self.clock.advance(0.05)
            store.set(key + b"2", b"1")
            self.clock.advance(1)
        self.stop(svc)
        logs = self.logPaths()
        os.remove(os.path.join(self.dir, files.SNAPSHOT_NAME))
        self.assertRaises(RecoveryError, self.start)
        with capturedEvents() as events:
            store2, svc2 = self.start(loadDamaged=True)
        self.assertIn("damaged-", formatted(events))
        self.assertEqual(store2.get(b"c2"), b"1")
        [aside] = [n for n in self.files() if n.startswith("damaged-")]
        self.assertEqual(
            sorted(os.listdir(os.path.join(self.dir, aside))),
            sorted([files.MANIFEST_NAME] + [os.path.basename(p)
                                            for p in logs]))
        store2.set(b"d", b"1")
        self.stop(svc2)
        store3, svc3 = self.start()
        self.assertEqual(store3.get(b"c2"), b"1")
        self.assertEqual(store3.get(b"d"), b"1")


class SnapshotTests(ServiceTestMixin, SynchronousTestCase):
    """
    SAVE, BGSAVE and compaction.
    """

    def test_save(self):
        """
        C{SAVE} writes the snapshot, deletes the logs it covers and
        records the time.
        """
        store, svc = self.start()
        store.set(b"k", b"v")
        self.clock.advance(1)
        self.clock.advance(100)
        self.assertEqual(self.successResultOf(svc.save()), "OK")
        self.assertEqual(svc.lastSave, int(START + 101))
        names = self.files()
        self.assertIn(files.SNAPSHOT_NAME, names)
        self.assertEqual(len(self.logPaths()), 0)
        self.assertEqual(svc.info()["rdb_changes_since_last_save"], 0)
        store.set(b"k2", b"v2")
        self.assertEqual(svc.info()["rdb_changes_since_last_save"], 1)
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"k"), b"v")
        self.assertEqual(store2.get(b"k2"), b"v2")
        self.assertEqual(svc2.lastSave, int(START + 101))

    def test_bgsave(self):
        """
        C{BGSAVE} answers at once; when the child is done the snapshot is
        renamed into place and the logs it covers are deleted; later
        writes go to the new generation and survive a restart.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        self.clock.advance(1)
        before = self.logPaths()
        self.assertEqual(svc.bgsave(), "Background saving started")
        self.assertEqual(svc.info()["rdb_bgsave_in_progress"], 1)
        self.assertEqual(svc.bgsave(),
                         "ERR Background save already in progress")
        self.assertEqual(self.successResultOf(svc.save()),
                         "ERR Background save already in progress")
        store.set(b"b", b"2")
        self.clock.advance(0.05)
        info = svc.info()
        self.assertEqual(info["rdb_bgsave_in_progress"], 0)
        self.assertEqual(info["rdb_last_bgsave_status"], "ok")
        self.assertEqual(info["rdb_saves"], 1)
        self.assertIn(files.SNAPSHOT_NAME, self.files())
        for path in before:
            self.assertFalse(os.path.exists(path))
        self.assertEqual(svc.lastSave, int(START + 1))
        snap = snapfile.decodeSnapshot(self.fs.readFile(
            os.path.join(self.dir, files.SNAPSHOT_NAME)))
        self.assertEqual(snap.data, {b"a": b"1"})
        self.clock.advance(1)
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual(store2.get(b"a"), b"1")
        self.assertEqual(store2.get(b"b"), b"2")

    def test_interruptedSnapshotKeepsPrevious(self):
        """
        A snapshot that fails halfway leaves the previous snapshot and the
        logs intact; nothing is lost on restart.
        """
        store, svc = self.start()
        store.set(b"a", b"1")
        self.assertEqual(self.successResultOf(svc.save()), "OK")
        path = os.path.join(self.dir, files.SNAPSHOT_NAME)
        with open(path, "rb") as f:
            previous = f.read()
        store.set(b"b", b"2")
        self.clock.advance(1)
        self.fs.failSnapshot = True
        self.assertEqual(svc.bgsave(), "Background saving started")
        self.clock.advance(0.05)
        self.assertEqual(svc.info()["rdb_last_bgsave_status"], "err")
        self.assertEqual(svc.snapshotErrors, 1)
        self.flushLoggedErrors(OSError)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), previous)
        self.assertEqual([n for n in self.files() if n.endswith(".tmp")],
                         [])
        reply = self.successResultOf(svc.save())
        self.assertTrue(reply.startswith("ERR snapshot failed"), reply)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), previous)
        self.fs.failSnapshot = False
        store.set(b"c", b"3")
        self.stop(svc)
        store2, svc2 = self.start()
        self.assertEqual([store2.get(k) for k in (b"a", b"b", b"c")],
                         [b"1", b"2", b"3"])

    def test_autoCompaction(self):
        """
        Once the live log passes the threshold, a background snapshot
        starts by itself and the log shrinks.
        """
        store, svc = self.start(compactMinBytes=200)
        store.set(b"k", b"v" * 50)
        self.clock.advance(1)
        self.assertEqual(svc.snapshotCount, 0)
        for i in range(10):
            store.set(b"k", b"v" * 50)
        self.clock.advance(1)
        self.assertEqual(svc.info()["rdb_bgsave_in_progress"], 1)
        self.clock.advance(0.05)
        self.assertEqual(svc.snapshotCount, 1)
        self.assertEqual(svc.info()["aof_current_size"],
                         format.LOG_HEADER_SIZE)

    def test_info(self):
        """
        C{info()} gives the persistence fields with Redis-like names; the
        service provides what the stats snapshot reads.
        """
        store, svc = self.start(fsync="always")
        info = svc.info()
        for name in ["aof_enabled", "aof_fsync", "aof_current_size",
                     "aof_pending_bytes", "aof_last_flush_time",
                     "aof_last_write_status", "aof_last_error",
                     "rdb_last_save_time", "rdb_bgsave_in_progress",
                     "rdb_last_bgsave_status", "rdb_last_save_duration_ms",
                     "rdb_changes_since_last_save", "loading_recovered_keys",
                     "loading_recovery_time_ms"]:
            self.assertIn(name, info)
        self.assertEqual(info["aof_fsync"], "always")
        self.assertEqual(info["aof_last_write_status"], "ok")
        self.assertEqual(info["rdb_last_save_time"], int(START))
        from zope.interface.verify import verifyObject
        from kvtwist.stats import IPersistenceStats
        self.assertTrue(verifyObject(IPersistenceStats, svc))


class ProcessForkerTests(SynchronousTestCase):
    """
    The real forker runs the work in a child process.
    """

    def _wait(self, forker, pid):
        while True:
            result = forker.poll(pid)
            if result is not None:
                return result
            os.sched_yield()

    def test_collectionsHeldDuringChild(self):
        """
        Garbage collection is off in the parent while the child runs (so a
        full collection doesn't copy every page), and back on afterwards;
        a killed child gives it back too.
        """
        import gc
        self.assertTrue(gc.isenabled())
        self.addCleanup(gc.enable)
        forker = ProcessForker()
        pid = forker.start(lambda: None)
        self.assertFalse(gc.isenabled())
        self.assertTrue(self._wait(forker, pid))
        self.assertTrue(gc.isenabled())
        ready, wake = os.pipe()
        self.addCleanup(os.close, ready)
        self.addCleanup(os.close, wake)
        pid = forker.start(lambda: os.read(ready, 1))
        self.assertFalse(gc.isenabled())
        forker.kill(pid)
        self.assertTrue(gc.isenabled())

    def test_childWritesSnapshot(self):
        """
        The child writes the snapshot file and exits 0; a failing child
        reports failure.
        """
        d = self.mktemp()
        os.makedirs(d)
        forker = ProcessForker()
        state = ({b"k": b"v"}, {})
        pid = forker.start(lambda: snapshots.writeSnapshot(
            FileSystem(), d, state, 3, 0, "snap.tmp"))
        self.assertTrue(self._wait(forker, pid))
        with open(os.path.join(d, "snap.tmp"), "rb") as f:
            snap = snapfile.decodeSnapshot(f.read())
        self.assertEqual(snap.data, {b"k": b"v"})

        def fail():
            raise RuntimeError("boom")

        import sys
        devnull = os.open(os.devnull, os.O_WRONLY)
        saved = os.dup(2)
        os.dup2(devnull, 2)
        try:
            pid = forker.start(fail)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
        sys.stderr.flush()
        self.assertFalse(self._wait(forker, pid))
