# -*- test-case-name: kvtwist.test.test_web -*-
"""
Figures and values written for people: spans of time, sizes, times to
live; keys and values shown as text, or escaped where they aren't.
"""

import re

from kvtwist.dialects.text import escape


def duration(seconds: float) -> str:
    """
    C{3725} -> C{"1 h 2 min"}, C{300} -> C{"5 min"}: a span of time for people.
    """
    seconds = int(seconds)
    if seconds < 60:
        return "%d s" % (seconds,)
    minutes, s = divmod(seconds, 60)
    if minutes < 60:
        return "%d min" % (minutes,) + (" %d s" % (s,) if s else "")
    hours, m = divmod(minutes, 60)
    if hours < 48:
        return "%d h" % (hours,) + (" %d min" % (m,) if m else "")
    days, h = divmod(hours, 24)
    return "%d d" % (days,) + (" %d h" % (h,) if h else "")


def count(n: int) -> str:
    """
    C{1234567} -> C{"1,234,567"}: a count for people.
    """
    return "{:,}".format(int(n))


def rate(n: float) -> str:
    """
    A rate for people: C{2.5}, C{37,244}: one decimal below 10, else whole
    and grouped by thousands (as the status page's script shows it).
    """
    if abs(n) < 10:
        return "%.1f" % (n,)
    return "{:,}".format(int(round(n)))


def size(n: float) -> str:
    """
    C{1536} -> C{"1.5 KiB"}: a number of bytes for people.
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return ("%d %s" % (n, unit)) if unit == "B" else \
                ("%.1f %s" % (n, unit))
        n /= 1024.0
    return "%d B" % (n,)  # pragma: no cover


def ttl(ms: int) -> str:
    """
    A key's time to live for people, from C{ttlMs}.
    """
    if ms == -1:
        return "no expiry"
    if ms < 0:
        return "gone"
    if ms < 10000:
        return "%.1f s" % (ms / 1000.0,)
    return duration(ms / 1000.0)


def text(value: bytes) -> str:
    """
    Bytes shown as text: UTF-8, with U+FFFD for what isn't.
    """
    return value.decode("utf-8", "replace")


#: Control characters, but tabs and line breaks.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def isText(value: bytes) -> bool:
    """
    Whether C{value} is text: valid UTF-8 with no control characters but
    tabs and line breaks (and so is shown as it is, without loss).
    """
    try:
        decoded = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return _CONTROL.search(decoded) is None


def formSafe(value: bytes, oneLine: bool = False) -> bool:
    """
    Whether C{value} can be put in a form as it is and come back the same
    when the form is sent: text (L{isText}) without carriage returns
    (a browser sends every line break of a text area as CR LF, and the
    server reads them back as LF), and without any line break for a
    one-line input (a browser drops them).  Forms hold anything else
    escaped (L{escaped}).
    """
    if b"\r" in value or (oneLine and b"\n" in value):
        return False
    return isText(value)


def fromForm(value: bytes) -> bytes:
    """
    A form field's text as the user meant it: the CR LF line breaks a
    browser sends (whatever the user typed) read as LF.
    """
    return value.replace(b"\r\n", b"\n")


def escaped(value: bytes) -> str:
    """
    C{value} escaped as the text protocol shows it (C{\\x00\\xff},
    C{\\\\} for a backslash, C{\\n}...), whatever it holds: what
    L{kvtwist.dialects.text.unescape} reads back.
    """
    return escape(value).decode("utf-8")


def shown(value: bytes) -> str:
    """
    A value as the web interface shows it: text as it is; anything else
    (not UTF-8, or holding control characters) escaped as the text
    protocol shows it (C{\\x00\\xff}, C{\\\\} for a backslash), never with
    replacement characters.
    """
    if isText(value):
        return value.decode("utf-8")
    return escaped(value)
