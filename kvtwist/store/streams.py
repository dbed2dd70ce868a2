# -*- test-case-name: kvtwist.test.test_streams -*-
"""
Stream values: entries ordered by ID, each a list of field/value pairs
(L{Stream}).  No consumer groups.

An ID is a pair C{(ms, seq)} of unsigned 64-bit integers, written
C{b"ms-seq"}.

Journal ops carry what was decided, never the clock: C{XADD key ms-seq
field value [field value ...]} (the ID as resolved, so that recovery does
not generate IDs again), C{XDEL key id [id ...]} (the IDs removed) and
C{XTRIMHEAD key n} (the first C{n} entries removed by trimming).  A stream
left empty stays, as in Redis.
"""

from bisect import bisect_left, bisect_right
from typing import List, Optional, Tuple

from kvtwist.store.errors import Refused
from kvtwist.store.valuetype import ValueType

#: The greatest part of an ID.
UINT64_MAX = 2 ** 64 - 1

#: An ID: C{(ms, seq)}.
StreamID = Tuple[int, int]

#: The greatest ID.
MAX_ID: StreamID = (UINT64_MAX, UINT64_MAX)

TOP_ERROR = ("ERR The ID specified in XADD is equal or smaller than the "
             "target stream top item")
ZERO_ERROR = "ERR The ID specified in XADD must be greater than 0-0"
EXHAUSTED_ERROR = ("ERR The stream has exhausted the last possible ID, "
                   "unable to add more items")


def formatID(sid: StreamID) -> bytes:
    """
    C{b"ms-seq"}.
    """
    return b"%d-%d" % sid


def parseResolvedID(text: bytes) -> StreamID:
    """
    Parse a complete C{b"ms-seq"} (as the journal holds them).

    @raise ValueError: if it is not one.
    """
    ms, _, seq = text.partition(b"-")
    return int(ms), int(seq)


class Stream:
    """
    A stream: parallel lists of IDs (ascending) and of entries' flat
    field/value lists, the last ID generated and how many entries were
    ever added.

    @ivar ids: the entries' IDs, ascending.
    @ivar entries: each entry's C{[field, value, ...]}, as C{ids}.
    @ivar lastID: the greatest ID ever added (kept when entries go).
    @ivar added: how many entries were ever added.
    """

    __slots__ = ("ids", "entries", "lastID", "added")

    def __init__(self):
        self.ids: List[StreamID] = []
        self.entries: List[List[bytes]] = []
        self.lastID: StreamID = (0, 0)
        self.added = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __getstate__(self):
        return (self.ids, self.entries, self.lastID, self.added)

    def __setstate__(self, state):
        self.ids, self.entries, self.lastID, self.added = state

    def nextID(self, now: int, ms: Optional[int] = None) -> StreamID:
        """
        The ID an entry added now gets, Redis's way: C{ms} (or the current
        time C{now}) with sequence 0, or the last ID's time with its
        sequence plus one when that time is not older.

        @param ms: the time part the client gave (C{ms-*}), or L{None}
            (C{*}).
        @raise Refused: if no greater ID is possible.
        """
        lastMs, lastSeq = self.lastID
        if ms is None:
            if self.lastID == MAX_ID:
                raise Refused(EXHAUSTED_ERROR)
            if now > lastMs:
                return (now, 0)
            if lastSeq == UINT64_MAX:
                return (lastMs + 1, 0)
            return (lastMs, lastSeq + 1)
        if ms > lastMs:
            return (ms, 0)
        if ms < lastMs or lastSeq == UINT64_MAX:
            raise Refused(TOP_ERROR)
        return (ms, lastSeq + 1)

    def append(self, sid: StreamID, fields: List[bytes]):
        """
        Add an entry at the end (C{sid} greater than L{lastID}).
        """
        self.ids.append(sid)
        self.entries.append(list(fields))
        self.lastID = sid
        self.added += 1

    def range(self, start: StreamID, end: StreamID, count: int = -1,
              reverse: bool = False) -> List[Tuple[StreamID, List[bytes]]]:
        """
        The entries from C{start} to C{end} (both included), at most
        C{count} of them (no bound if negative), last first if C{reverse}.
        """
        lo = bisect_left(self.ids, start)
        hi = bisect_right(self.ids, end)
        if lo >= hi:
            return []
        if reverse:
            stop = lo - 1 if count < 0 else max(lo, hi - count) - 1
            indexes = range(hi - 1, stop, -1)
        else:
            stop = hi if count < 0 else min(hi, lo + count)
            indexes = range(lo, stop)
        ids, entries = self.ids, self.entries
        return [(ids[i], list(entries[i])) for i in indexes]

    def delete(self, sids: List[StreamID]) -> List[StreamID]:
        """
        Remove the entries of C{sids}; those that existed, in order given.
        """
        removed = []
        ids = self.ids
        for sid in sids:
            i = bisect_left(ids, sid)
            if i < len(ids) and ids[i] == sid:
                del ids[i]
                del self.entries[i]
                removed.append(sid)
        return removed

    def trimCount(self, maxlen: Optional[int] = None,
                  minid: Optional[StreamID] = None,
                  limit: int = 0) -> int:
        """
        How many entries, from the first, trimming to C{maxlen} entries or
        to entries of C{minid} or greater removes: at most C{limit} if
        positive.
        """
        if maxlen is not None:
            n = max(0, len(self.ids) - maxlen)
        else:
            n = bisect_left(self.ids, minid)
        if limit > 0:
            n = min(n, limit)
        return n

    def dropHead(self, n: int):
        """
        Remove the first C{n} entries.
        """
        del self.ids[:n]
        del self.entries[:n]

    def copy(self) -> "Stream":
        """
        An independent copy.
        """
        other = Stream()
        other.ids = list(self.ids)
        other.entries = [list(e) for e in self.entries]
        other.lastID = self.lastID
        other.added = self.added
        return other


