# -*- test-case-name: kvtwist.test.test_databases -*-
"""
The set of numbered databases (Redis's C{SELECT 0}..C{15}).

Each database is a L{kvtwist.store.Store} of its own: a keyspace with its
expiry and every kind of value.  The one made first is database 0: it
makes the others (L{Databases.databases}), and it is I{the} store the
service, the backend and the dialects without C{SELECT} use.  Operations
on the whole (its journal, the replay of ops, the snapshot state, the
expiry sweep, C{FLUSHALL}, C{SWAPDB}, the count of expired keys) may be
called on any database and act on all of them.

The journal
===========

Database 0's ops go to the journal as they always have: nothing is added
to the hot path of a client that never selects another database.  An op
of database I{n} > 0 is journaled as C{(b"DB", b"n", *op)}.  Each op so
names its database, so the log has no state to lose at a record, file or
snapshot boundary (Redis's AOF instead emits a C{SELECT} when the
database changes).  The whole store's own ops: C{FLUSHALL} (every
database; the op older logs have for C{FLUSHALL} and C{FLUSHDB} alike,
when database 0 was the only one) and C{SWAPDB a b}.  C{MOVE key n} and
C{COPY src dst n} are ops of their source database.

The snapshot state
==================

L{Databases.dumpState} is C{(data, expires)} of database 0 when the
others are empty: the state of a store that never used them is what it
always was, and a snapshot of it is read by older kvtwist too.
Otherwise C{data} is a L{DatabaseSet} (a C{dict}, empty, holding every
non-empty database's C{(data, expires)} by number) and C{expires} is
empty.  L{Databases.loadState} reads both.
"""

from typing import Dict, List, Optional, Tuple

from kvtwist.store.keyspace import _EPOCHS, _beforeAnything

#: Databases a store has unless told otherwise (Redis's C{databases}).
DEFAULT_DATABASES = 16


class DatabaseSet(dict):
    """
    The state of every non-empty database, where a snapshot has database
    0's data (see L{Databases.dumpState}).  A C{dict} (an empty one), so
    that code reading a snapshot as C{(data, expires)} keeps working; it
    pickles as C{kvtwist.store.databases.DatabaseSet}.

    @ivar states: database number -> C{(data, expires)}.
    """

    def __init__(self, states: Optional[Dict[int, tuple]] = None):
        dict.__init__(self)
        self.states = dict(states or {})

    def __reduce__(self):
        return (DatabaseSet, (self.states,))

    def __repr__(self):
        return "DatabaseSet(%r)" % (sorted(self.states),)


def _replayFlushAll(store, args):
    store.flushAll()


def _replaySwapDb(store, args):
    store.swapDatabases(int(args[0]), int(args[1]))


def _replayMove(store, args):
    target = store._other(args[1])
    with _frozen(target):
        store.moveTo(args[0], target)


def _replayCopy(store, args):
    target = store._other(args[2])
    with _frozen(target):
        store.copyTo(args[0], target, args[1], replace=True)


#: The journal ops of the set of databases.
OPS = {b"FLUSHALL": _replayFlushAll, b"SWAPDB": _replaySwapDb,
       b"MOVE": _replayMove, b"COPY": _replayCopy}


class _frozen:
    """
    While replaying, a second database's clock reads the beginning of time
    too (see L{kvtwist.store.keyspace.Keyspace._replay}).
    """

    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.clock, self.db._now = self.db._now, _beforeAnything

    def __exit__(self, *exc):
        self.db._now = self.clock


def _tagger(sink, index: int):
    """
    The journal of database C{index}: each op tagged with its number.
    """
    tag = (b"DB", b"%d" % (index,))

    def journal(op):
        sink(tag + op)
    return journal


