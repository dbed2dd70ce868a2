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

With C{fsync="interval"}, the timer's flush writes and fsyncs; a flush
that starts before it because a megabyte of records is waiting (a failing
disk is noticed sooner, and less is held in memory) only writes: the log
is fsynced once per interval, however heavy the load, unless more than
L{LogWriter.SYNC_BYTES} were written since the last fsync.  The records
written but not fsynced yet are kept until they are (L{LogWriter.held}):
if an fsync fails, the next flush writes them again at their offsets
before it fsyncs again (after a failed fsync, the kernel may have dropped
the pages it could not write, and a second fsync would not say so).
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
            # (Its checksums, of big parts, computed here: off the
            # reactor's thread.)
            yield from data.resolve()
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
    @ivar held: the records written since the last fsync, kept until the
        next one: C{[(generation, offset, [records])]}, in order; empty
        with C{fsync="no"} and C{"always"}.
    @ivar heldBytes: their size.
    @ivar rewrite: whether an fsync failed since L{held} were written:
        the next flush writes them again first.
    @ivar fsyncCount: fsyncs of log records made.
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

    #: Bytes written without an fsync that make the next flush fsync
    #: before the timer's: what is held for writing again stays bounded
    #: under the heaviest load (which gets an fsync per this much).
    SYNC_BYTES = 32 << 20

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
        self.held: List[tuple] = []
        self.heldBytes = 0
        self.rewrite = False
        self.fsyncCount = 0
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
        # With always, every flush makes its writes durable; else this is
        # an early flush (a megabyte waiting): it writes, and the timer's
        # flush fsyncs (unless SYNC_BYTES are written and not fsynced).
        self.flush(sync=self.journal.always or
                   self.heldBytes >= self.SYNC_BYTES)

    def cancelScheduled(self):
        """
        Cancel a flush scheduled by L{flushSoon}.
        """
        if self._flushCall is not None and self._flushCall.active():
            self._flushCall.cancel()
        self._flushCall = None

    def flush(self, sync: bool = True):
        """
        Start writing everything pending, unless a flush is in flight.

        @param sync: whether to fsync too (unless C{fsync="no"}): the
            timer's flush and the last one do; an early one does not.
            With nothing new to write, a flush that syncs still fsyncs
            what earlier ones wrote.
        """
        if self.inFlight:
            return
        upto, batch = self.journal.take()
        sync = sync and self._fsync
        held = self.held
        if not batch and not (sync and held):
            if not held:
                self.journal.markDurable(upto)
            return
        self.inFlight = True
        size = sum(len(data) for _, records, _ in batch for data in records)
        d = self._runInThread(self._write, batch, sync, list(held),
                              self.rewrite)
        d.addCallbacks(self._written, self._failed,
                       callbackArgs=(upto, size, batch),
                       errbackArgs=(batch, sync))
        d.addErrback(lambda f: self._log.failure("flush bookkeeping failed",
                                                 failure=f))
        d.addBoth(self._finished)

    def _write(self, batch: List[tuple], sync: bool, held: List[tuple],
               rewrite: bool):
        """
        Write C{batch}, and fsync if C{sync}: runs off the reactor thread.

        @param held: the records written since the last fsync (see
            L{held}): fsynced with the batch, before any new generation
            is created; and first written again if C{rewrite}.
        @return: C{(offsets, starts, synced, seconds)}: each generation's
            new size, where the batch's records of each generation began,
            and whether the log was fsynced.
        """
        started = time.perf_counter()
        fs = self._fs
        doFsync = self._fsync
        # Generations written since the last fsync, in order.
        unsynced: List[Generation] = []
        for gen, offset, records in held:
            if gen.obsolete:
                continue
            if rewrite:
                self._writeRecords(gen, records, offset)
            if gen not in unsynced:
                unsynced.append(gen)
        offsets = {}
        starts = {}
        for gen, records, _ in batch:
            if gen.obsolete:
                continue
            if gen.fd is None:
                if doFsync:
                    # A later generation's records never reach the disk
                    # before an earlier one's: recovery only allows a torn
                    # tail in the last log.
                    for old in unsynced:
                        if old.fd is not None and not old.obsolete:
                            fs.fsync(old.fd)
                            self.fsyncCount += 1
                gen.fd = fs.createLog(self.dataDir, gen.gen, snapfile.Manifest(
                    self.base, gen.gen))
                self.lastCreated = gen.gen
            offset = offsets.get(gen, gen.offset)
            starts.setdefault(gen, offset)
            offsets[gen] = self._writeRecords(gen, records, offset)
            if gen not in unsynced:
                unsynced.append(gen)
        synced = sync and doFsync
        if synced:
            for gen in unsynced:
                if gen.fd is not None and not gen.obsolete:
                    fs.fsync(gen.fd)
                    self.fsyncCount += 1
        return offsets, starts, synced, time.perf_counter() - started

    def _writeRecords(self, gen: Generation, records: List, offset: int
                      ) -> int:
        """
        Write C{records} to C{gen} from C{offset}; return where they end.
        """
        fs = self._fs
        for data in joined(records, self.WRITE_BYTES):
            fs.writeAt(gen.fd, data, offset)
            offset += len(data)
        return offset

    def _written(self, result, upto: int, size: int, batch: List[tuple]):
        offsets, starts, synced, seconds = result
        self.journal.written(size)
        for gen, offset in offsets.items():
            gen.offset = offset
        if synced:
            self.held = []
            self.heldBytes = 0
            self.rewrite = False
        elif self._fsync:
            for gen, records, _ in batch:
                if gen in starts:
                    self.held.append((gen, starts[gen], records))
            self.heldBytes += size
        self.flushCount += 1
        self.flushDurations.append(seconds)
        self.lastFlushTime = self._clock.seconds()
        if self.writeError is not None:
            self.writeError = None
            if self.journal.sealError is None:
                self._log.info("Writing the log works again; accepting "
                               "writes")
            self._notify()
        if synced or not self._fsync:
            self.journal.markDurable(upto)

    def _failed(self, reason, batch: List[tuple], sync: bool):
        self.journal.putBack(batch)
        if sync and self.held:
            # The fsync may have failed: the kernel may have dropped pages
            # of what was written before, and would not say so again.
            self.rewrite = True
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
                pending=self.journal.pendingBytes() + self.heldBytes)
        else:
            self._log.error(
                "Writing the append-only log still fails: {error} "
                "({pending} bytes kept in memory)", error=self.writeError,
                pending=self.journal.pendingBytes() + self.heldBytes)
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
