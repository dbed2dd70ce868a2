# -*- test-case-name: kvtwist.test.test_glob -*-
"""
Redis's glob patterns, matched without backtracking.

The syntax is Redis's (C{stringmatchlen}): C{*} matches any run of bytes,
C{?} any one byte, C{[abc]}, C{[a-z]} and C{[^x]} one byte of (or not of)
a class, and a backslash makes the byte after it literal, inside a class
too.  Redis's corner cases are kept: a class left open at the end of the
pattern ends there, C{[]} matches nothing and C{[^]} any byte, a range may
be written backwards (C{[z-a]}), an empty key matches only the empty
pattern, and a pattern with more than L{MAX_STARS} stars before its last
one matches nothing (Redis's guard against abusive patterns).

How: the stars cut a pattern into fixed-length segments.  A key matches
when the first segment matches at its start, the last one at its end, and
each one between can be found, in order, in what lies between; taking the
leftmost place of each is always right, since a segment's length is fixed.
So a key costs one search per segment, each done by C{bytes.find} or a
regular expression without repetition or alternation (compiled once per
pattern): the work of a match is at most the pattern's length times the
key's, in C, whatever the pattern (C{a*a*a*a*a*a*a*a*a*a*a*a*b} on a 40
byte key: 13 searches, where a backtracking matcher tries millions of
ways).
"""

import re
from typing import List, Optional, Tuple

#: Patterns with more stars than this before their last one match nothing,
#: as in Redis (its matcher gives up past that nesting).
MAX_STARS = 1000

_FULL = (1 << 256) - 1
_UPPER = ((1 << (ord("Z") + 1)) - 1) ^ ((1 << ord("A")) - 1)


