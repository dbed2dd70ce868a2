# -*- test-case-name: kvtwist.test.test_service -*-
"""
The store service: owns the store's files, recovers at startup, journals
every write, flushes on a L{LoopingCall}, snapshots and compacts.

The file formats and the data directory's layout are described in
L{kvtwist.persistence}.

Writes
======

The store reports each mutation to C{store.journal} as an op tuple, which
here is simply appended to an in-memory pending list (C{list.append}: the
cheapest possible hot path; the tuple shares the store's byte strings).
Once a client's read has left at least C{SEAL_OPS} ops pending, the
connection has them encoded at once, on the reactor thread, into a log
record (L{StoreService.sealBatch}): the tuples then die young instead of
living until the next flush, which on PyPy means its garbage collector
doesn't copy each of them out of the nursery (pipelined C{SET} is about
15% faster), and on CPython that no thread takes the GIL for the encoding.  A
L{LoopingCall} every C{flushInterval} seconds encodes whatever else is
pending and hands the records to a thread that writes them to the live
log generation and, unless C{fsync="no"}, fsyncs it.  Only one flush is
ever in flight.

With C{fsync="always"}, a write also schedules a flush on the next reactor
turn, and L{StoreService.whenDurable} gives the command a Deferred that
fires once its record is fsynced: every write of that moment shares one
fsync (group commit).  A write that arrives while a flush is in flight is
flushed right after it.

Failures
========

A failing write or fsync is logged loudly, the data is kept (nothing is
dropped) and retried every C{flushInterval}.  Meanwhile C{failure} holds a
short description, and L{kvtwist.commands.execute} refuses writes with a
C{MISCONF} error while reads go on.  With C{fsync="always"}, the replies of
writes waiting for the disk keep waiting (they are never acknowledged
before their record is on disk) until a retry succeeds; once one does,
C{failure} is L{None} again and writes are accepted.  Ops that can't be
encoded (out of memory, say) are handled the same way: they stay pending,
writes get C{MISCONF}, and every flush tries again; a snapshot is refused
meanwhile, since those ops belong to the generations it would cover.

Snapshots
=========

C{SAVE} writes a snapshot on the reactor thread (it blocks, as Redis's
C{SAVE} does).  C{BGSAVE} forks: the child pickles the store and writes a
temporary file, the parent polls for its exit and then renames the file
into place and deletes the log generations it covers.  Compaction starts a
C{BGSAVE} by itself once the live logs exceed C{compactMinBytes} and the
last snapshot's size.  An interrupted snapshot never touches the previous
one: it only ever writes a temporary file.
"""

import collections
import os
import signal
import time
from typing import Callable, Dict, List, Optional

from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError, Deferred, inlineCallbacks, succeed)
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from kvtwist import persistence
from kvtwist.persistence import FileSystem, PersistenceError, encodeFrames
from kvtwist.replies import OK, Error, Status

FSYNC_MODES = ("always", "interval", "no")

#: Start a compaction once the live logs are at least this big (and bigger
#: than the last snapshot).
DEFAULT_COMPACT_MIN_BYTES = 64 * 1024 * 1024

_BGSAVE_IN_PROGRESS = Error("ERR Background save already in progress")


def threadPoolRunner(reactor=None):
    """
    A C{runInThread(f, *args) -> Deferred} using C{reactor}'s thread pool
    (the global reactor's if not given), looked up on first use.
    """
    def runInThread(f, *args):
        from twisted.internet.threads import deferToThreadPool
        r = reactor
        if r is None:
            from twisted.internet import reactor as r
        return deferToThreadPool(r, r.getThreadPool(), f, *args)
    return runInThread


class RecoveryError(PersistenceError):
    """
    The data directory can't be recovered; the server must not start.
    """


class _Generation:
    """
    One log generation file.

    @ivar gen: its number.
    @ivar path: its path.
    @ivar fd: its open file descriptor, or L{None} until first written.
    @ivar offset: how many bytes of it are written (and, unless
        C{fsync="no"}, fsynced).
    @ivar dirSynced: whether its directory entry is known durable.
    @ivar obsolete: whether a durable snapshot covers it (so it need not,
        and must not, be written).
    """

    __slots__ = ("gen", "path", "fd", "offset", "dirSynced", "obsolete")

    def __init__(self, gen: int, path: str, offset: int = 0):
        self.gen = gen
        self.path = path
        self.fd: Optional[int] = None
        self.offset = offset
        self.dirSynced = False
        self.obsolete = False


