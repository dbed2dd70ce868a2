# -*- test-case-name: kvtwist.test.test_persist_service,kvtwist.test.test_persist_writer -*-
"""
The log writer: takes the journal's sealed records and writes them to
their log generation, on a thread of its own, and (unless C{fsync="no"})
fsyncs them.

Only one flush is ever in flight.  A flush writes every record sealed so
far, about L{LogWriter.WRITE_BYTES} at a time, at known offsets: a retry
after a partial failure overwrites the partial bytes instead of leaving
them in the middle of the log.  A failing write or fsync is logged loudly,
the records are kept (nothing is dropped) and the next flush tries again;
meanwhile L{LogWriter.writeError} says why, and writes are refused.

With C{fsync="always"}, every append to the journal schedules a flush on
the next reactor turn (L{LogWriter.flushSoon}), so every write of that
moment shares one fsync (group commit); a write that arrives while a
flush is in flight is flushed right after it.
"""

import collections
import os
import time
from typing import (Callable, Dict, Iterable, Iterator, List, Optional,
                    Union)

from twisted.internet.defer import Deferred, succeed
from twisted.logger import Logger

from kvtwist.persist import format, snapfile
from kvtwist.persist.files import FileSystem, logName, writeManifest
from kvtwist.persist.journal import Journal, LogWriteFailed, describe


class Generation:
    """
    One log generation file.

    @ivar gen: its number.
    @ivar path: its path.
    @ivar fd: its open file descriptor, or L{None} until first written
        (the file is created then, with its header).
    @ivar offset: how many bytes of it are written (and, unless
        C{fsync="no"}, fsynced), its header included.
    @ivar used: whether any record was sealed into it.
    @ivar obsolete: whether a durable snapshot covers it (so it need not,
        and must not, be written).
    """

    __slots__ = ("gen", "path", "fd", "offset", "used", "obsolete")

    def __init__(self, gen: int, path: str,
                 offset: int = format.LOG_HEADER_SIZE):
        self.gen = gen
        self.path = path
        self.fd: Optional[int] = None
        self.offset = offset
        self.used = offset > format.LOG_HEADER_SIZE
        self.obsolete = False


def joined(records: List[Union[bytes, format.Pieces]],
           limit: int) -> Iterator[bytes]:
    """
    C{records} joined, in order, into strings that each end with the record
    that brings them to C{limit} bytes or more (the last may be shorter):
    no record is split.  A record (or a piece of L{format.Pieces}) of
    C{limit} bytes or more is never joined to anything: it is written as
    it is, not copied.
    """
    piece: List[bytes] = []
    size = 0
    for data in _flat(records):
        if len(data) >= limit and piece:
            yield piece[0] if len(piece) == 1 else b"".join(piece)
            piece = []
            size = 0
        piece.append(data)
        size += len(data)
        if size >= limit:
            yield piece[0] if len(piece) == 1 else b"".join(piece)
            piece = []
            size = 0
    if piece:
        yield piece[0] if len(piece) == 1 else b"".join(piece)


def _flat(records: List[Union[bytes, format.Pieces]]) -> Iterator[bytes]:
    for data in records:
        if data.__class__ is format.Pieces:
            yield from data.pieces
        else:
            yield data