def _replayXadd(store, args):
    store.xadd(args[0], args[2:], sid=parseResolvedID(args[1]))


def _replayXdel(store, args):
    store.xdel(args[0], [parseResolvedID(a) for a in args[1:]])


def _replayXtrimHead(store, args):
    stream = store._stream(args[0])
    if stream is None:
        raise ValueError("XTRIMHEAD of a missing stream")
    store._trimHead(args[0], stream, int(args[1]))


def _plain(value: Stream) -> List[list]:
    # Copies first: PRINT may run this on another thread.
    ids, entries = list(value.ids), list(value.entries)
    return [[formatID(sid), list(fields)] for sid, fields in zip(ids, entries)]


def _same(value: Stream) -> Stream:
    # A snapshot's streams are whole Streams once unpickled.
    return value


#: Streams, for the keyspace: plain as a list of C{[id, [field, value,
#: ...]]}; Redis's C{OBJECT ENCODING} is always C{stream}.
TYPE = ValueType("stream", Stream, plain=_plain, restore=_same,
                 ops={b"XADD": _replayXadd, b"XDEL": _replayXdel,
                      b"XTRIMHEAD": _replayXtrimHead},
                 copy=Stream.copy)


class Streams:
    """
    The stream part of L{kvtwist.store.Store}.
    """

    def _stream(self, key: bytes) -> Optional[Stream]:
        return self._typed(key, Stream)

    def xadd(self, key: bytes, fields: List[bytes],
             sid: Optional[StreamID] = None, ms: Optional[int] = None,
             create: bool = True, maxlen: Optional[int] = None,
             minid: Optional[StreamID] = None, limit: int = 0
             ) -> Optional[StreamID]:
        """
        Add an entry of C{fields} (C{[field, value, ...]}), then trim (see
        L{xtrim}); the entry's ID, or L{None} if the key is missing and
        C{create} is false.

        @param sid: the ID to give it; else one made from C{ms} (C{ms-*})
            or the clock (C{*}) as L{Stream.nextID} does.
        @raise Refused: if the ID is 0-0 or not greater than the last one.
        """
        stream = self._stream(key)
        if stream is None:
            if not create:
                return None
            stream = Stream()
            fresh = True
        else:
            fresh = False
        if sid is None:
            sid = stream.nextID(int(self._now()), ms)
        elif sid == (0, 0):
            raise Refused(ZERO_ERROR)
        elif sid <= stream.lastID:
            raise Refused(TOP_ERROR)
        if fresh:
            self._put(key, stream)
        stream.append(sid, fields)
        self._emit(b"XADD", key, formatID(sid), *fields)
        if maxlen is not None or minid is not None:
            self._trimHead(key, stream,
                           stream.trimCount(maxlen, minid, limit))
        return sid

    def _trimHead(self, key: bytes, stream: Stream, n: int):
        if n > 0:
            stream.dropHead(n)
            self._emit(b"XTRIMHEAD", key, b"%d" % (n,))

    def xlen(self, key: bytes) -> int:
        """
        The number of entries, 0 if the key is missing.
        """
        stream = self._stream(key)
        return 0 if stream is None else len(stream)

    def xrange(self, key: bytes, start: StreamID, end: StreamID,
               count: int = -1, reverse: bool = False
               ) -> List[Tuple[StreamID, List[bytes]]]:
        """
        The entries from C{start} to C{end} (see L{Stream.range}); none
        if the key is missing.
        """
        stream = self._stream(key)
        if stream is None:
            return []
        return stream.range(start, end, count, reverse)

    def xdel(self, key: bytes, sids: List[StreamID]) -> int:
        """
        Remove the entries of C{sids}; how many existed.  The stream stays
        when empty.
        """
        stream = self._stream(key)
        if stream is None:
            return 0
        removed = stream.delete(sids)
        if removed:
            self._emit(b"XDEL", key, *[formatID(s) for s in removed])
        return len(removed)

    def xtrim(self, key: bytes, maxlen: Optional[int] = None,
              minid: Optional[StreamID] = None, limit: int = 0) -> int:
        """
        Remove entries from the first, down to C{maxlen} entries, or those
        below C{minid}, at most C{limit} if positive (exactly: Redis's
        C{~} may trim less, never more); how many went.
        """
        stream = self._stream(key)
        if stream is None:
            return 0
        n = stream.trimCount(maxlen, minid, limit)
        self._trimHead(key, stream, n)
        return n

    def xlast(self, key: bytes) -> Optional[StreamID]:
        """
        The last ID generated in the stream at C{key}, or L{None}.
        """
        stream = self._stream(key)
        return None if stream is None else stream.lastID
