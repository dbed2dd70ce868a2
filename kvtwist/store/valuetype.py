# -*- test-case-name: kvtwist.test.test_store -*-
"""
What the keyspace needs to know of each kind of value, so that a new kind
(hashes, sets, sorted sets) is a module of its own that declares one.
"""

from typing import Callable, Dict, Tuple


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
    @ivar snapshotTypes: the Python types a snapshot may hold its values
        as (the store's own type, and L{plain}'s).
    @ivar ops: the journal ops it replays: op name -> C{replay(store,
        args)}.
    """

    def __init__(self, name: str, pythonType: type, plain: Callable,
                 restore: Callable, ops: Dict[bytes, Callable],
                 snapshotTypes: Tuple[type, ...] = ()):
        self.name = name
        self.pythonType = pythonType
        self.plain = plain
        self.restore = restore
        self.ops = ops
        self.snapshotTypes = snapshotTypes or (pythonType,)
