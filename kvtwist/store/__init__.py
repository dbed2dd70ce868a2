# -*- test-case-name: kvtwist.test.test_store -*-
"""
The data: an in-memory key-value store with strings, lists, hashes, sets,
sorted sets, streams and expiry, in numbered databases.

Keys are L{bytes}.  A value is a string (L{bytes}), a list (a
L{collections.deque} of L{bytes}), a hash (a L{dict}), a set (a L{set})
a sorted set (a L{kvtwist.store.zsets.ZSet}) or a stream (a
L{kvtwist.store.streams.Stream}).  Expiry times are absolute, in
milliseconds since the epoch, read from an injectable clock.

The store is made of parts, one module each: the set of databases
(L{kvtwist.store.databases}: C{SELECT}'s numbers, C{SWAPDB}, C{FLUSHALL},
replay and snapshots of the whole), the keyspace of one database
(L{kvtwist.store.keyspace}: keys, SCAN, the feed of changes), expiry
(L{kvtwist.store.expiry}), and one module per kind of value
(L{kvtwist.store.strings}, L{kvtwist.store.lists},
L{kvtwist.store.hashes}, L{kvtwist.store.sets}, L{kvtwist.store.zsets},
L{kvtwist.store.streams}),
each declaring its
L{kvtwist.store.valuetype.ValueType}.  A new kind of value is a module of
its own, added to L{Store}'s bases and L{VALUE_TYPES}.

A L{Store} is one database; the one made first is database 0 and holds
the others (C{store.databases}).  Code that knows nothing of databases
(the colon and JSON-lines dialects, the web interface) uses database 0
by using the store.

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
    databases, keyspace, expiry, hashes, lists, sets, streams, strings,
    zsets)
from kvtwist.store.databases import DEFAULT_DATABASES, Databases
from kvtwist.store.errors import NoSuchKey, NotAnInteger, OutOfRange, WrongType
from kvtwist.store.expiry import Expiry
from kvtwist.store.keyspace import TOMBSTONE, Keyspace
from kvtwist.store.hashes import Hashes
from kvtwist.store.lists import Lists
from kvtwist.store.sets import Sets
from kvtwist.store.streams import Streams
from kvtwist.store.strings import Strings, parseInt
from kvtwist.store.zsets import ZSets

__all__ = ["Store", "VALUE_TYPES", "TOMBSTONE", "NoSuchKey", "NotAnInteger",
           "OutOfRange", "WrongType", "parseInt"]

#: Every kind of value the store holds.
VALUE_TYPES = [strings.TYPE, lists.TYPE, hashes.TYPE, sets.TYPE,
               zsets.TYPE, streams.TYPE]


def _nowMs() -> float:
    return time.time() * 1000.0


def _allOps():
    ops = dict(keyspace.OPS)
    ops.update(databases.OPS)
    ops.update(expiry.OPS)
    for kind in VALUE_TYPES:
        ops.update(kind.ops)
    return ops


@implementer(IStore)
class Store(Databases, Strings, Lists, Hashes, Sets, ZSets, Streams,
            Expiry, Keyspace):
    """
    The in-memory store: one database (its keyspace and expiry, and the
    operations of each kind of value) and, for database 0, the set of
    databases.
    """

    _types = {kind.pythonType: kind for kind in VALUE_TYPES}
    _restorers = {t: kind for kind in VALUE_TYPES for t in kind.snapshotTypes}
    _ops = _allOps()

    def __init__(self, clock: Optional[Callable[[], float]] = None,
                 runInThread: Optional[Callable] = None,
                 databases: int = DEFAULT_DATABASES, owner=None,
                 index: int = 0):
        """
        @param clock: returns the current time in milliseconds since the
            epoch; the real time if not given.
        @param runInThread: see L{Keyspace.runInThread}.
        @param databases: how many databases (C{--databases}): this store
            is database 0 and makes the others.
        @param owner: (for database 0 making the others) the store whose
            database this one is.
        @param index: (with C{owner}) this database's number.
        """
        super().__init__(clock or _nowMs, runInThread)
        self._makeDatabases(databases, owner, index)
