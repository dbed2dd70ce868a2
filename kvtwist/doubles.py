# -*- test-case-name: kvtwist.test.test_doubles -*-
"""
Numbers as Redis reads and writes them.

Redis reads a double with C's C{strtod} and refuses what C{strtod} would
only partly read, leading blanks, overflow and NaN (L{parseDouble}); it
answers doubles in their shortest round-trip form, integers without a
fraction (L{formatDouble}, Redis 7.2's C{d2string}); and C{INCRBYFLOAT}
and C{HINCRBYFLOAT} compute in x87 80-bit C{long double} and store the
result as C{%.17Lf} without trailing zeros (L{addLongDouble}), so that
C{0.1 + 0.2} is C{0.3} there, not C{0.30000000000000004}.

Nothing here knows about the store or the wire.
"""

import math
import re
from fractions import Fraction
from typing import Optional, Union

INF = float("inf")

#: A number C{strtod} reads whole: decimal, or C's hexadecimal form, or an
#: infinity (NaN is read, then refused).
_DECIMAL = re.compile(
    rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_HEX = re.compile(
    rb"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)"
    rb"(?:[pP][+-]?[0-9]+)?\Z")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)\Z", re.IGNORECASE)


def _mantissa(text: bytes) -> bytes:
    return re.split(rb"[eE]", text, maxsplit=1)[0].lstrip(b"+-")


def _hexValue(text: bytes) -> float:
    # float.fromhex wants an exponent only with 'p'; C allows none.
    return float.fromhex(text.decode("ascii"))


def parseDouble(text: bytes) -> Optional[float]:
    """
    The double C{text} spells, as Redis's C{getDoubleFromObject} reads it:
    the whole of it must be a number to C{strtod} (no blanks, no
    underscores), C{inf}, C{+inf}, C{-inf} and C{infinity} are infinities,
    a finite number too big for a double (C{1e400}) or too small to be
    anything but zero (C{1e-400}) is refused, and so is NaN.

    @return: the number, or L{None} if C{text} is not one.
    """
    if not text or len(text) > 5000:
        return None
    if _DECIMAL.match(text):
        value = float(text)
        if math.isinf(value):
            return None
        if value == 0.0 and _mantissa(text).strip(b"0.") != b"":
            # Underflow: digits other than zeros read as zero.
            return None
        return value
    if _INFINITY.match(text):
        return -INF if text.startswith(b"-") else INF
    if _HEX.match(text):
        try:
            value = _hexValue(text)
        except (OverflowError, ValueError):
            return None
        return value
    return None


#: The integers Redis answers without the shortest-form machinery: those
#: of magnitude at most 2**62 (C{double2ll}).
_INTEGRAL_LIMIT = float(2 ** 62)


def formatDouble(value: float) -> bytes:
    """
    C{value} as Redis 7.2 and later write a double reply (RESP2's bulk
    string, RESP3's C{,} line): C{inf}, C{-inf}, C{nan}, C{0}, C{-0};
    integral values up to 2**62 as integers (C{3}, not C{3.0}); others in
    their shortest round-trip digits, plainly when the decimal point is
    near them (C{0.1}, C{1.5}, C{0.000001}), else in scientific notation
    with an unpadded exponent (C{1e+20}, C{1e-7}, C{1.5e+300}).
    """
    if value != value:
        return b"nan"
    if value == INF:
        return b"inf"
    if value == -INF:
        return b"-inf"
    if value == 0.0:
        return b"-0" if math.copysign(1.0, value) < 0 else b"0"
    if -_INTEGRAL_LIMIT <= value <= _INTEGRAL_LIMIT and value.is_integer():
        return b"%d" % (int(value),)
    negative = value < 0
    # repr gives the shortest digits that read back as the same double.
    text = repr(abs(value))
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    # value == int(digits) * 10**K
    K = (int(exponent) if exponent else 0) - len(fraction)
    stripped = digits.rstrip("0")
    K += len(digits) - len(stripped)
    digits = stripped
    n = len(digits)
    exp = abs(K + n - 1)
    sign = "-" if negative else ""
    if K >= 0 and exp < n + 7:
        out = digits + "0" * K
    elif K < 0 and (K > -7 or exp < 4):
        point = n + K
        if point <= 0:
            out = "0." + "0" * -point + digits
        else:
            out = digits[:point] + "." + digits[point:]
    else:
        out = digits[0]
        if n > 1:
            out += "." + digits[1:]
        out += "e" + ("-" if K + n - 1 < 0 else "+") + str(exp)
    return (sign + out).encode("ascii")


