# -*- test-case-name: kvtwist.test.test_store -*-
"""
What the keyspace needs to know of each kind of value, so that a new kind
(hashes, sets, sorted sets) is a module of its own that declares one.

The generic commands (C{TYPE}, C{COPY}, C{MOVE}, C{RENAME}, C{SCAN ...
TYPE}, C{OBJECT ENCODING}, C{PRINT}) and snapshots work for every kind
through its L{ValueType} alone.
"""

from typing import Callable, Dict, Optional, Tuple


class ValueType:
    """
    One kind of value the store holds.

    @ivar name: Redis's name for it (C{TYPE}'s reply): C{"string"}...
    @ivar pythonType: the Python type of its values in the store.
    @ivar plain: makes a value plain (a new object of Python's built-in
        types, that shares nothing the store may change) for C{PRINT} and
        the like: a list's deque becomes a list.
    @ivar restore: makes a value as a snapshot holds it into the store's
        type.
    @ivar copy: makes an independent copy of a value, of the store's type
        (C{COPY}); C{restore(plain(value))} unless given.
    @ivar encoding: C{encoding(value)}: the name Redis's C{OBJECT
        ENCODING} gives such a value (C{"listpack"}, C{"hashtable"}...);
        C{name} unless given.
    @ivar snapshotTypes: the Python types a snapshot may hold its values
        as (the store's own type, and L{plain}'s).
    @ivar ops: the journal ops it replays: op name -> C{replay(store,
        args)}.  Each op names the key it changes first (C{(b"SADD", key,
        member...)}), which is how listeners (C{WATCH}) learn what
        changed.
    """

    def __init__(self, name: str, pythonType: type, plain: Callable,
                 restore: Callable, ops: Dict[bytes, Callable],
                 snapshotTypes: Tuple[type, ...] = (),
                 copy: Optional[Callable] = None,
                 encoding: Optional[Callable] = None):
        self.name = name
        self.pythonType = pythonType
        self.plain = plain
        self.restore = restore
        self.ops = ops
        self.snapshotTypes = snapshotTypes or (pythonType,)
        self.copy = copy or (lambda value: restore(plain(value)))
        self.encoding = encoding or (lambda value: name)