def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def _bits(lo: int, hi: int) -> int:
    """
    The bytes C{lo} to C{hi} (both included) as a 256-bit mask.
    """
    return ((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1)


def _caseless(c: int) -> int:
    """
    The mask of the bytes equal to C{c} ignoring ASCII case.
    """
    low = _lower(c)
    mask = 1 << low
    if 97 <= low <= 122:
        mask |= 1 << (low - 32)
    return mask


def _caselessRange(lo: int, hi: int) -> int:
    """
    The mask of the bytes whose lower case lies in C{lo..hi} (already
    lower-cased, as Redis compares them).
    """
    if lo > hi:
        return 0
    mask = _bits(lo, hi) & ~_UPPER
    a, b = max(lo, 97), min(hi, 122)
    if a <= b:
        mask |= _bits(a - 32, b - 32)
    return mask


def _parseClass(pattern: bytes, i: int, nocase: bool) -> Tuple[int, int]:
    """
    Parse the class whose C{[} is at C{pattern[i - 1]}, as Redis reads it.

    @return: C{(mask, next)}: the 256-bit mask of the bytes it matches and
        the index just past it.
    """
    n = len(pattern)
    negate = i < n and pattern[i] == 94  # ^
    if negate:
        i += 1
    mask = 0
    while True:
        if i < n and pattern[i] == 92 and n - i >= 2:  # backslash
            i += 1
            c = pattern[i]
            mask |= _caseless(c) if nocase else 1 << c
        elif i < n and pattern[i] == 93:  # ]
            break
        elif i >= n:
            # Left open at the end of the pattern: the class ends here.
            return (mask ^ _FULL if negate else mask), n
        elif n - i >= 3 and pattern[i + 1] == 45:  # a-z
            lo, hi = pattern[i], pattern[i + 2]
            if lo > hi:
                lo, hi = hi, lo
            if nocase:
                mask |= _caselessRange(_lower(lo), _lower(hi))
            else:
                mask |= _bits(lo, hi)
            i += 2
        else:
            c = pattern[i]
            mask |= _caseless(c) if nocase else 1 << c
        i += 1
    return (mask ^ _FULL if negate else mask), i + 1


def _tokens(pattern: bytes, nocase: bool) -> List[Optional[int]]:
    """
    The pattern as a list of tokens: L{None} for a star (runs of stars
    are one), else the 256-bit mask of the bytes one position matches.
    """
    out: List[Optional[int]] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        i += 1
        if c == 42:  # *
            if not out or out[-1] is not None:
                out.append(None)
        elif c == 63:  # ?
            out.append(_FULL)
        elif c == 91:  # [
            mask, i = _parseClass(pattern, i, nocase)
            out.append(mask)
        else:
            if c == 92 and i < n:  # backslash: the next byte is literal
                c = pattern[i]
                i += 1
            out.append(_caseless(c) if nocase else 1 << c)
    return out


_RUN = re.compile(r"1+")


def _classRegex(mask: int) -> bytes:
    """
    A regular expression matching one byte of C{mask}.
    """
    if mask == _FULL:
        return b"."
    if mask == 0:
        return b"(?!)"
    # The set bits' runs, found in C: bit c is character c of the string.
    bits = bin(mask)[:1:-1]
    parts = []
    for run in _RUN.finditer(bits):
        lo, hi = run.start(), run.end() - 1
        parts.append(b"\\x%02x" % lo if lo == hi else
                     b"\\x%02x-\\x%02x" % (lo, hi))
    return b"[" + b"".join(parts) + b"]"


#: Segments with more single-byte tokens than this, not all literal, are
#: searched bit-parallel (L{_Segment.find}) rather than by a regular
#: expression, whose search costs the segment's length at each position.
LONG_SEGMENT = 64


def _positionTable(masks: List[int]) -> List[int]:
    """
    For each byte value C{c}, the positions that accept it: bit C{j} of
    C{table[c]} is set when C{masks[j]} holds C{c}.

    Built per distinct mask, from its members or, when it has more than
    half of the bytes (a negated class), from those it lacks: at most 128
    steps a mask.
    """
    where: dict = {}
    for j, mask in enumerate(masks):
        where[mask] = where.get(mask, 0) | (1 << j)
    table = [0] * 256
    dense = 0
    lacking = [0] * 256
    for mask, positions in where.items():
        if bin(mask).count("1") > 128:
            dense |= positions
            target, bits = lacking, bin(mask ^ _FULL)[:1:-1]
        else:
            target, bits = table, bin(mask)[:1:-1]
        for run in _RUN.finditer(bits):
            for c in range(run.start(), run.end()):
                target[c] |= positions
    if dense:
        table = [t | (dense & ~lack) for t, lack in zip(table, lacking)]
    return table


class _Segment:
    """
    A run of single-byte tokens between stars, found by C{bytes.find} when
    each token is one byte, else by a regular expression without
    repetition, or for a long one (L{LONG_SEGMENT}) bit-parallel.

    @ivar size: how many bytes it matches.
    """

    __slots__ = ("size", "literal", "regex", "table")

    def __init__(self, masks: List[int]):
        self.size = len(masks)
        self.literal: Optional[bytes] = None
        self.regex = None
        self.table: Optional[List[int]] = None
        if all(m and m & (m - 1) == 0 for m in masks):
            self.literal = bytes(m.bit_length() - 1 for m in masks)
        elif len(masks) <= LONG_SEGMENT:
            self.regex = re.compile(b"".join(_classRegex(m) for m in masks),
                                    re.DOTALL)
        else:
            self.table = _positionTable(masks)

    def at(self, key: bytes, pos: int) -> bool:
        """
        Whether it matches C{key} at C{pos} (which leaves room for it).
        """
        if self.literal is not None:
            return key.startswith(self.literal, pos)
        if self.regex is not None:
            return self.regex.match(key, pos) is not None
        table = self.table
        for j in range(self.size):
            if not table[key[pos + j]] >> j & 1:
                return False
        return True

    def find(self, key: bytes, start: int, end: int) -> int:
        """
        Where it first matches inside C{key[start:end]}, or -1.
        """
        if self.literal is not None:
            return key.find(self.literal, start, end)
        if self.regex is not None:
            m = self.regex.search(key, start, end)
            return -1 if m is None else m.start()
        # Shift-and: bit j of state says the last j + 1 bytes match the
        # segment's first j + 1 tokens.  One pass over the span.
        table = self.table
        top = 1 << (self.size - 1)
        state = 0
        for i in range(start, end):
            state = ((state << 1) | 1) & table[key[i]]
            if state & top:
                return i - self.size + 1
        return -1


class Glob:
    """
    A compiled Redis glob pattern.

    @ivar pattern: the pattern, as given.
    @ivar nocase: whether it ignores ASCII case (as Redis's C{CONFIG GET}
        does; C{KEYS} and C{SCAN} don't).
    @ivar searches: how many segment searches L{match} has made, in all:
        the work it did (at most one per segment per key).
    """

    def __init__(self, pattern: bytes, nocase: bool = False):
        self.pattern = pattern
        self.nocase = nocase
        self.searches = 0
        tokens = _tokens(pattern, nocase)
        self._star = None in tokens
        groups: List[List[int]] = [[]]
        for token in tokens:
            if token is None:
                groups.append([])
            else:
                groups[-1].append(token)
        self._segments = [_Segment(g) for g in groups]
        self._hopeless = (
            len(groups) - 1 - (1 if self._star and not groups[-1] else 0)
            > MAX_STARS)
        self._everything = tokens == [None]
        self._minimum = sum(s.size for s in self._segments)

    def match(self, key: bytes) -> bool:
        """
        Whether C{key} matches.
        """
        if not key:
            return not self.pattern
        if self._everything:
            return True
        segments = self._segments
        n = len(key)
        if n < self._minimum or self._hopeless:
            return False
        first = segments[0]
        self.searches += 1
        if not self._star:
            return n == first.size and first.at(key, 0)
        if not first.at(key, 0):
            return False
        last = segments[-1]
        end = n - last.size
        self.searches += 1
        if not last.at(key, end):
            return False
        pos = first.size
        for segment in segments[1:-1]:
            self.searches += 1
            found = segment.find(key, pos, end)
            if found < 0:
                return False
            pos = found + segment.size
        return True


def compileGlob(pattern: bytes, nocase: bool = False) -> Optional[Glob]:
    """
    C{pattern} compiled, or L{None} for C{*}, which matches every key
    (callers then skip matching, as Redis's C{KEYS *} and C{SCAN} do).
    """
    if pattern == b"*":
        return None
    return Glob(pattern, nocase)