# -- long double -------------------------------------------------------------

#: The x87 80-bit long double: 64 bits of mantissa, exponents up to 16383.
_LD_MANTISSA = 64
_LD_MAX_EXPONENT = 16384
#: Below the least subnormal long double, strtold reads zero (refused).
_LD_TINY = Fraction(1, 2 ** 16445)


class NotALongDouble(ValueError):
    """
    A text is not a number C{strtold} reads, or a result is not finite.
    """


def _roundLongDouble(exact: Fraction) -> Fraction:
    """
    C{exact} rounded to the nearest long double (ties to even).

    @raise NotALongDouble: if it overflows.
    """
    if exact == 0:
        return exact
    negative = exact < 0
    q = -exact if negative else exact
    # e such that 2**63 <= q / 2**e < 2**64
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    e -= _LD_MANTISSA - 1
    scaled = q / (Fraction(2) ** e)
    m = round(scaled)  # Fraction rounds half to even
    if e + _LD_MANTISSA > _LD_MAX_EXPONENT:
        raise NotALongDouble("overflow")
    result = m * Fraction(2) ** e
    return -result if negative else result


def parseLongDouble(text: bytes) -> Union[Fraction, float]:
    """
    The long double C{text} spells, as Redis's C{string2ld} reads it (the
    whole of it a number to C{strtold}, no blanks, no NaN, no overflow):
    exactly, as a L{Fraction}, or an infinity as a L{float}.

    @raise NotALongDouble: if it is not one.
    """
    if not text or len(text) > 5000:
        raise NotALongDouble(text)
    if _DECIMAL.match(text):
        exact = Fraction(text.decode("ascii"))
        if exact != 0 and abs(exact) < _LD_TINY:
            raise NotALongDouble("underflow")
        return _roundLongDouble(exact)
    if _INFINITY.match(text):
        return -INF if text.startswith(b"-") else INF
    if _HEX.match(text):
        try:
            return _roundLongDouble(Fraction(_hexValue(text)))
        except (OverflowError, ValueError):
            raise NotALongDouble(text)
    raise NotALongDouble(text)


def formatLongDouble(value: Fraction) -> bytes:
    """
    A long double as Redis stores C{INCRBYFLOAT}'s result: C{%.17Lf}, then
    trailing zeros (and a trailing point) dropped, C{-0} as C{0}.
    """
    scaled = round(value * 10 ** 17)
    negative = scaled < 0
    digits = str(-scaled if negative else scaled).rjust(18, "0")
    whole, fraction = digits[:-17], digits[-17:].rstrip("0")
    out = whole + ("." + fraction if fraction else "")
    if negative and out != "0":
        out = "-" + out
    return out.encode("ascii")


def addLongDouble(current: Union[Fraction, float],
                  increment: Union[Fraction, float]) -> bytes:
    """
    C{current + increment} (as L{parseLongDouble} gives them) computed in
    long double as Redis's C{INCRBYFLOAT} does, in its stored form
    (L{formatLongDouble}).

    @raise NotALongDouble: if the sum is not finite.
    """
    if isinstance(current, float) or isinstance(increment, float):
        raise NotALongDouble("not finite")
    return formatLongDouble(_roundLongDouble(current + increment))
