# -*- test-case-name: kvtwist.test.test_store -*-
"""
The keyspace of one database: keys to values of any type, with the
positions SCAN cursors stand for, whole-keyspace reads (KEYS, PRINT,
SCAN), the feed of every change (to the journal and to listeners), the
replay of one database's ops, and its state for snapshots.

Deleted keys leave a tombstone in their slot until the next compaction, so
that the positions SCAN cursors stand for don't move.

Every change is reported as an I{op}, a tuple of L{bytes} naming the
change first and, by convention, the key it changes second (C{(b"SET",
key, value)}); L{changedKeys} knows the few ops of the keyspace that
change something else (every key, or two keys).
"""

import random
from itertools import repeat
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from kvtwist.glob import compileGlob
from kvtwist.store.errors import NoSuchKey, OutOfRange, WrongType


class _Tombstone:
    """
    What a deleted key's slot holds until the next compaction.  Pickles by
    reference (a snapshot may hold some; loading drops them), under the
    name snapshots have always used.
    """

    __slots__ = ()

    # The snapshot format names it kvtwist.store.TOMBSTONE: keep that.
    __module__ = "kvtwist.store"

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


def _drain(d: dict):
    """
    Empty C{d} an item at a time: freeing a big dict in one go is a single
    call that holds the interpreter lock until every key is freed.
    """
    pop = d.popitem
    while d:
        pop()


def _replayDel(store, args):
    store._drop(args[0])


def _replayFlushDb(store, args):
    store.flush()


def _replayRename(store, args):
    store.rename(args[0], args[1])


#: The journal ops of the keyspace itself.
OPS = {b"DEL": _replayDel, b"FLUSHDB": _replayFlushDb,
       b"RENAME": _replayRename}

#: Ops that change every key of their database (L{changedKeys}).
_EVERY_KEY = frozenset([b"FLUSHDB", b"FLUSHALL"])


def changedKeys(op: tuple) -> Optional[Tuple[bytes, ...]]:
    """
    The keys of its database that C{op} changes: L{None} for every key
    (C{FLUSHDB}), both names for C{RENAME} and C{SMOVE}, none for C{COPY}
    (it changes the destination, whose database is told apart), else the
    key an op names second.
    """
    name = op[0]
    if name in _EVERY_KEY:
        return None
    if name == b"RENAME" or name == b"SMOVE":
        return op[1:3]
    if name == b"COPY":
        return ()
    return op[1:2]


