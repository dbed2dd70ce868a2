# -*- test-case-name: kvtwist.test.test_persist_service -*-
"""
The journal: the store's writes on their way to the log, in order.

The store reports each mutation as an op tuple to C{store.journal}, which
is the bound C{append} of L{Journal.pending}: the cheapest possible hot
path (the tuple shares the store's byte strings).  Once a client's read
has left at least L{Journal.SEAL_OPS} ops pending, the connection has them
encoded at once, on the reactor thread, into a log record
(L{Journal.sealBatch}): the tuples then die young instead of living until
the next flush, which on PyPy means its garbage collector doesn't copy
each of them out of the nursery (pipelined C{SET} is about 15% faster),
and on CPython that no thread takes the GIL for the encoding.  The log
writer (L{kvtwist.persist.writer}) takes the sealed records and writes
them.

Every op journaled has a sequence number (one more than the op before);
with C{fsync="always"}, L{Journal.whenDurable} gives a write a Deferred
that fires once the writer has made every op so far durable.

The ops of an C{EXEC} or a script are made one group op
(L{Journal.group}) before anything else sees them, so that recovery
replays all of them or none.

What is held for the log is bounded by backpressure, not by refusals:
while more than L{Journal.MAX_UNWRITTEN} bytes are sealed but not written
(a big value on its way to the disk, a disk slower than the clients), a
write's reply waits (a L{kvtwist.interfaces.Backpressure}, so its client
sends nothing more meanwhile) until the writer has caught up by half.  A
write is refused (C{MISCONF}) only when writing or encoding the log fails.
"""

import collections
from typing import Callable, List, Optional, Tuple

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from kvtwist.interfaces import Backpressure
from kvtwist.persist.format import FrameEncoder, groupOps


#: What a stopped store service gives as its C{failure}: writes are
#: refused then, but not because the disk fails (not C{MISCONF}).
SHUT_DOWN = "the server is shutting down"


class LogWriteFailed(Exception):
    """
    Writing the log failed before a write's record was durable.
    """


def describe(exc: BaseException) -> str:
    """
    A short text for an exception: an L{OSError}'s C{strerror}, else its
    message, else its class name.
    """
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


