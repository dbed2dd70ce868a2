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


def _replayLmove(store, args):
    store.lmove(args[0], args[1], args[2] == b"LEFT", args[3] == b"LEFT")


def _replayLinsert(store, args):
    store.linsert(args[0], args[1] == b"BEFORE", args[2], args[3])


def _replayLtrim(store, args):
    store.ltrim(args[0], int(args[1]), int(args[2]))


def encoding(value: deque) -> str:
    """
    Redis 7.2's C{OBJECT ENCODING} of a list: C{listpack} while it is
    small (its default C{list-max-listpack-size -2}: about 8 kB of
    elements), else C{quicklist}.
    """
    if len(value) > 4096:
        return "quicklist"
    size = sum(len(item) for item in value) + 2 * len(value)
    return "listpack" if size <= 8192 else "quicklist"


#: Lists, for the keyspace: copied as lists, restored as deques.
TYPE = ValueType(
    "list", deque, plain=list, restore=deque,
    ops={b"LPUSH": _replayPush(True), b"RPUSH": _replayPush(False),
         b"LPOP": _replayPop(True), b"RPOP": _replayPop(False),
         b"LSET": _replayLset, b"LREM": _replayLrem,
         b"LREPLACE": _replayLreplace, b"LMOVE": _replayLmove,
         b"LINSERT": _replayLinsert, b"LTRIM": _replayLtrim},
    snapshotTypes=(deque, list), copy=deque, encoding=encoding)


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

    def lmove(self, src: bytes, dst: bytes, fromLeft: bool, toLeft: bool
              ) -> Optional[bytes]:
        """
        Pop an element from the head (C{fromLeft}) or tail of the list in
        C{src} and push it to the head (C{toLeft}) or tail of the list in
        C{dst} (maybe the same list: a rotation, which keeps the key and
        its expiry); return it, or L{None} if C{src} is missing.  An
        emptied C{src} is deleted.

        @raise WrongType: if C{src} or (when C{src} exists) C{dst} holds
            another kind of value.
        """
        lst = self._list(src)
        if lst is None:
            return None
        target = lst if src == dst else self._list(dst)
        value = lst.popleft() if fromLeft else lst.pop()
        if target is None:
            target = deque()
            self._put(dst, target)
        if toLeft:
            target.appendleft(value)
        else:
            target.append(value)
        if not lst:
            self._drop(src)
        self._emit(b"LMOVE", src, dst, b"LEFT" if fromLeft else b"RIGHT",
                   b"LEFT" if toLeft else b"RIGHT")
        if src != dst:
            self._notify((dst,))
        return value

    def linsert(self, key: bytes, before: bool, pivot: bytes,
                value: bytes) -> int:
        """
        Insert C{value} before or after the first element equal to
        C{pivot}; return the new length, -1 if there is no such element,
        0 if the key is missing.
        """
        lst = self._list(key)
        if lst is None:
            return 0
        for i, item in enumerate(lst):
            if item == pivot:
                break
        else:
            return -1
        lst.insert(i if before else i + 1, value)
        self._emit(b"LINSERT", key, b"BEFORE" if before else b"AFTER",
                   pivot, value)
        return len(lst)

    def ltrim(self, key: bytes, start: int, stop: int):
        """
        Keep only the elements from C{start} to C{stop} inclusive
        (negative indexes from the end), as Redis's LTRIM; a list left
        empty is deleted.
        """
        lst = self._list(key)
        if lst is None:
            return
        n = len(lst)
        first = max(0, n + start) if start < 0 else start
        last = n + stop if stop < 0 else stop
        if first > last or first >= n:
            left, right = n, 0
        else:
            left, right = first, n - 1 - min(last, n - 1)
        if left == n:
            self._drop(key)
        else:
            for _ in range(left):
                lst.popleft()
            for _ in range(right):
                lst.pop()
        self._emit(b"LTRIM", key, b"%d" % (start,), b"%d" % (stop,))

    def lpos(self, key: bytes, value: bytes, rank: int = 1,
             count: Optional[int] = None, maxlen: int = 0):
        """
        The indexes of elements equal to C{value}, as Redis's LPOS: from
        the C{rank}th match (negative: counting from the tail), up to
        C{count} of them (0: all), looking at C{maxlen} elements at most
        (0: all).

        @return: a list of indexes if C{count} is given, else the first
            index or L{None}; L{None} for a missing key.
        """
        lst = self._list(key)
        if lst is None:
            return None
        n = len(lst)
        reverse = rank < 0
        rank = abs(rank)
        items = reversed(lst) if reverse else iter(lst)
        found = []
        matches = 0
        for seen, item in enumerate(items):
            if maxlen and seen >= maxlen:
                break
            if item == value:
                matches += 1
                if matches >= rank:
                    found.append(n - 1 - seen if reverse else seen)
                    if count is None or (count and len(found) >= count):
                        break
        if count is None:
            return found[0] if found else None
        return found