class Keyspace:
    """
    The keyspace part of one database of L{kvtwist.store.Store}: the dict
    of keys to values, their SCAN positions, the feed of its changes, the
    replay of its ops and its state.  It expects the expiry part
    (L{kvtwist.store.expiry.Expiry}) beside it.

    Each change goes to C{self._journal}: the store's journal (for
    database 0 the journal itself, so that nothing is added to the hot
    path of a client of database 0; for the others, a function that
    tags the op with the database), or, while someone listens
    (L{addChangeListener}), a function that tells the listeners first.

    @ivar runInThread: C{runInThread(f, *args)}, or L{None}: with one,
        L{flush} on a store of more than L{OFFLOAD_KEYS} keys frees the old
        contents through it, off the calling thread.
    """

    #: Where this database's ops go (see L{_setSink}), or L{None}.
    _sink: Optional[Callable[[tuple], None]] = None
    #: What a change calls: L{_sink}, or the listeners and then L{_sink}.
    _journal: Optional[Callable[[tuple], None]] = None
    #: Who is told of each change: C{listener(database, keys)}.
    _listeners: Tuple[Callable, ...] = ()

    #: Called with a key that now holds a value where it held none (a push
    #: to a missing list, a ZADD to a missing sorted set, a RENAME onto
    #: it...), or L{None}: what the blocking commands (BLPOP, BZPOPMIN...)
    #: wait for, as Redis's C{signalKeyAsReady}.  A key never becomes
    #: non-empty otherwise, since emptied values are deleted.  Strings set
    #: by C{set} don't call it (no blocking command waits for a string).
    #: One per database: C{store.database(n).keyCreated}.  (The change
    #: listeners hear of every change; this hears only of new keys, and
    #: costs one test on a new key while unset.)
    keyCreated: Optional[Callable[[bytes], None]] = None

    #: Store size from which L{flush} frees through C{runInThread}.
    OFFLOAD_KEYS = 20000

    #: Every kind of value: Python type -> L{ValueType} (set by the store).
    _types: dict = {}
    #: Every journal op: name -> C{replay(store, args)} (set by the store).
    _ops: dict = {}
    #: Snapshot value types -> L{ValueType} (set by the store).
    _restorers: dict = {}

    def __init__(self, clock: Callable[[], float],
                 runInThread: Optional[Callable] = None):
        self.runInThread = runInThread
        self._now = clock
        self._data: Dict[bytes, object] = {}
        # Every key of _data in its order (position -> key) for SCAN; built
        # by the first SCAN, so a store never scanned doesn't pay for it.
        self._order: Optional[List[bytes]] = None
        self._tombs = 0
        self._epoch = 0
        # (Here, not only as class attributes: an attribute first set
        # after __init__ makes every attribute lookup of the instance
        # slower on CPython.)
        self._hits = self._misses = 0

    # -- the feed of changes ----------------------------------------------

    def _emit(self, *op):
        journal = self._journal
        if journal is not None:
            journal(op)

    def _setSink(self, sink: Optional[Callable[[tuple], None]]):
        """
        Send this database's ops to C{sink} (or nowhere).
        """
        self._sink = sink
        self._rewire()

    def _rewire(self):
        listeners = self._listeners
        sink = self._sink
        if not listeners:
            self._journal = sink
            return

        def tell(op, db=self):
            keys = changedKeys(op)
            for listener in listeners:
                listener(db, keys)
            if sink is not None:
                sink(op)
        self._journal = tell

    def addChangeListener(self, listener: Callable):
        """
        Call C{listener(database, keys)} after each change of this
        database: C{keys} is a tuple of the keys changed (written,
        deleted, expired, moved away or in), or L{None} when every key may
        have changed (C{FLUSHDB}, C{FLUSHALL}, C{SWAPDB}).  For C{WATCH}
        and the like; costs nothing while no one listens.
        """
        self._listeners = self._listeners + (listener,)
        self._rewire()

    def removeChangeListener(self, listener: Callable):
        """
        Stop calling C{listener}.
        """
        listeners = list(self._listeners)
        if listener in listeners:
            listeners.remove(listener)
        self._listeners = tuple(listeners)
        self._rewire()

    def _notify(self, keys: Optional[Tuple[bytes, ...]]):
        """
        Tell the listeners of a change that isn't one of this database's
        ops (a key moved or copied in, a swap, a flush of every database).
        """
        for listener in self._listeners:
            listener(self, keys)

    # -- internals ---------------------------------------------------------

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

    def _typed(self, key: bytes, pythonType: type):
        """
        The live value of C{key} if it is of C{pythonType}, or L{None}.

        @raise WrongType: if it holds another kind of value.
        """
        value = self._lookup(key)
        if value is None or type(value) is pythonType:
            return value
        raise WrongType(key)

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
        Store C{value} in C{key}'s slot, reviving a tombstone; tell
        L{keyCreated} of a key that held nothing.
        """
        data = self._data
        if key not in data:
            if self._order is not None:
                self._order.append(key)
        elif self._tombs and data[key] is TOMBSTONE:
            self._tombs -= 1
        else:
            data[key] = value
            return
        data[key] = value
        if self.keyCreated is not None:
            self.keyCreated(key)

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

    def valueOf(self, key: bytes):
        """
        The live value of C{key}, of any type, or L{None}: for generic
        commands that ask its kind about it (L{encodingOf}); not to be
        changed.
        """
        return self._lookup(key)

    def encodingOf(self, value) -> str:
        """
        Redis's C{OBJECT ENCODING} name for a value of this store.
        """
        return self._types[type(value)].encoding(value)

    def typeOf(self, key: bytes) -> str:
        """
        Redis's name of the type of C{key}'s value (C{"string"},
        C{"list"}...), or C{"none"}.
        """
        value = self._lookup(key)
        if value is None:
            return "none"
        return self._types[type(value)].name

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
        Remove every key of this database (C{FLUSHDB}).  With
        C{runInThread}, a big database's old contents are freed off the
        calling thread.
        """
        self._clear()
        self._emit(b"FLUSHDB")

    def _clear(self):
        """
        Remove every key, without telling anyone.
        """
        old = self._data
        self._data = {}
        self._order = None
        self._tombs = 0
        self._epoch = (self._epoch + 1) % _EPOCHS
        self._forgetExpiries()
        if self.runInThread is not None and len(old) > self.OFFLOAD_KEYS:
            self.runInThread(_drain, old)

    def randomKey(self) -> Optional[bytes]:
        """
        A live key chosen at random, or L{None} if there is none.  Expired
        keys met on the way are expired (as Redis does).
        """
        data = self._data
        if len(data) == self._tombs:
            return None
        order = self._order
        if order is None:
            order = self._order = list(data)
        choice = random.randrange
        n = len(order)
        for _ in range(64):
            key = order[choice(n)]
            if self._lookup(key) is not None:
                return key
        # Mostly tombstones and expired keys: walk from a random place.
        start = choice(n)
        for i in range(n):
            key = order[(start + i) % n]
            if self._lookup(key) is not None:
                return key
        return None

    def _take(self, key: bytes):
        """
        Remove C{key} without telling anyone; its C{(value, expiry)}, or
        L{None} if it has no live value.
        """
        value = self._lookup(key)
        if value is None:
            return None
        when = self._expires.get(key)
        self._drop(key)
        return value, when

    def _install(self, key: bytes, value, when: Optional[float]):
        """
        Put C{value} in C{key} (replacing any value and expiry), expiring at
        C{when}, without telling anyone.
        """
        self._drop(key)
        self._put(key, value)
        if when is not None:
            self._setExpiry(key, when)

    def rename(self, src: bytes, dst: bytes, onlyNew: bool = False) -> bool:
        """
        Rename C{src} to C{dst} with its expiry, replacing C{dst} (unless
        C{onlyNew}: then a C{dst} that exists is left alone).  Return
        whether it was renamed (renaming a key to itself is a success,
        except with C{onlyNew}, as Redis's C{RENAMENX} answers).

        @raise NoSuchKey: if C{src} does not exist.
        """
        value = self._lookup(src)
        if value is None:
            raise NoSuchKey(src)
        if src == dst:
            return not onlyNew
        if onlyNew and self._lookup(dst) is not None:
            return False
        when = self._expires.get(src)
        self._drop(src)
        self._install(dst, value, when)
        self._emit(b"RENAME", src, dst)
        return True

    def copyTo(self, src: bytes, target: "Keyspace", dst: bytes,
               replace: bool = False) -> bool:
        """
        Copy C{src}'s value and expiry to C{dst} in the C{target} database
        (maybe this one); a C{dst} that exists is replaced only if
        C{replace}.  Return whether it was copied.

        @raise ValueError: if C{src} and C{dst} are the same key of the
            same database.
        """
        if target is self and src == dst:
            raise ValueError("source and destination objects are the same")
        value = self._lookup(src)
        if value is None:
            return False
        if not replace and target._lookup(dst) is not None:
            return False
        copy = value if type(value) is bytes else \
            self._types[type(value)].copy(value)
        target._install(dst, copy, self._expires.get(src))
        self._emit(b"COPY", src, dst, b"%d" % (target.index,))
        target._notify((dst,))
        return True

    def moveTo(self, key: bytes, target: "Keyspace") -> bool:
        """
        Move C{key} with its expiry to the C{target} database, unless it
        is missing here or exists there.  Return whether it moved.

        @raise ValueError: if C{target} is this database.
        """
        if target is self:
            raise ValueError("source and destination objects are the same")
        if self._lookup(key) is None or target._lookup(key) is not None:
            return False
        value, when = self._take(key)
        target._install(key, value, when)
        self._emit(b"MOVE", key, b"%d" % (target.index,))
        target._notify((key,))
        return True

    # -- the whole keyspace ------------------------------------------------

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
        Every live key and its value, as a new dict of plain values (a
        list's as a list).  Costs O(store): see L{contentsTask} to do it
        elsewhere.
        """
        return self.contentsTask()()

    def contentsTask(self) -> Callable[[], Dict[bytes, object]]:
        """
        L{contents} as a task: a snapshot of the keys and values, taken
        now, and a function copying them into the dict, which may run on
        another thread while the store changes.
        """
        types = self._types

        def copy(keys, values, live):
            return {key: (value if type(value) is bytes else
                          types[type(value)].plain(value))
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

    def scan(self, cursor: int, pattern: bytes = b"*", count: int = 10,
             typeName: Optional[str] = None) -> Tuple[int, List[bytes]]:
        """
        Incremental iteration: visit about C{count} key slots from
        C{cursor} on, in insertion order, and return C{(nextCursor, keys)};
        C{nextCursor} is 0 when the iteration is over.  With C{typeName}
        (Redis's name of a type: C{"string"}, C{"list"}...), only keys
        holding that type are returned.

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
        types = self._types
        for key in order[pos:end]:
            value = data.get(key)
            if value is TOMBSTONE or (
                    exp and key in exp and exp[key] <= now):
                continue
            if typeName is not None and (
                    value is None or types[type(value)].name != typeName):
                continue
            if glob is None or glob.match(key):
                out.append(key)
        if end >= total:
            return 0, out
        return (self._epoch << _CURSOR_BITS) | end, out

    def items(self) -> Iterable[Tuple[bytes, object]]:
        """
        Every live C{(key, value)} pair, values plain (a list's as a list
        of L{bytes}).
        """
        now = self._now()
        exp = self._expires
        types = self._types
        for key, value in list(self._data.items()):
            if value is TOMBSTONE or (exp and key in exp and exp[key] <= now):
                continue
            yield key, (value if type(value) is bytes else
                        types[type(value)].plain(value))

    # -- replay and state -------------------------------------------------

    def _replay(self, op: tuple):
        """
        Replay one op of this database, without telling anyone, as of the
        moment it was journaled: no key expires meanwhile (the clock reads
        the beginning of time), so that a key whose time passed while the
        server was down is still there for the ops that changed it, and
        expires after recovery, as Redis loads its AOF.

        @raise ValueError: for an unknown or malformed op.
        """
        replay = self._ops.get(op[0])
        if replay is None:
            raise ValueError("unknown op %r" % (op[0],))
        clock, self._now = self._now, _beforeAnything
        try:
            replay(self, op[1:])
        except (IndexError, NoSuchKey, OutOfRange, WrongType) as e:
            raise ValueError("malformed op %r: %r" % (op[:1], e))
        finally:
            self._now = clock

    def _ownState(self):
        """
        This database's state, copy-free: C{(data, expires)}; C{data} may
        hold L{TOMBSTONE}s.
        """
        return self._data, self._expires

    def _loadOwnState(self, data: Dict[bytes, object],
                      expires: Dict[bytes, float]):
        """
        Replace this database's state (telling no one).
        """
        restorers = self._restorers
        self._data = {k: (v if type(v) is bytes else
                          restorers[type(v)].restore(v))
                      for k, v in data.items() if v is not TOMBSTONE}
        self._order = None
        self._tombs = 0
        self._epoch = (self._epoch + 1) % _EPOCHS
        self._loadExpiries({k: w for k, w in expires.items()
                            if k in self._data})


def _beforeAnything() -> float:
    """
    The clock of a database while it replays ops: nothing has expired yet.
    """
    return float("-inf")