class Journal:
    """
    Ops not yet written, in order: those pending (tuples) and those sealed
    (encoded as log records of a generation).

    @ivar pending: the ops not encoded yet.  The store appends to this very
        list: it is cleared in place, never replaced.
    @ivar append: what the store's C{journal} is set to: C{pending.append},
        or with C{always} one that also wakes the writer.
    @ivar sealed: the sealed ops waiting to be written, in order:
        C{(generation, [records], number of ops)}.
    @ivar sealedOps: how many ops have been sealed since startup: with
        C{len(pending)}, the sequence number of the last op journaled.
    @ivar sealError: why the pending ops can't be encoded, while they
        can't; L{None} otherwise.
    @ivar sealErrors: how many encodings failed since startup.
    @ivar generation: the log generation new records belong to.
    @ivar durableSeq: the sequence number of the last durable op.
    @ivar unwrittenBytes: the bytes of the records sealed but not written
        yet (in flight included).
    @ivar throttled: whether writes wait for the log to catch up: set
        once more than L{MAX_UNWRITTEN} bytes are sealed but not written,
        cleared once no more than half as many are.
    @ivar throttledWrites: how many writes waited so since startup.
    """

    #: How many pending ops make L{sealBatch} encode them: fewer would make
    #: small records (a record of one C{SET} costs twice the bytes and
    #: seven times the time of one op in a record of 32).
    SEAL_OPS = 32

    #: Sealed bytes not written that make the writer flush at once rather
    #: than at the next tick: a failing disk is noticed (and writes
    #: refused) after at most about this much, not a whole interval's.
    FLUSH_BYTES = 1 << 20

    #: Sealed bytes not written beyond which writes wait (backpressure)
    #: until the writer has caught up by half: the memory held for the log
    #: stays bounded, even when the disk is much slower than the clients.
    #: Nothing is refused for it: a healthy disk is never a reason for
    #: C{MISCONF}.
    MAX_UNWRITTEN = 64 << 20

    _log = Logger()

    def __init__(self, always: bool = False,
                 wake: Optional[Callable[[], None]] = None,
                 changed: Optional[Callable[[], None]] = None):
        """
        @param always: whether writes wait for durability (C{--fsync
            always}): then L{whenDurable} gives Deferreds and every append
            calls C{wake}.
        @param wake: called after each append with C{always}: the writer
            schedules a flush.
        @param changed: called when L{sealError} changes.
        """
        self.always = always
        self.pending: List[tuple] = []
        self.sealed: List[tuple] = []
        self.sealedOps = 0
        self.sealError: Optional[str] = None
        self.sealErrors = 0
        self.unwrittenBytes = 0
        self.throttled = False
        self.throttledWrites = 0
        self.generation = None
        self.durableSeq = 0
        self._waiters: collections.deque = collections.deque()
        # Writes waiting for the throttle to lift (not with always: those
        # wait for durability, which implies it).
        self._throttledWaiters: List[Deferred] = []
        # Whether whenDurable has anything to do: always, or throttled
        # (one test on the hot path of every write).
        self._waits = always
        self._wake = wake
        self._changed = changed
        # (Bound: one call per seal.)
        self._encode = FrameEncoder().encode
        if always:
            self.append = self._appendAndWake
        else:
            self.append = self.pending.append

    def _appendAndWake(self, op: tuple):
        self.pending.append(op)
        self._wake()

    def seq(self) -> int:
        """
        The sequence number of the last op journaled.
        """
        return self.sealedOps + len(self.pending)

    # -- sealing -----------------------------------------------------------

    def seal(self) -> bool:
        """
        Encode the pending ops as log records of the current generation.

        @return: whether they were (or none were pending).  If encoding
            fails the ops stay pending and L{sealError} says why (writes
            are then refused as for a failing write) until they can be
            encoded.
        """
        pending = self.pending
        if not pending:
            return True
        try:
            data = self._encode(pending)
        except Exception as e:
            self._sealFailed(e)
            return False
        n = len(pending)
        del pending[:]
        gen = self.generation
        gen.used = True
        self.sealed.append((gen, [data], n))
        self.sealedOps += n
        unwritten = self.unwrittenBytes = self.unwrittenBytes + len(data)
        if self.sealError is not None:
            self.sealError = None
            self._log.info("The pending writes can be encoded again")
            self._notify()
        if unwritten >= self.FLUSH_BYTES:
            if unwritten > self.MAX_UNWRITTEN and not self.throttled:
                self._throttle()
            if self._wake is not None:
                self._wake()
        return True

    def _throttle(self):
        """
        Too much is sealed but not written: writes wait from now on (see
        L{whenDurable}) until L{written} lifts the throttle.
        """
        self.throttled = True
        self._waits = True
        self._log.info(
            "{bytes} bytes of writes are not in the log yet: writers wait "
            "until it has caught up", bytes=self.unwrittenBytes)

    def written(self, size: int):
        """
        The writer wrote C{size} bytes of sealed records: once no more
        than half of L{MAX_UNWRITTEN} are left, the writes waiting for it
        are answered and writes no longer wait.
        """
        self.unwrittenBytes -= size
        if self.throttled and (
                self.unwrittenBytes <= self.MAX_UNWRITTEN // 2):
            self.throttled = False
            self._waits = self.always
            waiters, self._throttledWaiters = self._throttledWaiters, []
            self._log.info("The log has caught up; {count} writes waited "
                           "for it", count=len(waiters))
            for d in waiters:
                d.callback(None)

    def _sealFailed(self, error: Exception):
        first = self.sealError is None
        self.sealErrors += 1
        self.sealError = "can't encode the log: %s" % (describe(error),)
        if first:
            self._log.failure(
                "Encoding {count} pending writes for the log failed; "
                "refusing writes until they can be encoded",
                Failure(error), count=len(self.pending))
        self._notify()

    def _notify(self):
        if self._changed is not None:
            self._changed()

    def sealBatch(self):
        """
        Encode the pending ops as log records now if there are at least
        C{SEAL_OPS} of them.  A connection calls this after running what
        it read: the ops' tuples are then garbage while they are young.
        While they can't be encoded, only the flush tries again.
        """
        if len(self.pending) >= self.SEAL_OPS and self.sealError is None:
            self.seal()

    def group(self, since: int) -> int:
        """
        Make the ops journaled after sequence number C{since} (a L{seq}
        taken before an C{EXEC} or a script ran) one group op, which is
        never split between log records: recovery replays all of them or
        none.  Call it on the reactor thread right after they were
        journaled, before anything waits for their durability (their
        sequence numbers become one).

        @return: how many ops were grouped (0 or 1 leaves them as they
            are: a single op needs no group).
        """
        pending = self.pending
        start = since - self.sealedOps
        if start < 0:
            # Some were sealed meanwhile: a caller that lets the journal
            # seal between its ops (nothing does) only groups the rest.
            start = 0
        count = len(pending) - start
        if count > 1:
            try:
                op = groupOps(pending[start:])
            except Exception:
                # Ops that can't be encoded: sealing them fails too and
                # says so (writes are refused); leave them as they are.
                self._log.failure("Grouping {count} ops failed", count=count)
                return 0
            del pending[start:]
            pending.append(op)
        return max(count, 0)

    # -- handing records to the writer -------------------------------------

    def take(self) -> Tuple[int, List[tuple]]:
        """
        Seal what is pending and take every sealed record, each run of one
        generation merged into one entry.

        @return: C{(upto, batch)}: the sequence number the batch ends at,
            and C{[(generation, [records], number of ops)]} (empty if
            nothing is sealed).
        """
        self.seal()
        upto = self.sealedOps
        batch: List[tuple] = []
        for gen, records, n in self.sealed:
            if batch and batch[-1][0] is gen:
                _, merged, count = batch[-1]
                merged.extend(records)
                batch[-1] = (gen, merged, count + n)
            else:
                batch.append((gen, records, n))
        self.sealed = []
        return upto, batch

    def putBack(self, batch: List[tuple]):
        """
        Put the records of a batch that could not be written back in front
        of those sealed since, to be written first next time.
        """
        self.sealed[:0] = batch

    def hasUnwritten(self) -> bool:
        """
        Whether any op is pending or sealed but not handed to the writer.
        """
        return bool(self.pending or self.sealed)

    # -- durability --------------------------------------------------------

    def whenDurable(self) -> Optional[Deferred]:
        """
        What a write that was just journaled must wait for before its
        reply, if anything:

            - with C{always}, a Deferred that fires with L{None} once every
              op journaled so far is durable (L{None} if all are already);
            - while L{throttled}, a L{Backpressure} Deferred that fires
              once the log has caught up (with C{always}: once durable);
            - else L{None}.

        If writing the log fails first, the Deferred fails with
        L{LogWriteFailed} (see L{failWaiters}).
        """
        if not self._waits:
            return None
        throttled = self.throttled
        if throttled:
            self.throttledWrites += 1
        if not self.always:
            d = Backpressure()
            self._throttledWaiters.append(d)
            return d
        seq = self.sealedOps + len(self.pending)
        if seq <= self.durableSeq:
            return None
        d = Backpressure() if throttled else Deferred()
        self._waiters.append((seq, d))
        return d

    def failWaiters(self, reason: Exception):
        """
        The records of the writes waiting to be durable (or for the log to
        catch up) could not be written: fail their Deferreds with
        C{reason}, so that every one of those writes is answered (with an
        error, C{MISCONF}), not left waiting.  Their ops stay in the
        journal and are retried: an error means "not acknowledged", not
        "not applied".
        """
        waiters, self._waiters = self._waiters, collections.deque()
        throttled, self._throttledWaiters = self._throttledWaiters, []
        for _, d in waiters:
            d.errback(reason)
        for d in throttled:
            d.errback(reason)

    def markDurable(self, upto: int):
        """
        Every op up to sequence number C{upto} is durable: fire the
        Deferreds waiting for them.
        """
        if upto > self.durableSeq:
            self.durableSeq = upto
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.durableSeq:
            _, d = waiters.popleft()
            d.callback(None)

    # -- figures -----------------------------------------------------------

    def pendingOps(self) -> int:
        """
        How many ops are not written yet (pending or sealed).
        """
        return len(self.pending) + sum(n for _, _, n in self.sealed)

    def pendingBytes(self) -> int:
        """
        The bytes of the sealed records waiting to be written, plus an
        estimate for the ops not encoded yet (from a sample: the exact
        figure would cost a walk over every pending op).
        """
        size = sum(len(data) for _, records, _ in self.sealed
                   for data in records)
        pending = self.pending
        if pending:
            sample = pending[:64]
            opBytes = sum(len(x) for op in sample for x in op) + 8 * sum(
                len(op) for op in sample)
            size += len(pending) * opBytes // len(sample)
        return size
