# -*- test-case-name: kvtwist.test.test_store -*-
"""
The data: an in-memory key-value store with strings, lists, hashes, sets,
sorted sets and expiry.

Keys are L{bytes}.  A value is a string (L{bytes}), a list (a
L{collections.deque} of L{bytes}), a hash (a L{dict}), a set (a L{set})
or a sorted set (a L{kvtwist.store.zsets.ZSet}).  Expiry times are absolute, in
milliseconds since the epoch, read from an injectable clock.

The store is made of parts, one module each: the keyspace
(L{kvtwist.store.keyspace}: keys, SCAN, the journal, replay, snapshots),
expiry (L{kvtwist.store.expiry}), and one module per kind of value
(L{kvtwist.store.strings}, L{kvtwist.store.lists},
L{kvtwist.store.hashes}, L{kvtwist.store.sets}, L{kvtwist.store.zsets}),
each declaring its
L{kvtwist.store.valuetype.ValueType}.  A new kind of value is a module of
its own, added to L{Store}'s bases and L{VALUE_TYPES}.

Nothing here knows about Twisted, sockets or files; every method answers
at once.  Every mutation is reported to an optional C{journal} callable as
an I{op}: a tuple whose first element names the operation (see
L{Store.apply}).  The store service writes those ops to the append-only
log, and recovery replays them with L{Store.apply}.  Ops are
deterministic: relative expiry is journaled as an absolute time, computed
results (C{INCR}, C{APPEND}) as the value they produced.
"""

import time
from typing import Callable, Optional

from zope.interface import implementer

from kvtwist.interfaces import IStore
from kvtwist.store import (
    keyspace, expiry, hashes, lists, sets, strings, zsets)
from kvtwist.store.errors import NoSuchKey, NotAnInteger, OutOfRange, WrongType
from kvtwist.store.expiry import Expiry
from kvtwist.store.keyspace import TOMBSTONE, Keyspace
from kvtwist.store.hashes import Hashes
from kvtwist.store.lists import Lists
from kvtwist.store.sets import Sets
from kvtwist.store.strings import Strings, parseInt
from kvtwist.store.zsets import ZSets

__all__ = ["Store", "VALUE_TYPES", "TOMBSTONE", "NoSuchKey", "NotAnInteger",
           "OutOfRange", "WrongType", "parseInt"]

#: Every kind of value the store holds.
VALUE_TYPES = [strings.TYPE, lists.TYPE, hashes.TYPE, sets.TYPE,
               zsets.TYPE]


def _nowMs() -> float:
    return time.time() * 1000.0


def _allOps():
    ops = dict(keyspace.OPS)
    ops.update(expiry.OPS)
    for kind in VALUE_TYPES:
        ops.update(kind.ops)
    return ops


@implementer(IStore)
class Store(Strings, Lists, Hashes, Sets, ZSets, Expiry, Keyspace):
    """
    The in-memory store: its keyspace and expiry, and the operations of
    each kind of value.
    """

    _types = {kind.pythonType: kind for kind in VALUE_TYPES}
    _restorers = {t: kind for kind in VALUE_TYPES for t in kind.snapshotTypes}
    _ops = _allOps()

    def __init__(self, clock: Optional[Callable[[], float]] = None,
                 runInThread: Optional[Callable] = None):
        """
        @param clock: returns the current time in milliseconds since the
            epoch; the real time if not given.
        @param runInThread: see L{Keyspace.runInThread}.
        """
        super().__init__(clock or _nowMs, runInThread)
