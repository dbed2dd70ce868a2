# -*- test-case-name: kvtwist.test.test_store -*-
"""
The data: an in-memory key-value store with strings, lists and expiry.

Keys and values are L{bytes}.  A value is either a string (L{bytes}) or a
list (a L{collections.deque} of L{bytes}).  Expiry times are absolute, in
milliseconds since the epoch, read from an injectable clock.

Nothing here knows about Twisted, sockets or files.  Every mutation is
reported to an optional C{journal} callable as an I{op}: a tuple whose first
element names the operation (see L{Store.apply}).  The store service writes
those ops to the append-only log, and recovery replays them with
L{Store.apply}.  Ops are deterministic: relative expiry is journaled as an
absolute time, computed results (C{INCR}, C{APPEND}) as the value they
produced.
"""

import heapq
from itertools import islice, repeat
import time
from collections import deque
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from zope.interface import implementer

from kvtwist.glob import compileGlob
from kvtwist.interfaces import IStore


class WrongType(Exception):
    """
    An operation was attempted against a key holding the wrong kind of value.
    """


class NotAnInteger(Exception):
    """
    A value that should be an integer is not one, or overflowed.
    """


class NoSuchKey(Exception):
    """
    The key an operation requires does not exist.
    """


class OutOfRange(Exception):
    """
    A list index is out of range.
    """


class _Tombstone:
    """
    What a deleted key's slot holds until the next compaction, so that the
    positions SCAN cursors stand for don't move when keys are deleted.
    Pickles by reference (a snapshot may hold some; loading drops them).
    """

    __slots__ = ()

    def __reduce__(self):
        return "TOMBSTONE"

    def __repr__(self):
        return "<deleted>"


#: The one tombstone.
TOMBSTONE = _Tombstone()

#: SCAN cursors: the low bits are a position, the high bits the epoch of
#: the positions (it changes when the store is compacted or flushed).
_CURSOR_BITS = 40
_EPOCHS = 1 << 22

_INT64_MAX = 2 ** 63 - 1
_INT64_MIN = -(2 ** 63)


def _nowMs() -> float:
    return time.time() * 1000.0


def parseInt(value: bytes) -> int:
    """
    Parse C{value} as a signed 64-bit decimal integer, as Redis does.

    @raise NotAnInteger: if it is not one.
    """
    # int() accepts spaces, underscores and a leading '+'; Redis does not.
    if not value or len(value) > 20 or not value.lstrip(b"-").isdigit():
        raise NotAnInteger(value)
    if value.startswith(b"-"):
        if value.count(b"-") != 1:
            raise NotAnInteger(value)
    if len(value) > 1 and (value.startswith(b"0") or value.startswith(b"-0")):
        raise NotAnInteger(value)
    n = int(value)
    if n > _INT64_MAX or n < _INT64_MIN:
        raise NotAnInteger(value)
    return n


def _drain(d: dict):
    """
    Empty C{d} an item at a time: freeing a big dict in one go is a single
    call that holds the interpreter lock until every key is freed.
    """
    pop = d.popitem
    while d:
        pop()


