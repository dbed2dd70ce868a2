# -*- test-case-name: kvtwist.test.test_lcs -*-
"""
The longest common subsequence of two byte strings, as Redis's C{LCS}
finds it: its length, the subsequence, and the matching ranges in the
order Redis lists them (from the ends of the strings backwards).

Redis fills a table of C{(len(a) + 1) * (len(b) + 1)} 32-bit lengths.
Here a column of that table is one integer of C{len(a)} bits (the
bit-parallel algorithm of Allison and Dix, as Hyyrö states it): the
forward pass is C{len(b)} big-integer operations, the table takes a
32nd of the memory, and walking back through it answers the same
ranges as Redis's walk through its table.
"""

from typing import List, NamedTuple, Tuple

try:
    _popcount = int.bit_count
except AttributeError:  # Python < 3.10 (PyPy 3.9)
    def _popcount(n: int) -> int:
        return bin(n).count("1")


def _columns(a: bytes, b: bytes, keep: bool):
    """
    The bit columns: column C{j} has bit C{i} clear where the LCS of
    C{a[:i + 1]} and C{b[:j]} is one longer than of C{a[:i]} and
    C{b[:j]}, so the LCS of C{a[:i]} and C{b[:j]} is the number of clear
    bits below bit C{i}.  Every column if C{keep}, else only the last.
    """
    masks = {}
    for i, c in enumerate(a):
        masks[c] = masks.get(c, 0) | (1 << i)
    full = (1 << len(a)) - 1
    column = full
    columns = [column] if keep else None
    get = masks.get
    for c in b:
        match = column & get(c, 0)
        column = ((column + match) | (column - match)) & full
        if keep:
            columns.append(column)
    return columns if keep else [column]


def _length(column: int, i: int) -> int:
    """
    The LCS length a column tells for the first C{i} bytes of C{a}.
    """
    return i - _popcount(column & ((1 << i) - 1))


def lcsLength(a: bytes, b: bytes) -> int:
    """
    The length of the longest common subsequence of C{a} and C{b}.
    """
    return _length(_columns(a, b, False)[0], len(a))


class Match(NamedTuple):
    """
    A run of the subsequence found whole in both strings: C{a[aStart:aEnd
    + 1]} is C{b[bStart:bEnd + 1]}, both ends included as Redis gives
    them.
    """

    aStart: int
    aEnd: int
    bStart: int
    bEnd: int

    @property
    def length(self) -> int:
        return self.aEnd - self.aStart + 1


def lcs(a: bytes, b: bytes) -> Tuple[bytes, List[Match]]:
    """
    The longest common subsequence of C{a} and C{b} and its runs, the last
    first, as Redis's C{LCS ... IDX} lists them (same walk: at a
    mismatch, toward the longer prefix, C{b}'s side on a tie).
    """
    columns = _columns(a, b, True)
    i, j = len(a), len(b)
    here = _length(columns[j], i)          # LCS(i, j)
    left = _length(columns[j - 1], i) if j else 0   # LCS(i, j - 1)
    out = bytearray(here)
    k = here
    matches = []
    start = None  # (aStart, aEnd, bStart, bEnd) of the current run

    def clear(column, bit):
        return not (column >> bit) & 1

    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            k -= 1
            out[k] = a[i - 1]
            if start is None:
                start = [i - 1, i - 1, j - 1, j - 1]
            elif start[0] == i and start[2] == j:
                start[0] -= 1
                start[2] -= 1
            else:
                emit = True
            if start[0] == 0 or start[2] == 0:
                emit = True
            # To (i - 1, j - 1).
            here = left - clear(columns[j - 1], i - 1)
            i -= 1
            j -= 1
            left = _length(columns[j - 1], i) if j else 0
        else:
            up = here - clear(columns[j], i - 1)          # LCS(i - 1, j)
            if up > left:
                here = up
                left -= clear(columns[j - 1], i - 1)
                i -= 1
            else:
                here = left
                j -= 1
                left = _length(columns[j - 1], i) if j else 0
            if start is not None:
                emit = True
        if emit and start is not None:
            matches.append(Match(*start))
            start = None
    return bytes(out), matches
