# -*- test-case-name: kvtwist.test.test_store_zsets -*-
"""
Sorted set values: members (L{bytes}) with scores (L{float}), ordered by
score, then member.

A L{ZSet} keeps a dict of member to score and a
L{sortedcontainers.SortedList} of C{(score, member)} pairs: a score is
found in O(1), a rank, a score range or a lex range in O(log N), adding
and removing a member cost O(log N), and a range of M members is read in
O(log N + M), as Redis's skiplist does.  C{sortedcontainers} is pure
Python (PyPy runs it as fast as CPython does), well kept, and made of
plain lists, so it stays compact.

Journal ops: C{ZADD key score member [score member ...]} (scores as
C{repr} of the double, which reads back exactly; computed scores, as
C{ZINCRBY}'s, journaled as the score they produced), C{ZREM key member
...} (C{ZPOPMIN} and C{ZPOPMAX} are journaled as the members they took),
C{ZREMRANGEBYRANK key start stop} (every range removal, as the ranks it
covered) and C{ZSTORE key score member ...}, which replaces C{key} by a
sorted set of these (none: deletes it).  A sorted set left empty is
deleted, as in Redis.
"""

from typing import Dict, Iterable, List, NamedTuple, Optional, Tuple

from sortedcontainers import SortedList

from kvtwist.glob import compileGlob
from kvtwist.store.elements import SMALL, scanElements
from kvtwist.store.errors import Refused, WrongType
from kvtwist.store.valuetype import ValueType

#: Redis keeps a sorted set as a listpack up to 128 members of at most 64
#: bytes.
_LISTPACK_ENTRIES = SMALL
_LISTPACK_VALUE = 64

NAN_SCORE = "ERR resulting score is not a number (NaN)"


class _Top:
    """
    Greater than any member: C{(score, TOP)} sorts after every pair of
    that score.
    """

    __slots__ = ()

    def __gt__(self, other) -> bool:
        return True

    def __lt__(self, other) -> bool:
        return False


_TOP = _Top()


class ZSet:
    """
    One sorted set.

    @ivar scores: member -> score.
    @ivar order: C{(score, member)} pairs, in order.
    """

    __slots__ = ("scores", "order")

    def __init__(self, pairs: Iterable[Tuple[bytes, float]] = ()):
        self.scores: Dict[bytes, float] = dict(pairs)
        self.order = SortedList((s, m) for m, s in self.scores.items())

    def __len__(self) -> int:
        return len(self.scores)

    def __reduce__(self):
        # Pickled as its scores alone: the order is rebuilt on loading.
        return (ZSet, (), self.scores)

    def __setstate__(self, scores: Dict[bytes, float]):
        self.scores = dict(scores)
        self.order = SortedList((s, m) for m, s in self.scores.items())

    def __eq__(self, other) -> bool:
        return isinstance(other, ZSet) and self.scores == other.scores

    def __repr__(self) -> str:
        return "ZSet(%r)" % (list(self.items()),)

    def items(self) -> List[Tuple[bytes, float]]:
        """
        Every C{(member, score)}, in order.
        """
        return [(m, s) for s, m in self.order]

    def put(self, member: bytes, score: float):
        """
        Give C{member} C{score}, adding it if new.
        """
        old = self.scores.get(member)
        if old is not None:
            if old == score:
                return
            self.order.remove((old, member))
        self.scores[member] = score
        self.order.add((score, member))

    def discard(self, member: bytes) -> bool:
        """
        Remove C{member}; whether it was there.
        """
        score = self.scores.pop(member, None)
        if score is None:
            return False
        self.order.remove((score, member))
        return True

    def rank(self, member: bytes) -> Optional[int]:
        """
        The 0-based rank of C{member} (lowest score first), or L{None}.
        """
        score = self.scores.get(member)
        if score is None:
            return None
        return self.order.bisect_left((score, member))

    def scoreSpan(self, span: "ScoreRange") -> Tuple[int, int]:
        """
        The ranks C{[start, end)} of the members whose score is in C{span}.
        """
        order = self.order
        if span.minExclusive:
            start = order.bisect_right((span.min, _TOP))
        else:
            start = order.bisect_left((span.min,))
        if span.maxExclusive:
            end = order.bisect_left((span.max,))
        else:
            end = order.bisect_right((span.max, _TOP))
        return start, max(start, end)

    def lexSpan(self, span: "LexRange") -> Tuple[int, int]:
        """
        The ranks C{[start, end)} of the members in the lex range C{span}.
        Redis defines lex ranges only for members of one score; with
        several, the members from the first in range to the first after
        it in order, found by a walk.
        """
        order = self.order
        n = len(order)
        if not n or span.empty():
            return 0, 0
        first, last = order[0][0], order[-1][0]
        if first == last:
            if span.min is None:
                start = 0
            elif span.minExclusive:
                start = order.bisect_right((first, span.min))
            else:
                start = order.bisect_left((first, span.min))
            if span.max is None:
                end = n
            elif span.maxExclusive:
                end = order.bisect_left((first, span.max))
            else:
                end = order.bisect_right((first, span.max))
            return start, max(start, end)
        start = 0
        while start < n and not span.aboveMin(order[start][1]):
            start += 1
        end = start
        while end < n and span.belowMax(order[end][1]):
            end += 1
        return start, end


