# -*- test-case-name: kvtwist.test.test_watches -*-
"""
Who watches which keys (C{WATCH}), and whether a key was changed since.

A client's L{Watch} holds the keys it watches, each with its database.
Each database someone watches a key of gets one change listener
(L{kvtwist.store.keyspace.Keyspace.addChangeListener}), removed when the
last of its watched keys is let go: a database no one watches pays
nothing, and a change of a key no one watches costs one dict lookup.

What counts as a change is what Redis counts (as Redis 7 does): any write
to the key, its deletion (by anyone, by expiry included), a C{RENAME},
C{MOVE} or C{COPY} to or from it, a C{FLUSHDB}/C{FLUSHALL} while it
exists, a C{SWAPDB} after which it exists (or no longer exists) there,
and a key that existed when watched and has expired by C{EXEC}.  A write
that changes nothing (C{DEL} of a missing key) is not one.  Nothing here
changes the store from inside a listener: what a change to every key
(C{None}) means for a key that did not exist when watched is decided
when its watcher asks (L{Watch.release}).
"""

from typing import Dict, Set, Tuple
from weakref import WeakKeyDictionary


class _DatabaseWatches:
    """
    The watchers of one database's keys, and its change listener while
    it has any.
    """

    __slots__ = ("db", "byKey", "__weakref__")

    def __init__(self, db):
        self.db = db
        self.byKey: Dict[bytes, Set["Watch"]] = {}

    def add(self, key: bytes, watch: "Watch"):
        byKey = self.byKey
        if not byKey:
            self.db.addChangeListener(self.changed)
        watchers = byKey.get(key)
        if watchers is None:
            watchers = byKey[key] = set()
        watchers.add(watch)

    def remove(self, key: bytes, watch: "Watch"):
        byKey = self.byKey
        watchers = byKey.get(key)
        if watchers is None:
            return
        watchers.discard(watch)
        if not watchers:
            del byKey[key]
            if not byKey:
                self.db.removeChangeListener(self.changed)

    def changed(self, db, keys):
        """
        The change listener: C{keys} of C{db} changed (L{None}: any of
        them may have).
        """
        byKey = self.byKey
        if keys is None:
            for key, watchers in byKey.items():
                for watch in watchers:
                    watch.everyKeyChanged(db, key)
            return
        for key in keys:
            watchers = byKey.get(key)
            if watchers is not None:
                for watch in watchers:
                    watch.touched = True


#: Each database's watchers, made when it gets its first.
_WATCHED: "WeakKeyDictionary[object, _DatabaseWatches]" = WeakKeyDictionary()


def _watchesOf(db) -> _DatabaseWatches:
    watches = _WATCHED.get(db)
    if watches is None:
        watches = _WATCHED[db] = _DatabaseWatches(db)
    return watches


class Watch:
    """
    The keys one client watches (C{WATCH}), until its C{EXEC},
    C{DISCARD}, C{UNWATCH} or disconnection.

    @ivar keys: C{(database, key)} -> whether the key existed when
        watched.
    @ivar touched: whether a watched key was changed since.
    @ivar unsure: the watched keys that did not exist when watched and
        whose database had every key changed at once (C{FLUSHDB},
        C{SWAPDB}): changed if they exist when asked.
    """

    __slots__ = ("keys", "touched", "unsure")

    def __init__(self):
        self.keys: Dict[Tuple[object, bytes], bool] = {}
        self.touched = False
        self.unsure: Set[Tuple[object, bytes]] = set()

    def add(self, db, key: bytes):
        """
        Watch C{key} of the database C{db} (a
        L{kvtwist.store.keyspace.Keyspace}); watching it again changes
        nothing.  A key whose time has passed is expired now, so it is
        watched as missing.
        """
        where = (db, key)
        if where in self.keys:
            return
        self.keys[where] = db.exists(key)
        _watchesOf(db).add(key, self)

    def everyKeyChanged(self, db, key: bytes):
        """
        Every key of C{db} may have changed (C{FLUSHDB}, C{FLUSHALL},
        C{SWAPDB}): C{key} did if it existed (it was not changed since it
        was watched, or this watch is touched already), and may have if
        it exists now, which L{release} finds out.
        """
        if self.touched:
            return
        if self.keys.get((db, key)):
            self.touched = True
        else:
            self.unsure.add((db, key))

    def release(self, check: bool = True) -> bool:
        """
        Stop watching.

        @param check: whether to find out if the watched keys changed: a
            key that existed when watched and has expired since (it is
            expired now), or one that did not exist and exists after
            every key changed at once.  (C{EXEC} checks; C{DISCARD} and
            C{UNWATCH} need not.)
        @return: whether a watched key changed (always L{False} unless
            C{check}).
        """
        if check and not self.touched:
            for (db, key), existed in self.keys.items():
                # exists() expires a key whose time has passed: its
                # deletion touches this watch like any other.
                if existed:
                    db.exists(key)
                elif (db, key) in self.unsure and db.exists(key):
                    self.touched = True
                if self.touched:
                    break
        for db, key in self.keys:
            watches = _WATCHED.get(db)
            if watches is not None:
                watches.remove(key, self)
        self.keys = {}
        self.unsure = set()
        return check and self.touched


def watchers(db) -> int:
    """
    How many keys of C{db} are watched (for tests and C{INFO}).
    """
    watches = _WATCHED.get(db)
    return 0 if watches is None else len(watches.byKey)
