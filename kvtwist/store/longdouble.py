# -*- test-case-name: kvtwist.test.test_longdouble -*-
"""
Redis's floating-point counters (C{INCRBYFLOAT}, C{HINCRBYFLOAT}) compute
in C's C{long double}: on x86-64 the 80-bit extended format, a 64-bit
significand.  Their replies show it: C{INCRBYFLOAT k 10.5}, C{0.1}, then
C{-5e3} answers C{-4989.39999999999999991}, not C{-4989.4}.

This module does the same arithmetic exactly, with L{fractions.Fraction}
rounded to that format after each step, and prints as Redis does
(C{"%.17Lf"} with the trailing zeros taken off), so that kvtwist answers
the same bytes.  It is slow next to a float (tens of microseconds a
step), which is fine off the hot path.
"""

import re
from fractions import Fraction
from typing import Optional, Union

#: Bits of the significand, the least normal exponent (of the leading
#: bit), and the first power of two that overflows.
_BITS = 64
_MIN_EXP = -16382
_OVERFLOW = Fraction(2) ** 16384

#: A decimal number as C's strtold reads one (no blanks, no underscores).
_DECIMAL = re.compile(
    rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
#: A hexadecimal one: 0x1.8p3.
_HEX = re.compile(
    rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?\Z")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)\Z", re.IGNORECASE)


class Infinite(Exception):
    """
    A result is not finite (Redis's C{increment would produce NaN or
    Infinity}).
    """


Number = Union[Fraction, float]


def roundToLongDouble(value: Fraction) -> Number:
    """
    The C{long double} nearest C{value} (ties to even), as a
    L{Fraction}; C{float("inf")} (signed) when it overflows.
    """
    if value == 0:
        return Fraction(0)
    sign = -1 if value < 0 else 1
    a = abs(value)
    # e: the exponent of a's leading bit, floor(log2(a)).
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    shift = max(e, _MIN_EXP) - (_BITS - 1)
    scaled = a / (Fraction(2) ** shift)
    m = round(scaled)  # ties to even
    result = m * Fraction(2) ** shift
    if result >= _OVERFLOW:
        return sign * float("inf")
    return sign * result


def parse(text: bytes) -> Optional[Number]:
    """
    C{text} as Redis reads a C{long double} (C{strtold}: decimal or
    hexadecimal, C{inf}), or L{None} if it isn't one: blanks, NaN, a
    number too big or so small it is 0, anything else.
    """
    if not text or len(text) >= 5 * 1024:
        return None
    if _DECIMAL.match(text):
        exact = Fraction(text.decode("ascii"))
    else:
        hexa = _HEX.match(text)
        if hexa is not None:
            sign, whole, frac, exp = hexa.groups()
            whole, frac = whole or b"", frac or b""
            if not whole and not frac:
                return None
            exact = Fraction(int(whole + frac, 16),
                             16 ** len(frac)) * Fraction(2) ** int(exp or 0)
            if sign == b"-":
                exact = -exact
        elif _INFINITY.match(text):
            return float("-inf") if text[:1] == b"-" else float("inf")
        else:
            return None
    result = roundToLongDouble(exact)
    if isinstance(result, float) or (result == 0 and exact != 0):
        return None  # strtold's ERANGE: overflow, or underflow to zero
    return result


def add(a: Number, b: Number) -> Fraction:
    """
    C{a + b} in C{long double}.

    @raise Infinite: if the sum is not finite.
    """
    if isinstance(a, float) or isinstance(b, float):
        raise Infinite()
    result = roundToLongDouble(a + b)
    if isinstance(result, float):
        raise Infinite()
    return result


def format(value: Fraction) -> bytes:
    """
    C{value} as Redis shows a C{long double} to people: C{"%.17Lf"}
    (rounded to 17 decimals, ties to even), trailing zeros and a trailing
    point removed, C{-0} as C{0}.
    """
    scaled = round(abs(value) * 10 ** 17)
    whole, frac = divmod(scaled, 10 ** 17)
    text = b"%d" % (whole,)
    frac = (b"%017d" % (frac,)).rstrip(b"0")
    if frac:
        text += b"." + frac
    if value < 0 and text != b"0":
        text = b"-" + text
    return text