class ScoreRange(NamedTuple):
    """
    A range of scores, each end inclusive unless exclusive (Redis's
    C{(1.5}).
    """

    min: float
    max: float
    minExclusive: bool = False
    maxExclusive: bool = False


class LexRange(NamedTuple):
    """
    A range of members: C{min} L{None} for C{-} (no low end), C{max}
    L{None} for C{+}; C{nothing} for a range that holds nothing (a min of
    C{+} or a max of C{-}).
    """

    min: Optional[bytes]
    max: Optional[bytes]
    minExclusive: bool = False
    maxExclusive: bool = False
    nothing: bool = False

    def empty(self) -> bool:
        """
        Whether no member can be in it.
        """
        if self.nothing:
            return True
        if self.min is None or self.max is None:
            return False
        if self.min > self.max:
            return True
        return self.min == self.max and (self.minExclusive or
                                         self.maxExclusive)

    def aboveMin(self, member: bytes) -> bool:
        """
        Whether C{member} is past the low end.
        """
        if self.min is None:
            return True
        return member > self.min if self.minExclusive else member >= self.min

    def belowMax(self, member: bytes) -> bool:
        """
        Whether C{member} is before the high end.
        """
        if self.max is None:
            return True
        return member < self.max if self.maxExclusive else member <= self.max


def _scoreText(score: float) -> bytes:
    return repr(score).encode("ascii")


def _replayZadd(store, args):
    key = args[0]
    store.zadd(key, [(float(args[i]), args[i + 1])
                     for i in range(1, len(args) - 1, 2)])


def _replayZrem(store, args):
    store.zrem(args[0], args[1:])


def _replayZremRangeByRank(store, args):
    store.zremrangeByRank(args[0], int(args[1]), int(args[2]))


def _replayZstore(store, args):
    store.zstore(args[0], [(args[i + 1], float(args[i]))
                           for i in range(1, len(args) - 1, 2)])


def encoding(value: ZSet) -> str:
    """
    C{OBJECT ENCODING} of a sorted set: C{listpack} for at most 128
    members of at most 64 bytes, else C{skiplist}, as Redis decides.
    """
    if len(value) > _LISTPACK_ENTRIES or any(
            len(m) > _LISTPACK_VALUE for m in value.scores):
        return "skiplist"
    return "listpack"


def _plain(value: ZSet) -> Dict[bytes, float]:
    # One copy in C first: PRINT may run this on another thread while the
    # reactor thread changes the sorted set.
    scores = dict(value.scores)
    return dict(sorted(scores.items(), key=lambda kv: (kv[1], kv[0])))