class LogWriter:
    """
    Writes the journal's records to the log generations of a data
    directory.

    @ivar generations: the live generations by number (those no snapshot
        covers yet), the current one included.
    @ivar current: the generation new records go to.
    @ivar base: the first generation the snapshot does not cover (1: no
        snapshot), as the manifest says.  Changed on the writer's thread
        only (by installing a snapshot), as is C{lastCreated}.
    @ivar lastCreated: the last generation whose file was created.
    @ivar writeError: why the last flush failed, or L{None} if it worked.
    @ivar inFlight: whether a flush is running.
    @ivar stopping: set at shutdown: no more flushes are scheduled by
        themselves (an explicit L{flush} still runs).
    @ivar flushCount: flushes that succeeded.
    @ivar flushErrors: flushes that failed.
    @ivar flushDurations: the last 128 flush durations, in seconds.
    @ivar lastFlushTime: unix time of the last successful flush (0: none).
    """

    #: About the most bytes joined into one write of the log: joining a
    #: burst of a million writes into one string would take tens of MB
    #: more, memory the process keeps; one write per record would take
    #: thousands of system calls.
    WRITE_BYTES = 1 << 20

    _log = Logger()

    def __init__(self, journal: Journal, dataDir: str, fs: FileSystem,
                 runInThread: Callable[..., Deferred], clock,
                 fsync: bool = True, retryInterval: float = 1.0,
                 changed: Optional[Callable[[], None]] = None):
        """
        @param journal: where the records come from.
        @param dataDir: the data directory.
        @param fs: the file layer.
        @param runInThread: C{runInThread(f, *args) -> Deferred}: where
            the writes run (the writer's own thread, in production).
        @param clock: an L{IReactorTime}.
        @param fsync: whether to fsync after writing.
        @param retryInterval: how often a failing flush is retried (by the
            periodic flush), for the logs.
        @param changed: called when L{writeError} changes.
        """
        self.journal = journal
        self.dataDir = dataDir
        self._fs = fs
        self._runInThread = runInThread
        self._clock = clock
        self._fsync = fsync
        self._retryInterval = retryInterval
        self._changed = changed
        self.generations: Dict[int, Generation] = {}
        self.current: Optional[Generation] = None
        self.base = 1
        self.lastCreated = 0
        self._obsolete: List[Generation] = []
        self.writeError: Optional[str] = None
        self.inFlight = False
        self.stopping = False
        self._idleWaiters: List[Deferred] = []
        self._flushCall = None
        self.flushCount = 0
        self.flushErrors = 0
        self.flushDurations: collections.deque = collections.deque(
            maxlen=128)
        self.lastFlushTime = 0.0

    # -- generations -------------------------------------------------------

    def begin(self, live: Iterable[Generation], current: Generation,
              base: int):
        """
        Start writing after recovery: C{live} are the generations found on
        disk, C{current} the one that takes every write (its file exists,
        and C{current.fd} is open on it), C{base} the first generation the
        snapshot does not cover.
        """
        for gen in live:
            self.generations[gen.gen] = gen
        self.generations[current.gen] = current
        self.current = current
        self.journal.generation = current
        self.base = base
        self.lastCreated = current.gen

    def rotate(self) -> Optional[int]:
        """
        Begin a new log generation for every later write; return its
        number, the first generation a snapshot taken now excludes.

        @return: L{None} instead if the pending ops can't be encoded: they
            belong to the generations the snapshot would cover, and would
            otherwise be replayed on top of it.
        """
        if not self.journal.seal():
            return None
        if not self.current.used:
            # Nothing in it yet: the snapshot can cover up to it, and the
            # generation numbers stay without a gap.
            return self.current.gen
        gen = self.current.gen + 1
        self.current = Generation(gen, os.path.join(self.dataDir,
                                                    logName(gen)))
        self.generations[gen] = self.current
        self.journal.generation = self.current
        return gen

    def recordSnapshot(self, nextGen: int, covered: List[Generation]):
        """
        On the writer's thread, once a snapshot covering the generations
        before C{nextGen} is in place: stop writing the C{covered} ones
        and close them (here: closing the last descriptor of a deleted
        file frees its blocks, which may take a while), and say so in the
        manifest.
        """
        for gen in covered:
            gen.obsolete = True
            self._closeGen(gen)
        self.base = nextGen
        writeManifest(self._fs, self.dataDir,
                      snapfile.Manifest(nextGen, self.lastCreated))

    def coveredBy(self, nextGen: int) -> List[Generation]:
        """
        The live generations before C{nextGen}.
        """
        return [g for g in self.generations.values() if g.gen < nextGen]

    def retire(self, nextGen: int):
        """
        A durable snapshot covers every generation before C{nextGen}: stop
        writing them and close them (once no flush uses them).
        """
        for gen in self.coveredBy(nextGen):
            gen.obsolete = True
            del self.generations[gen.gen]
            self._obsolete.append(gen)
        self._closeObsolete()

    def liveBytes(self) -> int:
        """
        The bytes written to the live generations.
        """
        return sum(g.offset for g in self.generations.values())

    # -- flushing ----------------------------------------------------------

    def failing(self) -> bool:
        """
        Whether persistence fails: the last flush failed, or the pending
        ops can't be encoded (a backlog is not a failure: flushing is its
        cure).
        """
        return self.writeError is not None or (
            self.journal.sealError is not None)

    def flushSoon(self):
        """
        Flush on the next reactor turn, unless one is scheduled or in
        flight (it is followed by another if needed), persistence fails
        (the periodic flush retries) or shutdown began.
        """
        if (self._flushCall is None and not self.inFlight
                and not self.stopping and not self.failing()):
            self._flushCall = self._clock.callLater(0, self._flushNow)

    def _flushNow(self):
        self._flushCall = None
        self.flush()

    def cancelScheduled(self):
        """
        Cancel a flush scheduled by L{flushSoon}.
        """
        if self._flushCall is not None and self._flushCall.active():
            self._flushCall.cancel()
        self._flushCall = None

    def flush(self):
        """
        Start writing everything pending, unless a flush is in flight.
        """
        if self.inFlight:
            return
        upto, batch = self.journal.take()
        if not batch:
            self.journal.markDurable(upto)
            return
        self.inFlight = True
        size = sum(len(data) for _, records, _ in batch for data in records)
        d = self._runInThread(self._write, batch, self._fsync)
        d.addCallbacks(self._written, self._failed,
                       callbackArgs=(upto, size), errbackArgs=(batch,))
        d.addErrback(lambda f: self._log.failure("flush bookkeeping failed",
                                                 failure=f))
        d.addBoth(self._finished)

    def _write(self, batch: List[tuple], doFsync: bool):
        """
        Write and fsync C{batch}: runs off the reactor thread.

        @return: C{(offsets, seconds)}: each generation's new size.
        """
        started = time.perf_counter()
        fs = self._fs
        offsets = {}
        previous = None
        for gen, records, _ in batch:
            if gen.obsolete:
                continue
            if gen.fd is None:
                if previous is not None and doFsync:
                    # A later generation's records never reach the disk
                    # before an earlier one's: recovery only allows a torn
                    # tail in the last log.
                    fs.fsync(previous.fd)
                gen.fd = fs.createLog(self.dataDir, gen.gen, snapfile.Manifest(
                    self.base, gen.gen))
                self.lastCreated = gen.gen
            offset = offsets.get(gen, gen.offset)
            for data in joined(records, self.WRITE_BYTES):
                fs.writeAt(gen.fd, data, offset)
                offset += len(data)
            offsets[gen] = offset
            previous = gen
        if doFsync:
            for gen in offsets:
                fs.fsync(gen.fd)
        return offsets, time.perf_counter() - started

    def _written(self, result, upto: int, size: int):
        offsets, seconds = result
        self.journal.written(size)
        for gen, offset in offsets.items():
            gen.offset = offset
        self.flushCount += 1
        self.flushDurations.append(seconds)
        self.lastFlushTime = self._clock.seconds()
        if self.writeError is not None:
            self.writeError = None
            if self.journal.sealError is None:
                self._log.info("Writing the log works again; accepting "
                               "writes")
            self._notify()
        self.journal.markDurable(upto)

    def _failed(self, reason, batch: List[tuple]):
        self.journal.putBack(batch)
        self.flushErrors += 1
        first = self.writeError is None
        self.writeError = describe(reason.value)
        self.journal.failWaiters(LogWriteFailed(self.writeError))
        if first:
            self._log.failure(
                "Writing the append-only log in {dataDir} failed: {error}. "
                "Refusing writes until it works again; retrying every "
                "{interval}s; {pending} bytes kept in memory", reason,
                dataDir=self.dataDir, error=self.writeError,
                interval=self._retryInterval,
                pending=self.journal.pendingBytes())
        else:
            self._log.error(
                "Writing the append-only log still fails: {error} "
                "({pending} bytes kept in memory)", error=self.writeError,
                pending=self.journal.pendingBytes())
        self._notify()

    def _notify(self):
        if self._changed is not None:
            self._changed()

    def _finished(self, _):
        self.inFlight = False
        self._closeObsolete()
        waiters, self._idleWaiters = self._idleWaiters, []
        for d in waiters:
            if not d.called:
                d.callback(None)
        journal = self.journal
        if journal.always and journal.hasUnwritten() or (
                journal.unwrittenBytes >= journal.FLUSH_BYTES):
            self.flushSoon()

    def whenIdle(self) -> Deferred:
        """
        A Deferred that fires once no flush is in flight.
        """
        if not self.inFlight:
            return succeed(None)
        d = Deferred()
        self._idleWaiters.append(d)
        return d

    # -- closing -----------------------------------------------------------

    def _closeObsolete(self):
        if self.inFlight:
            return
        for gen in self._obsolete:
            self._closeGen(gen)
        self._obsolete = []

    def close(self):
        """
        Close every file, unless a flush still uses them.
        """
        self._closeObsolete()
        if self.inFlight:
            return
        for gen in self.generations.values():
            self._closeGen(gen)

    def _closeGen(self, gen: Generation):
        if gen.fd is not None:
            try:
                self._fs.close(gen.fd)
            except OSError:
                pass
            gen.fd = None
