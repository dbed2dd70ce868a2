# -*- test-case-name: kvtwist.test.test_store -*-
"""
String values (L{bytes}): get, set (with expiry), counters, append.
"""

from typing import Optional

from kvtwist.store.errors import NotAnInteger, WrongType
from kvtwist.store.keyspace import TOMBSTONE
from kvtwist.store.valuetype import ValueType

_INT64_MAX = 2 ** 63 - 1
_INT64_MIN = -(2 ** 63)


def parseInt(value: bytes) -> int:
    """
    Parse C{value} as a signed 64-bit decimal integer, as Redis does.

    @raise NotAnInteger: if it is not one.
    """
    # int() accepts spaces, underscores and a leading '+'; Redis does not.
    if not value or len(value) > 20 or not value.lstrip(b"-").isdigit():
        raise NotAnInteger(value)
    if value.startswith(b"-"):
        if value.count(b"-") != 1:
            raise NotAnInteger(value)
    if len(value) > 1 and (value.startswith(b"0") or value.startswith(b"-0")):
        raise NotAnInteger(value)
    n = int(value)
    if n > _INT64_MAX or n < _INT64_MIN:
        raise NotAnInteger(value)
    return n


def _replaySet(store, args):
    store.set(args[0], args[1])


def _replaySetKeepTTL(store, args):
    store.set(args[0], args[1], keepTTL=True)


def _same(value: bytes) -> bytes:
    return value


#: Strings, for the keyspace.
TYPE = ValueType("string", bytes, plain=_same, restore=_same,
                 ops={b"SET": _replaySet, b"SETKEEPTTL": _replaySetKeepTTL})


class Strings:
    """
    The string part of L{kvtwist.store.Store}.
    """

    def _string(self, key: bytes) -> Optional[bytes]:
        return self._typed(key, bytes)

    def get(self, key: bytes) -> Optional[bytes]:
        """
        The string value of C{key}, or L{None}.

        @raise WrongType: if it holds another kind of value.
        """
        value = self._data.get(key)
        if value is None or value is TOMBSTONE:
            return None
        if self._expires and key in self._expires:
            value = self._lookup(key)
            if value is None:
                return None
        if type(value) is not bytes:
            raise WrongType(key)
        return value

    def set(self, key: bytes, value: bytes, expireAtMs: Optional[float] = None,
            keepTTL: bool = False):
        """
        Set C{key} to the string C{value}, replacing any value of any type.

        @param expireAtMs: an absolute expiry time, or L{None}.
        @param keepTTL: keep the key's current expiry (if no new one given).
        """
        expires = self._expires
        if expires and key in expires:
            if keepTTL and expireAtMs is None:
                if expires[key] <= self._now():
                    self._expire(key)
                else:
                    self._data[key] = value
                    self._emit(b"SETKEEPTTL", key, value)
                    return
            else:
                del expires[key]
        data = self._data
        old = data.get(key)
        if old is None:
            if self._order is not None:
                self._order.append(key)
        elif old is TOMBSTONE:
            self._tombs -= 1
        data[key] = value
        journal = self._journal
        if expireAtMs is not None:
            self._setExpiry(key, int(expireAtMs))
            if journal is not None:
                journal((b"SET", key, value))
                journal((b"PEXPIREAT", key, b"%d" % int(expireAtMs)))
        elif journal is not None:
            journal((b"SET", key, value))

    def incrBy(self, key: bytes, delta: int) -> int:
        """
        Add C{delta} to the integer in C{key} (0 if missing); keep its TTL.

        @raise NotAnInteger: if the value is not an integer or overflows.
        """
        current = self._string(key)
        n = 0 if current is None else parseInt(current)
        n += delta
        if n > _INT64_MAX or n < _INT64_MIN:
            raise NotAnInteger(key)
        value = b"%d" % n
        self._put(key, value)
        self._emit(b"SETKEEPTTL", key, value)
        return n

    def append(self, key: bytes, value: bytes) -> int:
        """
        Append C{value} to the string in C{key}; return the new length.
        """
        current = self._string(key)
        new = value if current is None else current + value
        self._put(key, new)
        self._emit(b"SETKEEPTTL", key, new)
        return len(new)
