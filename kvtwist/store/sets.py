# -*- test-case-name: kvtwist.test.test_store_sets -*-
"""
Set values: a L{set} of members (L{bytes}).

Journal ops: C{SADD key member...}, C{SREM key member...} (C{SPOP}'s
random picks are journaled as the members it removed), C{SMOVE src dst
member}, and C{SSTORE key member...}, which replaces C{key} by a set of
these members (C{SINTERSTORE} and the like; with no member it deletes
C{key}).  A set left without members is deleted, as in Redis.
"""

from typing import List, Optional, Set, Tuple

from kvtwist.glob import compileGlob
from kvtwist.store.elements import SMALL, pickOne, sample, scanElements
from kvtwist.store.valuetype import ValueType

#: Redis keeps a set of integers as an intset up to 512 members, others
#: as a listpack up to 128 members of at most 64 bytes.
_INTSET_ENTRIES = 512
_LISTPACK_ENTRIES = SMALL
_LISTPACK_VALUE = 64


def _replaySadd(store, args):
    store.sadd(args[0], args[1:])


def _replaySrem(store, args):
    store.srem(args[0], args[1:])


def _replaySmove(store, args):
    store.smove(args[0], args[1], args[2])


def _replaySstore(store, args):
    store.sstore(args[0], set(args[1:]))


def _isInteger(member: bytes) -> bool:
    # What Redis's intset takes: a canonical signed 64-bit decimal.
    if not member or len(member) > 20:
        return False
    digits = member[1:] if member[:1] == b"-" else member
    if not digits.isdigit() or (digits[:1] == b"0" and len(member) > 1):
        return False
    return -(2 ** 63) <= int(member) < 2 ** 63


def encoding(value: Set[bytes]) -> str:
    """
    C{OBJECT ENCODING} of a set, as Redis 7.2 and later decide it: an
    C{intset} for at most 512 integers, a C{listpack} for at most 128
    members of at most 64 bytes, else a C{hashtable}.
    """
    n = len(value)
    if n <= _INTSET_ENTRIES and all(_isInteger(m) for m in value):
        return "intset"
    if n <= _LISTPACK_ENTRIES and all(len(m) <= _LISTPACK_VALUE
                                      for m in value):
        return "listpack"
    return "hashtable"


def _plain(value: Set[bytes]) -> List[bytes]:
    return sorted(value)


#: Sets, for the keyspace: plain as a sorted list (a reply, and the same
#: every time).
TYPE = ValueType("set", set, plain=_plain, restore=set,
                 ops={b"SADD": _replaySadd, b"SREM": _replaySrem,
                      b"SMOVE": _replaySmove, b"SSTORE": _replaySstore},
                 copy=set, encoding=encoding)


