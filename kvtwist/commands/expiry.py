# -*- test-case-name: kvtwist.test.test_commands -*-
"""
Expiry times given to commands, checked as Redis checks them: a time that
doesn't fit a signed 64-bit count of milliseconds is refused with
C{ERR invalid expire time in '<command>' command}, and nothing changes.
"""

from typing import Optional

from kvtwist.replies import Error

INT64_MAX = 2 ** 63 - 1

#: The most and least seconds that fit in milliseconds (C's division,
#: which rounds toward zero).
_MAX_SECONDS = INT64_MAX // 1000
_MIN_SECONDS = -_MAX_SECONDS


def invalidExpire(name: str) -> Error:
    """
    Redis's error for an expiry time out of range in command C{name}.
    """
    return Error("ERR invalid expire time in '%s' command" % (name,))


def setExpiry(now: int, amount: int, unit: int, relative: bool
              ) -> Optional[int]:
    """
    The absolute expiry time, in milliseconds, of C{SET}'s C{EX}, C{PX},
    C{EXAT} and C{PXAT} (and of C{SETEX}), or L{None} if Redis refuses it:
    not positive, or out of range in milliseconds, or once C{now} is added.

    @param now: the current time, in milliseconds.
    @param amount: the number given.
    @param unit: 1000 if it counts seconds, 1 if milliseconds.
    @param relative: whether it counts from C{now} (C{EX}, C{PX}).
    """
    if amount <= 0 or (unit == 1000 and amount > _MAX_SECONDS):
        return None
    when = amount * unit
    if relative:
        when += now
    if when > INT64_MAX:
        return None
    return when


def expireTime(base: int, amount: int, unit: int) -> Optional[int]:
    """
    The absolute expiry time, in milliseconds, of C{EXPIRE}, C{PEXPIRE},
    C{EXPIREAT} and C{PEXPIREAT}, or L{None} if Redis refuses it.  Any
    sign is allowed (a time in the past deletes the key), but the amount
    must fit in milliseconds, and so must the sum with C{base}.

    @param base: what the amount counts from: now for C{EXPIRE} and
        C{PEXPIRE}, 0 for the C{AT} forms.
    @param amount: the number given.
    @param unit: 1000 if it counts seconds, 1 if milliseconds.
    """
    if unit == 1000:
        if amount > _MAX_SECONDS or amount < _MIN_SECONDS:
            return None
        amount *= 1000
    if amount > INT64_MAX - base:
        return None
    return amount + base