class ProcessForker:
    """
    Runs snapshot work in a forked child process.
    """

    def start(self, work: Callable[[], object]) -> int:
        """
        Fork; the child closes every inherited descriptor but the standard
        ones, lowers its priority, runs C{work} and exits 0, or 1 if it
        raised.  Return the
        child's pid.
        """
        pid = os.fork()
        if pid == 0:  # pragma: no cover (in the child)
            code = 1
            try:
                try:
                    import resource
                    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
                except Exception:
                    limit = 4096
                if limit <= 0 or limit > 1 << 20:
                    limit = 1 << 20
                os.closerange(3, limit)
                import gc
                gc.disable()
                try:
                    # Leave the CPU to the reactor on a busy machine.
                    os.nice(10)
                except OSError:
                    pass
                work()
                code = 0
            except BaseException:
                try:
                    import traceback
                    traceback.print_exc()
                except BaseException:
                    pass
            finally:
                os._exit(code)
        # While the child runs, every page the parent writes is copied
        # (copy-on-write).  A full garbage collection writes to the header
        # of every object: on PyPy that stalled the reactor for over 100 ms
        # per BGSAVE of a big store.  Hold collections off until the child
        # is done (only cyclic garbage can accumulate meanwhile).
        import gc
        if gc.isenabled():
            gc.disable()
            self._gcPaused.add(pid)
        return pid

    _gcPaused = None

    def __init__(self):
        self._gcPaused = set()

    def _childGone(self, pid: int):
        if pid in self._gcPaused:
            self._gcPaused.discard(pid)
            if not self._gcPaused:
                import gc
                gc.enable()

    def poll(self, pid: int) -> Optional[bool]:
        """
        L{None} while the child runs; then whether it succeeded.
        """
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            self._childGone(pid)
            return False
        if done == 0:
            return None
        self._childGone(pid)
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

    def kill(self, pid: int):
        """
        Kill the child and reap it.
        """
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        self._childGone(pid)


class InlineForker:
    """
    Runs snapshot work synchronously in this process, for tests and for
    platforms without C{fork}.  The reactor stalls for the whole snapshot.
    """

    _log = Logger()

    def __init__(self):
        self._results: Dict[int, bool] = {}
        self._next = 0

    def start(self, work: Callable[[], object]) -> int:
        """
        Run C{work} now; return a handle for L{poll}.
        """
        self._next += 1
        try:
            work()
            ok = True
        except Exception:
            self._log.failure("snapshot work failed")
            ok = False
        self._results[self._next] = ok
        return self._next

    def poll(self, handle: int) -> Optional[bool]:
        """
        Whether the work succeeded.
        """
        return self._results.pop(handle, False)

    def kill(self, handle: int):
        """
        Nothing to kill.
        """
        self._results.pop(handle, None)


class _Child:
    """
    A snapshot being written in the background.
    """

    def __init__(self, handle, nextGen: int, savedAtMs: int, seq: int,
                 started: float):
        self.handle = handle
        self.nextGen = nextGen
        self.savedAtMs = savedAtMs
        self.seq = seq
        self.started = started
        self.installing = False
        self.waiters: List[Deferred] = []


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


def _joined(records: List[bytes], limit: int):
    """
    C{records} joined, in order, into strings that each end with the record
    that brings them to C{limit} bytes or more (the last may be shorter):
    no record is split.
    """
    piece: List[bytes] = []
    size = 0
    for data in records:
        piece.append(data)
        size += len(data)
        if size >= limit:
            yield piece[0] if len(piece) == 1 else b"".join(piece)
            piece = []
            size = 0
    if piece:
        yield piece[0] if len(piece) == 1 else b"".join(piece)