@implementer(IStore)
class Store:
    """
    The in-memory store.

    @ivar journal: called with each mutation op, or L{None}.
    @ivar expiredCount: how many keys have expired since start.
    @ivar runInThread: C{runInThread(f, *args)}, or L{None}: with one,
        L{flush} on a store of more than L{OFFLOAD_KEYS} keys frees the old
        contents through it, off the calling thread.
    """

    journal: Optional[Callable[[tuple], None]] = None

    #: Store size from which L{flush} frees through C{runInThread}.
    OFFLOAD_KEYS = 20000

    def __init__(self, clock: Optional[Callable[[], float]] = None,
                 runInThread: Optional[Callable] = None):
        """
        @param clock: returns the current time in milliseconds since the
            epoch; the real time if not given.
        @param runInThread: see the instance variable.
        """
        self.runInThread = runInThread
        self._now = clock or _nowMs
        self._data: Dict[bytes, object] = {}
        # Every key of _data in its order (position -> key) for SCAN; built
        # by the first SCAN, so a store never scanned doesn't pay for it.
        self._order: Optional[List[bytes]] = None
        self._tombs = 0
        self._epoch = 0
        self._expires: Dict[bytes, float] = {}
        self._heap: List[Tuple[float, bytes]] = []
        self.expiredCount = 0

    # -- internals ---------------------------------------------------------

    def _emit(self, *op):
        journal = self.journal
        if journal is not None:
            journal(op)

    def _lookup(self, key: bytes):
        """
        Return the live value of C{key} or L{None}, expiring it lazily.
        """
        value = self._data.get(key)
        if value is TOMBSTONE:
            return None
        if value is not None and self._expires and key in self._expires:
            if self._expires[key] <= self._now():
                self._expire(key)
                return None
        return value

    def _expire(self, key: bytes):
        self._bury(key)
        del self._expires[key]
        self.expiredCount += 1
        self._emit(b"DEL", key)

    def _string(self, key: bytes) -> Optional[bytes]:
        value = self._lookup(key)
        if value is None or type(value) is bytes:
            return value
        raise WrongType(key)

    def _list(self, key: bytes) -> Optional[deque]:
        value = self._lookup(key)
        if value is None or type(value) is deque:
            return value
        raise WrongType(key)

    def _setExpiry(self, key: bytes, when: float):
        self._expires[key] = when
        heapq.heappush(self._heap, (when, key))
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._expires):
            self._heap = [(w, k) for (k, w) in self._expires.items()]
            heapq.heapify(self._heap)

    def _bury(self, key: bytes):
        """
        Delete C{key}'s value, leaving a tombstone in its slot.
        """
        self._data[key] = TOMBSTONE
        self._tombs += 1
        if self._tombs > 1024 and 2 * self._tombs > len(self._data):
            self._compact()

    def _compact(self):
        """
        Drop the tombstones (O(store), paid for by as many deletes).  SCAN
        cursors of the old positions restart from the beginning.
        """
        self._data = {k: v for k, v in self._data.items()
                      if v is not TOMBSTONE}
        self._order = None
        self._tombs = 0
        self._epoch = (self._epoch + 1) % _EPOCHS

    def _put(self, key: bytes, value):
        """
        Store C{value} in C{key}'s slot, reviving a tombstone.
        """
        data = self._data
        if key not in data:
            if self._order is not None:
                self._order.append(key)
        elif self._tombs and data[key] is TOMBSTONE:
            self._tombs -= 1
        data[key] = value

    def _drop(self, key: bytes) -> bool:
        value = self._data.get(key)
        if value is not None and value is not TOMBSTONE:
            self._bury(key)
            self._expires.pop(key, None)
            return True
        return False

    # -- keys --------------------------------------------------------------

    def now(self) -> float:
        """
        The store's current time in milliseconds since the epoch.
        """
        return self._now()

    def __len__(self) -> int:
        return len(self._data) - self._tombs

    def size(self) -> int:
        """
        The number of keys (some may be expired but not yet swept).
        """
        return len(self._data) - self._tombs

    def exists(self, key: bytes) -> bool:
        """
        Whether C{key} holds a live value.
        """
        return self._lookup(key) is not None

    def typeOf(self, key: bytes) -> str:
        """
        C{"string"}, C{"list"} or C{"none"}.
        """
        value = self._lookup(key)
        if value is None:
            return "none"
        return "string" if type(value) is bytes else "list"

    def delete(self, key: bytes) -> bool:
        """
        Remove C{key}; return whether it existed.
        """
        if self._lookup(key) is None:
            return False
        self._drop(key)
        self._emit(b"DEL", key)
        return True

    def flush(self):
        """
        Remove every key.  With C{runInThread}, a big store's old contents
        are freed off the calling thread.
        """
        old = self._data
        self._data = {}
        self._order = None
        self._tombs = 0
        self._epoch = (self._epoch + 1) % _EPOCHS
        self._expires = {}
        self._heap = []
        self._emit(b"FLUSHALL")
        if self.runInThread is not None and len(old) > self.OFFLOAD_KEYS:
            self.runInThread(_drain, old)

    def keys(self, pattern: bytes = b"*") -> List[bytes]:
        """
        Every live key matching the glob C{pattern}.  Costs O(store): see
        L{keysTask} to do it elsewhere.
        """
        return self.keysTask(pattern)()

    def keysTask(self, pattern: bytes = b"*") -> Callable[[], List[bytes]]:
        """
        L{keys} as a task: a snapshot of the keys, taken now (two list
        copies in C), and a function listing those of them that match,
        which may run on another thread while the store changes.
        """
        glob = compileGlob(pattern)
        return self._task(lambda keys, values, live: [
            key for key, value in zip(keys, values)
            if live(key, value) and (glob is None or glob.match(key))],
            values=self._tombs > 0)

    def contents(self) -> Dict[bytes, object]:
        """
        Every live key and its value, as a new dict (a list value copied
        to a list).  Costs O(store): see L{contentsTask} to do it
        elsewhere.
        """
        return self.contentsTask()()

    def contentsTask(self) -> Callable[[], Dict[bytes, object]]:
        """
        L{contents} as a task: a snapshot of the keys and values, taken
        now, and a function copying them into the dict, which may run on
        another thread while the store changes.
        """
        def copy(keys, values, live):
            return {key: (value if type(value) is bytes else list(value))
                    for key, value in zip(keys, values) if live(key, value)}
        return self._task(copy)

    def _task(self, work, values: bool = True) -> Callable[[], object]:
        """
        A function calling C{work(keys, values, live)} on a snapshot of
        the store taken now: C{keys} and C{values} are iterables in the
        same order, C{live(key, value)} says whether a pair is live (not a
        tombstone, not expired) as of now.

        Taking the snapshot is two list copies in C (one without
        C{values}, when every value is C{None} to C{work}); list values are
        not copied by it, so C{work} sees each as it is when it gets there.
        """
        data = self._data
        keys = list(data)
        values = list(data.values()) if values else repeat(None)
        exp = dict(self._expires) if self._expires else None
        now = self._now()

        def live(key, value):
            return value is not TOMBSTONE and not (
                exp and key in exp and exp[key] <= now)

        return lambda: work(keys, values, live)

    def scan(self, cursor: int, pattern: bytes = b"*", count: int = 10
             ) -> Tuple[int, List[bytes]]:
        """
        Incremental iteration: visit about C{count} key slots from
        C{cursor} on, in insertion order, and return C{(nextCursor, keys)};
        C{nextCursor} is 0 when the iteration is over.

        As Redis guarantees, a full iteration returns every key present
        from its start to its end (possibly more than once): deleted keys
        leave tombstones, so positions don't move.  When the store is
        compacted or flushed, older cursors start over from the beginning.
        """
        glob = compileGlob(pattern)
        now = self._now()
        exp = self._expires
        data = self._data
        order = self._order
        if order is None:
            order = self._order = list(data)
        epoch, pos = divmod(cursor, 1 << _CURSOR_BITS)
        if epoch != self._epoch:
            pos = 0
        total = len(order)
        if pos >= total:
            return 0, []
        end = min(total, pos + max(1, count))
        out = []
        for key in order[pos:end]:
            if data.get(key) is TOMBSTONE or (
                    exp and key in exp and exp[key] <= now):
                continue
            if glob is None or glob.match(key):
                out.append(key)
        if end >= total:
            return 0, out
        return (self._epoch << _CURSOR_BITS) | end, out

    def items(self) -> Iterable[Tuple[bytes, object]]:
        """
        Every live C{(key, value)} pair; a list value is a list of L{bytes}.
        """
        now = self._now()
        exp = self._expires
        for key, value in list(self._data.items()):
            if value is TOMBSTONE or (exp and key in exp and exp[key] <= now):
                continue
            yield key, (value if type(value) is bytes else list(value))

    def rename(self, src: bytes, dst: bytes):
        """
        Rename C{src} to C{dst}, replacing C{dst}.

        @raise NoSuchKey: if C{src} does not exist.
        """
        value = self._lookup(src)
        if value is None:
            raise NoSuchKey(src)
        if src == dst:
            return
        when = self._expires.get(src)
        self._drop(src)
        self._drop(dst)
        self._put(dst, value)
        if when is not None:
            self._setExpiry(dst, when)
        self._emit(b"RENAME", src, dst)

    # -- expiry ------------------------------------------------------------

    def expireAt(self, key: bytes, whenMs: float) -> bool:
        """
        Make C{key} expire at C{whenMs}; a time in the past deletes it.
        Return whether the key existed.
        """
        if self._lookup(key) is None:
            return False
        whenMs = int(whenMs)
        if whenMs <= self._now():
            self._drop(key)
            self.expiredCount += 1
            self._emit(b"DEL", key)
        else:
            self._setExpiry(key, whenMs)
            self._emit(b"PEXPIREAT", key, b"%d" % whenMs)
        return True

    def persist(self, key: bytes) -> bool:
        """
        Remove C{key}'s expiry; return whether it had one.
        """
        if self._lookup(key) is None or key not in self._expires:
            return False
        del self._expires[key]
        self._emit(b"PERSIST", key)
        return True

    def ttlMs(self, key: bytes) -> int:
        """
        Milliseconds left to live; -1 with no expiry; -2 if missing.
        """
        if self._lookup(key) is None:
            return -2
        when = self._expires.get(key)
        if when is None:
            return -1
        return max(0, int(when - self._now()))

    def expiresAt(self, key: bytes) -> Optional[int]:
        """
        The absolute expiry time of C{key} in milliseconds, or L{None}.
        """
        if self._lookup(key) is None:
            return None
        when = self._expires.get(key)
        return None if when is None else int(when)

    def sweep(self, limit: int = 100) -> int:
        """
        Actively expire at most C{limit} keys whose time has passed.
        Return how many were removed.
        """
        heap = self._heap
        now = self._now()
        removed = 0
        work = 0
        while heap and work < limit and heap[0][0] <= now:
            when, key = heapq.heappop(heap)
            work += 1
            if self._expires.get(key) == when:
                self._expire(key)
                removed += 1
        return removed

    def expiringCount(self) -> int:
        """
        The number of keys with an expiry time.
        """
        return len(self._expires)

    # -- strings -----------------------------------------------------------

    def get(self, key: bytes) -> Optional[bytes]:
        """
        The string value of C{key}, or L{None}.

        @raise WrongType: if it holds a list.
        """
        value = self._data.get(key)
        if value is None or value is TOMBSTONE:
            return None
        if self._expires and key in self._expires:
            value = self._lookup(key)
            if value is None:
                return None
        if type(value) is not bytes:
            raise WrongType(key)
        return value

    def set(self, key: bytes, value: bytes, expireAtMs: Optional[float] = None,
            keepTTL: bool = False):
        """
        Set C{key} to the string C{value}, replacing any value of any type.

        @param expireAtMs: an absolute expiry time, or L{None}.
        @param keepTTL: keep the key's current expiry (if no new one given).
        """
        expires = self._expires
        if expires and key in expires:
            if keepTTL and expireAtMs is None:
                if expires[key] <= self._now():
                    self._expire(key)
                else:
                    self._data[key] = value
                    self._emit(b"SETKEEPTTL", key, value)
                    return
            else:
                del expires[key]
        data = self._data
        old = data.get(key)
        if old is None:
            if self._order is not None:
                self._order.append(key)
        elif old is TOMBSTONE:
            self._tombs -= 1
        data[key] = value
        journal = self.journal
        if expireAtMs is not None:
            self._setExpiry(key, int(expireAtMs))
            if journal is not None:
                journal((b"SET", key, value))
                journal((b"PEXPIREAT", key, b"%d" % int(expireAtMs)))
        elif journal is not None:
            journal((b"SET", key, value))

    def incrBy(self, key: bytes, delta: int) -> int:
        """
        Add C{delta} to the integer in C{key} (0 if missing); keep its TTL.

        @raise NotAnInteger: if the value is not an integer or overflows.
        """
        current = self._string(key)
        n = 0 if current is None else parseInt(current)
        n += delta
        if n > _INT64_MAX or n < _INT64_MIN:
            raise NotAnInteger(key)
        value = b"%d" % n
        self._put(key, value)
        self._emit(b"SETKEEPTTL", key, value)
        return n

    def append(self, key: bytes, value: bytes) -> int:
        """
        Append C{value} to the string in C{key}; return the new length.
        """
        current = self._string(key)
        new = value if current is None else current + value
        self._put(key, new)
        self._emit(b"SETKEEPTTL", key, new)
        return len(new)

    # -- lists -------------------------------------------------------------

    def push(self, key: bytes, values: List[bytes], left: bool = False,
             onlyIfExists: bool = False) -> int:
        """
        Push C{values} to the head (C{left}) or tail of the list in C{key},
        creating it; return the new length (0 if C{onlyIfExists} and the
        key is missing).
        """
        lst = self._list(key)
        if lst is None:
            if onlyIfExists:
                return 0
            lst = deque()
            self._put(key, lst)
        if left:
            lst.extendleft(values)
        else:
            lst.extend(values)
        self._emit(b"LPUSH" if left else b"RPUSH", key, *values)
        return len(lst)

    def pop(self, key: bytes, count: int = 1, left: bool = True
            ) -> Optional[List[bytes]]:
        """
        Pop up to C{count} values from the head (C{left}) or tail; L{None}
        if the key is missing.  An emptied list is deleted.
        """
        lst = self._list(key)
        if lst is None:
            return None
        n = min(count, len(lst))
        popper = lst.popleft if left else lst.pop
        out = [popper() for _ in range(n)]
        if not lst:
            self._drop(key)
        if n:
            self._emit(b"LPOP" if left else b"RPOP", key, b"%d" % n)
        return out

    def lrange(self, key: bytes, start: int, stop: int) -> List[bytes]:
        """
        Elements C{start} to C{stop} inclusive, negative indexes from the
        end, as Redis's LRANGE.
        """
        lst = self._list(key)
        if lst is None:
            return []
        n = len(lst)
        if start < 0:
            start = max(0, n + start)
        if stop < 0:
            stop = n + stop
        if stop >= n:
            stop = n - 1
        if start > stop or start >= n:
            return []
        if start == 0 and stop == n - 1:
            return list(lst)
        if start > n // 2:
            # Walk from the right end instead (never rotate the list in
            # place: PRINT may be copying it from another thread).
            out = list(islice(reversed(lst), n - 1 - stop, n - start))
            out.reverse()
            return out
        return list(islice(lst, start, stop + 1))

    def llen(self, key: bytes) -> int:
        """
        The length of the list in C{key}, 0 if missing.
        """
        lst = self._list(key)
        return 0 if lst is None else len(lst)

    def lindex(self, key: bytes, index: int) -> Optional[bytes]:
        """
        The element at C{index}, or L{None}.
        """
        lst = self._list(key)
        if lst is None:
            return None
        try:
            return lst[index]
        except IndexError:
            return None

    def lset(self, key: bytes, index: int, value: bytes):
        """
        Set the element at C{index}.

        @raise NoSuchKey: if the key is missing.
        @raise OutOfRange: if the index is.
        """
        lst = self._list(key)
        if lst is None:
            raise NoSuchKey(key)
        try:
            lst[index] = value
        except IndexError:
            raise OutOfRange(index)
        self._emit(b"LSET", key, b"%d" % index, value)

    def lrem(self, key: bytes, count: int, value: bytes) -> int:
        """
        Remove up to C{count} (all if 0; from the tail if negative)
        elements equal to C{value}; return how many were removed.
        """
        lst = self._list(key)
        if lst is None:
            return 0
        items = list(lst)
        limit = abs(count) or len(items)
        removed = 0
        if count >= 0:
            kept = []
            for item in items:
                if removed < limit and item == value:
                    removed += 1
                else:
                    kept.append(item)
        else:
            kept = []
            for item in reversed(items):
                if removed < limit and item == value:
                    removed += 1
                else:
                    kept.append(item)
            kept.reverse()
        if removed:
            if kept:
                self._data[key] = deque(kept)
            else:
                self._drop(key)
            self._emit(b"LREM", key, b"%d" % count, value)
        return removed

    def lreplace(self, key: bytes, old: bytes, new: bytes) -> int:
        """
        Replace every element equal to C{old} with C{new} (the colon
        protocol's C{Update}); return how many were replaced.
        """
        lst = self._list(key)
        if lst is None:
            return 0
        replaced = 0
        for i, item in enumerate(lst):
            if item == old:
                lst[i] = new
                replaced += 1
        if replaced:
            self._emit(b"LREPLACE", key, old, new)
        return replaced

    # -- replay and snapshots ----------------------------------------------

    def apply(self, op: tuple):
        """
        Replay one journaled op without journaling it again.

        Ops: C{SET k v}, C{SETKEEPTTL k v}, C{DEL k}, C{FLUSHALL},
        C{PEXPIREAT k ms}, C{PERSIST k}, C{RENAME a b}, C{LPUSH k v...},
        C{RPUSH k v...}, C{LPOP k n}, C{RPOP k n}, C{LSET k i v},
        C{LREM k n v}, C{LREPLACE k old new}.

        @raise ValueError: for an unknown or malformed op.
        """
        journal, self.journal = self.journal, None
        try:
            name = op[0]
            args = op[1:]
            if name == b"SET":
                self.set(args[0], args[1])
            elif name == b"SETKEEPTTL":
                self.set(args[0], args[1], keepTTL=True)
            elif name == b"DEL":
                self._drop(args[0])
            elif name == b"FLUSHALL":
                self.flush()
            elif name == b"PEXPIREAT":
                self.expireAt(args[0], int(args[1]))
            elif name == b"PERSIST":
                self.persist(args[0])
            elif name == b"RENAME":
                self.rename(args[0], args[1])
            elif name in (b"LPUSH", b"RPUSH"):
                self.push(args[0], list(args[1:]), left=(name == b"LPUSH"))
            elif name in (b"LPOP", b"RPOP"):
                self.pop(args[0], int(args[1]), left=(name == b"LPOP"))
            elif name == b"LSET":
                self.lset(args[0], int(args[1]), args[2])
            elif name == b"LREM":
                self.lrem(args[0], int(args[1]), args[2])
            elif name == b"LREPLACE":
                self.lreplace(args[0], args[1], args[2])
            else:
                raise ValueError("unknown op %r" % (name,))
        except (IndexError, NoSuchKey, OutOfRange, WrongType) as e:
            raise ValueError("malformed op %r: %r" % (op[:1], e))
        finally:
            self.journal = journal

    def dumpState(self):
        """
        A picklable copy-free view of the whole state: C{(data, expires)}.
        Only safe to serialise while nothing mutates the store (in a forked
        child, or on the reactor thread).  C{data} may hold L{TOMBSTONE}s
        for deleted keys; L{loadState} drops them.
        """
        return self._data, self._expires

    def loadState(self, data: Dict[bytes, object], expires: Dict[bytes, float]):
        """
        Replace the whole state (no journaling).
        """
        self._data = {k: (v if type(v) is bytes else deque(v))
                      for k, v in data.items() if v is not TOMBSTONE}
        self._order = None
        self._tombs = 0
        self._epoch = (self._epoch + 1) % _EPOCHS
        self._expires = {k: w for k, w in expires.items() if k in self._data}
        self._heap = [(w, k) for (k, w) in self._expires.items()]
        heapq.heapify(self._heap)