def _copy(value: ZSet) -> ZSet:
    return ZSet(value.scores.items())


def _same(value: ZSet) -> ZSet:
    # A snapshot's sorted sets are whole ZSets once unpickled.
    return value


#: Sorted sets, for the keyspace: plain as a dict of member to score, in
#: order.
TYPE = ValueType("zset", ZSet, plain=_plain, restore=_same,
                 ops={b"ZADD": _replayZadd, b"ZREM": _replayZrem,
                      b"ZREMRANGEBYRANK": _replayZremRangeByRank,
                      b"ZSTORE": _replayZstore},
                 copy=_copy, encoding=encoding)


def _ranks(n: int, start: int, stop: int) -> Tuple[int, int]:
    """
    Redis's rank range C{start..stop} (negative from the end) over C{n}
    members, as C{[begin, end)}.
    """
    if start < 0:
        start = max(0, n + start)
    if stop < 0:
        stop = n + stop
    if stop >= n:
        stop = n - 1
    if start > stop or start >= n:
        return 0, 0
    return start, stop + 1


def _limited(begin: int, end: int, reverse: bool, offset: int,
             count: int) -> Tuple[int, int]:
    """
    The ranks C{[begin, end)} (walked backwards if C{reverse}) cut by
    Redis's C{LIMIT offset count} (a negative count: no limit).
    """
    if offset < 0:
        return 0, 0
    if reverse:
        end = max(begin, end - offset)
        if count >= 0:
            begin = max(begin, end - count)
    else:
        begin = min(end, begin + offset)
        if count >= 0:
            end = min(end, begin + count)
    return begin, end