class StoreService(Service):
    """
    Owns a L{kvtwist.store.Store}'s files: recovery, the append-only log,
    flushes, snapshots.

    @ivar failure: a short description of the current persistence failure,
        or L{None} while persistence works.  Writes are refused meanwhile.
    @ivar lastSave: unix time (seconds) of the last successful snapshot, or
        of startup if there is none.
    @ivar flushCount: flushes that succeeded.
    @ivar flushErrors: flushes that failed.
    @ivar flushDurations: the last 128 flush durations, in seconds.
    @ivar lastFlushTime: unix time of the last successful flush (0: none).
    @ivar snapshotCount: snapshots installed.
    @ivar snapshotErrors: snapshots that failed.
    @ivar snapshotDurations: the last 128 snapshot durations, in seconds.
    @ivar lastForkDuration: seconds the last C{BGSAVE}'s fork took (the
        reactor's only stall for a background snapshot).
    @ivar persistenceErrors: every persistence error (flush and snapshot).
    @ivar recoveredKeys: keys in the store after recovery.
    @ivar recoveryTime: seconds recovery took.
    @ivar tornBytes: bytes dropped from a torn log tail at recovery.
    """

    #: Whether the last stopService flushed everything.
    stoppedCleanly = False

    #: How many pending ops make L{sealBatch} encode them: fewer would make
    #: small records (a record of one C{SET} costs twice the bytes and
    #: seven times the time of one op in a record of 32).
    SEAL_OPS = 32

    #: About the most bytes joined into one write of the log (see
    #: L{_writeBatch}).
    WRITE_BYTES = 1 << 20

    name = "kvtwist-store"
    _log = Logger()

    def __init__(self, store, dataDir: str, fsync: str = "interval",
                 flushInterval: float = 1.0, clock=None, reactor=None,
                 runInThread: Optional[Callable[..., Deferred]] = None,
                 forker=None, fs: Optional[FileSystem] = None,
                 sweepInterval: float = 0.1, sweepLimit: int = 1000,
                 compactMinBytes: int = DEFAULT_COMPACT_MIN_BYTES,
                 stopTimeout: float = 10.0, stopRetries: int = 3,
                 childPollInterval: float = 0.05):
        """
        @param store: the L{kvtwist.store.Store}.
        @param dataDir: the directory of the files.
        @param fsync: C{"always"}, C{"interval"} or C{"no"}.
        @param flushInterval: seconds between flushes (and retries).
        @param clock: an L{IReactorTime}; C{reactor} if not given.
        @param reactor: the reactor (threads); the global one if not given.
        @param runInThread: C{runInThread(f, *args) -> Deferred}: run C{f}
            off the reactor thread.  The reactor's thread pool if not given.
        @param forker: runs snapshot work in the background
            (L{ProcessForker} where C{os.fork} exists, else L{InlineForker}).
        @param fs: the file layer (L{FileSystem}).
        @param sweepInterval: seconds between active expiry sweeps.
        @param sweepLimit: the most keys one sweep may expire.
        @param compactMinBytes: the live log size that starts compaction.
        @param stopTimeout: the most seconds L{stopService} may take.
        @param stopRetries: how often L{stopService} retries a failing flush.
        @param childPollInterval: seconds between checks of a snapshot child.
        """
        if fsync not in FSYNC_MODES:
            raise ValueError("fsync must be one of %s, not %r"
                             % (", ".join(FSYNC_MODES), fsync))
        self.store = store
        self.dataDir = os.path.abspath(dataDir)
        self.fsyncMode = fsync
        self._always = fsync == "always"
        self.flushInterval = flushInterval
        self._reactor = reactor
        self._clock = clock
        self._runInThread = runInThread
        if forker is None:
            forker = ProcessForker() if hasattr(os, "fork") else InlineForker()
        self._forker = forker
        self._fs = fs if fs is not None else FileSystem()
        self._sweepInterval = sweepInterval
        self._sweepLimit = sweepLimit
        self.compactMinBytes = compactMinBytes
        self._stopTimeout = stopTimeout
        self._stopRetries = stopRetries
        self._childPollInterval = childPollInterval

        self.failure: Optional[str] = None
        self.lastSave = 0
        self.flushCount = 0
        self.flushErrors = 0
        self.flushDurations: collections.deque = collections.deque(
            maxlen=128)
        self.lastFlushTime = 0.0
        self.snapshotCount = 0
        self.snapshotErrors = 0
        self.snapshotDurations: collections.deque = collections.deque(
            maxlen=128)
        self.persistenceErrors = 0
        self.recoveredKeys = 0
        self.recoveryTime = 0.0
        self.tornBytes = 0
        self.lastBgsaveStatus = "ok"
        self.snapshotSize = 0
        self.lastForkDuration = 0.0

        # The pending ops of the current generation.  The journal appends
        # to this very list: it is cleared in place, never replaced.
        self._pending: List[tuple] = []
        # Sealed ops waiting to be written, in order, encoded as log
        # records: (generation, [records], number of ops).  A flush takes
        # them all, merging neighbours of one generation, and puts them
        # back in front if it fails.
        self._chunks: List[tuple] = []
        # How many ops have been sealed (moved from _pending to _chunks)
        # since startup: with len(_pending), the sequence number of the
        # last op journaled.
        self._sealedOps = 0
        # Why the pending ops can't be encoded, while they can't.
        self._sealError: Optional[str] = None
        self._gens: Dict[int, _Generation] = {}
        self._current: Optional[_Generation] = None
        self._obsolete: List[_Generation] = []
        self._durableSeq = 0
        self._seqAtSave = 0
        self._waiters: collections.deque = collections.deque()
        self._inFlight = False
        self._idleWaiters: List[Deferred] = []
        self._flushCall = None
        self._flushLoop: Optional[LoopingCall] = None
        self._sweepLoop: Optional[LoopingCall] = None
        self._child: Optional[_Child] = None
        self._childCall = None
        self._lastBgsaveFailure: Optional[float] = None
        self._stopping = False

    # -- plumbing ----------------------------------------------------------

    def _getReactor(self):
        if self._reactor is None:
            from twisted.internet import reactor
            self._reactor = reactor
        return self._reactor

    def _getClock(self):
        if self._clock is None:
            self._clock = self._getReactor()
        return self._clock

    def _runThread(self, f, *args) -> Deferred:
        if self._runInThread is None:
            self._runInThread = threadPoolRunner(self._getReactor())
        return self._runInThread(f, *args)

    def _now(self) -> float:
        return self._getClock().seconds()

    # -- the service -------------------------------------------------------

    def startService(self):
        """
        Recover the store from disk (synchronously), start journaling, and
        start the flush and expiry loops.

        @raise RecoveryError: if the files can't be recovered.
        """
        try:
            self._recover()
        except RecoveryError as e:
            # One clear error, without the chain of exceptions behind it.
            raise RecoveryError(str(e)) from None
        if self._always:
            self.store.journal = self._journalAlways
        else:
            self.store.journal = self._pending.append
        Service.startService(self)
        clock = self._getClock()
        self._flushLoop = LoopingCall(self._tick)
        self._flushLoop.clock = clock
        self._flushLoop.start(self.flushInterval, now=False).addErrback(
            lambda f: self._log.failure("flush loop died", failure=f))
        self._sweepLoop = LoopingCall(self._sweep)
        self._sweepLoop.clock = clock
        self._sweepLoop.start(self._sweepInterval, now=False).addErrback(
            lambda f: self._log.failure("expiry loop died", failure=f))

    def stopService(self) -> Deferred:
        """
        Stop the loops, flush everything pending (retrying a failing flush
        a few times), let a background snapshot finish, close the files.

        @return: a Deferred that fires when done, or after C{stopTimeout}
            seconds at the latest (then what could not be finished is
            logged and a snapshot child is killed).
        """
        if self._current is None or self._stopping:
            Service.stopService(self)
            return succeed(None)
        Service.stopService(self)
        self._stopping = True
        for loop in (self._flushLoop, self._sweepLoop):
            if loop is not None and loop.running:
                loop.stop()
        if self._flushCall is not None and self._flushCall.active():
            self._flushCall.cancel()
        self._flushCall = None

        clock = self._getClock()
        done = Deferred()
        work = self._shutdown()

        def giveUp():
            pending = self._pendingBytes()
            self._log.critical(
                "Shutdown took over {timeout}s; giving up: {pending} bytes "
                "of log not written ({error})",
                timeout=self._stopTimeout, pending=pending,
                error=self.failure or "flush in progress")
            self._killChild()
            work.cancel()

        timer = clock.callLater(self._stopTimeout, giveUp)

        def finished(result):
            if timer.active():
                timer.cancel()
            if isinstance(result, Failure) and not result.check(
                    CancelledError):
                self._log.failure("shutdown failed", failure=result)
            self.stoppedCleanly = (not isinstance(result, Failure) and
                                   not self._pending and not self._chunks)
            self._closeAll()
            # Connections may outlive the listeners for a moment: refuse
            # their writes (MISCONF) rather than accept what won't be
            # written.
            self.failure = "the server is shutting down"
            self.store.journal = None
            done.callback(None)

        work.addBoth(finished)
        return done

    @inlineCallbacks
    def _shutdown(self):
        attempts = 0
        while True:
            yield self._flushIdle()
            self._flush()
            yield self._flushIdle()
            if not self._pending and not self._chunks:
                break
            if self.failure is None:
                # Writes arrived during the flush: flush again.
                continue
            attempts += 1
            if attempts > self._stopRetries:
                self._log.critical(
                    "Giving up flushing the log at shutdown: {pending} "
                    "bytes not written ({error})",
                    pending=self._pendingBytes(), error=self.failure)
                break
            self._log.warn("Flush at shutdown failed ({error}); retrying",
                           error=self.failure)
            yield deferLater(self._getClock(), min(self.flushInterval, 1.0),
                             lambda: None)
        if self._child is not None:
            self._log.info("Waiting for the background snapshot to finish")
            d = Deferred()
            self._child.waiters.append(d)
            yield d
        self._log.info("Store service stopped: log flushed ({size} bytes "
                       "in generation {gen})", size=self._current.offset,
                       gen=self._current.gen)

    def _flushIdle(self) -> Deferred:
        if not self._inFlight:
            return succeed(None)
        d = Deferred()
        self._idleWaiters.append(d)
        return d

    def _closeAll(self):
        self._closeObsolete()
        if self._inFlight:
            return
        for gen in self._gens.values():
            self._closeGen(gen)

    def _closeGen(self, gen: "_Generation"):
        if gen.fd is not None:
            try:
                self._fs.close(gen.fd)
            except OSError:
                pass
            gen.fd = None

    # -- recovery ----------------------------------------------------------

    def _recover(self):
        """
        Load the snapshot, replay the logs, begin a fresh generation.
        """
        started = time.perf_counter()
        fs = self._fs
        store = self.store
        store.journal = None
        dataDir = self.dataDir
        try:
            listing = persistence.listDataDir(dataDir)
        except OSError as e:
            raise self._refuse("can't list the data directory %s: %s"
                               % (dataDir, _describe(e)))
        for path in listing.temps:
            self._log.info("Removing leftover temporary file {path}",
                           path=path)
            try:
                fs.remove(path)
            except OSError as e:
                self._log.warn("Can't remove {path}: {error}", path=path,
                               error=_describe(e))

        nextGen = 1
        if listing.snapshot is not None:
            try:
                content = fs.readFile(listing.snapshot)
                snap = persistence.decodeSnapshot(content, listing.snapshot)
            except persistence.CorruptSnapshot as e:
                raise self._refuse(
                    "%s. Refusing to start rather than lose data: move the "
                    "file away to start from the logs alone." % (e,))
            except OSError as e:
                raise self._refuse("can't read %s: %s"
                                   % (listing.snapshot, _describe(e)))
            store.loadState(snap.data, snap.expires)
            nextGen = snap.nextGen
            self.snapshotSize = len(content)
            self.lastSave = int(snap.savedAtMs // 1000)
            del content, snap
        else:
            self.lastSave = int(self._now())

        maxGen = nextGen - 1
        live = []
        for gen, path in listing.logs:
            maxGen = max(maxGen, gen)
            if gen < nextGen:
                self._log.info("Removing {path}: the snapshot covers it",
                               path=path)
                fs.remove(path)
            else:
                live.append((gen, path, os.path.getsize(path)))
        nonEmpty = [gen for gen, _, size in live if size]
        lastWithData = nonEmpty[-1] if nonEmpty else None
        replayed = 0
        for gen, path, size in live:
            if size == 0:
                fs.remove(path)
                continue
            try:
                data = fs.readFile(path)
            except OSError as e:
                raise self._refuse("can't read %s: %s" % (path, _describe(e)))
            try:
                scan = persistence.scanLog(
                    data, path, allowTorn=(gen == lastWithData))
            except persistence.CorruptLog as e:
                raise self._refuse(
                    "%s. Refusing to start rather than silently lose the "
                    "writes after it; truncate the file at that offset to "
                    "accept losing them." % (e,))
            del data
            for i, op in enumerate(scan.ops):
                try:
                    store.apply(op)
                except ValueError as e:
                    raise self._refuse("log %s record %d can't be replayed: "
                                       "%s" % (path, i, e))
            replayed += len(scan.ops)
            if scan.tornBytes:
                self.tornBytes += scan.tornBytes
                self._log.warn(
                    "Dropping a torn last record in {path}: {bytes} bytes "
                    "at offset {offset} ({reason}); the server crashed "
                    "while writing it", path=path, bytes=scan.tornBytes,
                    offset=scan.goodBytes, reason=scan.tornReason)
                try:
                    fs.truncate(path, scan.goodBytes)
                except OSError as e:
                    raise self._refuse("can't truncate the torn tail of %s: "
                                       "%s" % (path, _describe(e)))
            if scan.goodBytes == 0:
                fs.remove(path)
            else:
                g = _Generation(gen, path, scan.goodBytes)
                g.dirSynced = True
                self._gens[gen] = g

        gen = max(nextGen, maxGen + 1)
        current = _Generation(gen, os.path.join(dataDir,
                                                persistence.logName(gen)))
        try:
            current.fd = fs.openLog(current.path)
            fs.fsyncDir(dataDir)
        except OSError as e:
            raise self._refuse("can't create %s: %s"
                               % (current.path, _describe(e)))
        current.dirSynced = True
        self._gens[gen] = current
        self._current = current
        self.recoveredKeys = store.size()
        self.recoveryTime = time.perf_counter() - started
        self._log.info(
            "Recovered {keys} keys in {seconds:.3f}s from {dataDir} "
            "(snapshot: {snapshot}, {records} log records replayed); "
            "writing log generation {gen}",
            keys=self.recoveredKeys, seconds=self.recoveryTime,
            dataDir=dataDir, snapshot="yes" if listing.snapshot else "none",
            records=replayed, gen=gen)

    def _refuse(self, message: str) -> RecoveryError:
        self._log.critical("Can't recover the store: {message}",
                           message=message)
        return RecoveryError(message)

    # -- journaling and flushing -------------------------------------------

    def _journalAlways(self, op):
        self._pending.append(op)
        if (self._flushCall is None and not self._inFlight
                and self.failure is None and not self._stopping):
            self._flushCall = self._getClock().callLater(
                0, self._flushNow)

    def whenDurable(self) -> Optional[Deferred]:
        """
        With C{fsync="always"}: a Deferred that fires with L{None} once
        every record journaled so far is fsynced, or L{None} if all are
        already.  In the other modes, always L{None}.

        While persistence fails the Deferred keeps waiting: it fires after
        a retry succeeds.
        """
        if not self._always:
            return None
        seq = self._sealedOps + len(self._pending)
        if seq <= self._durableSeq:
            return None
        d = Deferred()
        self._waiters.append((seq, d))
        return d

    def _flushNow(self):
        self._flushCall = None
        self._flush()

    def _seal(self) -> bool:
        """
        Encode the pending ops as log records of the current generation.

        @return: whether they were (or none were pending).  If encoding
            fails the ops stay pending, and persistence fails as a failing
            write does (C{MISCONF} for writes, retried every flush) until
            they can be encoded.
        """
        pending = self._pending
        if not pending:
            return True
        try:
            data = encodeFrames(pending)
        except Exception as e:
            self._sealFailed(e)
            return False
        n = len(pending)
        del pending[:]
        self._chunks.append((self._current, [data], n))
        self._sealedOps += n
        if self._sealError is not None:
            self._sealError = None
            self._log.info("The pending writes can be encoded again")
        return True

    def _sealFailed(self, error: Exception):
        first = self._sealError is None
        self._sealError = "can't encode the log: %s" % (_describe(error),)
        self.failure = self._sealError
        self.persistenceErrors += 1
        if first:
            self._log.failure(
                "Encoding {count} pending writes for the log failed; "
                "refusing writes until they can be encoded",
                Failure(error), count=len(self._pending))

    def sealBatch(self):
        """
        Encode the pending ops as log records now if there are at least
        C{SEAL_OPS} of them.  A connection calls this after running what
        it read: the ops' tuples are then garbage while they are young.
        While they can't be encoded, only the flush loop tries again.
        """
        if len(self._pending) >= self.SEAL_OPS and self._sealError is None:
            self._seal()

    def _seq(self) -> int:
        return self._sealedOps + len(self._pending)

    def _pendingOps(self) -> int:
        return len(self._pending) + sum(n for _, _, n in self._chunks)

    def _pendingBytes(self) -> int:
        """
        The bytes of the records waiting to be written, plus an estimate
        for the ops not encoded yet (from a sample: the exact figure would
        cost a walk over every pending op).
        """
        size = sum(len(data) for _, records, _ in self._chunks
                   for data in records)
        pending = self._pending
        if pending:
            sample = pending[:64]
            opBytes = sum(len(x) for op in sample for x in op) + 8 * sum(
                len(op) for op in sample)
            size += len(pending) * opBytes // len(sample)
        return size

    def _tick(self):
        try:
            self._flush()
            self._maybeCompact()
        except Exception:
            self._log.failure("flush tick failed")

    def _sweep(self):
        try:
            self.store.sweep(self._sweepLimit)
        except Exception:
            self._log.failure("expiry sweep failed")

    def _flush(self):
        """
        Start writing everything pending, unless a flush is in flight.
        """
        if self._inFlight:
            return
        self._seal()
        upto = self._sealedOps
        if not self._chunks:
            self._markDurable(upto)
            return
        # The chunks, each run of one generation merged into one.
        batch: List[tuple] = []
        for gen, records, n in self._chunks:
            if batch and batch[-1][0] is gen:
                _, merged, count = batch[-1]
                merged.extend(records)
                batch[-1] = (gen, merged, count + n)
            else:
                batch.append((gen, records, n))
        self._chunks = []
        self._inFlight = True
        d = self._runThread(self._writeBatch, batch,
                            self.fsyncMode != "no")
        d.addCallbacks(self._flushed, self._flushFailed,
                       callbackArgs=(upto,), errbackArgs=(batch,))
        d.addErrback(lambda f: self._log.failure("flush bookkeeping failed",
                                                 failure=f))
        d.addBoth(self._flushFinished)

    def _writeBatch(self, batch, doFsync: bool):
        """
        Write and fsync C{batch}: runs off the reactor thread.

        @return: C{(offsets, seconds)}: each generation's new size.
        """
        started = time.perf_counter()
        fs = self._fs
        offsets = {}
        for gen, records, _ in batch:
            if gen.obsolete:
                continue
            if gen.fd is None:
                gen.fd = fs.openLog(gen.path)
            if not gen.dirSynced:
                fs.fsyncDir(self.dataDir)
                gen.dirSynced = True
            offset = offsets.get(gen, gen.offset)
            # A piece of about WRITE_BYTES at a time: joining a burst of a
            # million writes into one string would take tens of MB more,
            # memory the process keeps; one write per record would take
            # thousands of system calls.
            for data in _joined(records, self.WRITE_BYTES):
                fs.writeAt(gen.fd, data, offset)
                offset += len(data)
            offsets[gen] = offset
        if doFsync:
            for gen in offsets:
                fs.fsync(gen.fd)
        return offsets, time.perf_counter() - started

    def _flushed(self, result, upto: int):
        offsets, seconds = result
        for gen, offset in offsets.items():
            gen.offset = offset
        self.flushCount += 1
        self.flushDurations.append(seconds)
        self.lastFlushTime = self._now()
        if self.failure is not None and self._sealError is None:
            self._log.info("Writing the log works again; accepting writes")
            self.failure = None
        self._markDurable(upto)

    def _flushFailed(self, reason, batch):
        self._chunks[:0] = batch
        self.flushErrors += 1
        self.persistenceErrors += 1
        first = self.failure is None
        self.failure = _describe(reason.value)
        if first:
            self._log.failure(
                "Writing the append-only log in {dataDir} failed: {error}. "
                "Refusing writes until it works again; retrying every "
                "{interval}s; {pending} bytes kept in memory",
                reason, dataDir=self.dataDir, error=self.failure,
                interval=self.flushInterval, pending=self._pendingBytes())
        else:
            self._log.error(
                "Writing the append-only log still fails: {error} "
                "({pending} bytes kept in memory)", error=self.failure,
                pending=self._pendingBytes())

    def _flushFinished(self, _):
        self._inFlight = False
        self._closeObsolete()
        waiters, self._idleWaiters = self._idleWaiters, []
        for d in waiters:
            if not d.called:
                d.callback(None)
        if (self._always and (self._pending or self._chunks)
                and self.failure is None and not self._stopping
                and self._flushCall is None):
            self._flushCall = self._getClock().callLater(0, self._flushNow)

    def _markDurable(self, upto: int):
        if upto > self._durableSeq:
            self._durableSeq = upto
        waiters = self._waiters
        while waiters and waiters[0][0] <= self._durableSeq:
            _, d = waiters.popleft()
            d.callback(None)

    def _closeObsolete(self):
        if self._inFlight:
            return
        for gen in self._obsolete:
            self._closeGen(gen)
        self._obsolete = []

    # -- snapshots ---------------------------------------------------------

    def _rotate(self) -> Optional[int]:
        """
        Begin a new log generation for every later write; return its
        number, the first generation a snapshot taken now excludes.

        @return: L{None} instead if the pending ops can't be encoded: they
            belong to the generations the snapshot would cover, and would
            otherwise be replayed on top of it.
        """
        if not self._seal():
            return None
        gen = self._current.gen + 1
        self._current = _Generation(
            gen, os.path.join(self.dataDir, persistence.logName(gen)))
        self._gens[gen] = self._current
        return gen

    def _coveredBy(self, nextGen: int) -> List[_Generation]:
        return [g for g in self._gens.values() if g.gen < nextGen]

    def _snapshotInstalled(self, nextGen: int, savedAtMs: int, seq: int,
                           size: int, seconds: float):
        for gen in self._coveredBy(nextGen):
            gen.obsolete = True
            del self._gens[gen.gen]
            self._obsolete.append(gen)
        self._closeObsolete()
        self.lastSave = int(savedAtMs // 1000)
        self._seqAtSave = seq
        self.snapshotSize = size
        self.snapshotCount += 1
        self.snapshotDurations.append(seconds)
        self.lastBgsaveStatus = "ok"

    def _snapshotFailed(self, what: str, error: str):
        self.snapshotErrors += 1
        self.persistenceErrors += 1
        self.lastBgsaveStatus = "err"
        self._lastBgsaveFailure = self._now()
        try:
            self._fs.remove(os.path.join(self.dataDir,
                                         persistence.SNAPSHOT_TMP_NAME))
        except OSError:
            pass
        self._log.error("{what} failed: {error}; the previous snapshot and "
                        "the logs are intact", what=what, error=error)

    def _cantSnapshot(self, what: str) -> Error:
        self._snapshotFailed(what, self._sealError)
        return Error("ERR %s refused: %s" % (what, self._sealError))

    def save(self):
        """
        C{SAVE}: write a snapshot now, on the reactor thread (it blocks, as
        Redis's C{SAVE} does), then delete the logs it covers.

        @return: C{OK}, or an L{Error} reply.
        """
        if self._child is not None:
            return _BGSAVE_IN_PROGRESS
        if self._current is None:
            return Error("ERR the store service is not running")
        started = time.perf_counter()
        nextGen = self._rotate()
        if nextGen is None:
            return self._cantSnapshot("SAVE")
        savedAt = int(self._now() * 1000)
        covered = self._coveredBy(nextGen)
        try:
            size = persistence.writeSnapshot(
                self._fs, self.dataDir, self.store.dumpState(), nextGen,
                savedAt)
            persistence.installSnapshot(self._fs, self.dataDir,
                                        [g.path for g in covered])
        except Exception as e:
            self._snapshotFailed("SAVE", _describe(e))
            return Error("ERR snapshot failed: %s" % (_describe(e),))
        seconds = time.perf_counter() - started
        self._snapshotInstalled(nextGen, savedAt, self._seq(), size,
                                seconds)
        self._log.info("DB saved on disk ({keys} keys, {size} bytes, "
                       "{ms:.1f} ms)", keys=self.store.size(), size=size,
                       ms=seconds * 1000)
        return OK

    def bgsave(self):
        """
        C{BGSAVE}: snapshot in a forked child; the reactor only pays for
        the fork.

        @return: C{Background saving started}, or an L{Error} reply.
        """
        if self._child is not None:
            return _BGSAVE_IN_PROGRESS
        if self._current is None:
            return Error("ERR the store service is not running")
        nextGen = self._rotate()
        if nextGen is None:
            return self._cantSnapshot("BGSAVE")
        savedAt = int(self._now() * 1000)
        state = self.store.dumpState()
        fs = self._fs
        dataDir = self.dataDir

        def work():
            persistence.writeSnapshot(fs, dataDir, state, nextGen, savedAt)

        started = self._now()
        forkStarted = time.perf_counter()
        try:
            handle = self._forker.start(work)
        except Exception as e:
            self._snapshotFailed("BGSAVE", "can't fork: %s" % (_describe(e),))
            return Error("ERR Background save failed to start: %s"
                         % (_describe(e),))
        self.lastForkDuration = time.perf_counter() - forkStarted
        self._child = _Child(handle, nextGen, savedAt, self._seq(), started)
        self._log.info("Background saving started (child {handle}, "
                       "logs before generation {gen}; fork took {ms:.1f} "
                       "ms)", handle=handle, gen=nextGen,
                       ms=self.lastForkDuration * 1000)
        self._childCall = self._getClock().callLater(
            self._childPollInterval, self._pollChild)
        return Status("Background saving started")

    def _pollChild(self):
        self._childCall = None
        child = self._child
        if child is None:
            return
        try:
            ok = self._forker.poll(child.handle)
        except Exception as e:
            ok = False
            self._log.failure("polling the snapshot child failed")
            del e
        if ok is None:
            self._childCall = self._getClock().callLater(
                self._childPollInterval, self._pollChild)
            return
        if not ok:
            self._snapshotFailed("BGSAVE", "the child process failed")
            self._childDone()
            return
        child.installing = True
        covered = [g.path for g in self._coveredBy(child.nextGen)]
        fs = self._fs
        dataDir = self.dataDir

        def install():
            persistence.installSnapshot(fs, dataDir, covered)
            return os.path.getsize(os.path.join(dataDir,
                                                persistence.SNAPSHOT_NAME))

        d = self._runThread(install)

        def installed(size):
            seconds = self._now() - child.started
            self._snapshotInstalled(child.nextGen, child.savedAtMs,
                                    child.seq, size, seconds)
            self._log.info("Background saving terminated with success "
                           "({size} bytes, {seconds:.3f}s)", size=size,
                           seconds=seconds)

        def failed(reason):
            self._snapshotFailed("BGSAVE install",
                                 _describe(reason.value))

        d.addCallbacks(installed, failed)
        d.addBoth(lambda _: self._childDone())

    def _childDone(self):
        child, self._child = self._child, None
        if child is not None:
            for d in child.waiters:
                if not d.called:
                    d.callback(None)

    def _killChild(self):
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
        self._snapshotFailed("BGSAVE", "killed at shutdown")
        self._childDone()

    def _liveLogBytes(self) -> int:
        return sum(g.offset for g in self._gens.values())

    def _maybeCompact(self):
        if self._child is not None or self._stopping:
            return
        size = self._liveLogBytes()
        if size < self.compactMinBytes or size <= self.snapshotSize:
            return
        if (self._lastBgsaveFailure is not None
                and self._now() - self._lastBgsaveFailure < 60):
            return
        self._log.info("The log has grown to {size} bytes: compacting",
                       size=size)
        self.bgsave()

    # -- introspection -----------------------------------------------------

    def info(self) -> "collections.OrderedDict[str, object]":
        """
        The persistence fields of C{INFO}, with Redis's names where Redis
        has one.
        """
        child = self._child
        return collections.OrderedDict([
            ("loading", 0),
            ("aof_enabled", 1),
            ("aof_fsync", self.fsyncMode),
            ("aof_flush_interval", "%g" % (self.flushInterval,)),
            ("aof_current_size", self._liveLogBytes()),
            ("aof_current_generation",
             self._current.gen if self._current else 0),
            ("aof_pending_ops", self._pendingOps()),
            ("aof_pending_bytes", self._pendingBytes()),
            ("aof_flush_in_progress", int(self._inFlight)),
            ("aof_last_flush_time", int(self.lastFlushTime)),
            ("aof_last_flush_duration_ms",
             int(round(self.flushDurations[-1] * 1000))
             if self.flushDurations else 0),
            ("aof_flushes", self.flushCount),
            ("aof_last_write_status",
             "ok" if self.failure is None else "err"),
            ("aof_last_error", self.failure or ""),
            ("aof_flush_errors", self.flushErrors),
            ("rdb_changes_since_last_save", self._seq() - self._seqAtSave),
            ("rdb_bgsave_in_progress", int(child is not None)),
            ("rdb_last_save_time", self.lastSave),
            ("rdb_last_bgsave_status", self.lastBgsaveStatus),
            ("rdb_last_save_duration_ms",
             int(round(self.snapshotDurations[-1] * 1000))
             if self.snapshotDurations else -1),
            ("rdb_current_bgsave_time_sec",
             int(self._now() - child.started) if child else -1),
            ("rdb_snapshot_size", self.snapshotSize),
            ("latest_fork_usec", int(self.lastForkDuration * 1e6)),
            ("rdb_saves", self.snapshotCount),
            ("rdb_save_errors", self.snapshotErrors),
            ("persistence_errors", self.persistenceErrors),
            ("loading_recovered_keys", self.recoveredKeys),
            ("loading_recovery_time_ms", int(round(self.recoveryTime * 1000))),
            ("loading_torn_bytes", self.tornBytes),
        ])
