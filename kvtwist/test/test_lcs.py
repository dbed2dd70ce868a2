"""
Tests for L{kvtwist.lcs}: the bit-parallel longest common subsequence
against the table Redis fills.
"""

import random

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.lcs import Match, lcs, lcsLength


def redisLcs(a: bytes, b: bytes):
    """
    Redis's C{LCS}, as its C source does it: the table of lengths, then
    the walk back that finds the subsequence and its ranges.
    """
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if a[i - 1] == b[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    i, j, k = n, m, table[n][m]
    out = bytearray(k)
    ranges = []
    start = None
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            out[k - 1] = a[i - 1]
            if start is None:
                start = [i - 1, i - 1, j - 1, j - 1]
            elif start[0] == i and start[2] == j:
                start[0] -= 1
                start[2] -= 1
            else:
                emit = True
            if start[0] == 0 or start[2] == 0:
                emit = True
            k, i, j = k - 1, i - 1, j - 1
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            if start is not None:
                emit = True
        if emit:
            ranges.append(Match(*start))
            start = None
    return bytes(out), ranges, table[n][m]


class LcsTests(SynchronousTestCase):
    """
    The subsequence, its length and its ranges.
    """

    def test_example(self):
        """
        Redis's documented example.
        """
        self.assertEqual(lcs(b"ohmytext", b"mynewtext"), (
            b"mytext", [Match(4, 7, 5, 8), Match(2, 3, 0, 1)]))
        self.assertEqual(lcsLength(b"ohmytext", b"mynewtext"), 6)

    def test_empty(self):
        """
        With an empty string, nothing is common.
        """
        self.assertEqual(lcs(b"", b"abc"), (b"", []))
        self.assertEqual(lcs(b"abc", b""), (b"", []))
        self.assertEqual(lcsLength(b"", b""), 0)

    def test_sameAsRedis(self):
        """
        Random strings over small alphabets (many ties): the same
        subsequence, ranges and length as Redis's table and walk.
        """
        rng = random.Random(14)
        for _ in range(1500):
            alphabet = b"abcd"[:rng.randint(1, 4)]
            a = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
            b = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
            sequence, ranges, length = redisLcs(a, b)
            self.assertEqual(lcs(a, b), (sequence, ranges), (a, b))
            self.assertEqual(lcsLength(a, b), length, (a, b))