class Databases:
    """
    The set-of-databases part of L{kvtwist.store.Store}.

    @ivar index: this database's number.
    @ivar owner: database 0, which holds the set.
    @ivar databases: every database, by number (one list, shared).
    """

    index = 0
    owner = None
    databases: List["Databases"] = []
    _sweepFrom = 0

    def _makeDatabases(self, count: int, owner=None, index: int = 0):
        """
        Join C{owner}'s set as database C{index}, or, without an owner,
        make a set of C{count} databases with this one as database 0.
        """
        if owner is not None:
            self.owner = owner
            self.index = index
            return
        if count < 1:
            raise ValueError("a store needs at least one database")
        self.owner = self
        self.index = 0
        others = [type(self)(self._now, self.runInThread, owner=self,
                             index=i) for i in range(1, count)]
        self.databases = [self] + others
        for db in others:
            db.databases = self.databases

    def database(self, index: int):
        """
        Database number C{index}.

        @raise IndexError: if there is no such database.
        """
        if index < 0:
            raise IndexError(index)
        return self.databases[index]

    def _other(self, number: bytes):
        """
        The database a journaled number names.

        @raise ValueError: if there is none.
        """
        try:
            return self.database(int(number))
        except (IndexError, ValueError):
            raise ValueError("an op of database %s, but this server has %d "
                             "databases (--databases)"
                             % (number.decode("ascii", "replace"),
                                len(self.databases)))

    # -- the journal --------------------------------------------------------

    @property
    def journal(self):
        """
        The whole store's journal: called with each mutation op of every
        database (see the module's docstring), or L{None}.
        """
        return self.owner._sink

    @journal.setter
    def journal(self, journal):
        owner = self.owner
        owner._setSink(journal)
        for db in owner.databases[1:]:
            db._setSink(None if journal is None else _tagger(journal,
                                                             db.index))

    def _emitWhole(self, *op):
        """
        Journal an op of the whole store (untagged).
        """
        sink = self.owner._sink
        if sink is not None:
            sink(op)

    # -- operations on the whole --------------------------------------------

    def flushAll(self):
        """
        Remove every key of every database (C{FLUSHALL}).
        """
        for db in self.databases:
            db._clear()
            db._notify(None)
        self._emitWhole(b"FLUSHALL")

    def swapDatabases(self, a: int, b: int):
        """
        Swap the contents of databases C{a} and C{b} (C{SWAPDB}): clients
        of either see the other's keys from now on.

        @raise IndexError: if either doesn't exist.
        """
        first, second = self.database(a), self.database(b)
        if first is not second:
            for name in ("_data", "_order", "_tombs", "_expires", "_heap"):
                x, y = getattr(first, name), getattr(second, name)
                setattr(first, name, y)
                setattr(second, name, x)
            for db in (first, second):
                db._epoch = (db._epoch + 1) % _EPOCHS
                db._notify(None)
        self._emitWhole(b"SWAPDB", b"%d" % (a,), b"%d" % (b,))

    def apply(self, op: tuple):
        """
        Replay one journaled op (of any database, or of the whole store)
        without journaling it again.  Each module of the store lists the
        ops it replays (its C{OPS}): C{SET k v}, C{SETKEEPTTL k v},
        C{DEL k}, C{FLUSHDB}, C{FLUSHALL}, C{SWAPDB a b}, C{MOVE k n},
        C{COPY a b n}, C{PEXPIREAT k ms}, C{PERSIST k}, C{RENAME a b},
        C{LPUSH k v...}, ...; an op of database I{n} > 0 is C{DB n op...}.

        @raise ValueError: for an unknown or malformed op, or one of a
            database this store doesn't have.
        """
        owner = self.owner
        db = owner
        if op[:1] == (b"DB",):
            if len(op) < 3:
                raise ValueError("malformed op %r" % (op[:2],))
            db = owner._other(op[1])
            op = op[2:]
        journal = owner._sink
        if journal is None:
            db._replay(op)
            return
        owner.journal = None
        try:
            db._replay(op)
        finally:
            owner.journal = journal

    def sweep(self, limit: int = 100) -> int:
        """
        Actively expire at most C{limit} keys whose time has passed, in
        every database (each sweep starts at the next database, so that
        one with many expiring keys doesn't starve the others).  Return
        how many were removed.
        """
        databases = self.owner.databases
        count = len(databases)
        start = self.owner._sweepFrom
        self.owner._sweepFrom = (start + 1) % count
        removed = 0
        for i in range(count):
            db = databases[(start + i) % count]
            if db._heap:
                removed += db._sweepOwn(limit - removed)
                if removed >= limit:
                    break
        return removed

    @property
    def expiredCount(self) -> int:
        """
        How many keys have expired since start, in every database.
        """
        return sum(db._expired for db in self.databases)

    def lookupCounts(self) -> Tuple[int, int]:
        """
        C{(hits, misses)}: lookups of string values since start that found
        one and that found none, in every database (C{INFO}'s
        C{keyspace_hits} and C{keyspace_misses}).
        """
        databases = self.databases
        return (sum(db._hits for db in databases),
                sum(db._misses for db in databases))

    def keyCount(self) -> int:
        """
        The number of keys in every database.
        """
        return sum(db.size() for db in self.databases)

    def figures(self) -> List[Tuple[int, int, int, int]]:
        """
        C{(number, keys, expiring keys, average TTL in ms)} of every
        non-empty database, for C{INFO keyspace}.
        """
        return [(db.index, db.size(), db.expiringCount(), db.averageTtlMs())
                for db in self.databases if db.size()]

    # -- snapshots ----------------------------------------------------------

    def dumpState(self):
        """
        A picklable copy-free view of the whole state: C{(data, expires)}
        (see the module's docstring for what they hold with databases
        other than 0 in use).  Only safe to serialise while nothing
        mutates the store (in a forked child, or on the reactor thread).
        C{data} may hold L{kvtwist.store.TOMBSTONE}s for deleted keys;
        L{loadState} drops them.
        """
        owner = self.owner
        others = {db.index: db._ownState()
                  for db in owner.databases[1:] if db.size()}
        if not others:
            return owner._ownState()
        others[0] = owner._ownState()
        return DatabaseSet(others), {}

    def loadState(self, data: Dict[bytes, object],
                  expires: Dict[bytes, float]):
        """
        Replace the whole state (no journaling) with what L{dumpState}
        gave, of this kvtwist or an older one.

        @raise ValueError: if it has a non-empty database this store
            doesn't have (it was saved with more C{--databases}).
        """
        databases = self.owner.databases
        if isinstance(data, DatabaseSet):
            states = data.states
        else:
            states = {0: (data, expires)}
        missing = [i for i in states if not 0 <= i < len(databases)]
        if missing:
            raise ValueError(
                "the snapshot has data in database %d, but this server has "
                "%d databases: start it with --databases %d or more"
                % (max(missing), len(databases), max(missing) + 1))
        empty = ({}, {})
        for db in databases:
            db._loadOwnState(*states.get(db.index, empty))