class Sets:
    """
    The set part of L{kvtwist.store.Store}.
    """

    def _set(self, key: bytes) -> Optional[Set[bytes]]:
        return self._typed(key, set)

    def sadd(self, key: bytes, members: List[bytes]) -> int:
        """
        Add C{members}; return how many are new.
        """
        s = self._set(key)
        if s is None:
            s = set()
            self._put(key, s)
        before = len(s)
        s.update(members)
        added = len(s) - before
        if added:
            self._emit(b"SADD", key, *members)
        return added

    def srem(self, key: bytes, members: List[bytes]) -> int:
        """
        Remove C{members}; return how many were there.  A set left empty
        is deleted.
        """
        s = self._set(key)
        if s is None:
            return 0
        removed = [m for m in members if m in s]
        if removed:
            s.difference_update(removed)
            if not s:
                self._drop(key)
            self._emit(b"SREM", key, *removed)
        # A member named twice is removed once.
        return len(set(removed))

    def smembers(self, key: bytes) -> List[bytes]:
        """
        Every member, as a new list (empty if the key is missing).
        """
        s = self._set(key)
        return [] if s is None else list(s)

    def sismember(self, key: bytes, member: bytes) -> bool:
        """
        Whether C{member} is in the set.
        """
        s = self._set(key)
        return s is not None and member in s

    def smismember(self, key: bytes, members: List[bytes]) -> List[bool]:
        """
        Whether each of C{members} is in the set.
        """
        s = self._set(key)
        if s is None:
            return [False] * len(members)
        return [m in s for m in members]

    def scard(self, key: bytes) -> int:
        """
        The number of members, 0 if the key is missing.
        """
        s = self._set(key)
        return 0 if s is None else len(s)

    def spop(self, key: bytes, count: int = 1) -> List[bytes]:
        """
        Remove up to C{count} members picked at random; return them
        (journaled as C{SREM} of them).
        """
        s = self._set(key)
        if s is None or count <= 0:
            return []
        if count >= len(s):
            popped = list(s)
        elif count == 1:
            popped = [pickOne(s)]
        else:
            popped = sample(s, count)
        self.srem(key, popped)
        return popped

    def srandmember(self, key: bytes, count: Optional[int] = None
                    ) -> List[bytes]:
        """
        Members picked at random: one (none from a missing key) without
        C{count}, else as L{kvtwist.store.elements.sample} picks them.
        """
        s = self._set(key)
        if not s:
            return []
        if count is None:
            return [pickOne(s)]
        return sample(s, count)

    def smove(self, src: bytes, dst: bytes, member: bytes) -> bool:
        """
        Move C{member} from the set in C{src} to the set in C{dst}; whether
        it was in C{src}.

        @raise kvtwist.store.WrongType: if either key holds another type
            (checked before anything changes).
        """
        source = self._set(src)
        target = self._set(dst)
        if source is None or member not in source:
            return False
        if src == dst:
            return True
        source.discard(member)
        if not source:
            self._drop(src)
        if target is None:
            target = set()
            self._put(dst, target)
        target.add(member)
        self._emit(b"SMOVE", src, dst, member)
        return True

    def _operands(self, keys: List[bytes]) -> List[Set[bytes]]:
        """
        The sets in C{keys}, every key type-checked (a missing key is an
        empty set).
        """
        sets = []
        for key in keys:
            s = self._set(key)
            sets.append(set() if s is None else s)
        return sets

    def sinter(self, keys: List[bytes]) -> Set[bytes]:
        """
        The members in every one of the sets in C{keys}, as a new set.
        """
        sets = self._operands(keys)
        sets.sort(key=len)
        return sets[0].intersection(*sets[1:])

    def sintercard(self, keys: List[bytes], limit: int = 0) -> int:
        """
        How many members are in every set of C{keys}, counting up to
        C{limit} (0: no limit).
        """
        sets = self._operands(keys)
        sets.sort(key=len)
        first, rest = sets[0], sets[1:]
        if not limit:
            return len(first.intersection(*rest))
        n = 0
        for m in first:
            if all(m in s for s in rest):
                n += 1
                if n >= limit:
                    break
        return n

    def sunion(self, keys: List[bytes]) -> Set[bytes]:
        """
        The members of any of the sets in C{keys}, as a new set.
        """
        return set().union(*self._operands(keys))

    def sdiff(self, keys: List[bytes]) -> Set[bytes]:
        """
        The members of the first set in C{keys} that are in none of the
        others, as a new set.
        """
        sets = self._operands(keys)
        return sets[0].difference(*sets[1:])

    def sstore(self, key: bytes, members: Set[bytes]) -> int:
        """
        Replace C{key} (of any type, dropping its expiry) by a set of
        C{members}, or delete it if there are none; return how many.
        """
        self._drop(key)
        if members:
            self._put(key, set(members))
        self._emit(b"SSTORE", key, *members)
        return len(members)

    def sscan(self, key: bytes, cursor: int, pattern: bytes = b"*",
              count: int = 10) -> Tuple[int, List[bytes]]:
        """
        One step of an iteration over a set's members (see
        L{kvtwist.store.elements.scanElements}), those matching the glob
        C{pattern}.
        """
        s = self._set(key)
        if s is None:
            return 0, []
        following, members = scanElements(s, cursor, count)
        glob = compileGlob(pattern)
        if glob is not None:
            members = [m for m in members if glob.match(m)]
        return following, members

