"""
Tests for L{kvtwist.glob}: Redis's glob patterns, matched without
backtracking.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist import glob
from kvtwist.glob import MAX_STARS, Glob, compileGlob

from kvtwist.test.properties import given, settings, st


def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def reference(pattern: bytes, key: bytes, nocase: bool = False,
              depth: int = 0) -> bool:
    """
    Redis's matcher as it reads (C{stringmatchlen} in C{util.c}), written
    plainly: it backtracks, so only for small inputs.
    """
    if depth > MAX_STARS:
        return False
    p = 0
    s = 0
    np, ns = len(pattern), len(key)

    def same(a: int, b: int) -> bool:
        return _lower(a) == _lower(b) if nocase else a == b

    while p < np and s < ns:
        c = pattern[p]
        if c == 42:  # *
            while p + 1 < np and pattern[p + 1] == 42:
                p += 1
            if p + 1 == np:
                return True
            for start in range(s, ns):
                if reference(pattern[p + 1:], key[start:], nocase,
                             depth + 1):
                    return True
            return False
        elif c == 63:  # ?
            s += 1
        elif c == 91:  # [
            p += 1
            negate = p < np and pattern[p] == 94
            if negate:
                p += 1
            hit = False
            while True:
                if p < np and pattern[p] == 92 and np - p >= 2:
                    p += 1
                    if same(pattern[p], key[s]):
                        hit = True
                elif p < np and pattern[p] == 93:
                    break
                elif p >= np:
                    p -= 1
                    break
                elif np - p >= 3 and pattern[p + 1] == 45:
                    lo, hi = pattern[p], pattern[p + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    b = key[s]
                    if nocase:
                        lo, hi, b = _lower(lo), _lower(hi), _lower(b)
                    if lo <= b <= hi:
                        hit = True
                    p += 2
                elif same(pattern[p], key[s]):
                    hit = True
                p += 1
            if negate:
                hit = not hit
            if not hit:
                return False
            s += 1
        else:
            if c == 92 and np - p >= 2:
                p += 1
                c = pattern[p]
            if not same(c, key[s]):
                return False
            s += 1
        p += 1
        if s == ns:
            while p < np and pattern[p] == 42:
                p += 1
            break
    return p == np and s == ns


class CornerTests(SynchronousTestCase):
    """
    Redis's syntax, corner cases included.
    """

    def check(self, pattern, key, expected, nocase=False):
        """
        L{Glob} and L{reference} both give C{expected}.
        """
        self.assertEqual(reference(pattern, key, nocase), expected,
                         (pattern, key, "reference"))
        self.assertEqual(Glob(pattern, nocase).match(key), expected,
                         (pattern, key))

    def test_syntax(self):
        """
        Stars, question marks, classes, ranges, negation and escapes.
        """
        self.check(b"h?llo", b"hello", True)
        self.check(b"h*llo", b"heeeello", True)
        self.check(b"h*llo", b"hllo", True)
        self.check(b"h[ae]llo", b"hallo", True)
        self.check(b"h[ae]llo", b"hillo", False)
        self.check(b"h[^e]llo", b"hallo", True)
        self.check(b"h[^e]llo", b"hello", False)
        self.check(b"h[a-b]llo", b"hbllo", True)
        self.check(b"h[b-a]llo", b"hbllo", True)
        self.check(b"h\\*llo", b"h*llo", True)
        self.check(b"h\\*llo", b"hello", False)
        self.check(b"[\\]]", b"]", True)
        self.check(b"user:*", b"user:1", True)
        self.check(b"*:1", b"user:1", True)
        self.check(b"*", b"anything", True)

    def test_corners(self):
        """
        Redis's corner cases: an empty key matches only the empty pattern;
        a class left open ends with the pattern; C{[]} matches nothing and
        C{[^]} anything; a trailing backslash is literal; C{[a-]} is a
        range up to C{]}.
        """
        self.check(b"", b"", True)
        self.check(b"*", b"", False)
        self.check(b"", b"a", False)
        self.check(b"[ab", b"b", True)
        self.check(b"a[]", b"a]", False)
        self.check(b"[]a]", b"a]", False)
        self.check(b"[^]", b"x", True)
        self.check(b"a\\", b"a\\", True)
        self.check(b"[a-]", b"_", True)
        self.check(b"[a-]", b"b", False)

    def test_nocase(self):
        """
        Without case (C{CONFIG GET}), letters and ranges match either
        case, as Redis lower-cases both sides.
        """
        self.check(b"MaxClients", b"maxclients", True, nocase=True)
        self.check(b"[A-C]x", b"bX", True, nocase=True)
        self.check(b"[Z-a]", b"z", False, nocase=True)
        self.check(b"MaxClients", b"maxclients", False)

    def test_everything(self):
        """
        C{*} compiles to L{None}: callers skip matching, and so list even
        the empty key, as Redis's C{KEYS *} does.
        """
        self.assertIsNone(compileGlob(b"*"))
        self.assertTrue(compileGlob(b"**").match(b"a"))

    def test_tooManyStars(self):
        """
        A pattern with more than L{MAX_STARS} stars before its last one
        matches nothing (Redis's guard); a trailing one doesn't count.
        (Too deep for L{reference}.)
        """
        key = b"a" * (MAX_STARS + 2)
        self.assertTrue(Glob(b"*a" * MAX_STARS + b"*").match(key))
        self.assertFalse(Glob(b"*a" * (MAX_STARS + 1)).match(key))
        self.assertTrue(Glob(b"a*" * (MAX_STARS + 1)).match(key))


class WorkTests(SynchronousTestCase):
    """
    The work of a match is bounded by the pattern and the key, whatever
    the pattern.
    """

    def test_pathological(self):
        """
        C{a*a*a*a*a*a*a*a*a*a*a*a*b} on a 40-byte key: at most one search
        per segment (13), where backtracking tries every way to place 12
        stars.
        """
        pattern = b"a*" * 12 + b"b"
        for key in [b"a" * 40, b"a" * 39 + b"b", b"a" * 38 + b"ba"]:
            g = Glob(pattern)
            g.match(key)
            self.assertLessEqual(g.searches, 13, key)
        g = Glob(pattern)
        self.assertTrue(g.match(b"a" * 39 + b"b"))
        self.assertFalse(g.match(b"a" * 40))

    def test_longSegment(self):
        """
        A long segment that is not literal is searched in one pass over
        the key (bit-parallel), not by trying it at every position.
        """
        pattern = b"*" + b"?" * (glob.LONG_SEGMENT + 1) + b"b*"
        g = Glob(pattern)
        self.assertIsNotNone(g._segments[1].table)
        key = b"a" * 200 + b"b"
        self.assertTrue(g.match(key))
        self.assertFalse(g.match(b"a" * 200))
        self.assertEqual(g.searches, 6)


class ReferenceTests(SynchronousTestCase):
    """
    L{Glob} agrees with L{reference} on random patterns and keys.
    """

    patterns = st.lists(st.sampled_from(
        [b"a", b"b", b"A", b"*", b"?", b"[", b"]", b"^", b"-", b"\\",
         b"z"]), max_size=10).map(b"".join)
    keys = st.lists(st.sampled_from(
        [b"a", b"b", b"A", b"B", b"-", b"]", b"^", b"\\", b"z", b"*"]),
        max_size=8).map(b"".join)

    @given(patterns, keys, st.booleans())
    @settings(max_examples=400, deadline=None)
    def test_agrees(self, pattern, key, nocase):
        """
        Short segments (regular expressions, C{find}).
        """
        self.assertEqual(Glob(pattern, nocase).match(key),
                         reference(pattern, key, nocase),
                         (pattern, key, nocase))

    @given(patterns, keys, st.booleans())
    @settings(max_examples=200, deadline=None)
    def test_agreesBitParallel(self, pattern, key, nocase):
        """
        Every segment that is not literal searched bit-parallel.
        """
        self.patch(glob, "LONG_SEGMENT", 0)
        self.assertEqual(Glob(pattern, nocase).match(key),
                         reference(pattern, key, nocase),
                         (pattern, key, nocase))
