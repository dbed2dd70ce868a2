# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
The store service: wires the journal, the log writer and the snapshots of
one data directory, recovers at startup, flushes on a L{LoopingCall} and
flushes once more at shutdown.

What other code uses (the persistence entry points):

    - C{failure}: why persistence fails (writes get C{MISCONF}), or
      L{None} while it works;
    - C{whenDurable()}: with C{--fsync always}, a Deferred that fires once
      the writes so far are durable (L{None} if they are, or in the other
      modes);
    - C{sealBatch()}: called by a connection once it has run what it read;
    - C{save()}, C{bgsave()}, C{lastSave};
    - C{info()}: the persistence fields of C{INFO}.
"""

import collections
import os
import time
from typing import Callable, Optional

from twisted.application.internet import TimerService
from twisted.application.service import MultiService
from twisted.internet.defer import (
    CancelledError, Deferred, inlineCallbacks, succeed)
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from kvtwist.persist.files import FileSystem
from kvtwist.persist.fork import InlineForker, ProcessForker
from kvtwist.persist.journal import Journal
from kvtwist.persist.lock import DataDirInUse, DataDirLock
from kvtwist.persist.recovery import RecoveryError, recover
from kvtwist.persist.snapshots import DEFAULT_COMPACT_MIN_BYTES, Snapshotter
from kvtwist.persist.startup import openChain
from kvtwist.persist.threads import DedicatedThread
from kvtwist.persist.writer import LogWriter
from kvtwist.replies import Error

FSYNC_MODES = ("always", "interval", "no")


class ExpirySweeper(TimerService):
    """
    Removes expired keys that nobody reads, a few at a time: every
    C{interval} seconds, at most C{limit} keys.  A failing sweep is logged
    and the next one runs as usual.
    """

    _log = Logger()

    def __init__(self, store, interval: float = 0.1, limit: int = 1000,
                 clock=None):
        """
        @param store: the L{kvtwist.store.Store}.
        @param interval: seconds between sweeps.
        @param limit: the most keys one sweep may expire.
        @param clock: an L{IReactorTime}; the reactor if not given.
        """
        TimerService.__init__(self, interval, self.sweep)
        self.store = store
        self.limit = limit
        self.clock = clock

    def sweep(self):
        """
        Expire at most C{limit} keys.
        """
        try:
            self.store.sweep(self.limit)
        except Exception:
            self._log.failure("expiry sweep failed")


def _globalReactor():
    from twisted.internet import reactor
    return reactor


class StoreService(MultiService):
    """
    Owns a L{kvtwist.store.Store}'s files: recovery, the append-only log,
    flushes, snapshots; and (its child) the expiry sweep.

    @ivar failure: a short description of the current persistence failure,
        or L{None} while persistence works.  Writes are refused meanwhile.
    @ivar journal: the L{Journal}.
    @ivar writer: the L{LogWriter}.
    @ivar snapshots: the L{Snapshotter}.
    @ivar lock: the data directory's L{DataDirLock}, held while running.
    @ivar recoveredKeys: keys in the store after recovery.
    @ivar recoveryTime: seconds recovery took.
    @ivar tornBytes: bytes dropped from a torn log tail at recovery.
    @ivar stoppedCleanly: whether the last stopService flushed everything.
    """

    stoppedCleanly = False

    name = "kvtwist-store"
    _log = Logger()

    def __init__(self, store, dataDir: str, fsync: str = "interval",
                 flushInterval: float = 1.0, clock=None, reactor=None,
                 runInThread: Optional[Callable[..., Deferred]] = None,
                 forker=None, fs: Optional[FileSystem] = None,
                 sweepInterval: float = 0.1, sweepLimit: int = 1000,
                 compactMinBytes: int = DEFAULT_COMPACT_MIN_BYTES,
                 stopTimeout: float = 10.0, stopRetries: int = 3,
                 childPollInterval: float = 0.05, loadDamaged: bool = False):
        """
        @param store: the L{kvtwist.store.Store}.
        @param dataDir: the directory of the files.
        @param fsync: C{"always"}, C{"interval"} or C{"no"}.
        @param flushInterval: seconds between flushes (and retries).
        @param clock: an L{IReactorTime}; C{reactor} if not given.
        @param reactor: the reactor (threads); the global one if not given.
        @param runInThread: C{runInThread(f, *args) -> Deferred}: where the
            log is written (and snapshots installed).  A thread of its own
            (L{DedicatedThread}) if not given.
        @param forker: runs snapshot work in the background
            (L{ProcessForker} where C{os.fork} exists, else L{InlineForker}).
        @param fs: the file layer (L{FileSystem}).
        @param sweepInterval: seconds between active expiry sweeps.
        @param sweepLimit: the most keys one sweep may expire.
        @param compactMinBytes: the live log size that starts compaction.
        @param stopTimeout: the most seconds L{stopService} may take.
        @param stopRetries: how often L{stopService} retries a failing flush.
        @param childPollInterval: seconds between checks of a snapshot child.
        @param loadDamaged: start even if the files are damaged or missing
            (C{--load-damaged}): load what can be read, and move the old
            files aside (see L{kvtwist.persist.startup}).
        """
        MultiService.__init__(self)
        if fsync not in FSYNC_MODES:
            raise ValueError("fsync must be one of %s, not %r"
                             % (", ".join(FSYNC_MODES), fsync))
        if clock is None:
            clock = reactor if reactor is not None else _globalReactor()
        self._ownThread: Optional[DedicatedThread] = None
        if runInThread is None:
            runInThread = self._ownThread = DedicatedThread(
                "kvtwist log writer", reactor)
        if forker is None:
            forker = ProcessForker() if hasattr(os, "fork") else InlineForker()
        self.store = store
        self.dataDir = os.path.abspath(dataDir)
        self.fsyncMode = fsync
        self.flushInterval = flushInterval
        self.loadDamaged = loadDamaged
        self._clock = clock
        self._fs = fs if fs is not None else FileSystem()
        self._stopTimeout = stopTimeout
        self._stopRetries = stopRetries

        self.lock = DataDirLock(self.dataDir)
        self.failure: Optional[str] = None
        self.recoveredKeys = 0
        self.recoveryTime = 0.0
        self.tornBytes = 0
        self._stopping = False
        self._started = False
        self._closed = False
        self._flushLoop: Optional[LoopingCall] = None

        always = fsync == "always"
        self.journal = Journal(always, wake=self._wake,
                               changed=self._failureChanged)
        self.writer = LogWriter(
            self.journal, self.dataDir, self._fs, runInThread, clock,
            fsync=fsync != "no", retryInterval=flushInterval,
            changed=self._failureChanged)
        self.snapshots = Snapshotter(
            store, self.journal, self.writer, self.dataDir, self._fs,
            forker, clock, runInThread, compactMinBytes=compactMinBytes,
            childPollInterval=childPollInterval)
        ExpirySweeper(store, sweepInterval, sweepLimit,
                      clock).setServiceParent(self)
        # The hot paths, called for every read and every write: bound
        # methods of the journal itself, without a call through here.
        self.sealBatch = self.journal.sealBatch
        self.whenDurable = self.journal.whenDurable

    def _wake(self):
        self.writer.flushSoon()

    def _failureChanged(self):
        if self._closed:
            # Stopped: writes stay refused, whatever a late flush says.
            return
        self.failure = self.writer.writeError or self.journal.sealError

    # -- the entry points --------------------------------------------------

    def sealBatch(self):
        """
        Encode the pending ops as a log record if enough are pending (see
        L{Journal.sealBatch}).  A connection calls this after running what
        it read.
        """
        self.journal.sealBatch()

    def whenDurable(self) -> Optional[Deferred]:
        """
        With C{fsync="always"}: a Deferred that fires once every write so
        far is durable, or L{None} if all are already; L{None} in the
        other modes (see L{Journal.whenDurable}).
        """
        return self.journal.whenDurable()

    def save(self):
        """
        C{SAVE}: a snapshot now, blocking (see L{Snapshotter.save}).
        """
        if not self._started:
            return Error("ERR the store service is not running")
        return self.snapshots.save()

    def bgsave(self):
        """
        C{BGSAVE}: a snapshot in a child process (see
        L{Snapshotter.bgsave}).
        """
        if not self._started:
            return Error("ERR the store service is not running")
        return self.snapshots.bgsave()

    @property
    def lastSave(self) -> int:
        """
        Unix time of the last snapshot, or of startup without one.
        """
        return self.snapshots.lastSave

    # -- the service -------------------------------------------------------

    def startService(self):
        """
        Take the data directory's lock, recover the store from disk
        (synchronously), start journaling, the flush loop and the expiry
        sweep.

        @raise DataDirInUse: if another server holds the directory.
        @raise RecoveryError: if the files can't be recovered.
        """
        try:
            self.lock.acquire()
        except DataDirInUse as e:
            self._log.critical("Refusing to start: {message}",
                               message=str(e))
            raise
        try:
            self._recover()
        except RecoveryError as e:
            self.lock.release()
            # One clear error, without the chain of exceptions behind it.
            self._log.critical("Can't recover the store: {message}",
                               message=str(e))
            raise RecoveryError(str(e)) from None
        self.store.journal = self.journal.append
        self._started = True
        self._flushLoop = LoopingCall(self._tick)
        self._flushLoop.clock = self._clock
        self._flushLoop.start(self.flushInterval, now=False).addErrback(
            lambda f: self._log.failure("flush loop died", failure=f))
        MultiService.startService(self)

    def _recover(self):
        started = time.perf_counter()
        store = self.store
        store.journal = None
        found = recover(store, self.dataDir, self._fs,
                        salvage=self.loadDamaged)
        for problem in found.problems:
            self._log.critical("Loading despite damage (--load-damaged): "
                               "{problem}", problem=problem)
        now = self._clock.seconds()
        chain = openChain(self._fs, self.dataDir, store, found,
                          int(now * 1000), self._log)
        snaps = self.snapshots
        if chain.snapshotSize is not None:
            snaps.snapshotSize = chain.snapshotSize
            snaps.lastSave = int(now)
        elif found.savedAtMs is not None:
            snaps.snapshotSize = found.snapshotSize
            snaps.lastSave = int(found.savedAtMs // 1000)
        else:
            snaps.lastSave = int(now)
        self.writer.begin(chain.live, chain.current, chain.base)
        self.tornBytes = found.tornBytes
        self.recoveredKeys = store.size()
        self.recoveryTime = time.perf_counter() - started
        self._log.info(
            "Recovered {keys} keys in {seconds:.3f}s from {dataDir} "
            "(snapshot: {snapshot}, {records} log records replayed); "
            "writing log generation {gen}",
            keys=self.recoveredKeys, seconds=self.recoveryTime,
            dataDir=self.dataDir, snapshot="yes" if found.snapshot else "none",
            records=found.replayed, gen=chain.current.gen)

    def _tick(self):
        try:
            self.writer.flush()
            if not self._stopping:
                self.snapshots.maybeCompact()
        except Exception:
            self._log.failure("flush tick failed")

    def stopService(self) -> Deferred:
        """
        Stop the loops, flush everything pending (retrying a failing flush
        a few times), let a background snapshot finish, close the files.

        @return: a Deferred that fires when done, or after C{stopTimeout}
            seconds at the latest (then what could not be finished is
            logged and a snapshot child is killed).
        """
        if not self._started or self._stopping:
            if self.running:
                MultiService.stopService(self)
            return succeed(None)
        MultiService.stopService(self)
        self._stopping = True
        self.writer.stopping = True
        if self._flushLoop is not None and self._flushLoop.running:
            self._flushLoop.stop()
        self.writer.cancelScheduled()

        done = Deferred()
        work = self._shutdown()

        def giveUp():
            self._log.critical(
                "Shutdown took over {timeout}s; giving up: {pending} bytes "
                "of log not written ({error})",
                timeout=self._stopTimeout,
                pending=self.journal.pendingBytes(),
                error=self.failure or "flush in progress")
            self.snapshots.killChild()
            work.cancel()

        timer = self._clock.callLater(self._stopTimeout, giveUp)

        def finished(result):
            if timer.active():
                timer.cancel()
            if isinstance(result, Failure) and not result.check(
                    CancelledError):
                self._log.failure("shutdown failed", failure=result)
            self.stoppedCleanly = (not isinstance(result, Failure) and
                                   not self.journal.hasUnwritten())
            self.writer.close()
            if self._ownThread is not None:
                self._ownThread.stop()
            self.lock.release()
            # Connections may outlive the listeners for a moment: refuse
            # their writes (MISCONF) rather than accept what won't be
            # written.
            self._closed = True
            self.failure = "the server is shutting down"
            self.store.journal = None
            done.callback(None)

        work.addBoth(finished)
        return done

    @inlineCallbacks
    def _shutdown(self):
        writer = self.writer
        attempts = 0
        while True:
            yield writer.whenIdle()
            writer.flush()
            yield writer.whenIdle()
            if not self.journal.hasUnwritten():
                break
            if self.failure is None:
                # Writes arrived during the flush: flush again.
                continue
            attempts += 1
            if attempts > self._stopRetries:
                self._log.critical(
                    "Giving up flushing the log at shutdown: {pending} "
                    "bytes not written ({error})",
                    pending=self.journal.pendingBytes(), error=self.failure)
                break
            self._log.warn("Flush at shutdown failed ({error}); retrying",
                           error=self.failure)
            yield deferLater(self._clock, min(self.flushInterval, 1.0),
                             lambda: None)
        if self.snapshots.inProgress:
            self._log.info("Waiting for the background snapshot to finish")
            yield self.snapshots.whenDone()
        current = writer.current
        self._log.info("Store service stopped: log flushed ({size} bytes "
                       "in generation {gen})", size=current.offset,
                       gen=current.gen)

    # -- figures -----------------------------------------------------------

    @property
    def persistenceErrors(self) -> int:
        """
        Every persistence error since start: flushes, encodings, snapshots.
        """
        return (self.writer.flushErrors + self.journal.sealErrors
                + self.snapshots.snapshotErrors)

    @property
    def flushCount(self) -> int:
        """
        Flushes that succeeded.
        """
        return self.writer.flushCount

    @property
    def flushErrors(self) -> int:
        """
        Flushes that failed.
        """
        return self.writer.flushErrors

    @property
    def flushDurations(self) -> "collections.deque[float]":
        """
        The last 128 flush durations, in seconds.
        """
        return self.writer.flushDurations

    @property
    def lastFlushTime(self) -> float:
        """
        Unix time of the last successful flush (0: none).
        """
        return self.writer.lastFlushTime

    @property
    def snapshotCount(self) -> int:
        """
        Snapshots installed.
        """
        return self.snapshots.snapshotCount

    @property
    def snapshotErrors(self) -> int:
        """
        Snapshots that failed.
        """
        return self.snapshots.snapshotErrors

    @property
    def snapshotDurations(self) -> "collections.deque[float]":
        """
        The last 128 snapshot durations, in seconds.
        """
        return self.snapshots.snapshotDurations

    @property
    def snapshotSize(self) -> int:
        """
        The size of the last snapshot, in bytes.
        """
        return self.snapshots.snapshotSize

    def info(self) -> "collections.OrderedDict[str, object]":
        """
        The persistence fields of C{INFO}, with Redis's names where Redis
        has one.
        """
        journal = self.journal
        writer = self.writer
        snaps = self.snapshots
        durations = writer.flushDurations
        saves = snaps.snapshotDurations
        return collections.OrderedDict([
            ("loading", 0),
            ("aof_enabled", 1),
            ("aof_fsync", self.fsyncMode),
            ("aof_flush_interval", "%g" % (self.flushInterval,)),
            ("aof_current_size", writer.liveBytes()),
            ("aof_current_generation",
             writer.current.gen if writer.current else 0),
            ("aof_pending_ops", journal.pendingOps()),
            ("aof_pending_bytes", journal.pendingBytes()),
            ("aof_flush_in_progress", int(writer.inFlight)),
            ("aof_last_flush_time", int(writer.lastFlushTime)),
            ("aof_last_flush_duration_ms",
             int(round(durations[-1] * 1000)) if durations else 0),
            ("aof_flushes", writer.flushCount),
            ("aof_last_write_status",
             "ok" if self.failure is None else "err"),
            ("aof_last_error", self.failure or ""),
            ("aof_flush_errors", writer.flushErrors),
            ("rdb_changes_since_last_save", journal.seq() - snaps.seqAtSave),
            ("rdb_bgsave_in_progress", int(snaps.inProgress)),
            ("rdb_last_save_time", snaps.lastSave),
            ("rdb_last_bgsave_status", snaps.lastBgsaveStatus),
            ("rdb_last_save_duration_ms",
             int(round(saves[-1] * 1000)) if saves else -1),
            ("rdb_current_bgsave_time_sec", snaps.childSeconds()),
            ("rdb_snapshot_size", snaps.snapshotSize),
            ("latest_fork_usec", int(snaps.lastForkDuration * 1e6)),
            ("rdb_saves", snaps.snapshotCount),
            ("rdb_save_errors", snaps.snapshotErrors),
            ("persistence_errors", self.persistenceErrors),
            ("loading_recovered_keys", self.recoveredKeys),
            ("loading_recovery_time_ms", int(round(self.recoveryTime * 1000))),
            ("loading_torn_bytes", self.tornBytes),
        ])
