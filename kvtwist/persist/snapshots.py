# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
Snapshots: C{SAVE}, C{BGSAVE} and compaction.

A snapshot holds the whole store as of the end of some log generation
C{G}.  It begins by starting generation C{G + 1} for every later write
(L{kvtwist.persist.writer.LogWriter.rotate}); then the store is
serialised to a temporary file of a name no other snapshot uses, which is
fsynced, read back and checked, and renamed into place; only then are the
generations it covers deleted.  An interrupted snapshot
never touches the previous one: it only ever writes a temporary file.

C{SAVE} writes on the reactor thread (it blocks, as Redis's C{SAVE}
does).  C{BGSAVE} forks: the child writes the temporary file, the parent
polls for its exit and then, on the log writer's thread, renames the file
into place and deletes the covered generations.  Compaction starts a
C{BGSAVE} by itself once the live logs exceed C{compactMinBytes} and the
last snapshot's size.
"""

import collections
import os
import time
from functools import partial
from typing import Callable, List, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from kvtwist.persist import snapfile
from kvtwist.persist.files import SNAPSHOT_NAME, FileSystem, snapshotTempName
from kvtwist.persist.journal import Journal, describe
from kvtwist.persist.writer import LogWriter
from kvtwist.replies import OK, Error, Status

#: Start a compaction once the live logs are at least this big (and bigger
#: than the last snapshot).
DEFAULT_COMPACT_MIN_BYTES = 64 * 1024 * 1024

BGSAVE_IN_PROGRESS = Error("ERR Background save already in progress")


def writeSnapshot(fs: FileSystem, dataDir: str, state, nextGen: int,
                  savedAtMs: int, tmpName: str) -> int:
    """
    Write a snapshot of C{state} to the temporary file C{tmpName} in
    C{dataDir} and fsync it; do not install it.  Return its size in bytes.

    Run this where blocking is fine: a forked child, or C{SAVE}.
    """
    payload = snapfile.encodeSnapshotPayload(state)
    header = snapfile.snapshotHeader(nextGen, savedAtMs, len(payload))
    trailer = snapfile.snapshotTrailer(header, payload)
    fs.writeNew(os.path.join(dataDir, tmpName), [header, payload, trailer])
    return len(header) + len(payload) + len(trailer)


def installSnapshot(fs: FileSystem, dataDir: str, tmpName: str,
                    nextGen: int, obsoleteLogs: List[str],
                    recorded: Optional[Callable[[], None]] = None) -> int:
    """
    Check the written temporary snapshot C{tmpName} (read back whole: its
    header names C{nextGen}, its length and CRC are right), rename it into
    place, fsync the directory, call C{recorded()} (which updates the
    manifest), then delete the log files it covers.  A snapshot that
    fails a check is not installed, and no log is deleted.

    @return: the snapshot's size.
    @raise snapfile.CorruptSnapshot: if it fails a check.
    """
    path = os.path.join(dataDir, tmpName)
    size = fs.checkSnapshot(path, nextGen)
    fs.rename(path, os.path.join(dataDir, SNAPSHOT_NAME))
    fs.fsyncDir(dataDir)
    if recorded is not None:
        recorded()
    for log in obsoleteLogs:
        fs.remove(log)
    if obsoleteLogs:
        fs.fsyncDir(dataDir)
    return size


class _Child:
    """
    A snapshot being written in the background.
    """

    def __init__(self, handle, nextGen: int, tmpName: str, savedAtMs: int,
                 seq: int, started: float):
        self.handle = handle
        self.nextGen = nextGen
        self.tmpName = tmpName
        self.savedAtMs = savedAtMs
        self.seq = seq
        self.started = started
        self.installing = False
        self.waiters: List[Deferred] = []


class Snapshotter:
    """
    Takes snapshots of a store and installs them.

    @ivar lastSave: unix time (seconds) of the last successful snapshot,
        or of startup if there is none.
    @ivar seqAtSave: the journal's sequence number the last snapshot
        covers.
    @ivar snapshotSize: the size of the last snapshot, in bytes.
    @ivar snapshotCount: snapshots installed.
    @ivar snapshotErrors: snapshots that failed.
    @ivar snapshotDurations: the last 128 snapshot durations, in seconds.
    @ivar lastBgsaveStatus: C{"ok"} or C{"err"}.
    @ivar lastForkDuration: seconds the last C{BGSAVE}'s fork took.
    @ivar compactMinBytes: the live log size that starts compaction.
    """

    _log = Logger()

    def __init__(self, store, journal: Journal, writer: LogWriter,
                 dataDir: str, fs: FileSystem, forker, clock,
                 runInThread: Callable[..., Deferred],
                 compactMinBytes: int = DEFAULT_COMPACT_MIN_BYTES,
                 childPollInterval: float = 0.05):
        """
        @param store: the L{kvtwist.store.Store}.
        @param journal: its journal (for the sequence numbers).
        @param writer: the log writer (generations).
        @param dataDir: the data directory.
        @param fs: the file layer.
        @param forker: runs the snapshot work in the background (see
            L{kvtwist.persist.fork}).
        @param clock: an L{IReactorTime}.
        @param runInThread: where installing runs (the log writer's
            thread: installing deletes the logs it writes).
        @param compactMinBytes: see the instance variable.
        @param childPollInterval: seconds between checks of a child.
        """
        self.store = store
        self._journal = journal
        self._writer = writer
        self.dataDir = dataDir
        self._fs = fs
        self._forker = forker
        self._clock = clock
        self._runInThread = runInThread
        self.compactMinBytes = compactMinBytes
        self._childPollInterval = childPollInterval
        self.lastSave = 0
        self.seqAtSave = 0
        self.snapshotSize = 0
        self.snapshotCount = 0
        self.snapshotErrors = 0
        self.snapshotDurations: collections.deque = collections.deque(
            maxlen=128)
        self.lastBgsaveStatus = "ok"
        self.lastForkDuration = 0.0
        self._child: Optional[_Child] = None
        self._saving = False
        self._childCall = None
        self._lastBgsaveFailure: Optional[float] = None

    def _now(self) -> float:
        return self._clock.seconds()

    @property
    def inProgress(self) -> bool:
        """
        Whether a background snapshot is running.
        """
        return self._child is not None

    @property
    def saving(self) -> bool:
        """
        Whether a C{SAVE} is being installed.
        """
        return self._saving

    def childSeconds(self) -> int:
        """
        How long the running background snapshot has run (-1: none).
        """
        child = self._child
        return int(self._now() - child.started) if child else -1

    def _installed(self, nextGen: int, savedAtMs: int, seq: int, size: int,
                   seconds: float):
        self._writer.retire(nextGen)
        self.lastSave = int(savedAtMs // 1000)
        self.seqAtSave = seq
        self.snapshotSize = size
        self.snapshotCount += 1
        self.snapshotDurations.append(seconds)
        self.lastBgsaveStatus = "ok"

    def _failed(self, what: str, error: str, tmpName: Optional[str] = None):
        self.snapshotErrors += 1
        self.lastBgsaveStatus = "err"
        self._lastBgsaveFailure = self._now()
        if tmpName is not None:
            try:
                self._fs.remove(os.path.join(self.dataDir, tmpName))
            except OSError:
                pass
        self._log.error("{what} failed: {error}; the previous snapshot and "
                        "the logs are intact", what=what, error=error)

    def _refused(self, what: str) -> Error:
        error = self._journal.sealError
        self._failed(what, error)
        return Error("ERR %s refused: %s" % (what, error))

    def save(self) -> Deferred:
        """
        C{SAVE}: write a snapshot now, on the reactor thread (it blocks, as
        Redis's C{SAVE} does); then, on the log writer's thread, check and
        install it and delete the logs it covers.

        @return: a Deferred firing with C{OK}, or with an L{Error} reply.
        """
        if self._child is not None or self._saving:
            return succeed(BGSAVE_IN_PROGRESS)
        started = time.perf_counter()
        nextGen = self._writer.rotate()
        if nextGen is None:
            return succeed(self._refused("SAVE"))
        savedAt = int(self._now() * 1000)
        covered = self._writer.coveredBy(nextGen)
        tmpName = snapshotTempName(nextGen)
        seq = self._journal.seq()
        try:
            writeSnapshot(self._fs, self.dataDir, self.store.dumpState(),
                          nextGen, savedAt, tmpName)
        except Exception as e:
            self._failed("SAVE", describe(e), tmpName)
            return succeed(Error("ERR snapshot failed: %s" % (describe(e),)))
        self._saving = True
        d = self._runInThread(
            installSnapshot, self._fs, self.dataDir, tmpName, nextGen,
            [g.path for g in covered],
            partial(self._writer.recordSnapshot, nextGen, covered))

        def installed(size):
            seconds = time.perf_counter() - started
            self._installed(nextGen, savedAt, seq, size, seconds)
            self._log.info("DB saved on disk ({keys} keys, {size} bytes, "
                           "{ms:.1f} ms)", keys=self.store.keyCount(), size=size,
                           ms=seconds * 1000)
            return OK

        def failed(reason):
            self._failed("SAVE", describe(reason.value), tmpName)
            return Error("ERR snapshot failed: %s" % (describe(reason.value),))

        def done(result):
            self._saving = False
            return result

        return d.addCallbacks(installed, failed).addBoth(done)

    def bgsave(self):
        """
        C{BGSAVE}: snapshot in a forked child; the reactor only pays for
        the fork.

        @return: C{Background saving started}, or an L{Error} reply.
        """
        if self._child is not None or self._saving:
            return BGSAVE_IN_PROGRESS
        nextGen = self._writer.rotate()
        if nextGen is None:
            return self._refused("BGSAVE")
        savedAt = int(self._now() * 1000)
        state = self.store.dumpState()
        fs = self._fs
        dataDir = self.dataDir
        tmpName = snapshotTempName(nextGen)

        def work():
            writeSnapshot(fs, dataDir, state, nextGen, savedAt, tmpName)

        started = self._now()
        forkStarted = time.perf_counter()
        try:
            handle = self._forker.start(work)
        except Exception as e:
            self._failed("BGSAVE", "can't fork: %s" % (describe(e),),
                         tmpName)
            return Error("ERR Background save failed to start: %s"
                         % (describe(e),))
        self.lastForkDuration = time.perf_counter() - forkStarted
        self._child = _Child(handle, nextGen, tmpName, savedAt,
                             self._journal.seq(), started)
        self._log.info("Background saving started (child {handle}, "
                       "logs before generation {gen}; fork took {ms:.1f} "
                       "ms)", handle=handle, gen=nextGen,
                       ms=self.lastForkDuration * 1000)
        self._childCall = self._clock.callLater(self._childPollInterval,
                                                self._pollChild)
        return Status("Background saving started")

    def _pollChild(self):
        self._childCall = None
        child = self._child
        if child is None:
            return
        try:
            ok = self._forker.poll(child.handle)
        except Exception:
            ok = False
            self._log.failure("polling the snapshot child failed")
        if ok is None:
            self._childCall = self._clock.callLater(self._childPollInterval,
                                                    self._pollChild)
            return
        if not ok:
            self._failed("BGSAVE", "the child process failed", child.tmpName)
            self._childDone()
            return
        child.installing = True
        covered = self._writer.coveredBy(child.nextGen)
        d = self._runInThread(
            installSnapshot, self._fs, self.dataDir, child.tmpName,
            child.nextGen, [g.path for g in covered],
            partial(self._writer.recordSnapshot, child.nextGen, covered))

        def installed(size):
            seconds = self._now() - child.started
            self._installed(child.nextGen, child.savedAtMs, child.seq, size,
                            seconds)
            self._log.info("Background saving terminated with success "
                           "({size} bytes, {seconds:.3f}s)", size=size,
                           seconds=seconds)

        def failed(reason):
            self._failed("BGSAVE install", describe(reason.value),
                         child.tmpName)

        d.addCallbacks(installed, failed)
        d.addBoth(lambda _: self._childDone())

    def _childDone(self):
        child, self._child = self._child, None
        if child is not None:
            for d in child.waiters:
                if not d.called:
                    d.callback(None)

    def whenDone(self) -> Deferred:
        """
        A Deferred that fires once no background snapshot runs.
        """
        if self._child is None:
            return succeed(None)
        d = Deferred()
        self._child.waiters.append(d)
        return d

    def killChild(self):
        """
        Kill a background snapshot still being written (not one being
        installed: that takes no time).
        """
        child = self._child
        if child is None or child.installing:
            return
        if self._childCall is not None and self._childCall.active():
            self._childCall.cancel()
        self._childCall = None
        self._log.warn("Killing the background snapshot child {handle}",
                       handle=child.handle)
        try:
            self._forker.kill(child.handle)
        except Exception:
            self._log.failure("killing the snapshot child failed")
        self._failed("BGSAVE", "killed at shutdown", child.tmpName)
        self._childDone()

    def maybeCompact(self):
        """
        Start a background snapshot if the live logs have grown past
        C{compactMinBytes} and the last snapshot, unless one runs or one
        failed less than a minute ago.
        """
        if self._child is not None or self._saving:
            return
        size = self._writer.liveBytes()
        if size < self.compactMinBytes or size <= self.snapshotSize:
            return
        if (self._lastBgsaveFailure is not None
                and self._now() - self._lastBgsaveFailure < 60):
            return
        self._log.info("The log has grown to {size} bytes: compacting",
                       size=size)
        self.bgsave()
