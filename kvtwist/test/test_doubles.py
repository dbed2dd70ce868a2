"""
Tests for L{kvtwist.doubles}: numbers read and written as Redis does.
"""

from twisted.trial.unittest import SynchronousTestCase

from kvtwist.doubles import formatDouble, parseDouble
from kvtwist.test.properties import given, st


class ParseDoubleTests(SynchronousTestCase):
    """
    L{parseDouble} reads what C{strtod} reads whole, as Redis checks it.
    """

    def test_accepted(self):
        """
        Decimals, exponents, infinities in any case and C's hexadecimal
        form are numbers.
        """
        for text, value in [(b"1", 1.0), (b"-1.5", -1.5), (b".5", 0.5),
                            (b"5.", 5.0), (b"+2e3", 2000.0),
                            (b"inf", float("inf")), (b"+inf", float("inf")),
                            (b"-inf", float("-inf")),
                            (b"-Infinity", float("-inf")), (b"0x10", 16.0),
                            (b"0e-400", 0.0)]:
            self.assertEqual(parseDouble(text), value, text)

    def test_refused(self):
        """
        Blanks, underscores, NaN, overflow, underflow to zero and partial
        numbers are refused.
        """
        for text in [b"", b" 1", b"1 ", b"1_0", b"nan", b"NaN", b"1e400",
                     b"-1e400", b"1e-400", b"1e", b"e1", b"abc", b".",
                     b"0x", b"(1", b"1,5"]:
            self.assertIsNone(parseDouble(text), text)


class FormatDoubleTests(SynchronousTestCase):
    """
    L{formatDouble} writes doubles as Redis 7.2 and later reply them.
    """

    def test_examples(self):
        """
        Integers without a fraction up to 2**62, the shortest digits
        otherwise, plainly near the point, in scientific notation far from
        it.
        """
        for value, text in [
                (1.0, b"1"), (-3.0, b"-3"), (0.0, b"0"), (-0.0, b"-0"),
                (1.5, b"1.5"), (0.1, b"0.1"), (1e8, b"100000000"),
                (2.0 ** 62, b"4611686018427387904"),
                (2.0 ** 63, b"9223372036854776000"), (1e20, b"1e+20"),
                (1e-6, b"0.000001"), (1e-7, b"1e-7"),
                (12345.6789, b"12345.6789"),
                (123456.7891234, b"1.234567891234e+5"),
                (1.5e300, b"1.5e+300"), (-2.5e-300, b"-2.5e-300"),
                (float("inf"), b"inf"), (float("-inf"), b"-inf"),
                (float("nan"), b"nan")]:
            self.assertEqual(formatDouble(value), text, value)

    @given(st.floats(allow_nan=False))
    def test_roundTrip(self, value):
        """
        What is written reads back as the same double.
        """
        self.assertEqual(parseDouble(formatDouble(value)), value)

