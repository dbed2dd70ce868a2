# -*- test-case-name: kvtwist.test.test_store -*-
"""
Expiry: absolute times, in milliseconds since the epoch, at which keys
go.  A key is expired lazily when it is next looked at, and actively by
L{Expiry.sweep}, in time order (a heap).
"""

import heapq
import random
from typing import Dict, List, Optional, Tuple


def _replayPexpireAt(store, args):
    store.expireAt(args[0], int(args[1]))


def _replayPersist(store, args):
    store.persist(args[0])


#: The journal ops of expiry.
OPS = {b"PEXPIREAT": _replayPexpireAt, b"PERSIST": _replayPersist}


class Expiry:
    """
    The expiry part of one database of L{kvtwist.store.Store}, beside its
    keyspace (L{kvtwist.store.keyspace.Keyspace}).
    """

    #: How many keys of this database have expired since start.
    _expired = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._forgetExpiries()

    def _forgetExpiries(self):
        self._expires: Dict[bytes, float] = {}
        self._heap: List[Tuple[float, bytes]] = []

    def _loadExpiries(self, expires: Dict[bytes, float]):
        self._expires = expires
        self._heap = [(w, k) for (k, w) in expires.items()]
        heapq.heapify(self._heap)

    def _setExpiry(self, key: bytes, when: float):
        self._expires[key] = when
        heapq.heappush(self._heap, (when, key))
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._expires):
            self._heap = [(w, k) for (k, w) in self._expires.items()]
            heapq.heapify(self._heap)

    def _expire(self, key: bytes):
        self._bury(key)
        del self._expires[key]
        self._expired += 1
        self._emit(b"DEL", key)

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
            self._expired += 1
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
        Counted in whole milliseconds, as Redis does (in floating point, an
        expiry near the end of the 64-bit range would be rounded).
        """
        if self._lookup(key) is None:
            return -2
        when = self._expires.get(key)
        if when is None:
            return -1
        return max(0, int(when) - int(self._now()))

    def expiresAt(self, key: bytes) -> Optional[int]:
        """
        The absolute expiry time of C{key} in milliseconds, or L{None}.
        """
        if self._lookup(key) is None:
            return None
        when = self._expires.get(key)
        return None if when is None else int(when)

    def _sweepOwn(self, limit: int = 100) -> int:
        """
        Actively expire at most C{limit} keys of this database whose time
        has passed.  Return how many were removed.
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

    def averageTtlMs(self, sample: int = 64) -> int:
        """
        The average time to live of the keys with an expiry, in
        milliseconds (0 if none): exact with up to C{sample} of them,
        estimated from as many picked at random otherwise (C{INFO
        keyspace}'s C{avg_ttl}, which Redis estimates too).
        """
        expires = self._expires
        if not expires:
            return 0
        if len(expires) <= sample:
            times = list(expires.values())
        else:
            heap = self._heap
            times = [w for w, k in (heap[random.randrange(len(heap))]
                                    for _ in range(sample))
                     if expires.get(k) == w]
            if not times:
                return 0
        now = self._now()
        return max(0, int(sum(times) / len(times) - now))
