# -*- test-case-name: kvtwist.test.test_store -*-
"""
List values (a L{collections.deque} of L{bytes}; the Go seed's
multi-value keys are lists too): push, pop, ranges, indexes, removal.
"""

from collections import deque
from itertools import islice
from typing import List, Optional

from kvtwist.store.errors import NoSuchKey, OutOfRange
from kvtwist.store.valuetype import ValueType


def _replayPush(left: bool):
    def replay(store, args):
        store.push(args[0], list(args[1:]), left=left)
    return replay


def _replayPop(left: bool):
    def replay(store, args):
        store.pop(args[0], int(args[1]), left=left)
    return replay


def _replayLset(store, args):
    store.lset(args[0], int(args[1]), args[2])


def _replayLrem(store, args):
    store.lrem(args[0], int(args[1]), args[2])


def _replayLreplace(store, args):
    store.lreplace(args[0], args[1], args[2])


#: Lists, for the keyspace: copied as lists, restored as deques.
TYPE = ValueType(
    "list", deque, plain=list, restore=deque,
    ops={b"LPUSH": _replayPush(True), b"RPUSH": _replayPush(False),
         b"LPOP": _replayPop(True), b"RPOP": _replayPop(False),
         b"LSET": _replayLset, b"LREM": _replayLrem,
         b"LREPLACE": _replayLreplace},
    snapshotTypes=(deque, list))


class Lists:
    """
    The list part of L{kvtwist.store.Store}.
    """

    def _list(self, key: bytes) -> Optional[deque]:
        return self._typed(key, deque)

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
