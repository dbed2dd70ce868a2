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
      modes), or fails with L{kvtwist.persist.journal.LogWriteFailed} if
      writing the log fails first (the write then gets C{MISCONF});
    - C{sealBatch()}: called by a connection once it has run what it read;
    - C{save()} (a Deferred of the reply), C{bgsave()}, C{lastSave};
    - C{shutdown(mode)}: C{SHUTDOWN [NOSAVE|SAVE]};
    - C{info()}: the persistence fields of C{INFO}.

At shutdown the service writes everything journaled and refuses to let the
server exit until it has (see L{kvtwist.persist.shutdown}).
"""

import os
import time
from typing import Callable, Optional

from twisted.application.internet import TimerService
from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from kvtwist.persist.figures import StoreServiceFigures
from kvtwist.persist.files import FileSystem
from kvtwist.persist.fork import InlineForker, ProcessForker
from kvtwist.persist.journal import SHUT_DOWN, Journal
from kvtwist.persist.lock import DataDirInUse, DataDirLock
from kvtwist.persist.recovery import RecoveryError, recover
from kvtwist.persist.shutdown import ExitGuard, ShutdownGate
from kvtwist.persist.snapshots import DEFAULT_COMPACT_MIN_BYTES, Snapshotter
from kvtwist.persist.startup import openChain
from kvtwist.persist.threads import DedicatedThread
from kvtwist.persist.writer import LogWriter
from kvtwist.replies import OK, Error
from kvtwist.stats import IPersistenceStats

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


@implementer(IPersistenceStats)
class StoreService(StoreServiceFigures, MultiService):
    """
    Owns a L{kvtwist.store.Store}'s files: recovery, the append-only log,
    flushes, snapshots; and (its child) the expiry sweep.

    @ivar failure: a short description of the current persistence failure,
        or L{None} while persistence works.  Writes are refused meanwhile.
    @ivar journal: the L{Journal}.
    @ivar writer: the L{LogWriter}.
    @ivar snapshots: the L{Snapshotter}.
    @ivar lock: the data directory's L{DataDirLock}, held while running.
    @ivar guard: the L{ExitGuard}: no exit with writes not on disk.
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
                 stopTimeout: float = 10.0, childPollInterval: float = 0.05,
                 loadDamaged: bool = False,
                 installSignal: Optional[Callable] = None):
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
        @param stopTimeout: the most seconds L{stopService} waits for a
            background snapshot before killing it.
        @param childPollInterval: seconds between checks of a snapshot child.
        @param loadDamaged: start even if the files are damaged or missing
            (C{--load-damaged}): load what can be read, and move the old
            files aside (see L{kvtwist.persist.startup}).
        @param installSignal: C{signal.signal} (or a replacement in tests),
            to catch a second SIGTERM while the server refuses to exit.
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
        self._reactor = reactor

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
        self.guard = ExitGuard(self.journal, self.writer, clock,
                               flushInterval, installSignal=installSignal,
                               callFromThread=self._callFromThread)
        ExpirySweeper(store, sweepInterval, sweepLimit,
                      clock).setServiceParent(self)
        # The hot paths, called for every read and every write: bound
        # methods of the journal itself, without a call through here.
        self.sealBatch = self.journal.sealBatch
        self.whenDurable = self.journal.whenDurable
        self.journalSeq = self.journal.seq
        self.groupSince = self.journal.group

    def _wake(self):
        self.writer.flushSoon()

    def _failureChanged(self):
        if self._closed:
            # Stopped: writes stay refused, whatever a late flush says.
            return
        journal = self.journal
        self.failure = self.writer.writeError or journal.sealError

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
        far is durable (or fails if writing the log fails first), or
        L{None} if all are already; L{None} in the other modes (see
        L{Journal.whenDurable}).
        """
        return self.journal.whenDurable()

    def journalSeq(self) -> int:
        """
        The sequence number of the last write journaled: what an C{EXEC}
        or a script takes before it runs, to L{groupSince} after.
        """
        return self.journal.seq()

    def groupSince(self, since: int) -> int:
        """
        Make the writes journaled after sequence number C{since} one group
        that recovery replays whole or not at all (see L{Journal.group}).
        """
        return self.journal.group(since)

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
        self.recoveredKeys = store.keyCount()
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

    def writeBeforeExit(self) -> Deferred:
        """
        Before the server exits (L{ShutdownGate}, while clients are still
        served): write the log, however long it takes, unless the writes
        are given up (see L{ExitGuard}).
        """
        if not self._started or self._closed:
            return succeed(None)
        return self.guard.untilWritten(self.journal.seq())

    def gate(self) -> ShutdownGate:
        """
        The service to add last to the tree (it stops first): it holds the
        rest of the shutdown until the log is written.
        """
        return ShutdownGate(self)

    @inlineCallbacks
    def shutdown(self, mode: Optional[str] = None):
        """
        C{SHUTDOWN [NOSAVE|SAVE]}: stop the server, as Redis does.  Without
        C{NOSAVE}, everything journaled is written first (and with C{SAVE}
        a snapshot taken); if that fails, the server goes on running and
        the reply is an error.  With C{NOSAVE}, the server exits even if
        writing fails, logging what is lost (it still tries).

        @param mode: L{None}, C{"save"} or C{"nosave"}.
        @return: a Deferred firing with C{OK} (the reactor is stopping) or
            an L{Error} reply.
        """
        if not self._started or self._closed:
            return Error("ERR the store service is not running")
        if mode == "nosave":
            self.guard.abandon("SHUTDOWN NOSAVE")
        else:
            written = yield self.guard.tryOnce()
            if not written:
                self._log.error("SHUTDOWN refused: the log can't be "
                                "written ({error})", error=self.failure)
                return Error("ERR Errors trying to SHUTDOWN. Check logs.")
            if mode == "save":
                saved = yield self.save()
                if isinstance(saved, Error):
                    return Error("ERR Errors trying to SHUTDOWN. Check "
                                 "logs.")
        self._log.info("SHUTDOWN{mode}: stopping the server",
                       mode=" " + mode.upper() if mode else "")
        self._clock.callLater(0, self._stopReactor)
        return OK

    def _stopReactor(self):
        from twisted.internet.error import ReactorNotRunning
        try:
            self._getReactor().stop()
        except ReactorNotRunning:
            pass

    def _getReactor(self):
        if self._reactor is None:
            self._reactor = _globalReactor()
        return self._reactor

    def _callFromThread(self, f, *args):
        self._getReactor().callFromThread(f, *args)

    def stopService(self) -> Deferred:
        """
        Stop the loops, write everything journaled (for as long as it
        takes, unless given up: see L{ExitGuard}), let a background
        snapshot finish (killing it after C{stopTimeout} seconds), close
        the files and let the data directory go.

        @return: a Deferred that fires when done.
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

        def finished(result):
            if isinstance(result, Failure):
                self._log.failure("shutdown failed", failure=result)
            self.stoppedCleanly = (not isinstance(result, Failure) and
                                   not self.journal.hasUnwritten() and
                                   not self.writer.held and
                                   not self.writer.inFlight)
            self.writer.close()
            if self._ownThread is not None:
                self._ownThread.stop()
            self.lock.release()
            # Connections may outlive the listeners for a moment: refuse
            # their writes (MISCONF) rather than accept what won't be
            # written.
            self._closed = True
            self.failure = SHUT_DOWN
            self.store.journal = None
            done.callback(None)

        self._shutdown().addBoth(finished)
        return done

    @inlineCallbacks
    def _shutdown(self):
        yield self.guard.untilWritten()
        snaps = self.snapshots
        if snaps.inProgress:
            self._log.info("Waiting for the background snapshot to finish")
            timer = self._clock.callLater(self._stopTimeout, snaps.killChild)
            yield snaps.whenDone()
            if timer.active():
                timer.cancel()
        current = self.writer.current
        self._log.info("Store service stopped: log written up to {size} "
                       "bytes of generation {gen}", size=current.offset,
                       gen=current.gen)
