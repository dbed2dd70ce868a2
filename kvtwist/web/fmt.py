# -*- test-case-name: kvtwist.test.test_web -*-
"""
Figures written for people: spans of time, sizes, times to live.
"""


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