class ZSets:
    """
    The sorted set part of L{kvtwist.store.Store}.
    """

    def _zset(self, key: bytes) -> Optional[ZSet]:
        return self._typed(key, ZSet)

    def _slice(self, z: ZSet, begin: int, end: int, reverse: bool
               ) -> List[Tuple[bytes, float]]:
        pairs = z.order[begin:end]
        if reverse:
            pairs.reverse()
        return [(m, s) for s, m in pairs]

    # -- writes --------------------------------------------------------------

    def zadd(self, key: bytes, pairs: List[Tuple[float, bytes]],
             nx: bool = False, xx: bool = False, gt: bool = False,
             lt: bool = False, ch: bool = False) -> int:
        """
        Add members or update their scores: C{pairs} of C{(score,
        member)}; with C{nx} only new members, with C{xx} only existing
        ones, with C{gt}/C{lt} only updates to a greater/lesser score.
        Return how many members are new (or, with C{ch}, new or changed).
        """
        z = self._zset(key)
        if z is None:
            if xx:
                return 0
            z = ZSet()
            created = True
        else:
            created = False
        scores = z.scores
        counted = 0
        journal = []
        for score, member in pairs:
            old = scores.get(member)
            if old is None:
                if xx:
                    continue
                z.put(member, score)
                counted += 1
            else:
                if nx or (gt and score <= old) or (lt and score >= old) or \
                        old == score:
                    continue
                z.put(member, score)
                if ch:
                    counted += 1
            journal.append(_scoreText(score))
            journal.append(member)
        if created and len(z):
            self._put(key, z)
        if journal:
            self._emit(b"ZADD", key, *journal)
        return counted

    def zincrby(self, key: bytes, increment: float, member: bytes,
                nx: bool = False, xx: bool = False, gt: bool = False,
                lt: bool = False) -> Optional[float]:
        """
        Add C{increment} to C{member}'s score (0 if new); return the new
        score, or L{None} where C{nx}, C{xx}, C{gt} or C{lt} (as for
        L{zadd}) leave it unchanged.

        @raise Refused: if the score would be NaN (C{inf + -inf}).
        """
        z = self._zset(key)
        old = None if z is None else z.scores.get(member)
        if (old is None and xx) or (old is not None and nx):
            return None
        score = increment if old is None else old + increment
        if score != score:
            raise Refused(NAN_SCORE)
        if old is not None and ((gt and score <= old) or
                                (lt and score >= old)):
            return None
        self.zadd(key, [(score, member)])
        return score

    def zrem(self, key: bytes, members: List[bytes]) -> int:
        """
        Remove C{members}; return how many were there.  A sorted set left
        empty is deleted.
        """
        z = self._zset(key)
        if z is None:
            return 0
        removed = [m for m in members if z.discard(m)]
        if removed:
            if not len(z):
                self._drop(key)
            self._emit(b"ZREM", key, *removed)
        return len(removed)

    def zpop(self, key: bytes, count: int = 1, highest: bool = False
             ) -> List[Tuple[bytes, float]]:
        """
        Remove and return up to C{count} members with their scores, the
        lowest scores first (or the highest first, C{highest}); an empty
        list for a missing key.  Journaled as C{ZREM} of them.

        This is the primitive of C{ZPOPMIN}, C{ZPOPMAX} and of their
        blocking forms: a client blocked on a key may be served with it as
        soon as the key holds a sorted set again (see the keyspace's
        C{keyCreated} hook).
        """
        z = self._zset(key)
        if z is None or count <= 0:
            return []
        n = len(z)
        count = min(count, n)
        if highest:
            taken = self._slice(z, n - count, n, True)
        else:
            taken = self._slice(z, 0, count, False)
        self.zrem(key, [m for m, _ in taken])
        return taken

    def zremrangeByRank(self, key: bytes, start: int, stop: int) -> int:
        """
        Remove the members of ranks C{start..stop} (negative from the
        end); return how many.
        """
        z = self._zset(key)
        if z is None:
            return 0
        begin, end = _ranks(len(z), start, stop)
        return self._removeSpan(key, z, begin, end)

    def zremrangeByScore(self, key: bytes, span: ScoreRange) -> int:
        """
        Remove the members whose score is in C{span}; return how many.
        """
        z = self._zset(key)
        if z is None:
            return 0
        return self._removeSpan(key, z, *z.scoreSpan(span))

    def zremrangeByLex(self, key: bytes, span: LexRange) -> int:
        """
        Remove the members in the lex range C{span}; return how many.
        """
        z = self._zset(key)
        if z is None:
            return 0
        return self._removeSpan(key, z, *z.lexSpan(span))

    def _removeSpan(self, key: bytes, z: ZSet, begin: int, end: int) -> int:
        if end <= begin:
            return 0
        order = z.order
        scores = z.scores
        for _, member in order[begin:end]:
            del scores[member]
        del order[begin:end]
        if not scores:
            self._drop(key)
        self._emit(b"ZREMRANGEBYRANK", key, b"%d" % (begin,),
                   b"%d" % (end - 1,))
        return end - begin

    def zstore(self, key: bytes, pairs: List[Tuple[bytes, float]]) -> int:
        """
        Replace C{key} (of any type, dropping its expiry) by a sorted set
        of C{pairs} (C{(member, score)}), or delete it if there are none;
        return how many members it has.
        """
        self._drop(key)
        z = ZSet(pairs)
        if len(z):
            self._put(key, z)
        journal = []
        for member, score in z.scores.items():
            journal.append(_scoreText(score))
            journal.append(member)
        self._emit(b"ZSTORE", key, *journal)
        return len(z)

    # -- reads ---------------------------------------------------------------

    def zscore(self, key: bytes, member: bytes) -> Optional[float]:
        """
        The score of C{member}, or L{None}.
        """
        z = self._zset(key)
        return None if z is None else z.scores.get(member)

    def zmscore(self, key: bytes, members: List[bytes]
                ) -> List[Optional[float]]:
        """
        The scores of C{members} (L{None} for a missing one).
        """
        z = self._zset(key)
        if z is None:
            return [None] * len(members)
        get = z.scores.get
        return [get(m) for m in members]

    def zcard(self, key: bytes) -> int:
        """
        The number of members, 0 if the key is missing.
        """
        z = self._zset(key)
        return 0 if z is None else len(z)

    def zcount(self, key: bytes, span: ScoreRange) -> int:
        """
        How many members have a score in C{span}.
        """
        z = self._zset(key)
        if z is None:
            return 0
        begin, end = z.scoreSpan(span)
        return end - begin

    def zlexcount(self, key: bytes, span: LexRange) -> int:
        """
        How many members are in the lex range C{span}.
        """
        z = self._zset(key)
        if z is None:
            return 0
        begin, end = z.lexSpan(span)
        return end - begin

    def zrank(self, key: bytes, member: bytes, reverse: bool = False
              ) -> Optional[Tuple[int, float]]:
        """
        C{(rank, score)} of C{member}, the rank counted from the lowest
        score (from the highest, C{reverse}); L{None} if it is missing.
        """
        z = self._zset(key)
        if z is None:
            return None
        rank = z.rank(member)
        if rank is None:
            return None
        if reverse:
            rank = len(z) - 1 - rank
        return rank, z.scores[member]

    def zrangeByRank(self, key: bytes, start: int, stop: int,
                     reverse: bool = False) -> List[Tuple[bytes, float]]:
        """
        C{(member, score)} of ranks C{start..stop} (negative from the
        end), counted from the highest score when C{reverse}.
        """
        z = self._zset(key)
        if z is None:
            return []
        n = len(z)
        begin, end = _ranks(n, start, stop)
        if reverse:
            begin, end = n - end, n - begin
        return self._slice(z, begin, end, reverse)

    def zrangeByScore(self, key: bytes, span: ScoreRange,
                      reverse: bool = False, offset: int = 0,
                      count: int = -1) -> List[Tuple[bytes, float]]:
        """
        C{(member, score)} of the members whose score is in C{span},
        highest first when C{reverse}, cut by C{LIMIT offset count}.
        """
        z = self._zset(key)
        if z is None:
            return []
        begin, end = _limited(*z.scoreSpan(span), reverse, offset, count)
        return self._slice(z, begin, end, reverse)

    def zrangeByLex(self, key: bytes, span: LexRange, reverse: bool = False,
                    offset: int = 0, count: int = -1
                    ) -> List[Tuple[bytes, float]]:
        """
        C{(member, score)} of the members in the lex range C{span}, last
        first when C{reverse}, cut by C{LIMIT offset count}.
        """
        z = self._zset(key)
        if z is None:
            return []
        begin, end = _limited(*z.lexSpan(span), reverse, offset, count)
        return self._slice(z, begin, end, reverse)

    def zscoresOf(self, key: bytes) -> Optional[Dict[bytes, float]]:
        """
        Member -> score of the sorted set in C{key}, as a new dict, for
        C{ZUNIONSTORE} and the like: a set counts as a sorted set of
        scores 1.

        @raise kvtwist.store.WrongType: for a key of another type.
        """
        value = self._lookup(key)
        if value is None:
            return None
        if type(value) is ZSet:
            return dict(value.scores)
        if type(value) is set:
            return dict.fromkeys(value, 1.0)
        raise WrongType(key)

    def zscan(self, key: bytes, cursor: int, pattern: bytes = b"*",
              count: int = 10) -> Tuple[int, List[Tuple[bytes, float]]]:
        """
        One step of an iteration over a sorted set's members (see
        L{kvtwist.store.elements.scanElements}): C{(nextCursor, [(member,
        score), ...])}, the members matching the glob C{pattern}.
        """
        z = self._zset(key)
        if z is None:
            return 0, []
        if len(z) <= SMALL:
            following, members = 0, [m for _, m in z.order]
        else:
            following, members = scanElements(z.scores, cursor, count)
        glob = compileGlob(pattern)
        scores = z.scores
        return following, [(m, scores[m]) for m in members
                           if glob is None or glob.match(m)]
