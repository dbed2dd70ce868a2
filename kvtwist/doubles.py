# -*- test-case-name: kvtwist.test.test_doubles -*-
"""
Numbers as Redis reads and writes them.

Redis reads a double with C's C{strtod} and refuses what C{strtod} would
only partly read, leading blanks, overflow and NaN (L{parseDouble}); it
answers doubles in their shortest round-trip form, integers without a
fraction (L{formatDouble}, Redis 7.2's C{d2string}).  (C{INCRBYFLOAT}'s
long doubles are L{kvtwist.store.longdouble}'s.)

Nothing here knows about the store or the wire.
"""

import math
import re
from typing import Optional

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
