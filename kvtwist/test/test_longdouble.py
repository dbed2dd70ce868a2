"""
Tests for L{kvtwist.store.longdouble}: C{long double} arithmetic as Redis's
C{INCRBYFLOAT} does it (the expected strings are redis-server 7.0's
replies).
"""

from fractions import Fraction

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.store import longdouble
from kvtwist.store.longdouble import Infinite, add, format, parse


def incr(*steps: bytes) -> bytes:
    """
    What C{INCRBYFLOAT} answers after each of C{steps}, from nothing:
    the last reply.
    """
    value = Fraction(0)
    for step in steps:
        value = add(value, parse(step))
    return format(value)


class LongDoubleTests(SynchronousTestCase):
    """
    Parsing, adding and printing as Redis on x86-64 does.
    """

    def test_sums(self):
        """
        Sums show the long double's own digits where Redis's do.
        """
        self.assertEqual(incr(b"10.5", b"0.1"), b"10.6")
        self.assertEqual(incr(b"10.5", b"0.1", b"-5e3"),
                         b"-4989.39999999999999991")
        self.assertEqual(incr(b"0.1", b"0.2"), b"0.3")
        self.assertEqual(incr(b"1e30", b"1"),
                         b"1000000000000000000024696061952")
        self.assertEqual(incr(b"3.0000000000000000001"), b"3")
        self.assertEqual(incr(b"1", b"-1"), b"0")
        self.assertEqual(incr(b"-0.0"), b"0")
        self.assertTrue(incr(b"1e308", b"1e308").startswith(
            b"199999999999999999993371759311691291321120199694831"))

    def test_parse(self):
        """
        What C{strtold} reads, Redis's way: decimal, hexadecimal,
        infinities; not blanks, underscores, NaN, overflow or underflow to
        zero.
        """
        self.assertEqual(parse(b"0x10"), 16)
        self.assertEqual(parse(b"0x1.8p1"), 3)
        self.assertEqual(parse(b"+.5e1"), 5)
        self.assertEqual(parse(b"-inf"), float("-inf"))
        for bad in [b"", b" 1", b"1 ", b"1_0", b"nan", b"1e5000", b"1e-5000",
                    b"abc", b"0x", b"1.2.3"]:
            self.assertIsNone(parse(bad), bad)

    def test_infinite(self):
        """
        A sum that isn't finite raises L{Infinite}.
        """
        self.assertRaises(Infinite, add, Fraction(1), parse(b"inf"))
        big = parse(b"1e4932")
        self.assertRaises(Infinite, add, big, big)

    def test_rounding(self):
        """
        Results are rounded to a 64-bit significand, ties to even.
        """
        one = Fraction(1)
        ulp = Fraction(1, 2 ** 63)
        self.assertEqual(longdouble.roundToLongDouble(one + ulp / 2), one)
        self.assertEqual(longdouble.roundToLongDouble(one + ulp * 3 / 2),
                         one + 2 * ulp)
